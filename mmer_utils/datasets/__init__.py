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
``ravdess_au``     :func:`load_ravdess_action_units`  clip-mean face action units of RAVDESS
``nltk_data``      (read by NLTK)                     stop words, Punkt, POS tagger, WordNet
=================  =================================  ==========================

Command line: ``python -m mmer_utils.datasets list | fetch NAME | verify NAME``. The model
files of the video chapter (YuNet, the face landmarker) are not data sets: see
:mod:`mmer_utils.video.assets`.
"""

from pathlib import Path

from .. import config
from .emotion import load_dair_emotion
from .ensure import available, ensure
from .essays import TRAITS, load_essays
from .fer2013 import load_fer2013, load_fer2013_images
from .fetch import fetch
from .integrity import verify
from .loaders import LOADERS, loader_for
from .meld import load_meld
from .ravdess import load_ravdess, load_ravdess_action_units, parse_ravdess_name
from .registry import DATASETS, get_spec


def status(root=None) -> "list[dict]":
    """One row per data set: whether it is present under the data root, and how to get it."""
    base = Path(root) if root is not None else config.data_root(must_exist=False)
    rows = []
    for spec in DATASETS.values():
        path = base / spec.folder
        rows.append({"name": spec.name, "present": path.is_dir() and any(path.iterdir()),
                     "path": str(path), "title": spec.title, "how_to_get": spec.how_to_get})
    return rows


__all__ = [
    "DATASETS", "LOADERS", "TRAITS", "available", "ensure", "fetch", "get_spec", "load_dair_emotion", "load_essays",
    "load_fer2013", "load_fer2013_images", "load_meld", "load_ravdess", "load_ravdess_action_units",
    "loader_for", "parse_ravdess_name", "status", "verify",
]
