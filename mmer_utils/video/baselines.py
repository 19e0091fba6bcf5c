"""HOG + SVM baselines on FER2013 faces (the source's "filters + SVM", 49 %).

Both are scikit-learn pipelines that take the same ``X`` as every face model of the
course (``to_model_input`` output, float ``(n, 48, 48, 1)``) and have ``predict_proba``
(7 columns, FER2013 order) so that the ensemble chapter can stack them:

* :func:`hog_linear_svm`: HOG -> standardise -> linear SVM, probabilities by sigmoid
  calibration (``CalibratedClassifierCV``, 3 folds). Fast enough for **all** 28,709
  training faces (a few minutes on 2 cores).
* :func:`hog_rbf_svm`: HOG -> standardise -> RBF-kernel SVM (the calibrated, precomputed-kernel
  :class:`~mmer_utils.estimators.CalibratedSVC` shared by every chapter). Training a kernel
  SVM grows with the square of the number of examples (and its calibration trains it 6
  times), so the course fits it on a stratified **subset** (:data:`RBF_TRAIN_LIMIT`
  faces); the subset is part of the model's name in every table.

>>> from mmer_utils.video import data                                   # doctest: +SKIP
>>> X, y = data.load_fer_arrays("train", limit=2000)                    # doctest: +SKIP
>>> model = hog_linear_svm().fit(data.to_model_input(X), y)             # doctest: +SKIP
>>> model.predict_proba(data.to_model_input(X[:3])).shape               # doctest: +SKIP
(3, 7)
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .features import HogTransformer

#: Training faces of the RBF SVM in the benchmark (a stratified subset of Training).
RBF_TRAIN_LIMIT = 6000


def hog_linear_svm(C: float = 0.001, *, class_weight=None, orientations: int = 9, pixels_per_cell=(8, 8),
                   cells_per_block=(2, 2), cache: bool = True, seed: int = 42) -> Pipeline:
    """HOG -> StandardScaler -> linear SVM with calibrated probabilities.

    Parameters
    ----------
    C : float
        The SVM's inverse regularisation, chosen on PublicTest with all training faces
        (the scores and times of the values tried are in ``RESULTS.md``, video chapter).
    class_weight : None or "balanced"
        ``"balanced"`` trades accuracy for recall of the rare classes (disgust).
    orientations, pixels_per_cell, cells_per_block
        HOG settings (:class:`~mmer_utils.video.features.HogTransformer`); cells in pixels.
    cache : bool
        Keep the HOG features of the faces already seen on disk.
    seed : int
        Seed of the SVM.

    Returns
    -------
    sklearn.pipeline.Pipeline
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    svm = LinearSVC(C=C, class_weight=class_weight, dual=False, max_iter=5000, random_state=seed)
    return Pipeline([
        ("hog", HogTransformer(orientations, pixels_per_cell, cells_per_block, cache=cache)),
        ("scale", StandardScaler()),
        ("svm", CalibratedClassifierCV(svm, method="sigmoid", cv=3)),
    ])


def hog_rbf_svm(C: float = 3.0, gamma="scale", *, class_weight=None, orientations: int = 9,
                pixels_per_cell=(8, 8), cells_per_block=(2, 2), cache: bool = True, seed: int = 42) -> Pipeline:
    """HOG -> StandardScaler -> RBF SVM (:class:`~mmer_utils.estimators.CalibratedSVC`).

    Fit it on a subset (:data:`RBF_TRAIN_LIMIT` faces): on all 28,709 the kernel
    matrix alone is 6.6 GB.

    Parameters
    ----------
    C, gamma
        The SVM's inverse regularisation and RBF width (``"scale"`` is 1 / n_features
        on standardised features, see :class:`~mmer_utils.estimators.CalibratedSVC`).
    class_weight, orientations, pixels_per_cell, cells_per_block, cache, seed
        As in :func:`hog_linear_svm`.

    Returns
    -------
    sklearn.pipeline.Pipeline
    """
    from ..estimators import CalibratedSVC

    return Pipeline([
        ("hog", HogTransformer(orientations, pixels_per_cell, cells_per_block, cache=cache)),
        ("scale", StandardScaler()),
        ("svm", CalibratedSVC(C=C, gamma=gamma, kernel="rbf", class_weight=class_weight, random_state=seed)),
    ])
