"""The portrait as figures and as one self-contained HTML page (figures inside as base64 PNG).

:func:`figures` draws every figure of a :class:`~mmer_utils.portrait.report.Portrait`
(matplotlib ``Figure`` objects, not attached to pyplot: a notebook shows the ones it
displays, nothing else); :func:`render_html` makes the page, with no external asset (no
script, stylesheet, font or image is fetched: the file can be mailed or archived as it is);
:func:`write_report` writes ``report.html``, the PNG files, ``portrait.json`` and the
timelines as CSV into a folder.

>>> write_report(portrait, "report/")          # doctest: +SKIP
PosixPath('report/report.html')
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_write_text
from ..labels import MELD, SHARED
from ..timeline import SILENCE

#: Title of each section, by its HTML id, in page order.
SECTIONS = {
    "how-to-read": "How to read this report",
    "traits": "Personality traits (Big Five, from the text)",
    "text-emotion": "Emotion in the text",
    "words": "Most common words",
    "voice": "Voice emotions over time",
    "face": "Face emotions over time",
    "most-frequent": "Most frequent emotion per modality",
    "combined": "Combined emotion estimate and agreement",
    "comparison": "Comparison with the other candidates",
    "models": "Models, data and limits",
}

ETHICS_NOTE = (
    "These numbers are what machine-learning models trained on other people's data perceive in one answer: "
    "actors reading sentences (RAVDESS), posed and web faces (FER2013), TV dialogue (MELD) and students' essays "
    "(Big Five). They are not validated psychometric measurements of this person. Inferring emotions or "
    "personality from interviews is scientifically contested (a face or a voice does not reliably reveal an "
    "inner state; accuracy differs between groups of people) and, in hiring, legally restricted in several "
    "jurisdictions (the EU AI Act bans emotion recognition at the workplace outside medical or safety uses). "
    "Use this report to learn how such systems work and fail, never to decide about a person.")

HOW_TO_READ = (
    "Each modality is read by its own model. <b>Traits</b> are the probability that the author of the text "
    "would score in the upper half of a Big Five questionnaire (0.5 = the model cannot tell); the <i>most visible "
    "trait</i> is the one whose probability is highest <i>relative to the essays' writers</i> (its percentile among "
    "them): raw probabilities are not compared across traits, as each clusters around its own base rate. <b>Emotions</b> are probabilities: over MELD's "
    "labels for the text, over seven shared emotions for the voice and the face (the voice model's RAVDESS "
    "<i>calm</i> counts as neutral), averaged over the sentences of the text, the 2-second windows of the voice "
    "or the frames of the video; the <i>most frequent emotion</i> is the label that wins most sentences, windows "
    "or frames. The <b>combined estimate</b> maps the text's labels onto the same seven emotions and averages "
    "the modalities; <i>support</i> is the probability a modality gives to the combined emotion "
    "(1/7 = 0.14 is chance), <i>similarity</i> is 1 minus the Jensen-Shannon divergence between two "
    "distributions (1 = identical, 0 = nothing in common). <b>Percentiles</b> place this candidate among the "
    "others of the database: 80 means a higher score than 80 % of them.")


# --------------------------------------------------------------------------- figures


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def plot_traits(traits: pd.Series, percentiles: pd.Series | None = None, *, ax=None):
    """Horizontal bars of P(high) per trait, each labelled with its percentile among the essays'
    writers when given; the most visible trait (highest percentile, else highest P(high)) in red."""
    from ..text.predict import most_visible_trait

    if ax is None:
        _, ax = _figure(6.5, 2.6)
    top = most_visible_trait(percentiles) if percentiles is not None else traits.idxmax()
    colors = ["C3" if t == top else "C0" for t in traits.index]
    names = list(traits.index)[::-1]
    ax.barh(names, traits.to_numpy()[::-1], color=colors[::-1])
    if percentiles is not None:
        for name in names:
            ax.annotate(f"percentile {percentiles[name]:.0f}", (traits[name], name), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=8)
    ax.axvline(0.5, color="k", lw=0.8, ls="--")
    ax.set(xlim=(0, 1), xlabel="P(high)", title=f"Big Five: most visible trait = {top}")
    return ax


def plot_distribution(proba: pd.Series, *, ax=None, title: str = "", source: str = "shared"):
    """Bars of one probability distribution over the emotions of ``source``, in the emotions' colours."""
    if ax is None:
        _, ax = _figure(6.5, 2.6)
    ax.bar(list(proba.index), proba.to_numpy(), color=[emotion_color(c, source) for c in proba.index])
    ax.set(ylim=(0, 1), ylabel="probability", title=title)
    ax.tick_params(axis="x", rotation=30)
    return ax


