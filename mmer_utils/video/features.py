"""Histograms of oriented gradients (HOG): the hand-made face features of the source's baseline.

HOG (Dalal & Triggs 2005) cuts the image into cells (8x8 pixels: 6x6 cells on a 48x48
face), histograms the gradient directions of each cell into ``orientations`` bins
weighted by gradient strength, and normalises the histograms over overlapping blocks of
``cells_per_block`` cells, so that lighting and contrast matter less than the *shape*
of edges (the corners of the mouth, the brows). With the defaults a face becomes
5 x 5 blocks x 2 x 2 cells x 9 bins = 900 numbers.

:func:`hog_features` computes them for many faces (scikit-image), with an on-disk
cache keyed by the pixels and the parameters; :class:`HogTransformer` is the same as a
scikit-learn transformer; :func:`plot_hog` shows what HOG sees.

>>> import numpy as np
>>> hog_features(np.zeros((2, 48, 48), np.uint8), cache=False).shape
(2, 900)
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .. import config
from ..cache import load_or_compute
from .data import FaceInputError, to_uint8

#: Bump when a change of the code changes the values of the features.
_VERSION = 1


def _as_faces(images) -> np.ndarray:
    """uint8 (n, h, w) from (h, w), (n, h, w), (n, h, w, 1), uint8 or float in [0, 1]."""
    x = np.asarray(images)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3:
        raise FaceInputError(f"HOG needs grayscale faces (n, h, w) or (n, h, w, 1), got shape {np.shape(images)}")
    if x.dtype != np.uint8:
        if x.size and (x.min() < 0 or x.max() > 1):
            raise FaceInputError("float faces must be in [0, 1] (the output of to_model_input); pass uint8 for 0-255")
        x = to_uint8(x)
    return x


def _hog_one(image: np.ndarray, params: dict) -> np.ndarray:
    from skimage.feature import hog

    return hog(image, block_norm="L2-Hys", feature_vector=True, **params).astype(np.float32)


def hog_features(images, orientations: int = 9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), *,
                 cache: bool = True, progress: bool = False) -> np.ndarray:
    """HOG descriptor of every face: float32 ``(n, n_features)``.

    Parameters
    ----------
    images : (n, h, w) or (n, h, w, 1) grayscale faces, uint8 or float in [0, 1]
        (the output of :func:`mmer_utils.video.data.to_model_input` works).
    orientations, pixels_per_cell, cells_per_block : see :func:`skimage.feature.hog`
        (block normalisation ``L2-Hys``, as Dalal & Triggs).
    cache : keep the result in ``cache_dir()/fer_hog`` (keyed by the pixels and the
        parameters): the 28,709 training faces take ~30 s to describe, then a second.

    >>> X = np.random.default_rng(0).integers(0, 255, (3, 48, 48), dtype=np.uint8)
    >>> hog_features(X, pixels_per_cell=(16, 16), cache=False).shape   # 2x2 blocks of 2x2 cells x 9
    (3, 144)
    """
    faces = _as_faces(images)
    params = {"orientations": int(orientations), "pixels_per_cell": tuple(int(v) for v in pixels_per_cell),
              "cells_per_block": tuple(int(v) for v in cells_per_block)}
    if len(faces) == 0:
        n_features = len(_hog_one(np.zeros(faces.shape[1:], np.uint8), params))
        return np.zeros((0, n_features), np.float32)
    path = None
    if cache:  # keyed by the pixels and the parameters
        h = hashlib.sha256(np.ascontiguousarray(faces).tobytes())
        h.update(json.dumps({**params, "shape": faces.shape, "version": _VERSION}).encode())
        path = config.cache_dir("fer_hog") / f"{h.hexdigest()[:20]}.npy"

    def compute():
        from tqdm.auto import tqdm

        return np.stack([_hog_one(f, params) for f in tqdm(faces, desc="HOG", disable=not progress, leave=False)])

    return load_or_compute(path, compute)


class HogTransformer(TransformerMixin, BaseEstimator):
    """Scikit-learn transformer: faces (as :func:`~mmer_utils.video.data.to_model_input` gives) -> HOG.

    Stateless (``fit`` learns nothing); first step of :func:`mmer_utils.video.baselines.hog_linear_svm`.
    """

    def __init__(self, orientations: int = 9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), cache: bool = True):
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.cache = cache

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # HOG of each face depends on that face alone
        return tags

    def fit(self, X, y=None):
        return self

    def transform(self, X) -> np.ndarray:
        return hog_features(X, self.orientations, self.pixels_per_cell, self.cells_per_block, cache=self.cache)


def hog_image(image, orientations: int = 9, pixels_per_cell=(8, 8), cells_per_block=(2, 2)) -> np.ndarray:
    """The picture of a face's HOG: in each cell, a star of line segments, one per orientation,
    as bright as that orientation's share of the gradient energy (rescaled to [0, 1])."""
    from skimage import exposure
    from skimage.feature import hog

    face = _as_faces(image)[0]
    _, picture = hog(face, orientations=orientations, pixels_per_cell=pixels_per_cell,
                     cells_per_block=cells_per_block, block_norm="L2-Hys", visualize=True)
    return exposure.rescale_intensity(picture, out_range=(0.0, 1.0))


def plot_hog(image, *, title: str | None = None, axes=None, **params):
    """Show a face beside its HOG picture (:func:`hog_image`); return the two axes.

    >>> plot_hog(np.zeros((48, 48), np.uint8))                     # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    face = _as_faces(image)[0]
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(5, 2.6))
    axes[0].imshow(face, cmap="gray", vmin=0, vmax=255)
    axes[0].set_title(title or "face", fontsize=9)
    ppc = params.get("pixels_per_cell", (8, 8))
    axes[1].imshow(hog_image(face, **params), cmap="magma")
    axes[1].set_title(f"HOG ({ppc[0]}x{ppc[1]} cells)", fontsize=9)
    for ax in axes:
        ax.axis("off")
    return axes
