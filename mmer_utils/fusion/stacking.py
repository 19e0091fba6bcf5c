"""Ensembles of classifiers: averaging, voting and stacking, behind the scikit-learn interface.

Any chapter model with ``fit`` / ``predict_proba`` / ``classes_`` can be a base
learner: a classic :class:`~sklearn.pipeline.Pipeline` (features + SVM) or a Keras
network behind :class:`mmer_utils.training.KerasEstimator`.

* :class:`AveragingEnsemble`: the base learners' probabilities averaged (``rule="mean"``),
  multiplied (``rule="product"``, a geometric mean) or voted (``voting="hard"``), with
  fixed weights or weights learnt on validation data (``weights="validation"``).
* :class:`StackingEnsemble`: a meta-learner trained on the base learners'
  **out-of-fold** probabilities. A base learner's predictions on its own training
  examples are over-confident (it has seen the answers); the meta-learner must learn
  how much to trust each base learner from predictions on examples that learner did
  *not* see, exactly as it will meet test examples. With ``groups`` (e.g. actors) the
  inner folds keep each group whole, so the out-of-fold predictions are also
  speaker-independent.

On precomputed probabilities (e.g. the saved FER2013 predictions of the video chapter):
:func:`average_probas`, :func:`vote`, :func:`fit_fusion_weights`,
:func:`stack_features` and :func:`ensemble_table`, and :func:`stack_fer_predictions`.

>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.naive_bayes import GaussianNB
>>> from sklearn.datasets import make_classification
>>> X, y = make_classification(200, 6, n_informative=4, n_classes=3, random_state=0)
>>> stack = StackingEnsemble([("lr", LogisticRegression()), ("nb", GaussianNB())], cv=3).fit(X, y)
>>> stack.predict_proba(X[:2]).shape
(2, 3)
"""

from __future__ import annotations

import inspect
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import evaluation
from ..errors import DataNotFoundError, MmerError

_EPS = 1e-6


class FusionInputError(MmerError, ValueError):
    """Probabilities, weights or modality names given to a fusion function do not fit together."""


# --------------------------------------------------------------------------- precomputed probabilities


def _check_probas(probas: Sequence, what: str = "probas") -> list[np.ndarray]:
    out = [np.asarray(p, dtype=np.float64) for p in probas]
    if not out:
        raise FusionInputError(f"{what}: give at least one (n, k) probability array")
    shape = out[0].shape
    for i, p in enumerate(out):
        if p.ndim != 2 or p.shape != shape:
            raise FusionInputError(f"{what}: every array must have the shape {shape} of the first, "
                                   f"array {i} has {p.shape}")
        if np.any(p < 0) or not np.all(np.isfinite(p)):
            raise FusionInputError(f"{what}: array {i} has negative or non-finite values; pass probabilities")
    return out


def _check_weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != (n,) or np.any(w < 0) or w.sum() <= 0:
        raise FusionInputError(f"weights must be {n} non-negative numbers with a positive sum, got {weights!r}")
    return w / w.sum()


def average_probas(probas: Sequence, weights=None, *, rule: str = "mean") -> np.ndarray:
    """Combine the (n, k) probabilities of several models into one (n, k) array (late fusion).

    ``rule="mean"``: weighted arithmetic mean (soft voting); ``"product"``: weighted
    geometric mean, renormalised (a class must be plausible for *every* model; what
    naive Bayes would do with independent models).

    Parameters
    ----------
    probas : sequence of arrays (n, k)
        Each model's probabilities, columns in the same class order.
    weights : sequence of float or None
        One per model (normalised to sum to 1); None: equal.
    rule : {"mean", "product"}

    Returns
    -------
    array (n, k)

    >>> a = np.array([[0.8, 0.2]]); b = np.array([[0.4, 0.6]])
    >>> average_probas([a, b]).round(2).tolist()
    [[0.6, 0.4]]
    >>> average_probas([a, b], weights=[1, 3]).round(2).tolist()
    [[0.5, 0.5]]
    """
    probas = _check_probas(probas)
    w = _check_weights(weights, len(probas))
    if rule == "mean":
        return sum(wi * p for wi, p in zip(w, probas))
    if rule == "product":
        logp = sum(wi * np.log(np.clip(p, _EPS, None)) for wi, p in zip(w, probas))
        logp -= logp.max(axis=1, keepdims=True)
        out = np.exp(logp)
        return out / out.sum(axis=1, keepdims=True)
    raise FusionInputError(f"rule must be 'mean' or 'product', got {rule!r}")


