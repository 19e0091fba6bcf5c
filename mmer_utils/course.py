"""Run the whole course: every notebook in numbered order, with papermill.

``python -m mmer_utils.course`` (behind ``make course``) executes
``notebooks/00_setup.ipynb`` and then every ``notebooks/0N_<chapter>/NN_*.ipynb``
in quick mode (``QUICK=True``; ``--full`` for the headline runs), writes the
executed copies under ``build/notebooks/`` and prints one table of the metrics
the notebooks recorded.

A notebook lists the data sets (and model files) it needs in its metadata (``"mmer":
{"requires": ["ravdess"]}``); when one is missing, the runner skips that notebook and says
how to get the data, unless ``--strict`` (used by the tests) turns that into a failure.
Data sets it can do without (``"uses": ["essays"]``) are not required: the notebook skips
the cells that need them (``%%needs essays``). The kernels run with progress bars off.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import config
from .datasets import get_spec
from .errors import MmerError
from .results import METRICS_ENV, NOTEBOOK_ENV, load_metrics, format_value
from .video.assets import ASSETS

#: Set in the kernels the runner starts: progress bars are off (a saved widget bar reads "0%").
BATCH_ENV = {"TQDM_DISABLE": "1"}


class NotebookFailed(MmerError, RuntimeError):
    """A notebook cell raised; the message names the notebook and the cell."""


@dataclass
class RunResult:
    notebook: str
    status: str  # "ok", "failed", "skipped"
    seconds: float
    message: str = ""
    output: Path | None = None


def notebooks_dir() -> Path:
    return (config.repo_root() or Path.cwd()) / "notebooks"


def list_notebooks(root: Path | None = None) -> list[Path]:
    """``00_setup.ipynb`` first, then chapter notebooks in numbered order (templates excluded)."""
    root = Path(root) if root else notebooks_dir()
    found = sorted(p for p in root.glob("[0-9][0-9]_*.ipynb"))
    for chapter in sorted(d for d in root.glob("[0-9][0-9]_*") if d.is_dir()):
        found += sorted(chapter.glob("[0-9][0-9]_*.ipynb"))
    return found


def required_data(notebook: Path) -> list[str]:
    """The data sets a notebook declares in its metadata ``mmer.requires``."""
    meta = json.loads(Path(notebook).read_text(encoding="utf-8")).get("metadata", {})
    return list(meta.get("mmer", {}).get("requires", []))


def missing_data(names: list[str]) -> list[str]:
    """The data sets and model files (:mod:`mmer_utils.video.assets`) among ``names`` that are not there."""
    root = config.data_root(must_exist=False)
    return [n for n in names if not _where(n, root).exists()]


def how_to_get(name: str) -> str:
    """One line: how to get data set or model file ``name``."""
    return (ASSETS[name] if name in ASSETS else get_spec(name)).how_to_get


def _where(name: str, root: Path) -> Path:
    if name in ASSETS:
        return root / ASSETS[name].folder / ASSETS[name].filename
    return root / get_spec(name).folder


def run_notebook(notebook: Path, output: Path, *, quick: bool = True, parameters: dict | None = None,
                 timeout: int | None = 1800, cwd: Path | None = None) -> Path:
    """Execute one notebook with papermill; raise :class:`NotebookFailed` naming the failing cell.

    Only the parameters the notebook declares in its ``parameters`` cell are passed
    (``QUICK`` always is when declared).
    """
    import papermill as pm

    notebook = Path(notebook)
    os.environ.update(BATCH_ENV)  # the kernel inherits it: no widget progress bars in the saved copy
    if os.environ.get(config.DATA_ENV):  # kernels start in the notebook's folder: make the root absolute
        os.environ[config.DATA_ENV] = str(config.data_root(must_exist=False))
    declared = pm.inspect_notebook(str(notebook))
    params = {"QUICK": quick, **(parameters or {})}
    params = {k: v for k, v in params.items() if k in declared}
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(str(notebook), str(output), parameters=params, cwd=str(cwd or notebook.parent),
                            execution_timeout=timeout, progress_bar=False, log_output=False,
                            kernel_name="python3")
    except pm.PapermillExecutionError as exc:
        raise NotebookFailed(
            f"{notebook.name}: cell {exc.cell_index} (execution count {exc.exec_count}) raised "
            f"{exc.ename}: {exc.evalue.strip().splitlines()[-1] if exc.evalue.strip() else ''} "
            f"(executed copy: {output})"
        ) from None
    return output


def run_course(*, quick: bool = True, strict: bool = False, only: str | None = None,
               out_dir: Path | None = None, notebooks: list[Path] | None = None) -> list[RunResult]:
    """Run every notebook; return one :class:`RunResult` per notebook (failures don't stop the rest)."""
    root = config.repo_root() or Path.cwd()
    out_dir = Path(out_dir).resolve() if out_dir else root / "build"
    os.environ[METRICS_ENV] = str(out_dir / "metrics")
    # Kernels start in the notebook's folder: a relative data root must not change meaning there.
    os.environ[config.DATA_ENV] = str(config.data_root(must_exist=False))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter hides the progress lines
    nb_root = notebooks_dir()
    results = []
    for nb in notebooks or list_notebooks(nb_root):
        rel = nb.relative_to(nb_root) if nb.is_relative_to(nb_root) else Path(nb.name)
        if only and only not in str(rel):
            continue
        missing = missing_data(required_data(nb))
        if missing and not strict:
            how = "; ".join(f"{m}: {how_to_get(m)}" for m in missing)
            results.append(RunResult(str(rel), "skipped", 0.0, f"needs {', '.join(missing)} ({how})"))
            print(f"[skip] {rel}: needs {', '.join(missing)}", flush=True)
            continue
        os.environ[NOTEBOOK_ENV] = str(rel)
        output = out_dir / "notebooks" / rel
        print(f"[run ] {rel} ...", flush=True)
        start = time.perf_counter()
        try:
            run_notebook(nb, output, quick=quick)
            results.append(RunResult(str(rel), "ok", time.perf_counter() - start, output=output))
        except NotebookFailed as exc:
            results.append(RunResult(str(rel), "failed", time.perf_counter() - start, str(exc), output))
        print(f"[{results[-1].status:<4}] {rel} ({results[-1].seconds:.0f} s) {results[-1].message}", flush=True)
    return results


def results_table(results: list[RunResult], metrics: list[dict]) -> str:
    """One plain-text table: notebook, model, protocol, metric, value, runtime."""
    runtime = {r.notebook: r.seconds for r in results}
    rows = [("notebook", "model", "protocol", "metric", "value", "runtime")]
    seen = set()
    for m in metrics:
        if m["notebook"] not in runtime:
            continue
        seen.add(m["notebook"])
        rows.append((m["notebook"], m["model"], m["protocol"], f"{m['metric']} ({m['split']})",
                     format_value(m["metric"], m["value"]), f"{runtime[m['notebook']]:.0f} s"))
    for r in results:
        if r.notebook not in seen:
            rows.append((r.notebook, "-", "-", r.status, "-", f"{r.seconds:.0f} s"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmer_utils.course", description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="full mode (QUICK=False): the headline runs, hours on a CPU")
    parser.add_argument("--strict", action="store_true", help="fail instead of skipping notebooks whose data is missing")
    parser.add_argument("--only", help="run only notebooks whose path contains this text")
    parser.add_argument("--out", help="output folder (default build/)")
    args = parser.parse_args(argv)

    root = config.data_root(must_exist=False)
    print(f"data root: {root} ({'found' if root.is_dir() else 'missing: see notebooks/00_setup.ipynb'})", flush=True)
    # Clear this run's metrics first so the table shows only what ran now.
    out_dir = Path(args.out) if args.out else (config.repo_root() or Path.cwd()) / "build"
    for old in (out_dir / "metrics").glob("*.json"):
        old.unlink()
    start = time.perf_counter()
    results = run_course(quick=not args.full, strict=args.strict, only=args.only, out_dir=out_dir)
    metrics = load_metrics(out_dir / "metrics")
    print()
    print(results_table(results, metrics))
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    print(f"\n{len(results) - len(failed) - len(skipped)} notebooks ran, {len(failed)} failed, "
          f"{len(skipped)} skipped, in {time.perf_counter() - start:.0f} s; executed copies in {out_dir / 'notebooks'}")
    for r in failed + skipped:
        print(f"  {r.status}: {r.notebook}: {r.message}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
