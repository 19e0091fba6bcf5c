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
from .atomic import atomic_write_json, atomic_write_text

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
    if metric in {"accuracy", "macro_f1", "weighted_f1", "uar", "f1", "mean_accuracy"} or metric.endswith(("accuracy", "_rate")):
        return f"{100 * value:.1f} %"
    return f"{value:.4g}"


def write_results_md(path: Path | None = None, *, directory: Path | None = None) -> Path:
    """Regenerate ``RESULTS.md`` from ``results/*.json``; return its path."""
    root = config.repo_root() or Path.cwd()
    path = Path(path) if path else root / "RESULTS.md"
    records = load_records(directory)
    lines = [
        "# Results",
        "",
        "Generated from `results/*.json` by `python -m mmer_utils.bench report`; do not edit by hand.",
        "Every row was produced by the command beside it, on the machine and date beside it.",
        "",
    ]
    if not records:
        lines.append("No benchmark has been recorded yet: run `python -m mmer_utils.bench CHAPTER --full`.")
    by_chapter: dict[str, list[dict]] = {}
    for rec in records:
        by_chapter.setdefault(rec["chapter"], []).append(rec)
    for chapter, recs in by_chapter.items():
        lines += [f"## {chapter}", "",
                  "| model | protocol | split | metric | value | training time | command | date | machine |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in recs:
            secs = "" if r.get("train_seconds") is None else f"{r['train_seconds']:.0f} s"
            lines.append(f"| {r['model']} | {r['protocol']} | {r['split']} | {r['metric']} | "
                         f"{format_value(r['metric'], r['value'])} | {secs} | `{r['command']}` | {r['date']} | {r['machine']} |")
        lines.append("")
    path.write_text("\n".join(lines) + "\n")
    return path


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``: wall-clock time of a block."""

    def __enter__(self):
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False