def vote(probas: Sequence, weights=None) -> np.ndarray:
    """Hard (majority) voting: column index of the class most models pick, per row.

    Each model votes for its top class with its weight; ties go to the class with
    the larger summed probability.

    Parameters
    ----------
    probas : sequence of arrays (n, k)
    weights : sequence of float or None
        Each model's vote weight; None: one vote each.

    Returns
    -------
    array (n,) of column indices

    >>> a = np.array([[0.9, 0.1, 0.0]]); b = np.array([[0.0, 0.6, 0.4]]); c = np.array([[0.1, 0.5, 0.4]])
    >>> vote([a, b, c]).tolist()
    [1]
    """
    probas = _check_probas(probas)
    w = _check_weights(weights, len(probas))
    n, k = probas[0].shape
    votes = np.zeros((n, k))
    for wi, p in zip(w, probas):
        votes[np.arange(n), p.argmax(axis=1)] += wi
    tie_break = 1e-6 * average_probas(probas, w)
    return np.argmax(votes + tie_break, axis=1)


def _log_loss(proba: np.ndarray, y_idx: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y_idx)), y_idx], _EPS, None))))


def _simplex_grid(n: int, step: float) -> np.ndarray:
    m = int(round(1 / step))
    if n == 1:
        return np.ones((1, 1))
    import itertools

    rows = [c + (m - sum(c),) for c in itertools.product(range(m + 1), repeat=n - 1) if sum(c) <= m]
    return np.array(rows, dtype=float) / m


def fit_fusion_weights(probas: Sequence, y, *, classes=None, step: float = 0.05, rule: str = "mean") -> np.ndarray:
    """Weights (summing to 1) of :func:`average_probas` that minimise the log-loss on ``(probas, y)``.

    A grid over the simplex (step 0.05) for 2-4 models: deterministic and cheap; with more
    models, Nelder-Mead over softmax-parametrised weights.
    Fit them on **validation** predictions (models that did not train on them), never
    on test predictions.

    Parameters
    ----------
    probas : sequence of arrays (n, k)
    y : array (n,)
        True labels.
    classes : sequence or None
        The label of each column (default 0..k-1).
    step : float
        Grid step on the simplex.
    rule : {"mean", "product"}
        As in :func:`average_probas`.

    Returns
    -------
    array (n_models,)

    >>> rng = np.random.default_rng(0); y = rng.integers(0, 2, 300)
    >>> good = np.eye(2)[y] * 0.6 + 0.2; bad = np.full((300, 2), 0.5)
    >>> fit_fusion_weights([good, bad], y).round(2).tolist()
    [1.0, 0.0]
    """
    probas = _check_probas(probas)
    y_idx = _label_index(y, classes, probas[0].shape[1])
    if len(probas) > 4:  # the grid grows too fast: minimise over softmax-parametrised weights instead
        from scipy.optimize import minimize

        def loss(theta):
            w = np.exp(theta - theta.max())
            return _log_loss(average_probas(probas, w / w.sum(), rule=rule), y_idx)

        theta = minimize(loss, np.zeros(len(probas)), method="Nelder-Mead",
                         options={"maxiter": 2000, "xatol": 1e-4, "fatol": 1e-7}).x
        w = np.exp(theta - theta.max())
        return w / w.sum()
    best, best_w = np.inf, None
    for w in _simplex_grid(len(probas), step):
        loss = _log_loss(average_probas(probas, w, rule=rule), y_idx)
        if loss < best - 1e-12:
            best, best_w = loss, w
    return best_w


def _label_index(y, classes, k: int) -> np.ndarray:
    y = np.asarray(y)
    if classes is None:
        if not np.issubdtype(y.dtype, np.integer):
            raise FusionInputError("y holds labels, not column indices: pass classes= (the label of each column)")
        idx = y.astype(int)
    else:
        index = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
        try:
            idx = np.array([index[v] for v in y.tolist()], dtype=int)
        except KeyError as exc:
            raise FusionInputError(f"label {exc.args[0]!r} is not in classes {list(index)}") from None
    if len(idx) and (idx.min() < 0 or idx.max() >= k):
        raise FusionInputError(f"class indices must lie in 0..{k - 1}")
    return idx


