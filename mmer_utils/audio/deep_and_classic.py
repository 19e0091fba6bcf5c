"""Deep + classic voice models on the same actor folds: soft voting and stacking.

The voice chapter's deep models (log-mel CNN-LSTM, 2-D CNN) and its classic clip
features + linear model make different mistakes; combining them is cheap once both have
test probabilities for every clip on the six speaker-independent actor folds.

* :func:`classic_fold_probas`: the classic model's test probabilities on those folds
  (tuned inside the training actors of each fold, like
  :func:`mmer_utils.audio.baselines.evaluate_actor_folds`);
* :func:`soft_vote`: the mean of the members' probabilities. Nothing is fitted, so
  nothing can leak: the honest headline of a combination;
* :func:`stack_across_folds`: a logistic-regression meta-learner on the members'
  log-probabilities. For test fold *k* it is fitted on the test predictions of the
  other five folds and their labels, never on fold *k*'s labels. (Each of those
  predictions comes from a base model that trained on fold *k*'s actors, so the
  meta-learner is not fully nested; with 2 x 8 inputs and a fixed regularisation the
  effect is small, and :func:`soft_vote` is there as the leak-free reference.)

Both return a :class:`mmer_utils.evaluation.FoldResults` in the members' row order
(:func:`mmer_utils.evaluation.recall_table` puts their per-emotion recalls side by side).

>>> import numpy as np, pandas as pd
>>> from mmer_utils.evaluation import FoldResults
>>> rng = np.random.default_rng(0)
>>> y = np.tile(["a", "b"], 12)  # 24 clips: 6 folds of 4, fold after fold
>>> per_fold = pd.DataFrame({"fold": range(6), "n_test": 4})
>>> def member(noise):
...     p = np.where((y == "a")[:, None], [0.7, 0.3], [0.3, 0.7]) + rng.normal(0, noise, (24, 2))
...     p = np.clip(p, 0.01, None); p /= p.sum(1, keepdims=True)
...     return FoldResults("demo", per_fold, {}, y, np.array(["a", "b"])[p.argmax(1)], np.arange(24), 0.0,
...                        ["a", "b"], proba=p)
>>> a, b = member(0.2), member(0.2)
>>> soft_vote([a, b]).pooled["accuracy"] >= 0.75
True
>>> stack_across_folds([a, b]).per_fold["accuracy"].size
6
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..evaluation import FoldResults, actor_fold_splits, headline_scores, pooled_results, run_folds


def classic_fold_probas(X, y, actors, *, make_model, param_grid: dict | None = None, labels: Sequence,
                        folds: Sequence[int] | None = None, n_jobs: int = 1, progress: bool = False) -> FoldResults:
    """A classic model's test probabilities on the speaker-independent actor folds.

    Parameters
    ----------
    X : array (n_clips, n_features)
        Clip features (:func:`mmer_utils.audio.features.extract_feature_sets`).
    y, actors : arrays (n_clips,)
        Emotion label and actor of each clip.
    make_model : callable
        Returns a fresh estimator with ``predict_proba`` (e.g. ``lambda: make_svm("linear")``).
    param_grid : dict or None
        Searched inside each fold's training actors (GroupKFold over actors).
    labels : sequence
        Class order of the probability columns.
    folds : sequence of int or None
        The folds to run (None: all six).
    n_jobs : int
        Parallel fits of each inner search.
    progress : bool
        A progress bar over the folds.

    Returns
    -------
    FoldResults
        ``proba`` (columns in ``labels`` order) and ``index`` (rows of ``X``), fold after fold.
    """
    from .baselines import fit_with_inner_cv

    X, y, actors = np.asarray(X), np.asarray(y), np.asarray(actors)
    labels = list(labels)

    def fit_predict(fold):
        model = fit_with_inner_cv(make_model(), X[fold.train], y[fold.train], actors[fold.train], param_grid,
                                  n_jobs=n_jobs)
        p = model.predict_proba(X[fold.test])
        proba = np.zeros((len(fold.test), len(labels)))
        for j, c in enumerate(model.classes_):
            proba[:, labels.index(c)] = p[:, j]
        return {"proba": proba, "row": {"best_params": model.best_params_}}

    outputs = run_folds(fit_predict, actor_fold_splits(actors, folds=folds, merge_val=True),
                        desc="classic model, actor folds", progress=progress)
    return pooled_results("speaker-independent actor folds", outputs, y, labels=labels)


def _aligned(members: Sequence[FoldResults]) -> tuple[list[np.ndarray], FoldResults]:
    """The members' probabilities in the first member's row order (they must cover the same clips)."""
    first = members[0]
    if any(m.proba is None for m in members):
        raise ValueError("every member needs test probabilities (proba)")
    order = {int(i): k for k, i in enumerate(first.index)}
    out = []
    for m in members:
        if sorted(map(int, m.index)) != sorted(order) or list(m.labels) != list(first.labels):
            raise ValueError("the members must cover the same test clips with the same classes")
        p = np.empty_like(np.asarray(m.proba, dtype=float))
        p[[order[int(i)] for i in m.index]] = m.proba
        out.append(p)
    return out, first


def _fold_of_rows(res: FoldResults) -> np.ndarray:
    """The fold number of each pooled row (``per_fold`` is fold after fold, ``n_test`` rows each)."""
    return np.repeat(res.per_fold["fold"].to_numpy(), res.per_fold["n_test"].to_numpy())


def _result(first: FoldResults, proba: np.ndarray, protocol: str) -> FoldResults:
    labels = list(first.labels)
    y_true = np.asarray(first.y_true).astype(object)
    y_pred = np.asarray(labels, dtype=object)[proba.argmax(axis=1)]
    folds = _fold_of_rows(first)
    per_fold = first.per_fold[["fold", "n_test"]].copy()
    if "test_actors" in first.per_fold:
        per_fold.insert(1, "test_actors", first.per_fold["test_actors"])
    per_fold["accuracy"] = [float(np.mean(y_true[folds == f] == y_pred[folds == f])) for f in per_fold["fold"]]
    return FoldResults(protocol, per_fold.reset_index(drop=True), headline_scores(y_true, y_pred, labels=labels),
                       y_true, y_pred, np.asarray(first.index), 0.0, labels, proba=proba)


def soft_vote(members: Sequence[FoldResults], weights: Sequence[float] | None = None) -> FoldResults:
    """The (weighted) mean of the members' test probabilities; nothing is fitted.

    Parameters
    ----------
    members : sequence of FoldResults
        Runs on the same folds and clips, each with ``proba``.
    weights : sequence of float or None
        One per member (normalised to sum 1); None: equal weights.

    Returns
    -------
    FoldResults
        In the first member's row order; ``fit_seconds`` is 0 (add the members' own).
    """
    probas, first = _aligned(members)
    w = np.ones(len(probas)) if weights is None else np.asarray(weights, dtype=float)
    proba = np.tensordot(w / w.sum(), np.stack(probas), axes=1)
    return _result(first, proba, first.protocol)


def stack_across_folds(members: Sequence[FoldResults], *, C: float = 1.0, seed: int = 42) -> FoldResults:
    """A logistic-regression meta-learner on the members' log-probabilities, fold by fold.

    For each test fold, the meta-learner is fitted on the other folds' test predictions and
    labels (see the module docstring for what this does and does not hold out).

    Parameters
    ----------
    members : sequence of FoldResults
        Runs on the same folds and clips, each with ``proba``.
    C : float
        Inverse regularisation of the meta-learner (fixed: not tuned on any test fold).
    seed : int
        Seed of the meta-learner.

    Returns
    -------
    FoldResults
        In the first member's row order; ``per_fold`` has the meta-learner's weights' norm.
    """
    from sklearn.linear_model import LogisticRegression

    probas, first = _aligned(members)
    Z = np.hstack([np.log(np.clip(p, 1e-6, 1.0)) for p in probas])
    y = np.asarray(first.y_true).astype(str)
    folds = _fold_of_rows(first)
    if len(np.unique(folds)) < 2:
        raise ValueError("stacking across folds needs the members' predictions on two folds or more "
                         "(the meta-learner of each fold learns on the others)")
    labels = [str(c) for c in first.labels]
    proba = np.zeros_like(probas[0])
    for f in np.unique(folds):
        train, test = folds != f, folds == f
        meta = LogisticRegression(C=C, max_iter=2000, random_state=seed).fit(Z[train], y[train])
        p = meta.predict_proba(Z[test])
        for j, c in enumerate(meta.classes_):
            proba[test, labels.index(c)] = p[:, j]
    return _result(first, proba, first.protocol)
