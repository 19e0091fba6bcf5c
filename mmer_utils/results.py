"""Every published number, machine-readable and traceable to the command that made it.

Two kinds of records:

* **Notebook metrics** (:func:`record_metric`): each notebook records its headline
  numbers as JSON under ``build/metrics/``; the course runner prints them as one
  table. They are build artefacts (quick mode numbers are not results).
* **Benchmark records** (:func:`save_records`): the full-data benchmark commands
  write ``results/<chapter>.json``, committed, from which :func:`write_results_md`
  generates ``RESULTS.md``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import config
from .atomic import atomic_path, atomic_write_json, atomic_write_text

METRICS_ENV = "MMER_METRICS_DIR"
NOTEBOOK_ENV = "MMER_NOTEBOOK"
RECORD_FIELDS = ("chapter", "model", "protocol", "split", "metric", "value", "train_seconds",
                 "command", "date", "machine")


def metrics_dir() -> Path:
    """Folder of notebook metrics: ``$MMER_METRICS_DIR`` or ``<repo>/build/metrics``."""
    env = os.environ.get(METRICS_ENV)
    path = Path(env) if env else (config.repo_root() or Path.cwd()) / "build" / "metrics"
    path.mkdir(parents=True, exist_ok=True)
    return path


def record_metric(model: str, protocol: str, metric: str, value: float, *, notebook: str | None = None,
                  split: str = "test", runtime: float | None = None, quick: bool | None = None) -> dict:
    """Record one headline number of the running notebook; return the record.

    ``notebook`` defaults to ``$MMER_NOTEBOOK`` (set by the course runner) or "interactive".
    """
    notebook = notebook or os.environ.get(NOTEBOOK_ENV, "interactive")
    entry = {"notebook": notebook, "model": model, "protocol": protocol, "split": split,
             "metric": metric, "value": float(value), "runtime": runtime, "quick": quick,
             "time": _dt.datetime.now().isoformat(timespec="seconds")}
    path = metrics_dir() / (notebook.replace("/", "__").removesuffix(".ipynb") + ".json")
    records = json.loads(path.read_text()) if path.is_file() else []
    records = [r for r in records if (r["model"], r["protocol"], r["split"], r["metric"]) !=
               (model, protocol, split, metric)]
    records.append(entry)
    atomic_write_json(path, records, indent=1)
    return entry


def load_metrics(directory: Path | None = None) -> list[dict]:
    """All notebook metric records under ``directory`` (default :func:`metrics_dir`)."""
    directory = Path(directory) if directory else metrics_dir()
    out = []
    for path in sorted(directory.glob("*.json")):
        out += json.loads(path.read_text())
    return out


def machine_description() -> str:
    """A short description of this machine for benchmark records (CPU, cores, Python, TF/Keras)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [cpu, f"{os.cpu_count()} cores", f"Python {platform.python_version()}"]
    from importlib import metadata

    for package in ("tensorflow", "keras", "scikit-learn"):
        try:
            parts.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(parts)


@dataclass
class BenchRecord:
    """One published number: what was measured, how, on what, by which command."""

    chapter: str
    model: str
    protocol: str
    split: str
    metric: str
    value: float
    train_seconds: float | None
    command: str
    date: str = field(default_factory=lambda: _dt.date.today().isoformat())
    machine: str = field(default_factory=machine_description)
    extra: dict = field(default_factory=dict)


def results_dir() -> Path:
    return (config.repo_root() or Path.cwd()) / "results"


def save_records(chapter: str, records: list[BenchRecord | dict], *, directory: Path | None = None,
                 replace: bool = True, owned_prefix: str | None = None) -> Path:
    """Write ``results/<chapter>.json``.

    With ``replace=True`` records of the same (model, protocol, split, metric) are
    replaced and the others kept, so a partial benchmark run updates only its rows.
    ``owned_prefix``: a benchmark that owns every model whose name starts with it (e.g.
    ``"landmarks: "``) also drops its old rows that this run no longer produces, so a
    renamed row does not linger beside its successor.
    """
    directory = Path(directory) if directory else results_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{chapter}.json"
    new = [asdict(r) if isinstance(r, BenchRecord) else dict(r) for r in records]
    for rec in new:
        missing = [f for f in RECORD_FIELDS if f not in rec]
        if missing:
            raise ValueError(f"benchmark record lacks {missing}: {rec}")
    old = json.loads(path.read_text()) if path.is_file() and replace else []
    keys = {(r["model"], r["protocol"], r["split"], r["metric"]) for r in new}
    if owned_prefix:
        old = [r for r in old if not r["model"].startswith(owned_prefix)]
    merged = [r for r in old if (r["model"], r["protocol"], r["split"], r["metric"]) not in keys] + new
    return atomic_write_text(path, json.dumps(merged, indent=1) + "\n")