def plot_words(words, *, ax=None, title: str = "Most common words (stop words removed)"):
    """Horizontal bars of ``(word, count)`` pairs."""
    if ax is None:
        _, ax = _figure(6.5, 0.25 * max(len(words), 4) + 0.8)
    names = [w for w, _ in words][::-1]
    ax.barh(names, [c for _, c in words][::-1], color="C2")
    ax.set(xlabel="count", title=title)
    return ax


#: One colour per shared emotion, used for every modality (a source label takes its shared emotion's colour).
EMOTION_COLORS = {"angry": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "happy": "#ffbf00",
                  "sad": "#1f77b4", "surprise": "#17becf", "neutral": "#a0a0a0"}


def emotion_color(label: str, source: str) -> str:
    """The colour of a label of ``source`` (RAVDESS *calm* is a lighter grey than *neutral*)."""
    from ..labels import to_shared

    if source == "ravdess" and label == "calm":
        return "#d0d0d0"
    return EMOTION_COLORS[to_shared([label], source)[0]]


def plot_emotion_timeline(times, proba: pd.DataFrame, source: str, *, ax=None, title: str = "",
                          silent=None):
    """Stacked probabilities over time; ``silent`` (bool per point) greys out windows without speech."""
    if ax is None:
        _, ax = _figure(11, 3.0)
    labels = list(proba.columns)
    times = np.asarray(times, dtype=float)
    values = np.nan_to_num(proba.to_numpy(dtype=float).T, nan=0.0)
    # steps, not lines: each window or frame is one discrete answer, and a silent window stays a gap
    ax.stackplot(times, values, labels=labels, colors=[emotion_color(c, source) for c in labels], alpha=0.9,
                 step="mid")
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    if silent is not None and np.any(silent):
        for i, t in enumerate(times[np.asarray(silent, dtype=bool)]):
            ax.axvspan(t - step / 2, t + step / 2, facecolor="#f2f2f2", edgecolor="#cccccc", hatch="//", lw=0,
                       zorder=0, label="silence" if i == 0 else None)
    ax.set(ylim=(0, 1), xlim=(times.min() - step / 2, times.max() + step / 2),
           xlabel="time (s)", ylabel="probability", title=title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return ax


def plot_face_timeline(faces: pd.DataFrame, *, ax=None,
                       title: str = "Face emotions over time (shared emotions, one point per frame)"):
    """Stacked shared-vocabulary probabilities over the video's time (a face timeline of
    :mod:`mmer_utils.timeline`: one analysed frame per point)."""
    faces = faces.sort_values("time")
    return plot_emotion_timeline(faces["time"], faces[list(SHARED)], "shared", ax=ax, title=title)


def plot_voice_timeline(timeline: pd.DataFrame, *, ax=None,
                        title: str = "Voice emotions over time (shared emotions, window centres)"):
    """Stacked shared-vocabulary probabilities of each window at its centre (``time``); silent windows hatched."""
    return plot_emotion_timeline(timeline["time"], timeline[list(SHARED)], "shared", ax=ax, title=title,
                                 silent=(timeline["emotion"] == SILENCE).to_numpy())


#: Colour of each modality in the combined figure.
MODALITY_COLORS = {"text": "#2ca02c", "voice": "#ff7f0e", "face": "#1f77b4"}


def plot_combined(shared: pd.DataFrame, combined: pd.Series, *, ax=None):
    """Each modality's shared-vocabulary distribution beside the combined one (grouped bars)."""
    if ax is None:
        _, ax = _figure(9, 3.0)
    rows = list(shared.index) + ["combined"]
    width = 0.8 / len(rows)
    x = np.arange(len(SHARED))
    for i, name in enumerate(rows):
        values = combined.to_numpy() if name == "combined" else shared.loc[name, list(SHARED)].to_numpy(dtype=float)
        ax.bar(x + (i - (len(rows) - 1) / 2) * width, values, width,
               label=name, color="k" if name == "combined" else MODALITY_COLORS.get(name, f"C{i}"), alpha=0.9)
    ax.set_xticks(x, list(SHARED))
    ax.set(ylim=(0, 1), ylabel="probability", title=f"Combined estimate: {combined.idxmax()}")
    ax.legend(fontsize=8, ncol=len(rows))
    return ax


def plot_comparison(others: pd.DataFrame, values: pd.Series, percentiles: pd.Series, *, ax=None, title: str = ""):
    """The other candidates' scores per key (grey dots and box) and this candidate's (red diamond + percentile)."""
    if ax is None:
        _, ax = _figure(8, 2.8)
    keys = list(values.index)
    rng = np.random.default_rng(0)
    data = [others[k].dropna().to_numpy() if k in others.columns else np.zeros(0) for k in keys]
    if any(len(d) for d in data):
        ax.boxplot([d if len(d) else [np.nan] for d in data], positions=range(len(keys)), widths=0.5,
                   showfliers=False, medianprops={"color": "grey"})
    for i, d in enumerate(data):
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(d)), d, s=12, color="grey", alpha=0.6, zorder=2)
    ax.scatter(range(len(keys)), values.to_numpy(), marker="D", s=50, color="C3", zorder=3, label="this candidate")
    for i, k in enumerate(keys):
        p = percentiles.get(k, np.nan)
        if np.isfinite(p):
            ax.annotate(f"{p:.0f}th", (i, values[k]), textcoords="offset points", xytext=(8, 4), fontsize=8, color="C3")
    ax.set_xticks(range(len(keys)), keys)
    ax.tick_params(axis="x", rotation=20)
    ax.set(ylim=(-0.02, 1.02), title=title)
    ax.legend(fontsize=8, loc="upper right")
    return ax


