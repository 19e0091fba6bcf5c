"""Scaler + SVM baselines on clip features, evaluated speaker-independently.

The classifiers themselves (:class:`~mmer_utils.estimators.CalibratedSVC`,
:func:`~mmer_utils.estimators.make_svm`) are shared by every chapter and live in
:mod:`mmer_utils.estimators` (still importable from here); the folds are run by
:func:`mmer_utils.evaluation.run_folds`, the course's one cross-validation loop.

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

from typing import Sequence

import numpy as np
import pandas as pd

from ..estimators import CalibratedSVC, SelectBlock, make_svm  # noqa: F401 (their home before; re-exported)
from ..evaluation import Fold, FoldResults, actor_fold_splits, pooled_results, run_folds  # noqa: F401


def default_param_grid(kind: str = "rbf", *, quick: bool = False, blocks: dict | None = None) -> dict:
    """The grid searched inside the training actors (small in quick mode).

    RBF: ``C`` and ``gamma`` (as multiples of scikit-learn's ``"scale"``, which is
    1 / n_features on standardised features: see :class:`~mmer_utils.estimators.CalibratedSVC`);
    linear models: ``C``. With ``blocks`` (candidate feature sets), ``select__block`` too.

    Parameters
    ----------
    kind : str
        ``"rbf"`` or a linear kind of :func:`~mmer_utils.estimators.make_svm`.
    quick : bool
        A small grid (a smoke run).
    blocks : dict or None
        Candidate feature sets (name -> columns).

    Returns
    -------
    dict
        Grid keys in :func:`~mmer_utils.estimators.make_svm`'s step names.

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
    A :class:`~mmer_utils.estimators.CalibratedSVC` is searched without its calibration
    (one SVM fit instead of six; its predictions do not depend on it) and refitted with it.

    Parameters
    ----------
    pipeline : estimator
        Cloned, never fitted itself.
    X, y : arrays
        The training rows only.
    groups : array (n,)
        Their actors: the inner folds never split an actor.
    param_grid : dict or None
        Searched grid; None or {} (or one point per key): fitted as it is.
    n_splits : int
        Inner GroupKFold folds (fewer when there are fewer actors).
    scoring : str
        scikit-learn name of the score maximised.
    n_jobs : int
        Parallel fits of the search.

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


def _new_model(make_model):
    from sklearn.base import clone

    return make_model() if callable(make_model) and not hasattr(make_model, "fit") else clone(make_model)


def _run_folds(protocol, make_model, X, y, groups, folds, param_grid, n_splits, n_jobs, progress, labels,
               scoring="accuracy") -> FoldResults:
    from threadpoolctl import threadpool_limits

    X = np.asarray(X)
    y = np.asarray(y)
    labels = list(labels) if labels is not None else sorted(np.unique(y).tolist())

    def fit_predict(fold):
        model = fit_with_inner_cv(_new_model(make_model), X[fold.train], y[fold.train], groups[fold.train],
                                  param_grid, n_splits=n_splits, scoring=scoring, n_jobs=n_jobs)
        return {"pred": model.predict(X[fold.test]), "row": {"best_params": model.best_params_}}

    # Small matrices: a multi-threaded BLAS only adds overhead (10x slower on a busy 2-core machine);
    # parallelism comes from n_jobs (processes) instead.
    with threadpool_limits(limits=1, user_api="blas"):
        outputs = run_folds(fit_predict, folds, desc=protocol, progress=progress)
    return pooled_results(protocol, outputs, y, labels=labels)


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
    n_jobs : parallel fits of each inner search.
    labels : class order for the scores (default: sorted labels).
    progress : show a progress bar over the folds.

    Returns
    -------
    FoldResults
        :class:`mmer_utils.evaluation.FoldResults`: ``per_fold`` (fold, test actors,
        sizes, accuracy, macro F1, UAR, chosen hyper-parameters, fit seconds),
        ``pooled``, and the pooled ``y_true`` / ``y_pred`` / ``index``.
    """
    actors = np.asarray(actors)
    splits = actor_fold_splits(actors, folds=folds, merge_val=True)
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

    Parameters
    ----------
    make_model, X, y, param_grid, n_splits, scoring, n_jobs, labels, progress
        As in :func:`evaluate_actor_folds`.
    n_folds : int
        Outer random folds.
    folds : list of int or None
        Evaluate only these folds; None: all.
    seed : int
        Seed of the outer and inner random folds.

    Returns
    -------
    FoldResults
    """
    from sklearn.model_selection import StratifiedKFold

    X = np.asarray(X)
    y = np.asarray(y)
    outer = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    # random "groups" = random inner folds: GroupKFold over one random group per clip
    groups = np.random.default_rng(seed).permutation(len(y)) % max(n_splits, 2)
    splits = [Fold(fold, tr, te, info={"test_actors": "random"}) for fold, (tr, te) in enumerate(outer.split(X, y))
              if folds is None or fold in folds]
    return _run_folds(f"random {n_folds}-fold (leaky)", make_model, X, y, groups, splits, param_grid,
                      n_splits, n_jobs, progress, labels, scoring)


def speaker_normalize(X, speakers) -> np.ndarray:
    """Standardise the features of each speaker with that speaker's own mean and std.

    A classic trick of speech emotion recognition: it removes much of what makes one
    voice differ from another. It is **transductive** when applied to test speakers:
    it uses all their (unlabelled) clips at once, and on RAVDESS those clips cover
    every emotion evenly, which a real recording of one person does not. Report
    it apart from the headline, under its own protocol name.

    Parameters
    ----------
    X : array (n, d)
    speakers : array (n,)
        The speaker of each row.

    Returns
    -------
    array (n, d)

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
    """One row per model: protocol, pooled accuracy / macro F1 / UAR, fold mean +- std, fit time.

    Parameters
    ----------
    results : dict name -> FoldResults

    Returns
    -------
    DataFrame indexed by model
    """
    rows = []
    for name, res in results.items():
        s = res.summary()
        rows.append({"model": name, "protocol": res.protocol, "accuracy": s["accuracy"], "macro_f1": s["macro_f1"],
                     "uar": s["uar"], "fold_acc_mean": s["fold_accuracy_mean"], "fold_acc_std": s["fold_accuracy_std"],
                     "n_folds": len(res.per_fold), "fit_seconds": res.fit_seconds})
    return pd.DataFrame(rows).set_index("model")

