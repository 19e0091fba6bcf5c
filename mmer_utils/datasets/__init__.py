"""Data sets of the mmer course: loaders, verified downloads and checks.

Every loader returns a tidy :class:`pandas.DataFrame` (one row per example, with
its label, split, speaker/actor and every other field the source encodes) and
reads the layout a user gets from the official source, under the data root
(``$MMER_DATA_DIR``, default ``data/``).

=================  =================================  ==========================
name               loader                             official split / protocol
=================  =================================  ==========================
``fer2013``        :func:`load_fer2013`               Training / PublicTest / PrivateTest
``ravdess``        :func:`load_ravdess`               24 actors; held-out actor folds
``essays``         :func:`load_essays`                10-fold cross-validation
``meld``           :func:`load_meld`                  train / dev / test
``emotion``        :func:`load_dair_emotion`          train / validation / test
=================  =================================  ==========================

Command line: ``python -m mmer_utils.datasets list | fetch NAME | verify NAME``.
"""

from .emotion import load_dair_emotion
from .ensure import ensure
from .essays import TRAITS, load_essays
from .fer2013 import load_fer2013, load_fer2013_images
from .fetch import fetch, model_path
from .meld import load_meld
from .ravdess import load_ravdess, load_ravdess_action_units, parse_ravdess_name
from .registry import DATASETS, get_spec
from .integrity import verify

LOADERS = {
    "fer2013": load_fer2013,
    "ravdess": load_ravdess,
    "essays": load_essays,
    "meld": load_meld,
    "emotion": load_dair_emotion,
}


def loader_for(name: str):
    """Return the loader function of data set ``name``."""
    spec = get_spec(name)
    if spec.name not in LOADERS:
        raise ValueError(f"{spec.name} is a model file, not a data set with a loader")
    return LOADERS[spec.name]


def status(root=None) -> "list[dict]":
    """One row per data set: whether it is present under the data root, and how to get it."""
    from pathlib import Path

    from .. import config

    base = Path(root) if root is not None else config.data_root(must_exist=False)
    rows = []
    for spec in DATASETS.values():
        path = base / spec.folder
        rows.append({"name": spec.name, "present": path.is_dir() and any(path.iterdir()),
                     "path": str(path), "title": spec.title, "how_to_get": spec.how_to_get})
    return rows


__all__ = [
    "DATASETS", "LOADERS", "TRAITS", "ensure", "fetch", "get_spec", "load_dair_emotion", "load_essays",
    "load_fer2013", "load_fer2013_images", "load_meld", "load_ravdess", "load_ravdess_action_units",
    "loader_for", "model_path", "parse_ravdess_name", "status", "verify",
]