def figures(portrait) -> dict:
    """Every figure of the report, by name (only those the given inputs allow)."""
    out = {}
    if portrait.traits is not None:
        out["traits"] = plot_traits(portrait.traits, portrait.trait_percentiles).figure
    if portrait.text_emotion is not None:
        out["text_emotion"] = plot_distribution(
            portrait.text_emotion, title="Text emotion (MELD labels, mean over sentences)", source="meld").figure
    if portrait.words:
        out["words"] = plot_words(portrait.words).figure
    if portrait.voice_timeline is not None and not portrait.voice_timeline.empty:
        out["voice_timeline"] = plot_voice_timeline(portrait.voice_timeline).figure
    if portrait.face_timeline is not None and not portrait.face_timeline.empty:
        out["face_timeline"] = plot_face_timeline(portrait.face_timeline).figure
    if portrait.combined is not None:
        out["combined"] = plot_combined(portrait.shared, portrait.combined).figure
    comp = portrait.comparison
    if comp is not None and comp.n_others > 0:
        table = comp.table
        for kind, title in (("trait", "Big Five traits among the other candidates"),
                            ("combined", "Combined emotions among the other candidates")):
            rows = table[table["kind"] == kind]
            if rows.empty or comp.others.get(kind) is None or comp.others[kind].empty:
                continue
            out[f"comparison_{kind}"] = plot_comparison(
                comp.others[kind], rows.set_index("key")["value"], rows.set_index("key")["percentile"],
                title=title).figure
    return out