def stack_features(probas: Sequence, *, log: bool = True) -> np.ndarray:
    """The meta-learner's input: the base learners' probabilities side by side, (n, k * n_models).

    ``log=True`` takes log-probabilities: a linear meta-learner on them is a weighted
    product of experts, and differences near 0 or 1 (0.99 vs 0.999) are not squashed.

    Parameters
    ----------
    probas : sequence of arrays (n, k)
    log : bool

    Returns
    -------
    array (n, k * n_models)
    """
    probas = _check_probas(probas)
    Z = np.hstack(probas)
    return np.log(np.clip(Z, _EPS, None)) if log else Z


def make_meta_learner(*, Cs: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0), cv=5, seed: int = 42):
    """Multinomial logistic regression whose C is chosen by cross-validation (``LogisticRegressionCV``).

    Parameters
    ----------
    Cs : sequence of float
        The values of C tried.
    cv : int or splitter
        Folds of the choice (on the data the meta-learner is fitted on).
    seed : int

    Returns
    -------
    sklearn.pipeline.Pipeline
        StandardScaler -> LogisticRegressionCV.
    """
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegressionCV(
        Cs=list(Cs), cv=cv, max_iter=3000, scoring="neg_log_loss", random_state=seed, l1_ratios=(0.0,),
        use_legacy_attributes=False))


def ensemble_table(val: dict, y_val, test: dict, y_test, *, labels: Sequence, Cs=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
                   cv: int = 5, seed: int = 42, return_probas: bool = False):
    """Compare base models, averaging, voting, learnt weights and stacking on precomputed probabilities.

    ``val`` / ``test``: model name -> (n, k) probabilities on a validation and a test set
    (columns in ``labels`` order, y as column indices). Everything that is learnt
    (weights, the meta-learner and its C, chosen by ``cv``-fold cross-validation) is
    learnt on ``val`` only; ``test`` is scored once.

    Parameters
    ----------
    val, test : dict name -> array (n, k)
        Each model's probabilities on the validation and the test set (columns in
        ``labels`` order).
    y_val, y_test : array (n,)
        Their class indices.
    labels : sequence
        The class names.
    Cs, cv, seed
        The meta-learner's (:func:`make_meta_learner`).
    return_probas : bool
        Also return each method's test probabilities.

    Returns
    -------
    DataFrame, or (DataFrame, dict name -> array)
        One row per method: accuracy, macro F1, UAR on test; ``val_accuracy`` of the
        base models; ``p_vs_reference``, the exact McNemar p-value of each ensemble
        against the *reference* (the base model with the best val accuracy, named in
        ``table.attrs["reference"]``).
    """
    names = list(val)
    if set(names) != set(test) or len(names) < 2:
        raise FusionInputError(f"val and test need the same 2+ models, got {sorted(val)} and {sorted(test)}")
    pv = _check_probas([val[n] for n in names], "val")
    pt = _check_probas([test[n] for n in names], "test")
    k = len(labels)
    if pv[0].shape[1] != k:
        raise FusionInputError(f"probabilities have {pv[0].shape[1]} columns but labels has {k}")
    y_val = _label_index(y_val, None, k)
    y_test = _label_index(y_test, None, k)
    out = {}
    for name, p in zip(names, pt):
        out[name] = p
    out["average"] = average_probas(pt)
    out["product of probabilities"] = average_probas(pt, rule="product")
    votes = vote(pt)
    out["majority vote"] = np.eye(k)[votes]
    w = fit_fusion_weights(pv, y_val)
    out["weighted average (weights on val)"] = average_probas(pt, w)
    meta = make_meta_learner(Cs=Cs, cv=cv, seed=seed).fit(stack_features(pv), y_val)
    out["stacking (LR on val, C by CV)"] = _full_proba(meta, stack_features(pt), k)
    # the reference single model is chosen on val, like everything else; the test then says
    # whether an ensemble differs from it by more than chance (exact McNemar test)
    val_acc = {name: evaluation.accuracy(y_val, p.argmax(axis=1)) for name, p in zip(names, pv)}
    reference = max(val_acc, key=val_acc.get)
    ref_pred = out[reference].argmax(axis=1)
    rows = []
    for name, p in out.items():
        pred = p.argmax(axis=1)
        scores = evaluation.classification_scores(y_test, pred, labels=list(range(k)))
        base = name in names
        rows.append({"method": name, "kind": "base model" if base else "ensemble",
                     "accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"], "uar": scores["uar"],
                     "val_accuracy": val_acc.get(name, np.nan),
                     "p_vs_reference": np.nan if base else evaluation.mcnemar_test(y_test, pred, ref_pred)["p_value"]})
    table = pd.DataFrame(rows).set_index("method")
    table.attrs["meta_C"] = float(np.ravel(meta[-1].C_)[0])
    table.attrs["reference"] = reference
    return (table, out) if return_probas else table


