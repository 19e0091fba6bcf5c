"""``ensure(name)``: the folder of a data set, fetched first where that is allowed;
``available(name)``: whether a notebook can use it, with one line saying why not.

>>> available("essays", "/nonexistent")  # doctest: +ELLIPSIS
skipping the sections that need essays: essays not found at /nonexistent/essays: not downloadable ...
False
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import config
from ..errors import MmerError
from ._common import dataset_dir
from .fetch import fetch
from .registry import get_spec

AUTO_FETCH_ENV = "MMER_AUTO_FETCH"


def _auto_fetch() -> bool:
    return config.in_colab() or os.environ.get(AUTO_FETCH_ENV) == "1"


def ensure(name: str, root: str | Path | None = None) -> Path:
    """Return the folder of data set ``name``.

    When it is missing, it is downloaded in Colab or when ``$MMER_AUTO_FETCH=1``
    (and the data set has a public source); otherwise a one-line
    :class:`~mmer_utils.errors.DataNotFoundError` says how to get it.
    """
    spec = get_spec(name)
    base = Path(root) if root is not None else config.data_root(must_exist=False)
    if (base / spec.folder).is_dir():
        return dataset_dir(spec.name, root)
    if spec.remotes and _auto_fetch():
        return fetch(spec.name, root)
    return dataset_dir(spec.name, root)  # raises with the instructions


def available(name: str, root: str | Path | None = None, *, quiet: bool = False) -> bool:
    """True when data set ``name`` is under the data root (fetched first where :func:`ensure` would).

    When it is not, one line says so, that the sections needing it are skipped, and how to get
    it (unless ``quiet``); nothing is raised. Notebooks use it to run what they can without a
    data set that cannot be downloaded (the essays).
    """
    spec = get_spec(name)
    try:
        ensure(spec.name, root)
        return True
    except MmerError as exc:
        if not quiet:
            print(f"skipping the sections that need {spec.name}: {exc}")
        return False
