"""What the package's command lines share: the ``list`` / ``fetch NAME`` parser and the one-line error.

``python -m mmer_utils.datasets`` and ``python -m mmer_utils.video.assets`` both list
things under the data root and fetch one by name; every command line prints a known
error (:class:`~mmer_utils.errors.MmerError`, a bad value) as one line on stderr and
exits with status 2, as the course's errors promise.

>>> parser, _, _ = fetch_parser("python -m demo", "Demo.", list_help="all", fetch_help="get one")
>>> args = parser.parse_args(["fetch", "yunet", "--force"])
>>> (args.command, args.name, args.force, args.no_progress, args.root)
('fetch', 'yunet', True, False, None)
>>> run(lambda: int("x"))
2
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from . import config
from .errors import MmerError

__all__ = ["fetch_parser", "run"]


def fetch_parser(prog: str, description: str, *, list_help: str, fetch_help: str):
    """A parser with ``--root`` and the sub-commands ``list`` and ``fetch NAME [--force] [--no-progress]``.

    Parameters
    ----------
    prog, description : str
        The command and its one-line description.
    list_help, fetch_help : str
        Help of the two sub-commands.

    Returns
    -------
    (argparse.ArgumentParser, subparsers, fetch sub-parser)
        The parser, the object to add more sub-commands to, and ``fetch``'s parser (to add
        options to).
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--root", help=f"data root (default: ${config.DATA_ENV} or data/)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help=list_help)
    p_fetch = sub.add_parser("fetch", help=fetch_help)
    p_fetch.add_argument("name")
    p_fetch.add_argument("--force", action="store_true", help="download again")
    p_fetch.add_argument("--no-progress", action="store_true")
    return parser, sub, p_fetch


def run(body: Callable[[], int], errors: tuple = (MmerError, ValueError)) -> int:
    """``body()``'s exit status; one of ``errors`` is printed as ``error: ...`` on stderr and gives 2.

    Parameters
    ----------
    body : callable
        The command's work, returning its exit status.
    errors : tuple of exception classes
        The errors a user can fix (bad name, missing file); anything else keeps its traceback.

    Returns
    -------
    int
    """
    try:
        return body()
    except errors as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
