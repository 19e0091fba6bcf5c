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
    _integer_ticks(ax.xaxis)
    return ax


def _integer_ticks(axis) -> None:
    """Whole numbers only on an axis of counts (no "2.5 words")."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


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


def _fmt(v, floatfmt: str = "{:.3f}") -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else floatfmt.format(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return str(v)


def _table(df: pd.DataFrame, *, index: bool = True, floatfmt: str = "{:.3f}", formats: dict | None = None,
           index_label: str = "") -> dict:
    """A DataFrame as ``{"columns", "rows"}`` of strings for the template's ``table`` macro: one header
    row (the index's label in its first cell), numbers formatted per column (``formats``) or by ``floatfmt``."""
    formats = formats or {}
    columns = ([index_label] if index else []) + [str(c) for c in df.columns]
    rows = []
    for key, row in df.iterrows():
        cells = [_fmt(v, formats.get(c, floatfmt)) for c, v in row.items()]
        rows.append(([str(key)] if index else []) + cells)
    return {"columns": columns, "rows": rows}


_ENV = None


def _environment():
    """The Jinja2 environment of the report's template (autoescape on: every portrait value is escaped)."""
    global _ENV
    if _ENV is None:
        from jinja2 import Environment, FileSystemLoader, StrictUndefined

        _ENV = Environment(loader=FileSystemLoader(str(Path(__file__).resolve().parent / "templates")),
                           autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                           keep_trailing_newline=True)
    return _ENV


def render_html(portrait, figs: dict | None = None) -> str:
    """The report as one HTML string with every figure inside (base64 PNG) and no external link.

    ``figs``: name -> matplotlib figure or PNG bytes (default: :func:`figures`). The page is
    the Jinja2 template ``portrait/templates/report.html``, autoescaped.
    """
    figs = figures(portrait) if figs is None else figs
    images = {name: base64.b64encode(fig if isinstance(fig, bytes) else figure_png(fig)).decode("ascii")
              for name, fig in figs.items()}
    return _environment().get_template("report.html").render(**report_context(portrait), figures=images)


def report_context(portrait) -> dict:
    """What the report's template shows, as plain strings and tables (see :func:`_table`)."""
    p = portrait
    ctx = {"p": p, "css": _CSS, "ethics": ETHICS_NOTE, "sections": SECTIONS,
           "given": ", ".join(f"{k}: {v}" for k, v in p.inputs.items() if v is not None),
           "not_given": ", ".join(k for k, v in p.inputs.items() if v is None),
           "caveat_keys": {c.split(":", 1)[0] for c in p.caveats},
           "text_caveats": [c.split(": ", 1)[1] for c in p.caveats if c.startswith("text: ")]}

    ctx["traits"] = None
    if p.traits is not None:
        top = p.most_visible_trait
        table = p.traits.to_frame("P(high)")
        formats = {"P(high)": "{:.2f}"}
        if p.trait_percentiles is not None:
            table["percentile among the essays' writers"] = p.trait_percentiles
            formats["percentile among the essays' writers"] = "{:.0f}"
        ctx["traits"] = {"top": top, "p": f"{p.traits[top]:.2f}",
                         "pct": None if p.trait_percentiles is None else f"{p.trait_percentiles[top]:.0f}",
                         "table": _table(table, formats=formats, index_label="trait")}

    ctx["text_emotion"] = None
    if p.text_emotions is not None:
        sentences = p.text_emotions.copy()
        sentences["sentence"] = [s if len(s) <= 90 else s[:87] + "..." for s in sentences["sentence"]]
        ctx["text_emotion"] = {"mean": _table(p.text_emotion.to_frame().T, index=False),
                               "sentences": _table(sentences[["sentence", "emotion"] + list(MELD)], index=False)}

    ctx["words"] = (_table(pd.DataFrame(p.words, columns=["word", "count"]), index=False) if p.words else None)

    ctx["voice"] = None
    if p.voice_timeline is not None:
        speech = p.voice_timeline[p.voice_timeline["emotion"] != SILENCE]
        ctx["voice"] = {"windows": len(p.voice_timeline), "speech": len(speech), "shares": None if speech.empty else
                        _shares(speech["emotion"])}

    ctx["face"] = None
    if p.face_timeline is not None:
        n = len(p.face_timeline)
        ctx["face"] = {"found": n, "analysed": p.face_frames or n,
                       "shares": _shares(p.face_timeline["emotion"]) if n else None}

    mf = p.most_frequent()
    ctx["most_frequent"] = None if mf.empty else _table(mf, formats={"share": "{:.0%}"}, index_label="modality")

    ctx["combined"] = None
    if p.combined is not None:
        ctx["combined"] = {
            "n": len(p.shared), "top": str(p.combined.idxmax()), "p": f"{p.combined.max():.2f}",
            "table": _table(pd.concat([p.shared, p.combined.to_frame().T]), index_label="modality"),
            "agreement": _table(p.agreement, index_label="modality"),
            "similarity": _table(p.similarity, index_label="modality") if len(p.shared) > 1 else None,
            "mean_similarity": f"{_mean_offdiag(p.similarity):.2f}" if len(p.shared) > 1 else None}

    comp = p.comparison
    ctx["comparison"] = None
    if comp is not None:
        c = {"n": comp.n_others, "step": f"{100 / comp.n_others:.0f}" if comp.n_others else "",
             "traits": None, "emotions": None}
        table = comp.table
        traits = table[table["kind"] == "trait"]
        if not traits.empty and comp.n_others:
            shown = traits.rename(columns={"key": "trait", "median": "median of others", "n_others": "others"})
            c["traits"] = _table(shown[["trait", "value", "percentile", "median of others", "others"]], index=False,
                                 formats={"value": "{:.2f}", "percentile": "{:.0f}", "median of others": "{:.2f}"})
        emotions = table[table["kind"] != "trait"]
        if not emotions.empty and comp.n_others:
            pivot = emotions.pivot(index="kind", columns="key", values="percentile")
            order = [k for k in ("text", "voice", "face", "combined") if k in pivot.index]
            c["emotions"] = _table(pivot.loc[order, [e for e in SHARED if e in pivot.columns]], floatfmt="{:.0f}",
                                   index_label="percentile of")
        ctx["comparison"] = c
    return ctx


def _shares(emotions: pd.Series) -> dict:
    """One row: the share of each emotion (of the windows or frames), most frequent first."""
    return _table(emotions.value_counts(normalize=True).rename("share").to_frame().T, index=False,
                  floatfmt="{:.0%}")


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
    summary = out / "portrait.json"
    summary.write_text(json.dumps(_finite(portrait.to_dict()), indent=2, default=_json_default, allow_nan=False))
    page = atomic_write_text(out / "report.html", render_html(portrait, pngs))
    # the atomic write's temporary file is private (0600): give the report the mode of the files written
    # plainly beside it (the umask's; not by changing the umask, which would race with other threads)
    page.chmod(summary.stat().st_mode & 0o777)
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
