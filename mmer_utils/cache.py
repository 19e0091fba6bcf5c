"""Results kept on disk, keyed by a hash of what made them: the package's one cache pattern.

Spectrograms, clip features, HOG descriptors, landmarks and word vectors are slow to
compute and cheap to keep. Each is stored under :func:`mmer_utils.config.cache_dir`
(``build/cache`` in a clone), in a file or folder named by a hash of everything that
changes it, so that a changed parameter computes again and an unchanged one is read back:

* :func:`settings_key` hashes settings (a dict) into a short folder name;
* :func:`keyed_folder` is ``cache_dir(*names, settings_key(settings))`` with a readable
  ``params.json`` of the settings inside;
* :func:`load_or_compute` reads an entry (``.npy``: one array, ``.npz``: named arrays) or
  computes it and writes it atomically (a reader never sees half a file); an unreadable
  entry (a full disk, an interrupted copy) is computed again.

>>> settings_key({"n_mels": 64, "fmax": 8000}) == settings_key({"fmax": 8000, "n_mels": 64})
True
>>> len(settings_key({"a": 1}))
16
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np

from . import config
from .atomic import atomic_save_npy, atomic_save_npz, atomic_write_json

__all__ = ["keyed_folder", "load_or_compute", "settings_key"]


def settings_key(settings, *, length: int = 16) -> str:
    """A short stable hash of ``settings``: SHA-256 of their JSON (sorted keys, ``str`` for the rest).

    Parameters
    ----------
    settings : dict or other JSON-able value
        Everything that changes the cached result.
    length : int
        Hex digits kept.

    Returns
    -------
    str
    """
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def keyed_folder(*names: str, settings: dict) -> Path:
    """``cache_dir(*names, settings_key(settings))``, created, with the settings in ``params.json``.

    Parameters
    ----------
    *names : str
        The cache's folder (e.g. ``"audio_logmel"``).
    settings : dict
        What the entries depend on; ``params.json`` records it for a person reading the folder.

    Returns
    -------
    Path
    """
    folder = config.cache_dir(*names, settings_key(settings))
    info = folder / "params.json"
    if not info.is_file():
        atomic_write_json(info, settings, indent=1, sort_keys=True, default=str)
    return folder


def load_or_compute(path, compute: Callable):
    """The entry at ``path``, or ``compute()``'s result saved there first.

    Parameters
    ----------
    path : str, Path or None
        ``.npy`` (``compute`` returns one array) or ``.npz`` (a dict of arrays). None:
        no cache, ``compute()`` only.
    compute : callable
        ``compute() -> array`` or ``-> dict of arrays``.

    Returns
    -------
    array or dict of arrays
        As read back (so a fresh result and a cached one look the same).

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "squares.npy"
    >>> load_or_compute(path, lambda: np.arange(4) ** 2)
    array([0, 1, 4, 9])
    >>> load_or_compute(path, lambda: 1 / 0)   # read back, not computed
    array([0, 1, 4, 9])
    """
    if path is None:
        return compute()
    path = Path(path)
    if path.suffix not in (".npy", ".npz"):
        raise ValueError(f"a cache entry is a .npy or .npz file, got {path.name}")
    if path.is_file():
        try:
            if path.suffix == ".npy":
                return np.load(path, allow_pickle=False)
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (ValueError, OSError, EOFError, KeyError):  # unreadable entry: computed again below
            path.unlink(missing_ok=True)
    result = compute()
    if path.suffix == ".npy":
        result = np.asarray(result)
        atomic_save_npy(path, result)
        return result
    result = {k: np.asarray(v) for k, v in result.items()}
    atomic_save_npz(path, **result)
    return result
