"""FER2013 as NumPy arrays, the model input format, and saved predictions.

The protocol of the chapter (the official ``Usage`` column of FER2013):

==========  ===============  =====================================================
split       Usage            used for
==========  ===============  =====================================================
``train``   Training         fitting (28,709 faces)
``val``     PublicTest       model selection: early stopping, learning rate, which
                             model is "best" (3,589 faces)
``test``    PrivateTest      the reported number, computed once per final model
                             (3,589 faces)
==========  ===============  =====================================================

* :func:`load_fer_arrays` reads one split as ``(X, y)``: ``X`` uint8 ``(n, 48, 48)``,
  ``y`` int64 indices into :data:`mmer_utils.labels.FER2013`. Decoding 28,709 JPEGs takes
  a few seconds; the arrays are then cached as ``.npy`` under ``cache_dir()/fer_arrays``.
* :func:`to_model_input` turns faces into what every face classifier of the course
  takes: float32 ``(n, 48, 48, 1)`` in [0, 1].
* :func:`save_predictions` / :func:`load_predictions` keep a model's PublicTest and
  PrivateTest probabilities (the ensemble chapter stacks them).

>>> X, y = load_fer_arrays("val", limit=70)                 # doctest: +SKIP
>>> X.shape, X.dtype, to_model_input(X).shape               # doctest: +SKIP
((70, 48, 48), dtype('uint8'), (70, 48, 48, 1))
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .. import config
from ..atomic import atomic_save_npy, atomic_save_npz
from ..errors import DataNotFoundError, MmerError
from ..labels import FER2013

#: The course's split names -> FER2013's ``Usage``.
SPLITS = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
#: Side of the square FER2013 faces.
SIZE = 48
#: Bump when a change of the code changes the cached arrays.
_VERSION = 1


class FaceInputError(MmerError, ValueError):
    """Faces given to a model do not have the expected shape, type or range."""


# --------------------------------------------------------------------------- arrays


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise FaceInputError(f"split must be one of {list(SPLITS)} (train=Training, val=PublicTest, "
                             f"test=PrivateTest), got {split!r}")
    return SPLITS[split]


def stratified_subset(y, limit: int | None, *, seed: int = 42) -> np.ndarray:
    """Sorted indices of a class-stratified subset of ``limit`` examples of ``y``.

    Every class keeps its share (largest remainders), and at least one example when
    ``limit`` is at least the number of classes, so even the rare *disgust* class of
    FER2013 (1.5 %) is present in small quick-mode subsets. ``limit=None`` or
    ``limit >= len(y)``: every index.

    Parameters
    ----------
    y : array (n,)
        Labels.
    limit : int or None
        Examples kept.
    seed : int

    Returns
    -------
    array of int

    >>> stratified_subset([0] * 90 + [1] * 10, 10).tolist()[-1] >= 90
    True
    """
    y = np.asarray(y)
    n = len(y)
    if limit is None or limit >= n:
        return np.arange(n)
    if limit < 1:
        raise FaceInputError(f"limit must be a positive number of examples, got {limit}")
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * limit / n
    take = np.floor(exact).astype(int)
    if limit >= len(classes):
        take = np.maximum(take, 1)
    while take.sum() > limit:  # the "at least one" rule overshot: trim the largest shares
        take[np.argmax(take)] -= 1
    order = np.argsort(-(exact - np.floor(exact)))
    for j in order[: limit - take.sum()]:
        take[j] += 1
    take = np.minimum(take, counts)
    rng = np.random.default_rng(seed)
    index = [rng.choice(np.flatnonzero(y == c), k, replace=False) for c, k in zip(classes, take)]
    return np.sort(np.concatenate(index))


def load_fer_arrays(split: str, *, root=None, limit: int | None = None,
                    seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """One official FER2013 split as ``(X, y)``.

    Parameters
    ----------
    split : "train" (Training), "val" (PublicTest) or "test" (PrivateTest).
    root : data root (default :func:`mmer_utils.config.data_root`).
    limit : int or None
        A class-stratified subset of this many faces (:func:`stratified_subset`, seeded
        by ``seed``), in the split's order; None: the whole split.

    Returns
    -------
    X : uint8 (n, 48, 48); y : int64 (n,), indices into :data:`mmer_utils.labels.FER2013`.

    The whole split is decoded once and cached as ``.npy`` under
    ``cache_dir()/fer_arrays`` (keyed by the list of files, so a changed data folder
    is read again).

    >>> X, y = load_fer_arrays("train", limit=700)               # doctest: +SKIP
    >>> np.bincount(y)                                            # doctest: +SKIP
    array([ 97,  11, 100, 176, 118,  77, 121])
    """
    from ..datasets import load_fer2013, load_fer2013_images

    usage = _check_split(split)
    df = load_fer2013(root)
    df = df[df["usage"] == usage].reset_index(drop=True)
    if df.empty:
        raise DataNotFoundError(f"FER2013 has no {usage} images under its data folder; "
                                f"check it with: python -m mmer_utils.datasets verify fer2013")
    key_src = json.dumps({"version": _VERSION, "split": split, "keys": df["key"].tolist(),
                          "labels": df["label_id"].tolist()})
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    folder = config.cache_dir("fer_arrays")
    x_path, y_path = folder / f"{split}_{key}_X.npy", folder / f"{split}_{key}_y.npy"
    if x_path.is_file() and y_path.is_file():
        X, y = np.load(x_path), np.load(y_path)
    else:
        X = load_fer2013_images(df)
        y = df["label_id"].to_numpy(dtype=np.int64)
        atomic_save_npy(x_path, X)
        atomic_save_npy(y_path, y)  # written last: X is complete when y exists
    keep = stratified_subset(y, limit, seed=seed)
    return X[keep], y[keep]


def to_model_input(faces) -> np.ndarray:
    """Faces -> float32 ``(n, 48, 48, 1)`` in [0, 1]: the input of every face classifier.

    Accepts ``(48, 48)`` (one face), ``(n, 48, 48)`` or ``(n, 48, 48, 1)``; uint8 faces
    (0-255) are divided by 255, float faces must already be in [0, 1]. Other sizes are
    an error: crop and resize faces first (:func:`mmer_utils.video.faces.crop_face`).

    Parameters
    ----------
    faces : array
        Grayscale 48x48 faces, uint8 or float in [0, 1].

    Returns
    -------
    array (n, 48, 48, 1) of float32

    >>> to_model_input(np.full((48, 48), 255, np.uint8)).shape
    (1, 48, 48, 1)
    """
    x = np.asarray(faces)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != (SIZE, SIZE):
        raise FaceInputError(f"faces must be (48, 48), (n, 48, 48) or (n, 48, 48, 1) grayscale, got shape "
                             f"{np.shape(faces)}; crop and resize them to 48x48 first")
    if x.dtype == np.uint8:
        out = x.astype(np.float32) / 255.0
    elif np.issubdtype(x.dtype, np.floating):
        if x.size and (not np.isfinite(x).all() or x.min() < 0 or x.max() > 1):
            raise FaceInputError("float faces must be finite and in [0, 1]; pass uint8 arrays for 0-255 pixels")
        out = x.astype(np.float32)
    else:
        raise FaceInputError(f"faces must be uint8 (0-255) or float in [0, 1], got dtype {x.dtype}")
    return out[..., None]


def to_uint8(X) -> np.ndarray:
    """The inverse of :func:`to_model_input`: ``(n, 48, 48)`` uint8 (for figures and HOG).

    Parameters
    ----------
    X : array (n, 48, 48[, 1])
        Float faces in [0, 1] (or uint8, returned as they are).

    Returns
    -------
    array (n, 48, 48) of uint8
    """
    x = np.asarray(X)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.dtype == np.uint8:
        return x
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- predictions


def slug(name: str) -> str:
    """'HOG + linear SVM' -> 'hog_linear_svm': the file name of a model's predictions (idempotent).

    Parameters
    ----------
    name : str

    Returns
    -------
    str

    >>> slug("HOG + linear SVM")
    'hog_linear_svm'
    """
    out = "".join(c if c.isalnum() or c == "-" else "_" for c in name.strip().lower())
    while "__" in out:
        out = out.replace("__", "_")
    out = out.strip("_")
    if not out:
        raise FaceInputError(f"a model name needs at least one letter or digit, got {name!r}")
    return out


def predictions_dir() -> Path:
    """``cache_dir()/video_predictions``: one ``.npz`` per evaluated model.

    Returns
    -------
    Path
    """
    return config.cache_dir("video_predictions")


def _check_proba(proba, y, what: str) -> tuple[np.ndarray, np.ndarray]:
    proba = np.asarray(proba, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if proba.ndim != 2 or proba.shape[1] != len(FER2013):
        raise FaceInputError(f"{what}_proba must be (n, {len(FER2013)}) in FER2013 label order, got {proba.shape}")
    if len(y) != len(proba):
        raise FaceInputError(f"{what}_proba has {len(proba)} rows but {what}_y has {len(y)}")
    if len(y) and (y.min() < 0 or y.max() >= len(FER2013)):
        raise FaceInputError(f"{what}_y must hold class indices 0-{len(FER2013) - 1}")
    return proba, y


def save_predictions(name: str, *, val_proba, test_proba, val_y, test_y) -> Path:
    """Keep a model's PublicTest (``val``) and PrivateTest (``test``) probabilities.

    Written atomically to ``cache_dir()/video_predictions/<slug(name)>.npz`` (a reader
    never sees half a file); a second call with the same name replaces the first.
    Columns are in :data:`mmer_utils.labels.FER2013` order.

    Parameters
    ----------
    name : str
        The model's name.
    val_proba, test_proba : array (n, 7)
        Probabilities on PublicTest and PrivateTest.
    val_y, test_y : array (n,)
        Their class indices.

    Returns
    -------
    Path
    """
    val_proba, val_y = _check_proba(val_proba, val_y, "val")
    test_proba, test_y = _check_proba(test_proba, test_y, "test")
    return atomic_save_npz(predictions_dir() / f"{slug(name)}.npz", val_proba=val_proba, test_proba=test_proba,
                           val_y=val_y, test_y=test_y, labels=np.asarray(FER2013), name=np.asarray(name))


def load_predictions(name: str) -> dict:
    """A model's saved probabilities (:func:`save_predictions`).

    Parameters
    ----------
    name : str

    Returns
    -------
    dict
        val_proba, test_proba, val_y, test_y, labels and name.
    """
    path = predictions_dir() / f"{slug(name)}.npz"
    if not path.is_file():
        known = ", ".join(list_predictions()) or "none yet"
        raise DataNotFoundError(f"no saved predictions for {name!r} in {path.parent} (saved: {known}); "
                                f"run: python -m mmer_utils.bench video --full")
    with np.load(path, allow_pickle=False) as data:
        out = {k: data[k] for k in data.files}
    out["labels"] = tuple(str(v) for v in out["labels"])
    out["name"] = str(out.get("name", path.stem))
    return out


def list_predictions() -> list[str]:
    """Names of the models whose predictions are saved (sorted by file name).

    Returns
    -------
    list of str
    """
    names = []
    for path in sorted(predictions_dir().glob("*.npz")):
        if path.name.startswith("."):
            continue
        try:
            with np.load(path, allow_pickle=False) as data:
                names.append(str(data["name"]) if "name" in data.files else path.stem)
        except (OSError, ValueError):  # a foreign or damaged file is not a model's predictions
            continue
    return names


TTA_SUFFIX = " + flip TTA"
PEER_PREFIX = "fer package"


def ensemble_members(*, include_peer: bool = False) -> list[str]:
    """Saved predictions to combine: one entry per model, its flip-TTA variant when saved.

    A model and its own mirror-image average are nearly the same classifier, so an
    ensemble takes one of the two (the TTA one, as it is what the chapter deploys). The
    ``fer`` package's pretrained model is left out unless ``include_peer``: it was
    trained elsewhere, so an ensemble with it is not "our models".

    Parameters
    ----------
    include_peer : bool

    Returns
    -------
    list of str
    """
    names = list_predictions()
    out = []
    for name in names:
        if name.endswith(TTA_SUFFIX):
            continue
        if name.lower().startswith(PEER_PREFIX) and not include_peer:
            continue
        out.append(name + TTA_SUFFIX if name + TTA_SUFFIX in names else name)
    return out

