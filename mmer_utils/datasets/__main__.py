"""``python -m mmer_utils.datasets list | fetch NAME | verify NAME``."""

from __future__ import annotations

import argparse
import sys

from .. import config
from ..errors import MmerError
from ..video import assets
from . import fetch, status, verify


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmer_utils.datasets",
                                     description="List, download and check the course's data sets.")
    parser.add_argument("--root", help=f"data root (default: ${config.DATA_ENV} or data/)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every data set, whether it is here, and how to get it")
    p_fetch = sub.add_parser("fetch", help="download (or unpack --archive) and verify a data set")
    p_fetch.add_argument("name")
    p_fetch.add_argument("--archive", help="a zip/tar you downloaded by hand")
    p_fetch.add_argument("--force", action="store_true", help="download again")
    p_fetch.add_argument("--no-progress", action="store_true")
    p_verify = sub.add_parser("verify", help="check checksums and counts of a data set")
    p_verify.add_argument("name", nargs="+")
    args = parser.parse_args(argv)

    try:
        if args.command == "list":
            root = args.root or config.data_root(must_exist=False)
            print(f"data root: {root}")
            for row in status(args.root):
                mark = "present" if row["present"] else "missing"
                print(f"  {row['name']:<16} {mark:<8} {row['title']}")
                if not row["present"]:
                    print(f"  {'':<16} {'':<8} get it: {row['how_to_get']}")
            print("model files (python -m mmer_utils.video.assets):")
            return assets.main(["--root", str(root), "list"])
        if args.command == "fetch" and args.name.replace("-", "_") in assets.ASSETS:
            # the face models are not data sets; the old command still gets them
            rest = ["--force"] * args.force + ["--no-progress"] * args.no_progress
            return assets.main((["--root", args.root] if args.root else []) + ["fetch", args.name, *rest])
        if args.command == "fetch":
            path = fetch(args.name, args.root, archive=args.archive, progress=not args.no_progress, force=args.force)
            print(f"{args.name}: ready at {path}")
            report = verify(args.name, args.root)
            print(report.summary())
            return 0 if report.ok else 1
        if args.command == "verify":
            failed = False
            for name in args.name:
                report = verify(name, args.root)
                print(report.summary())
                failed |= not report.ok
            return 1 if failed else 0
    except MmerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