def load_records(directory: Path | None = None) -> list[dict]:
    directory = Path(directory) if directory else results_dir()
    out = []
    for path in sorted(directory.glob("*.json")):
        out += json.loads(path.read_text())
    return out


def format_value(metric: str, value: float) -> str:
    """A metric's value as people read it: rates and scores in percent, anything else as a number.

    >>> format_value("accuracy_EXT", 0.5177), format_value("frames_per_second", 31.25)
    ('51.8 %', '31.25')
    """
    if (metric in {"accuracy", "macro_f1", "weighted_f1", "uar", "f1", "mean_accuracy"}
            or metric.startswith("accuracy_") or metric.endswith(("accuracy", "_rate"))):
        return f"{100 * value:.1f} %"
    return f"{value:.4g}"


# --------------------------------------------------------------------------- RESULTS.md

#: The chapters in the order of the course (others, if any, follow alphabetically).
CHAPTER_ORDER = ("text", "audio", "video", "ensemble")

#: Model names that mark a **peer**: a model built or trained elsewhere (the ``fer`` package's
#: pretrained network, openSMILE's expert feature sets, the source course's own model), run by
#: our benchmarks on our protocol. Peers stand beside our best model, they never are it.
PEER_MARKERS = ("(openSMILE)", "fer package", "fer peer", "(source)")


def is_peer(model: str) -> bool:
    """True when ``model`` names a peer (see :data:`PEER_MARKERS`).

    >>> is_peer("eGeMAPSv02 (openSMILE) + RBF SVM"), is_peer("larger CNN (VGG-style)")
    (True, False)
    """
    return any(marker in model for marker in PEER_MARKERS)


@dataclass(frozen=True)
class Anchor:
    """A number from the literature to read ours against (not measured here: its protocol differs).

    ``short`` names it in tables and charts, ``what`` says what was measured, ``citation`` where.
    """

    value: float
    short: str
    what: str
    citation: str


#: Published anchors, each with its source (what was measured, on which protocol, where).
KHAIREDDIN_2021 = Anchor(
    0.7328, "Khaireddin & Chen 2021",
    "FER2013 test accuracy of one VGG-variant network trained without extra data",
    "Y. Khaireddin, Z. Chen, *Facial Emotion Recognition: State of the Art Performance on FER2013*, "
    "arXiv:2105.03588, 2021")
FER2013_HUMAN = Anchor(
    0.65, "human, Goodfellow et al. 2013", "human accuracy on FER2013, 65 ± 5 %",
    "I. Goodfellow et al., *Challenges in Representation Learning: A report on three machine learning contests*, "
    "ICONIP 2013, arXiv:1307.0414")
LUNA_JIMENEZ_2022 = Anchor(
    0.867, "Luna-Jiménez et al. 2022",
    "RAVDESS audio-visual accuracy, 8 emotions, subject-wise 5-fold cross-validation: a fine-tuned "
    "xlsr-Wav2Vec2.0 speech model and facial action units, fused",
    "C. Luna-Jiménez et al., *A Proposal for Multimodal Emotion Recognition Using Aural Transformers and "
    "Action Units on RAVDESS Dataset*, Applied Sciences 12(1): 327, 2022, doi:10.3390/app12010327")


@dataclass(frozen=True)
class Headline:
    """One task of a chapter's headline table: which records compete, on which metric.

    ``protocol`` is matched exactly, or as a prefix when it ends with ``*`` (protocols name
    data-dependent counts, e.g. "2,465 of 2,467 essays"); ``split`` None matches any split.
    """

    task: str
    metric: str
    protocol: str
    split: str | None = None
    anchors: tuple[Anchor, ...] = ()

    def matches(self, rec: dict) -> bool:
        if rec["metric"] != self.metric or (self.split is not None and rec["split"] != self.split):
            return False
        if self.protocol.endswith("*"):
            return rec["protocol"].startswith(self.protocol[:-1])
        return rec["protocol"] == self.protocol


HEADLINES: dict[str, tuple[Headline, ...]] = {
    "text": (
        Headline("Big Five traits from essays (10-fold CV)", "mean_accuracy", "10-fold CV*"),
        Headline("MELD emotion, utterance text (test)", "weighted_f1", "MELD, chosen on dev"),
        Headline("dair-ai emotion, tweets (test)", "accuracy", "dair-ai emotion, chosen on validation"),
    ),
    "audio": (
        Headline("RAVDESS speech, speaker-independent (6 actor folds)", "accuracy",
                 "speaker-independent, 6 actor folds"),
    ),
    "video": (
        Headline("FER2013 faces (PrivateTest)", "accuracy", "official splits*", split="test",
                 anchors=(KHAIREDDIN_2021, FER2013_HUMAN)),
        Headline("FER2013 faces from landmarks (PrivateTest, 6,000 training faces)", "accuracy",
                 "FER2013 PrivateTest (3589 faces)*", anchors=(KHAIREDDIN_2021,)),
    ),
    "ensemble": (
        Headline("RAVDESS audio + face fusion, speaker-independent (6 actor folds)", "accuracy",
                 "RAVDESS audio+face, speaker-independent, 6 actor folds (train 16 / val 4 / test 4 actors)",
                 anchors=(LUNA_JIMENEZ_2022,)),
        Headline("FER2013 model ensembles (PrivateTest)", "accuracy",
                 "FER2013 models combined on PublicTest, scored on PrivateTest", anchors=(KHAIREDDIN_2021,)),
    ),
}


