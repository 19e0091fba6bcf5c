"""Scaler + SVM baselines on clip features, evaluated speaker-independently.

The rules that keep the numbers honest:

* hyper-parameters (C, gamma, PCA size, ...) are chosen by a grid search whose
  cross-validation groups are the **training actors** (GroupKFold): the test
  actors of a fold are never seen, not even to pick C;
* the headline is the six fixed actor folds of :mod:`mmer_utils.splits`
  (:func:`evaluate_actor_folds`): every actor is tested once, by a model that
  never heard their voice;
* :func:`evaluate_random_split` (random 6-fold over clips) is there only to show
  how much a leaky split inflates the same model: the same actor is in training
  and test, so the model partly recognises the speaker and the sentence.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(96, 5)); y = np.repeat(["a", "b"], 48); X[y == "b"] += 2
>>> actors = np.tile(np.arange(1, 25), 4)
>>> res = evaluate_actor_folds(lambda: make_svm("linear"), X, y, actors, param_grid={}, progress=False)
>>> res.pooled["accuracy"] > 0.9
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import evaluation
from ..splits import iter_actor_splits


class CalibratedSVC(ClassifierMixin, BaseEstimator):
    """Kernel SVM (RBF or linear) with calibrated probabilities, fast on wide feature sets.

    ``SVC(probability=True)`` is deprecated in scikit-learn 1.9; here ``predict`` uses
    the SVM's decision function (as ``SVC`` does) and ``predict_proba`` comes from
    sigmoid (Platt) calibration on internal 5-fold predictions
    (``CalibratedClassifierCV(SVC(), ensemble=False)``). ``calibrate=False`` skips
    the calibration (5x faster: used inside grid searches; ``predict_proba`` then raises).

    The kernel matrix is computed with BLAS and given to ``SVC(kernel="precomputed")``:
    the same model as ``SVC(kernel="rbf")``, about 10x faster on thousands of features
    (openSMILE's ComParE set has 6,373).

    ``gamma``: a number, ``"scale"`` (scikit-learn's 1 / (n_features * X.var()), which is
    1 / n_features on standardised features), ``"auto"`` (1 / n_features), or
    ``"scale*k"`` / ``"scale/k"`` (k times or 1/k times ``"scale"``), resolved on the
    training data, so one grid fits feature sets of any width.

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
        K = self._test_kernel(X)  # checks first that the model is fitted
        return self.svc_.decision_function(K)

    def predict(self, X):
        K = self._test_kernel(X)
        return self.svc_.predict(K)

    def predict_proba(self, X):
        K = self._test_kernel(X)
        if self.calibrated_ is None:
            raise AttributeError("CalibratedSVC(calibrate=False) has no predict_proba")
        return self.calibrated_.predict_proba(K)


class SelectBlock(TransformerMixin, BaseEstimator):
    """Keep the columns of one named block of a wide matrix (see :func:`~mmer_utils.audio.features.extract_feature_sets`).

    ``blocks``: name -> (start, end) columns; ``block``: the name kept (None: the first).
    A grid over ``select__block`` lets the inner cross-validation choose the feature set.
    Stateless (``fit`` only records the width, which ``transform`` then checks).
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
        X = validate_data(self, X)  # finite numbers; records n_features_in_
        self._slice(X.shape[1])
        return self

    def transform(self, X):
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
        RBF only: calibrated probabilities (:class:`CalibratedSVC`, Platt scaling, about 5x slower
        to fit); False = plain SVM decisions.

    blocks : dict or None
        Candidate feature sets of a wide matrix (name -> (start, end) columns, from
        :func:`~mmer_utils.audio.features.extract_feature_sets`): adds a ``select`` step;
        a grid over ``select__block`` picks the set inside the training folds.

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


def default_param_grid(kind: str = "rbf", *, quick: bool = False, blocks: dict | None = None) -> dict:
    """The grid searched inside the training actors (small in quick mode).

    RBF: ``C`` and ``gamma`` (as multiples of scikit-learn's ``"scale"``, which is
    1 / n_features on standardised features: see :class:`CalibratedSVC`); linear
    models: ``C``. With ``blocks`` (candidate feature sets), ``select__block`` too.

    >>> default_param_grid("rbf", quick=True)
    {'clf__C': [3.0, 10.0], 'clf__gamma': ['scale/3']}
    """
    if kind == "rbf":
        grid = ({"clf__C": [3.0, 10.0], "clf__gamma": ["scale/3"]} if quick else
                {"clf__C": [1.0, 3.0, 10.0, 30.0, 100.0], "clf__gamma": ["scale/10", "scale/3", "scale"]})
    else:
        grid = {"clf__C": [0.01, 0.03]} if quick else {"clf__C": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]}
    if blocks:
        grid["select__block"] = list(blocks)
    return grid


def fit_with_inner_cv(pipeline, X, y, groups, param_grid: dict | None = None, *, n_splits: int = 5,
                      scoring: str = "accuracy", n_jobs: int = 1):
    """Choose hyper-parameters by GridSearchCV with GroupKFold over ``groups``; refit on all of X.

    Pass only the **training** rows (and their actors as ``groups``): the search then
    never sees the test actors. With an empty or None grid the pipeline is simply fitted.
    A :class:`CalibratedSVC` is searched without its calibration (5x faster; its
    predictions do not depend on it) and refitted with it.

    Returns
    -------
    model : fitted estimator
        ``model.best_params_`` (dict) and ``model.cv_results_`` (DataFrame or None) are set.
    """
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, GroupKFold

    X = np.asarray(X)
    y = np.asarray(y)
    groups = np.asarray(groups)
    grid = dict(param_grid or {})
    if not grid or all(len(v) == 1 for v in grid.values()):
        best = {k: v[0] for k, v in grid.items()}
        model = clone(pipeline).set_params(**best).fit(X, y)
        model.best_params_, model.cv_results_ = best, None
        return model
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError("fit_with_inner_cv: the inner cross-validation needs at least 2 training actors")
    search_est = clone(pipeline)
    if search_est.get_params().get("clf__calibrate"):
        search_est.set_params(clf__calibrate=False)
    search = GridSearchCV(search_est, grid, cv=GroupKFold(n_splits=min(n_splits, n_groups)), scoring=scoring,
                          n_jobs=n_jobs, refit=False)
    search.fit(X, y, groups=groups)
    model = clone(pipeline).set_params(**search.best_params_).fit(X, y)
    model.best_params_ = dict(search.best_params_)
    model.cv_results_ = pd.DataFrame(search.cv_results_)
    return model


@dataclass
class FoldResults:
    """What :func:`evaluate_actor_folds` / :func:`evaluate_random_split` return.

    ``per_fold``: one row per fold (test actors, size, accuracy, macro F1, UAR, chosen
    hyper-parameters, fit seconds). ``pooled``: the same scores over all test
    predictions together. ``y_true``/``y_pred``/``index``: the pooled predictions
    (``index`` = rows of X) for a confusion matrix and per-emotion recall.
    """

    protocol: str
    per_fold: pd.DataFrame
    pooled: dict
    y_true: np.ndarray
    y_pred: np.ndarray
    index: np.ndarray
    fit_seconds: float
    labels: list = field(default_factory=list)

    def per_class_recall(self) -> pd.Series:
        return evaluation.per_class_recall(self.y_true, self.y_pred, labels=self.labels)

    def summary(self) -> pd.Series:
        """Pooled scores plus mean and std over folds of the accuracy."""
        s = pd.Series(self.pooled, name=self.protocol)
        s["fold_accuracy_mean"] = self.per_fold["accuracy"].mean()
        s["fold_accuracy_std"] = self.per_fold["accuracy"].std(ddof=0)
        return s


def _new_model(make_model):
    from sklearn.base import clone

    return make_model() if callable(make_model) and not hasattr(make_model, "fit") else clone(make_model)


def _run_folds(protocol, make_model, X, y, groups, splits, param_grid, n_splits, n_jobs, progress, labels,
               scoring="accuracy"):
    from threadpoolctl import threadpool_limits

    # Small matrices: a multi-threaded BLAS only adds overhead (10x slower on a busy 2-core machine);
    # parallelism comes from n_jobs (processes) instead.
    with threadpool_limits(limits=1, user_api="blas"):
        return _run_folds_serial_blas(protocol, make_model, X, y, groups, splits, param_grid, n_splits, n_jobs,
                                      progress, labels, scoring)


def _run_folds_serial_blas(protocol, make_model, X, y, groups, splits, param_grid, n_splits, n_jobs, progress,
                           labels, scoring):
    from tqdm.auto import tqdm

    X = np.asarray(X)
    y = np.asarray(y)
    labels = list(labels) if labels is not None else sorted(np.unique(y).tolist())
    rows, trues, preds, idx = [], [], [], []
    total = 0.0
    for fold, train, test, test_groups in tqdm(splits, desc=protocol, disable=not progress, leave=False):
        start = time.perf_counter()
        model = fit_with_inner_cv(_new_model(make_model), X[train], y[train], groups[train], param_grid,
                                  n_splits=n_splits, scoring=scoring, n_jobs=n_jobs)
        seconds = time.perf_counter() - start
        total += seconds
        pred = model.predict(X[test])
        scores = evaluation.classification_scores(y[test], pred, labels=labels)
        rows.append({"fold": fold, "test_actors": test_groups, "n_train": int(train.sum()), "n_test": int(test.sum()),
                     "accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"], "uar": scores["uar"],
                     "best_params": model.best_params_, "fit_seconds": seconds})
        trues.append(y[test])
        preds.append(pred)
        idx.append(np.flatnonzero(test))
    y_true, y_pred = np.concatenate(trues), np.concatenate(preds)
    pooled = {k: v for k, v in evaluation.classification_scores(y_true, y_pred, labels=labels).items()
              if k in ("accuracy", "macro_f1", "uar")}
    return FoldResults(protocol, pd.DataFrame(rows), pooled, y_true, y_pred, np.concatenate(idx), total, labels)


def evaluate_actor_folds(make_model, X, y, actors, *, param_grid: dict | None = None,
                         folds: Sequence[int] | None = None, n_splits: int = 5, scoring: str = "accuracy",
                         n_jobs: int = 1, labels: Sequence | None = None, progress: bool = True) -> FoldResults:
    """Speaker-independent evaluation on the fixed actor folds of :mod:`mmer_utils.splits`.

    For each fold, the model is tuned (inner GroupKFold over actors, ``n_splits``) and
    fitted on every actor that is not a test actor of that fold (the fold's
    ``train`` and ``val`` actors together: an SVM has no early stopping to feed), then
    scored on the fold's test actors.

    Parameters
    ----------
    make_model : callable or estimator
        ``make_model()`` returns a fresh unfitted estimator (or an estimator, cloned).
    X : array (n, d); y : labels (n,); actors : actor id of each row (n,)
    param_grid : dict or None
        Grid of :func:`fit_with_inner_cv`; None or {} = fixed hyper-parameters.
    folds : list of int or None
        Evaluate only these folds (quick mode); None = all six.
    n_splits, scoring : inner GroupKFold size and the score it maximises (scikit-learn name).
    labels : class order for the scores (default: sorted labels).
    """
    actors = np.asarray(actors)
    splits = []
    for fold, masks in iter_actor_splits(actors):
        if folds is not None and fold not in folds:
            continue
        train, test = masks["train"] | masks["val"], masks["test"]
        if not test.any() or not train.any():
            continue
        splits.append((fold, train, test, ", ".join(map(str, sorted(np.unique(actors[test]).tolist())))))
    if not splits:
        raise ValueError("evaluate_actor_folds: no fold has both training and test actors in `actors`")
    return _run_folds("speaker-independent actor folds", make_model, X, y, actors, splits, param_grid,
                      n_splits, n_jobs, progress, labels, scoring)


def evaluate_random_split(make_model, X, y, *, param_grid: dict | None = None, n_folds: int = 6,
                          folds: Sequence[int] | None = None, n_splits: int = 5, scoring: str = "accuracy",
                          seed: int = 42, n_jobs: int = 1, labels: Sequence | None = None,
                          progress: bool = True) -> FoldResults:
    """The same model on a random stratified ``n_folds``-fold split of the clips: LEAKY for RAVDESS.

    Every actor is in training and in test, so the score measures memory of the
    speakers as much as recognition of emotions; shown only beside
    :func:`evaluate_actor_folds` to teach why it inflates. The inner search uses
    random folds too (as someone unaware of the leak would).
    """
    from sklearn.model_selection import StratifiedKFold

    X = np.asarray(X)
    y = np.asarray(y)
    outer = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    # random "groups" = random inner folds: GroupKFold over one random group per clip
    groups = np.random.default_rng(seed).permutation(len(y)) % max(n_splits, 2)
    splits = []
    for fold, (tr, te) in enumerate(outer.split(X, y)):
        if folds is not None and fold not in folds:
            continue
        train = np.zeros(len(y), bool)
        train[tr] = True
        splits.append((fold, train, ~train, "random"))
    return _run_folds(f"random {n_folds}-fold (leaky)", make_model, X, y, groups, splits, param_grid,
                      n_splits, n_jobs, progress, labels, scoring)


def speaker_normalize(X, speakers) -> np.ndarray:
    """Standardise the features of each speaker with that speaker's own mean and std.

    A classic trick of speech emotion recognition: it removes much of what makes one
    voice differ from another. It is **transductive** when applied to test speakers:
    it uses all their (unlabelled) clips at once, and on RAVDESS those clips cover
    every emotion evenly, which a real recording of one person does not. Report
    it apart from the headline, under its own protocol name.

    >>> import numpy as np
    >>> Z = speaker_normalize(np.array([[1.0], [3.0], [10.0], [30.0]]), [1, 1, 2, 2])
    >>> Z.ravel().round(6).tolist()
    [-1.0, 1.0, -1.0, 1.0]
    """
    X = np.asarray(X, dtype=np.float64)
    speakers = np.asarray(speakers)
    out = np.empty_like(X)
    for s in np.unique(speakers):
        m = speakers == s
        out[m] = (X[m] - X[m].mean(axis=0)) / (X[m].std(axis=0) + 1e-8)
    return out


def results_table(results: dict[str, FoldResults]) -> pd.DataFrame:
    """One row per model: protocol, pooled accuracy / macro F1 / UAR, fold mean +- std, fit time."""
    rows = []
    for name, res in results.items():
        s = res.summary()
        rows.append({"model": name, "protocol": res.protocol, "accuracy": s["accuracy"], "macro_f1": s["macro_f1"],
                     "uar": s["uar"], "fold_acc_mean": s["fold_accuracy_mean"], "fold_acc_std": s["fold_accuracy_std"],
                     "n_folds": len(res.per_fold), "fit_seconds": res.fit_seconds})
    return pd.DataFrame(rows).set_index("model")