def _full_proba(model, X, k: int) -> np.ndarray:
    """predict_proba with a column for every class 0..k-1 (a class absent from training gets 0)."""
    p = model.predict_proba(X)
    classes = np.asarray(model.classes_).astype(int)
    out = np.zeros((len(X), k))
    out[:, classes] = p
    return out


def stack_fer_predictions(names: Sequence[str] | None = None, **kwargs) -> pd.DataFrame:
    """Within-modality stacking of the FER2013 models whose predictions the video benchmark saved.

    Loads each model's PublicTest (``val``) and PrivateTest (``test``) probabilities with
    :func:`mmer_utils.video.data.load_predictions` (the files
    :func:`mmer_utils.video.data.save_predictions` writes); everything is learnt on
    PublicTest, and PrivateTest is scored once (:func:`ensemble_table`).

    Parameters
    ----------
    names : list of str or None
        The models (default: :func:`mmer_utils.video.data.ensemble_members`, one per model
        trained on FER2013 Training, its flip-TTA variant when saved).
    **kwargs
        Arguments of :func:`ensemble_table`.

    Returns
    -------
    DataFrame
        :func:`ensemble_table`'s table. Raises :class:`~mmer_utils.errors.DataNotFoundError`
        when fewer than two models have saved predictions.
    """
    from ..labels import FER2013
    from ..video import data as vdata

    available = vdata.list_predictions()
    names = list(names) if names is not None else vdata.ensemble_members()
    if len(names) < 2 or len(available) < 2:
        raise DataNotFoundError(
            f"stacking FER2013 models needs the saved predictions of 2+ face models, found {len(available)} "
            f"({', '.join(available) or 'none'}) in {vdata.predictions_dir()}; "
            "run: python -m mmer_utils.bench video --full")
    preds = {n: vdata.load_predictions(n) for n in names}
    ref = preds[names[0]]
    for n, p in preds.items():
        if not (np.array_equal(p["val_y"], ref["val_y"]) and np.array_equal(p["test_y"], ref["test_y"])):
            raise FusionInputError(f"the saved predictions of {n!r} are not on the same faces as {names[0]!r} "
                                   "(different PublicTest/PrivateTest subsets): rerun the video benchmark")
    return ensemble_table({n: p["val_proba"] for n, p in preds.items()}, ref["val_y"],
                          {n: p["test_proba"] for n, p in preds.items()}, ref["test_y"], labels=FER2013, **kwargs)


# --------------------------------------------------------------------------- meta-estimators


def _accepts(estimator, name: str) -> bool:
    try:
        params = inspect.signature(estimator.fit).parameters
    except (TypeError, ValueError):
        return False
    # explicit parameters only: Pipeline.fit(**params) would reject an unrouted keyword
    return name in params


def fit_one(estimator, X, y, *, groups=None, validation_data=None):
    """Fit passing ``groups`` / ``validation_data`` only to estimators whose ``fit`` takes them.

    Parameters
    ----------
    estimator : scikit-learn estimator
    X, y : training data
    groups : array or None
        The training rows' groups (e.g. actors), for estimators with inner group folds.
    validation_data : tuple (X_val, y_val) or None
        For estimators that choose on held-out data (early stopping, weights).

    Returns
    -------
    The fitted estimator.
    """
    kwargs = {}
    if groups is not None and _accepts(estimator, "groups"):
        kwargs["groups"] = groups
    if validation_data is not None and _accepts(estimator, "validation_data"):
        kwargs["validation_data"] = validation_data
    return estimator.fit(X, y, **kwargs)


def _aligned_proba(estimator, X, classes: np.ndarray) -> np.ndarray:
    """The base learner's probabilities with one column per ensemble class (absent ones get 0)."""
    if not hasattr(estimator, "predict_proba"):
        raise FusionInputError(f"{type(estimator).__name__} has no predict_proba: an ensemble combines "
                               "probabilities (use a calibrated classifier, e.g. CalibratedClassifierCV)")
    p = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    own = np.asarray(estimator.classes_)
    if own.shape == classes.shape and np.array_equal(own, classes):
        return p
    out = np.zeros((p.shape[0], len(classes)))
    out[:, np.searchsorted(classes, own)] = p
    return out