def _readable(path: Path) -> Path:
    """Give a file written through a temporary file the usual permissions (0644 under umask 022)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
    return path


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _chapters(records: list[dict]) -> dict[str, list[dict]]:
    by_chapter: dict[str, list[dict]] = {}
    for rec in records:
        by_chapter.setdefault(rec["chapter"], []).append(rec)
    order = {c: i for i, c in enumerate(CHAPTER_ORDER)}
    return dict(sorted(by_chapter.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def headline_rows(chapter: str, records: list[dict]) -> list[dict]:
    """One row per :data:`HEADLINES` task of ``chapter`` that has records: our best model and
    its value, the best peer on the same protocol (or None) and the published anchors."""
    rows = []
    for h in HEADLINES.get(chapter, ()):
        recs = [r for r in records if h.matches(r)]
        ours = [r for r in recs if not is_peer(r["model"])]
        peers = [r for r in recs if is_peer(r["model"])]
        if not ours:
            continue
        rows.append({"headline": h, "best": max(ours, key=lambda r: r["value"]),
                     "peer": max(peers, key=lambda r: r["value"]) if peers else None,
                     "records": sorted(recs, key=lambda r: r["value"])})
    return rows


def plot_chapter(chapter: str, rows: list[dict], path: Path) -> Path:
    """A horizontal bar chart per headline task (ours, peers, dashed published anchors) as a PNG.

    Drawn with the Agg canvas directly: no pyplot, so no global backend is changed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    BEST, OURS, PEER = "#2f6f9f", "#9dbdd6", "#d98c3f"

    heights = [0.9 + 0.22 * len(row["records"]) for row in rows]
    fig = Figure(figsize=(10.0, sum(heights) + 0.2 * len(rows)), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, row in zip(axes, rows):
        h, recs = row["headline"], row["records"]
        percent = format_value(h.metric, 0.5).endswith("%")
        scale = 100.0 if percent else 1.0
        names = [r["model"] if len(r["model"]) <= 48 else r["model"][:47] + "…" for r in recs]
        values = [scale * r["value"] for r in recs]
        colours = [PEER if is_peer(r["model"]) else (BEST if r is row["best"] else OURS) for r in recs]
        ax.barh(range(len(recs)), values, color=colours, height=0.7)
        ax.set_yticks(range(len(recs)), names, fontsize=7)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:.1f}" if percent else f" {v:.3g}", va="center", fontsize=6.5)
        top = max(values + [scale * a.value for a in h.anchors])
        styles = ("--", ":", "-.")
        for a, style in zip(h.anchors, styles):
            ax.axvline(scale * a.value, color="#555555", linestyle=style, linewidth=1,
                       label=f"{a.short}: {format_value(h.metric, a.value)}")
        ax.set_xlim(0, top * 1.15)
        ax.set_ylim(-0.6, len(recs) - 0.4)
        ax.set_title(h.task, fontsize=9, loc="left")
        ax.set_xlabel(f"{h.metric} ({'%' if percent else 'value'})", fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        handles = [Patch(color=c, label=lab) for c, lab in
                   ((BEST, "our best"), (OURS, "ours"), (PEER, "peer"))
                   if any(col == c for col in colours)]
        handles += ax.get_legend_handles_labels()[0]
        ax.legend(handles=handles, fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    return _readable(path)


def _headline_table(rows: list[dict]) -> list[str]:
    lines = ["| task | metric | our best model | ours | peer, same protocol | published |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        h, best, peer = row["headline"], row["best"], row["peer"]
        peer_cell = f"{_cell(peer['model'])}: {format_value(h.metric, peer['value'])}" if peer else "—"
        published = "; ".join(f"{format_value(h.metric, a.value)} ([{a.short}](#published-numbers))"
                              for a in h.anchors) or "—"
        lines.append(f"| {_cell(h.task)} | {h.metric} | {_cell(best['model'])} | "
                     f"**{format_value(h.metric, best['value'])}** | {peer_cell} | {published} |")
    return lines


def _published_section(chapters) -> list[str]:
    anchors: dict[Anchor, None] = {}
    for chapter in chapters:
        for h in HEADLINES.get(chapter, ()):
            anchors.update(dict.fromkeys(h.anchors))
    if not anchors:
        return []
    lines = ["## Published numbers", "",
             "Numbers from the literature beside the headlines (hard-coded in `mmer_utils/results.py`, "
             "`HEADLINES`), each with its source:", ""]
    for a in anchors:
        lines.append(f"* **{a.short}**, {format_value('accuracy', a.value)}: {a.what}. {a.citation}.")
    return lines + [""]


def _record_groups(recs: list[dict]) -> list[str]:
    """The records grouped by the (command, machine, date) that produced them, said once per
    group; inside a group one table per protocol: a row per (model, split), a column per metric."""
    groups: dict[tuple, list[dict]] = {}
    for r in recs:
        groups.setdefault((r["command"], r["machine"], r["date"]), []).append(r)
    lines = []
    for (command, machine, date), group in groups.items():
        lines += [f"`{command}`", "", f"{date} · {len(group)} records · {_cell(machine)}", ""]
        by_protocol: dict[str, list[dict]] = {}
        for r in group:
            by_protocol.setdefault(r["protocol"], []).append(r)
        for protocol, prot_recs in by_protocol.items():
            rows: dict[tuple, dict] = {}
            for r in prot_recs:
                rows.setdefault((r["model"], r["split"]), {})[r["metric"]] = r
            metrics = list(dict.fromkeys(r["metric"] for r in prot_recs))
            splits = list(dict.fromkeys(r["split"] for r in prot_recs))
            timed = any(r.get("train_seconds") is not None for r in prot_recs)
            columns = ["model"] + (["split"] if len(splits) > 1 else []) + metrics + (["training time"] if timed else [])
            header = f"*{_cell(protocol)}*" + (f" · split: {splits[0]}" if len(splits) == 1 else "")
            lines += [header, "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            for (model, split), by_metric in rows.items():
                cells = [_cell(model)] + ([split] if len(splits) > 1 else [])
                cells += [format_value(m, by_metric[m]["value"]) if m in by_metric else "" for m in metrics]
                if timed:
                    secs = next(iter(by_metric.values())).get("train_seconds")
                    cells.append("" if secs is None else f"{secs:.0f} s")
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    return lines


def write_results_md(path: Path | None = None, *, directory: Path | None = None,
                     figures: Path | None = None) -> Path:
    """Regenerate ``RESULTS.md`` (and its figures) from ``results/*.json``; return its path.

    First a headline table and a bar chart per chapter (our best model per task, the peers
    measured on the same protocol, published anchors from :data:`HEADLINES`), then every
    record, grouped by the command, machine and date that produced it. The charts go to
    ``figures`` (default: ``<results directory>/figures/<chapter>.png``).
    """
    root = config.repo_root() or Path.cwd()
    path = Path(path) if path else root / "RESULTS.md"
    directory = Path(directory) if directory else results_dir()
    figures = Path(figures) if figures else directory / "figures"
    by_chapter = _chapters(load_records(directory))
    lines = [
        "# Results",
        "",
        "Generated from `results/*.json` by `python -m mmer_utils.bench report`; do not edit by hand.",
        "",
    ]
    if not by_chapter:
        lines.append("No benchmark has been recorded yet: run `python -m mmer_utils.bench CHAPTER --full`.")
        return _readable(atomic_write_text(path, "\n".join(lines) + "\n"))
    lines += [
        "Each chapter starts with its headline: our best model per task, a **peer** (a model built",
        "elsewhere, run by our benchmark on the same protocol) and a **published** number from the",
        "literature. Published numbers come from other protocols and training sets: they say where the",
        "field is, not that the comparison is exact. Every number below the headlines was produced by the",
        "command above its table, on the machine and date given there.",
        "",
        "Chapters: " + " · ".join(f"[{c}](#{c})" for c in by_chapter)
        + " · [published numbers](#published-numbers) · [full records](#full-records)",
        "",
    ]
    for chapter, recs in by_chapter.items():
        lines += [f"## {chapter}", ""]
        rows = headline_rows(chapter, recs)
        if rows:
            png = plot_chapter(chapter, rows, figures / f"{chapter}.png")
            link = Path(os.path.relpath(png, path.parent)).as_posix()
            lines += _headline_table(rows) + ["", f"![{chapter}: every model of each headline task]({link})", ""]
        else:
            lines += ["No headline task defined for this chapter: see its full records.", ""]
    lines += _published_section(by_chapter)
    lines += ["## Full records", ""]
    for chapter, recs in by_chapter.items():
        lines += [f"### {chapter} records", ""] + _record_groups(recs)
    return _readable(atomic_write_text(path, "\n".join(lines) + "\n"))


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``: wall-clock time of a block."""

    def __enter__(self):
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False
