"""``python -m mmer_utils.bench report | CHAPTER [--full]``."""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys

from ..errors import MmerError
from ..results import save_records, write_results_md
from . import CHAPTERS


#: Variables that say where things are, not what is measured: left out of the recorded command.
_LOCATION_VARS = {"MMER_DATA_DIR", "MMER_CACHE_DIR", "MMER_METRICS_DIR", "MMER_REQUIRE_DATA", "MMER_AUTO_FETCH"}


def settings_prefix(environ=None) -> list[str]:
    """``NAME=value`` for every ``MMER_*`` variable that changes what a benchmark runs, so that the
    command recorded beside a number reproduces it (e.g. ``MMER_BIGFIVE_MODELS=...``)."""
    environ = os.environ if environ is None else environ
    return [f"{k}={shlex.quote(v)}" for k, v in sorted(environ.items())
            if k.startswith("MMER_") and k not in _LOCATION_VARS]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m mmer_utils.bench")
    parser.add_argument("chapter", help=f"report, or one of: {', '.join(CHAPTERS) or '(no chapter benchmark yet)'}")
    parser.add_argument("--full", action="store_true", help="the full data (otherwise a quick smoke run, not saved)")
    args = parser.parse_args(argv)
    if args.chapter == "report":
        print(f"wrote {write_results_md()}")
        return 0
    if args.chapter not in CHAPTERS:
        print(f"error: no benchmark named {args.chapter!r}; available: report, {', '.join(CHAPTERS) or 'none yet'}",
              file=sys.stderr)
        return 2
    module, func = CHAPTERS[args.chapter].split(":")
    command = " ".join(settings_prefix() + ["python -m mmer_utils.bench"] + [shlex.quote(a) for a in argv])
    try:
        bench = importlib.import_module(module)
        records = getattr(bench, func)(full=args.full, command=command)
    except MmerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for rec in records:
        print(f"{rec.model:<40} {rec.protocol:<30} {rec.split:<8} {rec.metric:<12} {rec.value:.4f}")
    if args.full:
        by_chapter: dict[str, list] = {}
        for rec in records:  # records say which chapter file they belong to
            by_chapter.setdefault(rec.chapter, []).append(rec)
        for chapter, recs in by_chapter.items():
            print(f"wrote {save_records(chapter, recs, owned_prefix=getattr(bench, 'OWNED_PREFIX', None))}")
        print(f"wrote {write_results_md()}")
    else:
        print("quick run: records not saved (use --full for published numbers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
