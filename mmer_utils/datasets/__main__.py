"""``python -m mmer_utils.datasets list | fetch NAME | verify NAME``."""

from __future__ import annotations

import sys

from .. import cli, config
from ..video import assets
from . import fetch, status, verify


def main(argv=None) -> int:
    parser, sub, p_fetch = cli.fetch_parser("python -m mmer_utils.datasets",
                                            "List, download and check the course's data sets.",
                                            list_help="every data set, whether it is here, and how to get it",
                                            fetch_help="download (or unpack --archive) and verify a data set")
    p_fetch.add_argument("--archive", help="a zip/tar you downloaded by hand")
    p_verify = sub.add_parser("verify", help="check checksums and counts of a data set")
    p_verify.add_argument("name", nargs="+")
    args = parser.parse_args(argv)
    return cli.run(lambda: _run(args))


def _run(args) -> int:
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
    failed = False  # verify
    for name in args.name:
        report = verify(name, args.root)
        print(report.summary())
        failed |= not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