def _check_estimators(estimators, who: str):
    if not estimators or not all(isinstance(e, tuple) and len(e) == 2 for e in estimators):
        raise FusionInputError(f"{who}: estimators must be a non-empty list of (name, estimator) pairs")
    names = [n for n, _ in estimators]
    if len(set(names)) != len(names):
        raise FusionInputError(f"{who}: estimator names must be unique, got {names}")


class _Ensemble(ClassifierMixin, BaseEstimator):
    """Shared plumbing: input checks, label encoding, fitting the base learners."""

    def _validate(self, X, y="no_validation", reset=True):
        kw = dict(accept_sparse=False, allow_nd=True, ensure_all_finite=False, dtype=None)
        if isinstance(y, str) and y == "no_validation":
            return validate_data(self, X, reset=reset, **kw)
        X, y = validate_data(self, X, y, reset=reset, **kw)
        check_classification_targets(y)
        return X, y

    def _base_probas(self, X) -> list[np.ndarray]:
        return [_aligned_proba(est, X, self.classes_) for est in self.estimators_]

    def fit(self, X, y, groups=None, validation_data=None):
        """Fit the base learners on all rows and the way they are combined (see the class).

        Parameters
        ----------
        X : array (n, ...)
            What the base learners take.
        y : array (n,)
            Labels.
        groups : array (n,) or None
            Passed on to base learners whose ``fit`` takes them (and, for stacking, the
            out-of-fold splits become ``GroupKFold`` over them).
        validation_data : (X_val, y_val) or None
            Passed on to base learners whose ``fit`` takes it (e.g. Keras early stopping);
            ``AveragingEnsemble(weights="validation")`` also learns its weights on it.

        Returns
        -------
        self
        """
        _check_estimators(self.estimators, type(self).__name__)
        X, y = self._validate(X, y)
        self.classes_ = np.unique(y)
        return self._fit(X, y, groups, validation_data)

    def predict_proba(self, X):
        """The base learners' probabilities, combined.

        Parameters
        ----------
        X : array (n, ...)
            What the base learners take.

        Returns
        -------
        array (n, n_classes)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self, "estimators_")
        X = self._validate(X, reset=False)
        return self._combine(self._base_probas(X), X)

    def predict(self, X):
        proba = self.predict_proba(X)  # first: raises NotFittedError before classes_ is looked up
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class AveragingEnsemble(_Ensemble):
    """Late fusion by averaging (or voting on) the base learners' probabilities.

    Parameters
    ----------
    estimators : list of (name, estimator)
        Base learners (cloned at ``fit``); each must have ``predict_proba``.
    voting : {"soft", "hard"}
        "soft": combine probabilities with ``rule``; "hard": majority vote (:func:`vote`).
    rule : {"mean", "product"}
        See :func:`average_probas`.
    weights : None, array of floats, or "validation"
        Fixed weights, or weights learnt by :func:`fit_fusion_weights` on the
        ``validation_data`` given to ``fit`` (never on the training predictions, which
        are over-confident).

    ``fit(X, y, groups=None, validation_data=None)`` passes ``groups`` and
    ``validation_data`` on to base learners whose ``fit`` takes them (e.g. Keras early stopping).

    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> X = np.random.default_rng(0).normal(size=(60, 3)); y = (X[:, 0] > 0).astype(int)
    >>> AveragingEnsemble([("lr", LogisticRegression()), ("nb", GaussianNB())]).fit(X, y).score(X, y) > 0.9
    True
    """

    def __init__(self, estimators=None, *, voting: str = "soft", rule: str = "mean", weights=None):
        self.estimators = estimators
        self.voting = voting
        self.rule = rule
        self.weights = weights

    def _fit(self, X, y, groups, validation_data):
        if self.voting not in ("soft", "hard") or self.rule not in ("mean", "product"):
            raise FusionInputError(f"AveragingEnsemble: voting must be 'soft'/'hard' and rule 'mean'/'product', "
                                   f"got {self.voting!r}, {self.rule!r}")
        self.estimators_ = [fit_one(clone(est), X, y, groups=groups, validation_data=validation_data)
                            for _, est in self.estimators]
        if isinstance(self.weights, str):
            if self.weights != "validation":
                raise FusionInputError(f"weights must be None, numbers or 'validation', got {self.weights!r}")
            if validation_data is None:
                raise FusionInputError("weights='validation' learns the weights on held-out data: "
                                       "call fit(X, y, validation_data=(X_val, y_val))")
            X_val = self._validate(validation_data[0], reset=False)
            self.weights_ = fit_fusion_weights(self._base_probas(X_val), validation_data[1], classes=self.classes_,
                                               rule=self.rule)
        else:
            self.weights_ = _check_weights(self.weights, len(self.estimators_))
        return self

    def _combine(self, probas, X):
        if self.voting == "hard":
            return np.eye(len(self.classes_))[vote(probas, self.weights_)]
        return average_probas(probas, self.weights_, rule=self.rule)


class StackingEnsemble(_Ensemble):
    """Stacking: a meta-learner on the base learners' out-of-fold probabilities.

    ``fit``: (1) for each of ``cv`` folds of the training data, fit a clone of every base
    learner on the other folds and predict the held-out fold: out-of-fold (OOF)
    probabilities for every training example; (2) fit ``final_estimator`` on them
    (log-probabilities side by side, see :func:`stack_features`, plus the raw features
    with ``passthrough=True``); (3) refit every base learner on all the training data,
    which is what ``predict`` uses.

    Parameters
    ----------
    estimators : list of (name, estimator)
    final_estimator : estimator or None
        Default: :func:`make_meta_learner` (standardised multinomial logistic regression,
        C by inner cross-validation).
    cv : int
        Number of OOF folds: ``StratifiedKFold`` (shuffled with ``random_state``), or
        ``GroupKFold`` when ``fit`` gets ``groups`` (e.g. actors: speaker-independent OOF).
    log : bool
        Meta-features are log-probabilities (True) or probabilities.
    passthrough : bool
        Give the meta-learner the original features too (2-D X only).
    random_state : int

    Attributes: ``estimators_`` (refitted base learners), ``final_estimator_``,
    ``oof_proba_`` (list of (n, k) OOF probabilities, one per base learner).
    """

    def __init__(self, estimators=None, final_estimator=None, *, cv: int = 5, log: bool = True,
                 passthrough: bool = False, random_state: int = 42):
        self.estimators = estimators
        self.final_estimator = final_estimator
        self.cv = cv
        self.log = log
        self.passthrough = passthrough
        self.random_state = random_state

    def _splits(self, X, y, groups):
        from sklearn.model_selection import GroupKFold, StratifiedKFold

        if groups is not None:
            groups = np.asarray(groups)
            n_groups = len(np.unique(groups))
            if n_groups < 2:
                raise FusionInputError("StackingEnsemble: out-of-fold predictions need at least 2 groups")
            return list(GroupKFold(n_splits=min(self.cv, n_groups)).split(X, y, groups))
        smallest = np.bincount(np.unique(y, return_inverse=True)[1]).min()
        n_splits = min(self.cv, smallest)
        if n_splits < 2:
            raise FusionInputError("StackingEnsemble: every class needs at least 2 training examples "
                                   "for out-of-fold predictions")
        return list(StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state).split(X, y))

    def _meta_features(self, probas, X):
        Z = stack_features(probas, log=self.log)
        if self.passthrough:
            Z = np.hstack([Z, np.asarray(X, dtype=np.float64).reshape(len(X), -1)])
        return Z

    def _fit(self, X, y, groups, validation_data):
        if len(self.classes_) < 2:
            raise FusionInputError("StackingEnsemble needs at least 2 classes in y, got one class")
        k = len(self.classes_)
        oof = [np.zeros((len(y), k)) for _ in self.estimators]
        for train, held in self._splits(X, y, groups):
            g = None if groups is None else np.asarray(groups)[train]
            for j, (_, est) in enumerate(self.estimators):
                model = fit_one(clone(est), X[train], y[train], groups=g)
                oof[j][held] = _aligned_proba(model, X[held], self.classes_)
        self.oof_proba_ = oof
        smallest = int(np.bincount(np.unique(y, return_inverse=True)[1]).min())
        meta = clone(self.final_estimator) if self.final_estimator is not None else \
            make_meta_learner(cv=max(2, min(5, smallest)), seed=self.random_state)
        self.final_estimator_ = meta.fit(self._meta_features(oof, X), y)
        self.estimators_ = [fit_one(clone(est), X, y, groups=groups, validation_data=validation_data)
                            for _, est in self.estimators]
        return self

    def _combine(self, probas, X):
        Z = self._meta_features(probas, X)
        p = self.final_estimator_.predict_proba(Z)
        own = np.asarray(self.final_estimator_.classes_)
        if np.array_equal(own, self.classes_):
            return p
        out = np.zeros((len(X), len(self.classes_)))
        out[:, np.searchsorted(self.classes_, own)] = p
        return out
