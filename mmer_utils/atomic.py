"""Atomic file writes: a reader never sees half a file, an interrupted run leaves nothing behind.

Every cache, checkpoint, saved model and result file of the package is written the same
way: to a temporary file in the target's folder, then renamed over the target with
``os.replace`` (atomic on one file system). If anything fails before the rename, the
temporary file is removed and the old target, if any, is untouched.

>>> import tempfile, pathlib, numpy as np
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> atomic_save_npz(folder / "x.npz", a=np.arange(3)).name
'x.npz'
>>> with atomic_path(folder / "model.keras", suffix=".keras") as tmp:   # a writer that needs a path
...     _ = tmp.write_text("weights")
>>> sorted(p.name for p in folder.iterdir())
['model.keras', 'x.npz']
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np


@contextmanager
def atomic_path(path, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` when the block succeeds.

    ``suffix`` is the temporary file's ending, for writers that check it (Keras wants
    ``.keras``). The folder is created if needed. On an exception (or Ctrl+C) the temporary
    file is deleted and ``path`` keeps its old content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def atomic_write_json(path, obj, **dumps_kwargs) -> Path:
    """``json.dumps(obj, **dumps_kwargs)`` written to ``path`` atomically; return the path."""
    return atomic_write_text(path, json.dumps(obj, **dumps_kwargs))


def atomic_save_npy(path, array) -> Path:
    """``np.save`` to ``path`` atomically (through a file handle, so no ``.npy`` is appended)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.asarray(array))
    return Path(path)


def atomic_save_npz(path, **arrays) -> Path:
    """``np.savez`` of ``arrays`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return Path(path)
