"""``python -m mmer_utils.models list|info NAME|verify [NAME...]|build NAME|readme``."""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any TensorFlow import: no log noise


def main(argv=None) -> int:
    from ..errors import MmerError
    from . import store

    parser = argparse.ArgumentParser(prog="python -m mmer_utils.models",
                                     description="The course's pretrained models: list, verify, rebuild.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the shipped models, one line each")
    p_info = sub.add_parser("info", help="the card of one model (JSON)")
    p_info.add_argument("name")
    p_verify = sub.add_parser("verify", help="check every file: present, of its kind, SHA-256, size budgets")
    p_verify.add_argument("names", nargs="*")
    p_build = sub.add_parser("build", help="(re)train a model and ship it; long trainings resume from their "
                                           "checkpoint when run again")
    p_build.add_argument("name")
    p_build.add_argument("--max-minutes", type=float, default=None,
                         help="end this training slice cleanly after about this many minutes")
    p_build.add_argument("--release-now", action="store_true",
                         help="ship the best epoch so far of an unfinished training (its card says so)")
    sub.add_parser("readme", help="regenerate models/README.md from the catalogue")
    args = parser.parse_args(argv)
    if args.command in ("build",):
        from .. import config

        config.import_tensorflow_quietly()
    try:
        if args.command == "list":
            for name in store.list_models():
                card = store.info(name)
                size = sum(f["bytes"] for f in card["files"]) / 1e6
                print(f"{name:15s} {card['task']} ({size:.1f} MB)")
        elif args.command == "info":
            print(json.dumps({k: v for k, v in store.info(args.name).items() if k != "history"}, indent=1))
        elif args.command == "verify":
            problems = store.verify(args.names or None)
            for line in problems:
                print(line, file=sys.stderr)
            if problems:
                return 1
            names = args.names or store.list_models()
            print(f"ok: {len(names)} models verified in {store.models_dir()} ({', '.join(names)})")
        elif args.command == "build":
            from .recipes import build

            kwargs = {}
            if args.max_minutes is not None:
                kwargs["max_minutes"] = args.max_minutes
            if args.release_now:
                kwargs["release_now"] = True
            card = build(args.name, **kwargs)
            if card is not None:
                print(f"built {args.name}: " + ", ".join(f["name"] for f in card["files"]))
        elif args.command == "readme":
            print(store.write_readme())
    except MmerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
