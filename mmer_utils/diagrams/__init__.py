"""The course's diagrams (SVG files shipped inside the package, so they show in Colab too).

A notebook draws one with :func:`show`; :func:`names` lists them and :func:`path` gives the
file. They live here rather than in ``docs/`` because a ``pip install`` (Colab) carries the
package, not the repository: a markdown link to ``../../docs/img/x.svg`` would be a broken
image there.

>>> from mmer_utils import diagrams
>>> "audio_cnn_lstm" in diagrams.names()
True
>>> diagrams.path("audio_cnn_lstm").name
'audio_cnn_lstm.svg'
>>> svg = diagrams.show("audio_cnn_lstm")  # in a notebook, the cell's last line: the diagram appears
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import MmerError

__all__ = ["UnknownDiagramError", "names", "path", "show"]


class UnknownDiagramError(MmerError, ValueError):
    """No diagram has that name (the message lists those that exist)."""


def _files():
    return resources.files(__name__)


def names() -> list[str]:
    """The diagrams' names (file names without ``.svg``), sorted.

    >>> names()[:1]
    ['audio_cnn_lstm']
    """
    return sorted(f.name[:-4] for f in _files().iterdir() if f.name.endswith(".svg"))


def path(name: str) -> Path:
    """The SVG file of diagram ``name`` (with or without ``.svg``).

    Raises :class:`UnknownDiagramError` (a ``ValueError``; one line, with the available
    names) for an unknown name.

    >>> path("ensemble_oof_stacking.svg").suffix
    '.svg'
    """
    stem = name[:-4] if name.endswith(".svg") else name
    if stem not in names():
        raise UnknownDiagramError(f"no diagram named {name!r}; available: {', '.join(names())}")
    # a wheel or a clone installs the package as plain files, so the resource is a real path
    return Path(str(_files() / f"{stem}.svg"))


def show(name: str):
    """Diagram ``name`` as an ``IPython.display.SVG``: a notebook cell that ends with it draws it.

    >>> type(show("ensemble_cross_attention_qkv")).__name__
    'SVG'
    """
    from IPython.display import SVG

    return SVG(data=path(name).read_text(encoding="utf-8"))
