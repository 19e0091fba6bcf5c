"""Classic scikit-learn estimators shared by every modality: a fast calibrated kernel SVM and its pipeline.

The audio chapter introduced them; the face (HOG features), the audio-visual fusion
and the portrait use them too, so they live below the modality packages, which
never import each other:

* :class:`CalibratedSVC`: an RBF or linear SVM with Platt-calibrated probabilities,
  its kernel computed with BLAS (``SVC(kernel="precomputed")``).
* :class:`SelectBlock`: keep one named block of columns of a wide matrix.
* :func:`make_svm`: [select a feature set] -> StandardScaler -> [PCA] -> classifier.

>>> make_svm("rbf", pca=10).named_steps["clf"].__class__.__name__
'CalibratedSVC'
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


class CalibratedSVC(ClassifierMixin, BaseEstimator):
    """Kernel SVM (RBF or linear) with calibrated probabilities, fast on wide feature sets.

    ``SVC(probability=True)`` is deprecated in scikit-learn 1.9; here ``predict`` uses
    the SVM's decision function (as ``SVC`` does) and ``predict_proba`` comes from
    sigmoid (Platt) calibration on internal 5-fold predictions
    (``CalibratedClassifierCV(SVC(), ensemble=False)``). ``calibrate=False`` skips
    the calibration (one SVM fit instead of six: used inside grid searches;
    ``predict_proba`` then raises).

    The kernel matrix is computed with BLAS and given to ``SVC(kernel="precomputed")``:
    the same model as ``SVC(kernel="rbf")``, much faster on thousands of features
    (openSMILE's ComParE set has 6,373).

    ``gamma``: a number, ``"scale"`` (scikit-learn's 1 / (n_features * X.var()), which is
    1 / n_features on standardised features), ``"auto"`` (1 / n_features), or
    ``"scale*k"`` / ``"scale/k"`` (k times or 1/k times ``"scale"``), resolved on the
    training data, so one grid fits feature sets of any width.

    Parameters
    ----------
    C : float
        Inverse regularisation of the SVM.
    gamma : float or str
        RBF width (see below).
    kernel : {"rbf", "linear"}
    class_weight : None, "balanced" or dict
        As in :class:`~sklearn.svm.SVC`.
    calibrate : bool
        Fit the probability calibration (``predict_proba``).
    random_state : int or None
        Seed of the calibration folds' SVMs.

    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(60, 4)); y = (X[:, 0] > 0).astype(int)
    >>> model = CalibratedSVC(C=10, gamma="scale/2").fit(X, y)
    >>> bool(model.gamma_ == 1 / (4 * X.var()) / 2), model.predict_proba(X[:2]).shape
    (True, (2, 2))
    """

    def __init__(self, C: float = 1.0, gamma="scale", kernel: str = "rbf", class_weight=None,
                 calibrate: bool = True, random_state: int | None = 42):
        self.C = C
        self.gamma = gamma
        self.kernel = kernel
        self.class_weight = class_weight
        self.calibrate = calibrate
        self.random_state = random_state

    def _gamma(self, X) -> float:
        g = self.gamma
        if not isinstance(g, str):
            return float(g)
        if g == "auto":
            return 1.0 / X.shape[1]
        scale = 1.0 / (X.shape[1] * X.var()) if X.var() > 0 else 1.0
        if g == "scale":
            return scale
        if g.startswith("scale") and len(g) > 6 and g[5] in "*/":
            factor = float(g[6:])
            return scale * factor if g[5] == "*" else scale / factor
        raise ValueError(f"CalibratedSVC: gamma {g!r} is not a number, 'scale', 'auto', 'scale*k' or 'scale/k'")

    def _kernel(self, A, B):
        from sklearn.metrics.pairwise import linear_kernel, rbf_kernel

        if self.kernel == "rbf":
            return rbf_kernel(A, B, gamma=self.gamma_)
        if self.kernel == "linear":
            return linear_kernel(A, B)
        raise ValueError(f"CalibratedSVC: kernel must be 'rbf' or 'linear', got {self.kernel!r}")

    def fit(self, X, y):
        """Fit the SVM on the training kernel matrix (and its calibration, with ``calibrate``).

        Parameters
        ----------
        X : array (n, d)
        y : array (n,) of labels

        Returns
        -------
        self
        """
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        X, y = validate_data(self, X, y, dtype=np.float64)  # finite numbers, n_features_in_
        check_classification_targets(y)
        self.gamma_ = self._gamma(X)
        self.X_fit_ = X
        K = self._kernel(X, X)
        svc = SVC(C=self.C, kernel="precomputed", class_weight=self.class_weight, random_state=self.random_state)
        if self.calibrate:
            self.calibrated_ = CalibratedClassifierCV(svc, ensemble=False, cv=5).fit(K, y)
            self.svc_ = self.calibrated_.calibrated_classifiers_[0].estimator
        else:
            self.calibrated_ = None
            self.svc_ = svc.fit(K, y)
        self.classes_ = self.svc_.classes_
        return self

    def _test_kernel(self, X):
        check_is_fitted(self)
        return self._kernel(validate_data(self, X, dtype=np.float64, reset=False), self.X_fit_)

    def decision_function(self, X):
        """The SVM's decision values (``SVC.decision_function`` on the kernel against the training rows).

        Parameters
        ----------
        X : array (n, d)

        Returns
        -------
        array (n,) or (n, n_classes)
        """
        K = self._test_kernel(X)  # checks first that the model is fitted
        return self.svc_.decision_function(K)

    def predict(self, X):
        """The SVM's labels (from its decision function, not from the calibrated probabilities).

        Parameters
        ----------
        X : array (n, d)

        Returns
        -------
        array (n,) of labels
        """
        K = self._test_kernel(X)
        return self.svc_.predict(K)

    def predict_proba(self, X):
        """Platt-calibrated class probabilities (only with ``calibrate=True``).

        Parameters
        ----------
        X : array (n, d)

        Returns
        -------
        array (n, n_classes), columns in the order of ``classes_``
        """
        K = self._test_kernel(X)
        if self.calibrated_ is None:
            raise AttributeError("CalibratedSVC(calibrate=False) has no predict_proba")
        return self.calibrated_.predict_proba(K)


class SelectBlock(TransformerMixin, BaseEstimator):
    """Keep the columns of one named block of a wide matrix (see :func:`~mmer_utils.audio.features.extract_feature_sets`).

    A grid over ``select__block`` lets the inner cross-validation choose the feature set.
    Stateless (``fit`` only records the width, which ``transform`` then checks).

    Parameters
    ----------
    blocks : dict or None
        Name -> (start, end) columns; None: every column.
    block : str or None
        The name kept (None: the first).
    """

    def __init__(self, blocks: dict | None = None, block: str | None = None):
        self.blocks = blocks
        self.block = block

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # the columns kept depend on the parameters only
        return tags

    def _slice(self, n_features: int | None = None):
        if not self.blocks:
            return slice(None)
        name = self.block if self.block is not None else next(iter(self.blocks))
        if name not in self.blocks:
            raise ValueError(f"SelectBlock: unknown block {name!r}; known: {list(self.blocks)}")
        start, end = self.blocks[name]
        if n_features is not None and end > n_features:
            raise ValueError(f"SelectBlock: block {name!r} = ({start}, {end}) does not fit X with n_features={n_features}")
        return slice(start, end)

    def fit(self, X, y=None):
        """Check that the block fits ``X``'s width and record it.

        Parameters
        ----------
        X : array (n, d)
        y : ignored

        Returns
        -------
        self
        """
        X = validate_data(self, X)  # finite numbers; records n_features_in_
        self._slice(X.shape[1])
        return self

    def transform(self, X):
        """The block's columns.

        Parameters
        ----------
        X : array (n, d)

        Returns
        -------
        array (n, end - start)
        """
        X = validate_data(self, X, reset=False)  # the width seen in fit, when fitted
        return X[:, self._slice(X.shape[1])]


def make_svm(kind: str = "rbf", *, pca: int | float | None = None, C: float = 1.0, gamma="scale",
             probability: bool = True, class_weight=None, blocks: dict | None = None, seed: int = 42):
    """Pipeline: [select a feature set] -> StandardScaler -> optional PCA -> classifier.

    Parameters
    ----------
    kind : {"rbf", "linear", "linear_svc"}
        ``"rbf"``: :class:`~sklearn.svm.SVC` with an RBF kernel (the source's baseline);
        ``"linear"``: multinomial :class:`~sklearn.linear_model.LogisticRegression`
        (a linear model with calibrated probabilities); ``"linear_svc"``:
        :class:`~sklearn.svm.LinearSVC` (no ``predict_proba``).
    pca : int, float or None
        Number of components (or fraction of variance) kept after scaling; None = no PCA.
    C, gamma : regularisation and RBF width (``gamma`` used by ``"rbf"`` only).
    probability : bool
        RBF only: calibrated probabilities (:class:`CalibratedSVC`, Platt scaling: six SVM
        fits instead of one); False = plain SVM decisions.
    blocks : dict or None
        Candidate feature sets of a wide matrix (name -> (start, end) columns, from
        :func:`~mmer_utils.audio.features.extract_feature_sets`): adds a ``select`` step;
        a grid over ``select__block`` picks the set inside the training folds.

    class_weight : None, "balanced" or dict
        As in scikit-learn's classifiers.
    seed : int
        Seed of the PCA and of the classifier.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Step names are ``select`` (with ``blocks``), ``scale``, ``pca`` and ``clf``: grid keys
        look like ``clf__C``.

    >>> make_svm("rbf", pca=50).named_steps["pca"].n_components
    50
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    if kind == "rbf":
        clf = CalibratedSVC(C=C, gamma=gamma, class_weight=class_weight, calibrate=probability, random_state=seed)
    elif kind == "linear":
        clf = LogisticRegression(C=C, max_iter=5000, class_weight=class_weight, random_state=seed)
    elif kind == "linear_svc":
        clf = LinearSVC(C=C, class_weight=class_weight, max_iter=20000, random_state=seed)
    else:
        raise ValueError(f"make_svm: kind must be 'rbf', 'linear' or 'linear_svc', got {kind!r}")
    steps = [("select", SelectBlock(blocks))] if blocks else []
    steps += [("scale", StandardScaler()),
              ("pca", PCA(n_components=pca, random_state=seed) if pca is not None else "passthrough"),
              ("clf", clf)]
    return Pipeline(steps)
