"""Outcome counts of pytest runs, saved per run and summed over runs.

``make test`` runs pytest twice (the unit tests, then the notebooks: fastest failure first).
With ``MMER_PYTEST_COUNTS=path.json`` set, ``conftest.py`` saves each run's counts there;
``python tests/pytest_counts.py FOLDER`` then prints one summary line of every run in
FOLDER, in pytest's own format, so the last summary line of ``make test`` counts all tests::

    ============ 612 passed, 31 skipped, 240 xfailed, 3 warnings in 1234.56s (0:20:34) ============
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

COUNTS_ENV = "MMER_PYTEST_COUNTS"
#: pytest's order in its summary line ("deselected" left out: every test is selected by one of the runs).
KINDS = ("failed", "passed", "skipped", "xfailed", "xpassed", "warnings", "error")


def save(path, stats: dict, seconds: float, exitstatus: int) -> Path:
    """Write one run's counts (``terminalreporter.stats``: kind -> reports) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = {kind: len(stats.get(kind, [])) for kind in KINDS + ("deselected",)}
    path.write_text(json.dumps({"counts": counts, "seconds": seconds, "exitstatus": int(exitstatus)}))
    return path


def _word(kind: str, n: int) -> str:
    if kind == "error":
        return "error" if n == 1 else "errors"
    if kind == "warnings":
        return "warning" if n == 1 else "warnings"
    return kind


def summary_line(runs: list[dict], width: int = 100) -> str:
    """pytest's final line for the sum of ``runs`` (each as :func:`save` wrote it).

    >>> print(summary_line([{"counts": {"passed": 3, "xfailed": 2, "deselected": 20}, "seconds": 2.5},
    ...                     {"counts": {"passed": 1, "warnings": 1, "deselected": 5}, "seconds": 70.0}], 60))
    ==== 4 passed, 2 xfailed, 1 warning in 72.50s (0:01:12) ====
    """
    total = {kind: sum(r["counts"].get(kind, 0) for r in runs) for kind in KINDS}
    seconds = sum(r["seconds"] for r in runs)
    parts = [f"{n} {_word(kind, n)}" for kind, n in total.items() if n]
    duration = f"{seconds:.2f}s" + (f" ({datetime.timedelta(seconds=int(seconds))})" if seconds >= 60 else "")
    text = f" {', '.join(parts) if parts else 'no tests ran'} in {duration} "
    pad = max(width - len(text), 4)
    return "=" * (pad // 2) + text + "=" * (pad - pad // 2)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0] if argv else "build/pytest-counts")
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    if not runs:
        print(f"no pytest counts in {folder}", file=sys.stderr)
        return 1
    print(f"all {len(runs)} pytest runs together:")
    print(summary_line(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
