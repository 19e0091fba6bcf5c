"""RAVDESS face action units from their public source: ``au_mfcc.pkl`` -> ``openface_au_clipmean_speech.npz``.

The only public copy of clip-level facial action units of the RAVDESS speech videos is
``au_mfcc.pkl`` in the GitHub repository
``KangHyunWook/Pytorch-implementation-of-Multimodal-emotion-recognition-on-RAVDESS-dataset``:
a pickled ``dict`` from a video name (``01-01-EE-II-SS-RR-AA``) to one float vector of
294 values, the 35 OpenFace action units (clip means: 17 intensities ``AUxx_r``, then 18
presences ``AUxx_c``) followed by 259 audio values of that author's own MFCC features.

A pickle can run any code while it is read, so it is never given to :func:`pickle.load`.
:class:`RestrictedUnpickler` resolves only the handful of NumPy functions that rebuild an
array (``_reconstruct``, ``_frombuffer``, ``ndarray``, ``dtype``, ``scalar``),
``collections.OrderedDict`` and, for protocol 2, ``_codecs.encode`` limited to latin-1; any other global (``os.system``, ``builtins.eval``, a class of
some package) raises :class:`~mmer_utils.errors.UnreadableFileError` before it is imported.
The file is also hash-checked before it is read (:mod:`mmer_utils.datasets.fetch`).
:func:`convert_au_pickle` then writes a plain ``.npz`` (strings and float64 arrays only, so
``np.load(..., allow_pickle=False)`` reads it), the layout of
:func:`mmer_utils.datasets.load_ravdess_action_units`.
"""

from __future__ import annotations

import codecs
import importlib
import io
import pickle
import re
import warnings
from pathlib import Path

import numpy as np

from ..atomic import atomic_save_npz
from ..errors import UnreadableFileError

__all__ = ["AU_COLUMNS", "RestrictedUnpickler", "convert_au_pickle", "safe_load_pickle"]

#: The 35 OpenFace action-unit columns, in the order of the source's extraction script.
AU_COLUMNS = (
    "AU01_r", "AU02_r", "AU04_r", "AU05_r", "AU06_r", "AU07_r", "AU09_r", "AU10_r", "AU12_r", "AU14_r",
    "AU15_r", "AU17_r", "AU20_r", "AU23_r", "AU25_r", "AU26_r", "AU45_r",
    "AU01_c", "AU02_c", "AU04_c", "AU05_c", "AU06_c", "AU07_c", "AU09_c", "AU10_c", "AU12_c", "AU14_c",
    "AU15_c", "AU17_c", "AU20_c", "AU23_c", "AU25_c", "AU26_c", "AU28_c", "AU45_c",
)

# (module, name) pairs a pickle of NumPy arrays needs; both NumPy 1 (numpy.core) and 2 (numpy._core).
_ALLOWED = {
    (prefix + module, name)
    for prefix in ("numpy.core.", "numpy._core.")
    for module, name in [("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer")]
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict")}

_CLIP = re.compile(r"(\d{2})-(\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only dicts, lists, numbers, strings and NumPy arrays.

    >>> import pickle, numpy as np
    >>> data = pickle.dumps({"01-01-01-01-01-01-01": np.zeros(3)})
    >>> safe_load_pickle(data)["01-01-01-01-01-01-01"].tolist()
    [0.0, 0.0, 0.0]
    >>> safe_load_pickle(pickle.dumps(print))
    Traceback (most recent call last):
    mmer_utils.errors.UnreadableFileError: the pickle asks for builtins.print, which is not allowed (only NumPy arrays and plain containers are read)
    """

    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode"):
            return _latin1_only  # how protocol 2 stores the bytes of an array
        if (module, name) not in _ALLOWED:
            raise UnreadableFileError(f"the pickle asks for {module}.{name}, which is not allowed "
                                      "(only NumPy arrays and plain containers are read)")
        with warnings.catch_warnings():  # numpy.core.* is a deprecated alias under NumPy 2
            warnings.simplefilter("ignore", DeprecationWarning)
            return getattr(importlib.import_module(module), name)


def _latin1_only(text, encoding="utf-8"):
    if encoding not in ("latin1", "latin-1"):
        raise UnreadableFileError(f"the pickle asks for the codec {encoding!r}, which is not allowed")
    return codecs.encode(text, encoding)


def safe_load_pickle(data: bytes):
    """Read pickled ``data`` with :class:`RestrictedUnpickler`."""
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except UnreadableFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt pickles raise many kinds
        raise UnreadableFileError(f"not a readable pickle: {type(exc).__name__}: {exc}") from None


def convert_au_pickle(source, dest) -> Path:
    """Convert ``au_mfcc.pkl`` (``source``) to the npz that :func:`load_ravdess_action_units` reads.

    Keys: ``clip_id`` (video id ``01-01-...``, sorted), ``audio_id`` (the matching speech file
    ``03-01-...``), ``au`` (n x 35 float64), ``au_columns``, ``source_mfcc_part`` (the rest of
    each vector). Written atomically; returns ``dest``.

    Raises
    ------
    UnreadableFileError
        The file is not a pickle of the expected shape, or asks for anything but NumPy arrays.
    """
    source = Path(source)
    obj = safe_load_pickle(source.read_bytes())
    if not isinstance(obj, dict) or not obj:
        raise UnreadableFileError(f"{source}: expected a non-empty dict of clip name -> vector, got {type(obj).__name__}")
    rows = {}
    for key, value in obj.items():
        match = _CLIP.search(str(key))
        if not match:
            raise UnreadableFileError(f"{source}: key {key!r} is not a RAVDESS clip name (MM-VV-EE-II-SS-RR-AA)")
        rest = match.group(2)
        try:
            vector = np.asarray(value, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise UnreadableFileError(f"{source}: the value of {key!r} is not a vector of numbers") from None
        if vector.size < len(AU_COLUMNS):
            raise UnreadableFileError(f"{source}: the vector of {key!r} has {vector.size} values, "
                                      f"fewer than the {len(AU_COLUMNS)} action units")
        if rest in rows:
            raise UnreadableFileError(f"{source}: clip {rest} appears twice")
        rows[rest] = vector
    sizes = {v.size for v in rows.values()}
    if len(sizes) != 1:
        raise UnreadableFileError(f"{source}: vectors of different lengths {sorted(sizes)}")
    order = sorted(rows)
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    matrix = np.stack([rows[r] for r in order])
    if not np.isfinite(matrix[:, :len(AU_COLUMNS)]).all():
        raise UnreadableFileError(f"{source}: action units with NaN or infinite values")
    return atomic_save_npz(
        dest,
        clip_id=np.array([f"01-{r}" for r in order]),
        audio_id=np.array([f"03-{r}" for r in order]),
        au=matrix[:, :len(AU_COLUMNS)],
        au_columns=np.array(AU_COLUMNS),
        source_mfcc_part=matrix[:, len(AU_COLUMNS):],
    )
