"""``ensure(name)``: the folder of a data set, fetched first where that is allowed."""

from __future__ import annotations

import os
from pathlib import Path

from .. import config
from ._common import dataset_dir
from .fetch import fetch
from .registry import get_spec

AUTO_FETCH_ENV = "MMER_AUTO_FETCH"


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
    if spec.remotes and (config.in_colab() or os.environ.get(AUTO_FETCH_ENV) == "1"):
        return fetch(spec.name, root)
    return dataset_dir(spec.name, root)  # raises with the instructions
