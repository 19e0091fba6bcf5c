"""Saving and loading scikit-learn models without pickle: skops files with an explicit allow-list.

A pickle (``joblib.dump``) runs code when it is loaded: a shipped or downloaded model
file must never do that. The course saves its scikit-learn pipelines with **skops**
(``.skops``: a zip of JSON and NumPy arrays) and loads them with
:func:`load_skops`, which refuses, before anything is built, a file that holds a type
outside :data:`TRUSTED_TYPES` (plus the types skops itself trusts: scikit-learn's public
estimators, NumPy arrays and scalars, SciPy sparse matrices, Python's built-in
containers). Keras networks use Keras' own ``.keras`` format, loaded with
``safe_mode=True`` (see :class:`~mmer_utils.training.KerasEstimator`).

>>> import tempfile, pathlib
>>> from sklearn.linear_model import LogisticRegression
>>> clf = LogisticRegression().fit([[0.0], [1.0]], ["a", "b"])
>>> path = save_skops({"kind": "demo", "model": clf}, pathlib.Path(tempfile.mkdtemp()) / "demo.skops")
>>> back = load_skops(path)
>>> back["model"].predict([[0.9]]).tolist()
['b']

:func:`save_payload` / :func:`load_payload` add a ``kind`` and a format version to a
dict of parts, so that a file of one model is not taken for another's.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Iterable

from .atomic import atomic_path
from .errors import DataNotFoundError, MmerError

#: The types, beyond skops' own defaults, that :func:`load_skops` lets a file hold.
#: Each one is a class or function of this package (or a private scikit-learn helper)
#: that the course's pipelines are made of; loading builds objects of these types
#: and runs none of their code but the usual ``__setstate__`` of scikit-learn estimators.
TRUSTED_TYPES: tuple[str, ...] = (
    # scikit-learn helpers skops does not trust by default (inside CalibratedClassifierCV)
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    # shared classic estimators (mmer_utils.estimators; files written before the move name audio.baselines)
    "mmer_utils.estimators.CalibratedSVC",
    "mmer_utils.estimators.SelectBlock",
    # audio chapter: clip features -> [select a feature set] -> scaler -> SVM
    "mmer_utils.audio.baselines.CalibratedSVC",
    "mmer_utils.audio.baselines.SelectBlock",
    "mmer_utils.audio.features.ClipFeatures",
    # text chapter: Big Five (one classifier per trait), TF-IDF with our tokenizers
    "mmer_utils.text.bigfive.TraitClassifier",
    "mmer_utils.text.bigfive.MajorityTraits",
    "mmer_utils.text.bigfive.AveragedTraits",
    "mmer_utils.text.bigfive.StackedTraits",
    "mmer_utils.text.bigfive.StyleFeatures",
    "mmer_utils.text.bigfive.identity_tokens",
    "mmer_utils.text.emotion.ContextClassifier",
    "mmer_utils.text.emotion.tokenize_simple",
    "mmer_utils.text.preprocess.tokenize",
    # video chapter: pixels or HOG -> scaler -> linear model
    "mmer_utils.video.features.HogTransformer",
    "mmer_utils.video.predict.flatten_faces",
)

#: Suffix of every skops file the package writes.
SUFFIX = ".skops"


class ModelFileError(MmerError, ValueError):
    """A model cannot be saved to or loaded from this file (wrong suffix, not a model file, wrong kind)."""


class UntrustedTypesError(ModelFileError):
    """A skops file holds types outside the allow-list: it is refused before anything is built."""


def _allowed(trusted: Iterable[str] | None) -> set[str]:
    return set(TRUSTED_TYPES) | {str(t) for t in (trusted or ())}


def _read(path) -> tuple[Path, bytes]:
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"model file {path} not found")
    return path, path.read_bytes()


def _untrusted(path: Path, data: bytes) -> list[str]:
    import skops.io as sio

    try:
        return sorted(sio.get_untrusted_types(data=data))
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, EOFError) as exc:
        raise ModelFileError(f"{path} is not a skops model file (corrupt, or another format: "
                             f"{type(exc).__name__})") from None


def untrusted_types(path, *, trusted: Iterable[str] | None = None) -> list[str]:
    """The type names of a skops file that :func:`load_skops` would refuse (``[]``: it loads)."""
    path, data = _read(path)
    allowed = _allowed(trusted)
    return [t for t in _untrusted(path, data) if t not in allowed]


def save_skops(obj, path) -> Path:
    """Write ``obj`` to ``path`` (``.skops``) with skops, atomically; return the path.

    The archive is compressed (deflate). Objects skops cannot represent (a Keras model,
    a lambda) raise the error of skops.
    """
    import skops.io as sio

    path = Path(path)
    if path.suffix != SUFFIX:
        raise ModelFileError(f"skops files end in {SUFFIX}, got {path.name}")
    with atomic_path(path, suffix=SUFFIX) as tmp:
        sio.dump(obj, tmp, compression=zipfile.ZIP_DEFLATED)
    return path


def load_skops(path, *, trusted: Iterable[str] | None = None):
    """Load a skops file, refusing any type outside the allow-list.

    Parameters
    ----------
    path : the ``.skops`` file.
    trusted : extra type names (``"module.Name"``, as :func:`untrusted_types` lists them)
        trusted on top of :data:`TRUSTED_TYPES`, e.g. a transformer of your own.

    Raises
    ------
    DataNotFoundError : no such file.
    UntrustedTypesError : the file holds a type outside the allow-list (named in the message).
    ModelFileError : not a skops file (corrupt, truncated, another format).
    """
    import skops.io as sio

    path, data = _read(path)
    found = _untrusted(path, data)
    allowed = _allowed(trusted)
    refused = [t for t in found if t not in allowed]
    if refused:
        raise UntrustedTypesError(f"{path.name} holds types that are not trusted: {', '.join(refused)} "
                                  "(load_skops(..., trusted=[...]) if you know where the file comes from)")
    try:
        return sio.load(io.BytesIO(data), trusted=found)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, EOFError, AttributeError, ImportError) as exc:
        raise ModelFileError(f"{path} is not a readable skops model file ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'no detail'})") from None


def save_payload(path, kind: str, parts: dict, *, version: int = 1) -> Path:
    """:func:`save_skops` of ``parts`` with ``kind`` and ``version`` added (``mmer_kind``, ``mmer_version``)."""
    return save_skops({"mmer_kind": kind, "mmer_version": int(version), **parts}, path)


def load_payload(path, kind: str, *, max_version: int = 1, trusted: Iterable[str] | None = None) -> dict:
    """The parts saved by :func:`save_payload`; a file of another kind or a newer version is a one-line error."""
    obj = load_skops(path, trusted=trusted)
    name = Path(path).name
    if not isinstance(obj, dict) or "mmer_kind" not in obj:
        raise ModelFileError(f"{name} is a skops file but not one of this package's models (expected a {kind})")
    if obj["mmer_kind"] != kind:
        raise ModelFileError(f"{name} holds a {obj['mmer_kind']}, not a {kind}")
    if int(obj.get("mmer_version", 0)) > max_version:
        raise ModelFileError(f"{name} is a {kind} of format version {obj['mmer_version']}; this package reads "
                             f"up to {max_version}: update mmer_utils")
    return obj


def load_shipped(name: str, **kwargs):
    """``mmer_utils.models.load(name)``: a pretrained model of the course, its file verified first.

    What the ``load_pretrained()`` class methods call; a one-line error when the model
    store is not part of this installation.
    """
    try:
        from . import models as store
    except ImportError as exc:
        raise DataNotFoundError(f"the model store (mmer_utils.models) is missing from this installation ({exc}): "
                                f"cannot load the shipped model {name!r}") from None
    return store.load(name, **kwargs)
