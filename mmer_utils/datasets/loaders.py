"""One loader per data set, by name: :data:`LOADERS` and :func:`loader_for`."""

from __future__ import annotations

from .emotion import load_dair_emotion
from .essays import load_essays
from .fer2013 import load_fer2013
from .meld import load_meld
from .ravdess import load_ravdess, load_ravdess_action_units
from .registry import get_spec

LOADERS = {
    "fer2013": load_fer2013,
    "ravdess": load_ravdess,
    "ravdess_au": load_ravdess_action_units,
    "essays": load_essays,
    "meld": load_meld,
    "emotion": load_dair_emotion,
}


def loader_for(name: str):
    """Return the loader function of data set ``name``.

    >>> loader_for("meld").__name__
    'load_meld'
    """
    spec = get_spec(name)
    if spec.name not in LOADERS:
        raise ValueError(f"{spec.name} has no loader (it is read by the code that uses it)")
    return LOADERS[spec.name]