def figure_png(fig, *, dpi: int = 100) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto;display:block;margin:.6em 0}
.warn{background:#fff4e5;border-left:4px solid #f0a030;padding:.6em 1em;margin:1em 0}
.note{background:#eef5ff;border-left:4px solid #4a8ad8;padding:.6em 1em;margin:1em 0}
.missing{color:#777;font-style:italic}.meta{color:#555}
"""


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _img(fig, alt: str) -> str:
    png = fig if isinstance(fig, bytes) else figure_png(fig)
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _table(df: pd.DataFrame, *, index: bool = True, floatfmt: str = "{:.3f}") -> str:
    def fmt(v):
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (float, np.floating)):
            return "" if not np.isfinite(v) else floatfmt.format(v)
        return v

    shown = df.copy()
    for col in shown.columns:
        shown[col] = [fmt(v) for v in shown[col]]
    return shown.to_html(index=index, escape=True, border=0)


def _section(key: str, body: str) -> str:
    return f'<section id="{key}">\n<h2>{_esc(SECTIONS[key])}</h2>\n{body}\n</section>'


def _missing(what: str) -> str:
    return f'<p class="missing">{_esc(what)}</p>'


def render_html(portrait, figs: dict | None = None) -> str:
    """The report as one HTML string with every figure inside (base64 PNG) and no external link.

    ``figs``: name -> matplotlib figure or PNG bytes (default: :func:`figures`).
    """
    figs = figures(portrait) if figs is None else figs
    p = portrait
    parts = []
    given = ", ".join(f"{k}: {v}" for k, v in p.inputs.items() if v is not None)
    missing = [k for k, v in p.inputs.items() if v is None]
    header = (f"<h1>Candidate portrait: {_esc(p.name)}</h1>\n"
              f'<p class="meta">Made {_esc(p.created)} UTC. Inputs given: {_esc(given)}'
              + (f". Not given: {_esc(', '.join(missing))}" if missing else "") + ".</p>\n"
              f'<div class="warn"><b>Not a measurement of a person.</b> {_esc(ETHICS_NOTE)}</div>')
    if p.quick_models:
        header += ('\n<div class="warn">Made with the <b>quick</b> model bundle (small training subsets): '
                   "a demonstration of the pipeline, not the chapter's models. "
                   "Run <code>python -m mmer_utils.portrait train</code> for the full bundle.</div>")
    parts.append(header)
    parts.append(_section("how-to-read", f'<div class="note">{HOW_TO_READ}</div>'))

    # traits
    if p.traits is not None:
        top = p.most_visible_trait
        where = ("" if p.trait_percentiles is None
                 else f", percentile {p.trait_percentiles[top]:.0f} among the essays' writers")
        table = p.traits.to_frame() if p.trait_percentiles is None else pd.concat([p.traits, p.trait_percentiles], axis=1)
        body = (f"<p>Most visible trait: <b>{_esc(top)}</b> (P(high) = {p.traits[top]:.2f}{where}).</p>"
                + _img(figs["traits"], "Big Five bars") + _table(table))
    else:
        body = _missing("No text answer given: no traits.")
    parts.append(_section("traits", body))

    # text emotion
    if p.text_emotions is not None:
        sentences = p.text_emotions.copy()
        sentences["sentence"] = [s if len(s) <= 90 else s[:87] + "..." for s in sentences["sentence"]]
        body = (_img(figs["text_emotion"], "text emotion bars")
                + _table(p.text_emotion.to_frame().T, index=False)
                + "<p>Per sentence:</p>" + _table(sentences[["sentence", "emotion"] + list(MELD)], index=False))
    else:
        body = _missing("No text answer given: no text emotion.")
    parts.append(_section("text-emotion", body))

    if p.words:
        body = _img(figs["words"], "most common words") + _table(pd.DataFrame(p.words, columns=["word", "count"]),
                                                                  index=False, floatfmt="{:.0f}")
    else:
        body = _missing("No text answer given (or no word left once stop words are removed).")
    parts.append(_section("words", body))

    mf = p.most_frequent()
    # voice
    if p.voice_timeline is not None:
        speech = p.voice_timeline[p.voice_timeline["emotion"] != SILENCE]
        body = (f"<p>{len(p.voice_timeline)} windows, {len(speech)} with speech.</p>"
                + (_img(figs["voice_timeline"], "voice timeline") if "voice_timeline" in figs else "")
                + (_table(speech["emotion"].value_counts(normalize=True).rename("share").to_frame().T, index=False)
                   if not speech.empty else _missing("Only silence: no voice emotion.")))
    else:
        body = _missing("No audio given: no voice emotions.")
    parts.append(_section("voice", body))

    # face
    if p.face_timeline is not None:
        n = len(p.face_timeline)
        body = f"<p>A face was found in {n} of {p.face_frames or n} analysed frames.</p>"
        if n:
            body += (_img(figs["face_timeline"], "face timeline")
                     + _table(p.face_timeline["emotion"].value_counts(normalize=True).rename("share").to_frame().T,
                              index=False))
        else:
            body += _missing("No face found: no face emotions.")
    else:
        body = _missing("No video given: no face emotions.")
    parts.append(_section("face", body))

    body = _table(mf) if not mf.empty else _missing("No emotion model ran.")
    parts.append(_section("most-frequent", body))

    # combined
    if p.combined is not None:
        agreement = p.agreement.copy()
        body = (f"<p>Combined estimate (shared vocabulary, equal weights over {len(p.shared)} "
                f"modalit{'y' if len(p.shared) == 1 else 'ies'}): <b>{_esc(p.combined.idxmax())}</b> "
                f"(probability {p.combined.max():.2f}).</p>"
                + _img(figs["combined"], "combined estimate")
                + "<p>Each modality's distribution in the shared vocabulary:</p>"
                + _table(pd.concat([p.shared, p.combined.to_frame().T]))
                + "<p>Agreement with the combined estimate (<i>support</i>: probability given to the combined "
                  "emotion; <i>similarity</i>: 1 - Jensen-Shannon divergence to the combined distribution):</p>"
                + _table(agreement))
        if len(p.shared) > 1:
            body += ("<p>Pairwise similarity of the modalities (1 - Jensen-Shannon divergence); mean "
                     f"{_mean_offdiag(p.similarity):.2f}:</p>" + _table(p.similarity))
        else:
            body += _missing("One modality only: nothing to agree with.")
    else:
        body = _missing("No emotion model ran: no combined estimate.")
    parts.append(_section("combined", body))

    # comparison
    comp = p.comparison
    if comp is None:
        body = _missing("Not compared with other candidates (no database given).")
    elif comp.n_others == 0:
        body = _missing("No other candidate in the database yet: this one is the first.")
    else:
        body = f"<p>Compared with {comp.n_others} other candidate{'s' if comp.n_others > 1 else ''}.</p>"
        for key in ("comparison_trait", "comparison_combined"):
            if key in figs:
                body += _img(figs[key], key.replace("_", " "))
        table = comp.table
        traits = table[table["kind"] == "trait"]
        if not traits.empty:
            body += ("<p>Traits: this candidate's P(high), its percentile among the others, and their median.</p>"
                     + _table(traits.rename(columns={"key": "trait", "median": "median of others"})
                              [["trait", "value", "percentile", "median of others", "n_others"]], index=False,
                              floatfmt="{:.2f}"))
        emotions = table[table["kind"] != "trait"]
        if not emotions.empty:
            pivot = emotions.pivot(index="kind", columns="key", values="percentile")
            order = [k for k in ("text", "voice", "face", "combined") if k in pivot.index]
            body += ("<p>Emotions (shared vocabulary): percentile of this candidate's probability of each emotion "
                     "among the others, per modality.</p>"
                     + _table(pivot.loc[order, [e for e in SHARED if e in pivot.columns]]
                              .rename_axis(index=None, columns=None),
                              floatfmt="{:.0f}")
                     + _missing("The combined estimate depends on which inputs were given: it compares best "
                                "with candidates who gave the same ones."))
        if comp.n_others < 10:
            body += _missing(f"With {comp.n_others} other candidates a percentile moves by "
                             f"{100 / comp.n_others:.0f} points per candidate: read it as a rough position.")
    parts.append(_section("comparison", body))

    # models and limits
    rows = "".join(f"<li><b>{_esc(k)}</b>: {_esc(v)}</li>" for k, v in p.models.items())
    notes = "".join(f"<li>{_esc(n)}</li>" for n in p.notes)
    body = (f"<p>Models that produced this report:</p><ul>{rows or '<li>none</li>'}</ul>"
            + (f"<p>Notes:</p><ul>{notes}</ul>" if notes else "")
            + f'<div class="warn">{_esc(ETHICS_NOTE)}</div>'
            + "<p>Made by <code>mmer_utils.portrait</code> (the mmer course, ensemble chapter).</p>")
    parts.append(_section("models", body))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>Candidate portrait: {_esc(p.name)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(parts) + "\n</body>\n</html>\n")


def _mean_offdiag(sim: pd.DataFrame) -> float:
    values = sim.to_numpy(dtype=float)
    mask = ~np.eye(len(values), dtype=bool)
    return float(values[mask].mean()) if mask.any() else 1.0


def write_report(portrait, out_dir) -> Path:
    """Write ``report.html`` (self-contained), ``figures/*.png``, ``portrait.json`` and the timelines' CSV.

    Returns the path of ``report.html``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pngs = {name: figure_png(fig) for name, fig in figures(portrait).items()}
    (out / "figures").mkdir(exist_ok=True)
    for name, png in pngs.items():
        (out / "figures" / f"{name}.png").write_bytes(png)
    page = atomic_write_text(out / "report.html", render_html(portrait, pngs))
    (out / "portrait.json").write_text(json.dumps(_finite(portrait.to_dict()), indent=2, default=_json_default,
                                                  allow_nan=False))
    if portrait.voice_timeline is not None:
        portrait.voice_timeline.to_csv(out / "voice_timeline.csv", index=False)
    if portrait.face_timeline is not None:
        portrait.face_timeline.to_csv(out / "face_timeline.csv", index=False)
    if portrait.text_emotions is not None:
        portrait.text_emotions.to_csv(out / "text_emotions.csv", index=False)
    return page


def _finite(obj):
    """NaN (a percentile with no other candidate) becomes null: strict JSON has no NaN."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not np.isfinite(obj):
        return None
    return obj


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return str(obj)
