"""Metrics, the cross-validation loop and figures shared by every chapter.

``uar`` (unweighted average recall, the mean of per-class recalls) is the usual
headline in speech emotion recognition, because it does not reward a model for
favouring frequent classes; ``weighted_f1`` is MELD's official metric.

Cross-validation: every chapter's protocol (RAVDESS' actor folds, the essays'
k-folds, the audio-visual fusion) is a list of :class:`Fold` (row indices) run by
:func:`run_folds`, the one loop that fits, times, checks and caches each fold;
:func:`pooled_results` turns single-label predictions into a :class:`FoldResults`.

>>> y = ["a", "a", "b", "b"]; p = ["a", "a", "a", "b"]
>>> round(uar(y, p), 3)
0.75
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm


#: The numpydoc sections the scores below share (one text, filled in per function).
_SCORE_DOC = """{summary}

    Parameters
    ----------
    y_true, y_pred : array (n,)
        True and predicted labels.{labels}

    Returns
    -------
    float
        Between 0 and 1.
    """
_LABELS_DOC = """
    labels : sequence or None
        Classes counted (default: those in ``y_true`` and ``y_pred``)."""


def accuracy(y_true, y_pred) -> float:
    return float(skm.accuracy_score(y_true, y_pred))


def macro_f1(y_true, y_pred, *, labels=None) -> float:
    return float(skm.f1_score(y_true, y_pred, average="macro", labels=labels, zero_division=0))


def weighted_f1(y_true, y_pred, *, labels=None) -> float:
    return float(skm.f1_score(y_true, y_pred, average="weighted", labels=labels, zero_division=0))


def uar(y_true, y_pred, *, labels=None) -> float:
    return float(skm.recall_score(y_true, y_pred, average="macro", labels=labels, zero_division=0))


accuracy.__doc__ = _SCORE_DOC.format(summary="Fraction of correct predictions.", labels="")
macro_f1.__doc__ = _SCORE_DOC.format(summary="F1 averaged over classes with equal weight.", labels=_LABELS_DOC)
weighted_f1.__doc__ = _SCORE_DOC.format(summary="F1 averaged over classes weighted by their support (MELD's metric).",
                                        labels=_LABELS_DOC)
uar.__doc__ = _SCORE_DOC.format(summary="Unweighted average recall: the mean of per-class recalls (balanced accuracy).",
                                labels=_LABELS_DOC)


def per_class_recall(y_true, y_pred, *, labels: Sequence) -> pd.Series:
    """Recall of each class in ``labels`` order.

    Parameters
    ----------
    y_true, y_pred : array (n,)
        True and predicted labels.
    labels : sequence
        The classes, in the order of the result.

    Returns
    -------
    Series label -> recall
    """
    values = skm.recall_score(y_true, y_pred, average=None, labels=labels, zero_division=0)
    return pd.Series(values, index=list(labels), name="recall")


def classification_scores(y_true, y_pred, *, labels=None) -> dict[str, float]:
    """accuracy, macro F1, weighted F1 and UAR in one dict.

    Parameters
    ----------
    y_true, y_pred : array (n,)
        True and predicted labels.
    labels : sequence or None
        Classes counted (default: those in ``y_true`` and ``y_pred``).

    Returns
    -------
    dict name -> float
    """
    return {
        "accuracy": accuracy(y_true, y_pred),
        "macro_f1": macro_f1(y_true, y_pred, labels=labels),
        "weighted_f1": weighted_f1(y_true, y_pred, labels=labels),
        "uar": uar(y_true, y_pred, labels=labels),
    }


def mcnemar_test(y_true, pred_a, pred_b) -> dict:
    """Exact McNemar test: do two classifiers scored on the same items differ in accuracy?

    Only the items where exactly one of them is right count: ``a_only`` (a right, b wrong)
    and ``b_only``. Under "no difference" each such item is a fair coin, so the two-sided
    p-value is a binomial test of ``a_only`` out of ``a_only + b_only``. On FER2013
    PrivateTest (3,589 faces) a gap of half a point is usually *not* significant.

    Parameters
    ----------
    y_true : array (n,)
        True labels.
    pred_a, pred_b : array (n,)
        The two classifiers' predictions on the same items.

    Returns
    -------
    dict
        a_only, b_only, difference (accuracy of a minus that of b) and p_value.

    >>> y = [0] * 100; a = [0] * 90 + [1] * 10; b = [0] * 70 + [1] * 30
    >>> r = mcnemar_test(y, a, b); (r["a_only"], r["b_only"], round(r["difference"], 2), r["p_value"] < 0.001)
    (20, 0, 0.2, True)
    """
    from scipy.stats import binomtest

    y_true, pred_a, pred_b = (np.asarray(v) for v in (y_true, pred_a, pred_b))
    if not (y_true.shape == pred_a.shape == pred_b.shape) or y_true.ndim != 1:
        raise ValueError(f"y_true, pred_a and pred_b need the same 1-D shape, got "
                         f"{y_true.shape}, {pred_a.shape}, {pred_b.shape}")
    right_a, right_b = pred_a == y_true, pred_b == y_true
    a_only, b_only = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    p = 1.0 if a_only + b_only == 0 else float(binomtest(a_only, a_only + b_only, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "difference": (a_only - b_only) / max(len(y_true), 1),
            "p_value": p}


def majority_baseline(y_train, y_test) -> float:
    """Accuracy of always predicting the most frequent training label: the floor to beat.

    Parameters
    ----------
    y_train, y_test : array
        Training labels (the majority is taken there) and test labels.

    Returns
    -------
    float
    """
    values, counts = np.unique(np.asarray(y_train), return_counts=True)
    return float(np.mean(np.asarray(y_test) == values[np.argmax(counts)]))


def plot_confusion_matrix(y_true, y_pred, *, labels: Sequence, normalize: bool = True,
                          title: str | None = None, ax=None, cmap: str = "Blues"):
    """Draw a confusion matrix (rows: true class; normalised per row by default).

    Parameters
    ----------
    y_true, y_pred : array (n,)
    labels : sequence
        The classes, in the order of the rows and columns.
    normalize : bool
        Divide each row by its count (the diagonal is then each class's recall).
    title : str or None
    ax : matplotlib axes or None
        Where to draw; None: a new figure.
    cmap : str
        Matplotlib colour map.

    Returns
    -------
    matplotlib axes
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    cm = skm.confusion_matrix(y_true, y_pred, labels=list(labels)).astype(float)
    if normalize:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    if ax is None:
        size = 1.0 + 0.6 * len(labels)
        _, ax = plt.subplots(figsize=(size + 1, size))
    sns.heatmap(cm, annot=True, fmt=".2f" if normalize else ".0f", cmap=cmap, vmin=0,
                vmax=1 if normalize else None, xticklabels=labels, yticklabels=labels, ax=ax, cbar=False)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return ax


# --------------------------------------------------------------------------- cross-validation


@dataclass
class Fold:
    """One split of a cross-validation, as row indices.

    Parameters
    ----------
    fold : int
        The fold's number.
    train, test : array of int
        Rows the model learns from, and rows it is scored on.
    val : array of int or None
        Rows for choices made during training (early stopping, weights), never tested on.
    info : dict
        Extra columns of the fold's row in ``per_fold`` (e.g. ``test_actors``).
    """

    fold: int
    train: np.ndarray
    test: np.ndarray
    val: np.ndarray | None = None
    info: dict = field(default_factory=dict)


def actor_fold_splits(actors, *, folds: Sequence[int] | None = None, merge_val: bool = False) -> list[Fold]:
    """The speaker-independent folds of :func:`mmer_utils.splits.iter_actor_splits` as :class:`Fold` s.

    Parameters
    ----------
    actors : array (n,)
        The actor of each row.
    folds : list of int or None
        Keep only these folds (quick mode); None: all six.
    merge_val : bool
        True: the validation actors train too (models with no early stopping); ``val`` is None.

    Returns
    -------
    list of Fold
        Folds without any test row, or without any training row, are left out; ``info``
        holds ``test_actors`` ("1, 2, 3, 4").
    """
    from .splits import iter_actor_splits

    actors = np.asarray(actors)
    out = []
    for fold, masks in iter_actor_splits(actors):
        if folds is not None and fold not in folds:
            continue
        train = masks["train"] | masks["val"] if merge_val else masks["train"]
        if not masks["test"].any() or not train.any():
            continue
        out.append(Fold(fold, np.flatnonzero(train), np.flatnonzero(masks["test"]),
                        None if merge_val else np.flatnonzero(masks["val"]),
                        {"test_actors": ", ".join(map(str, sorted(np.unique(actors[masks["test"]]).tolist())))}))
    return out


def run_folds(fit_predict: Callable[[Fold], dict], folds: Sequence[Fold], *, desc: str = "folds",
              progress: bool = False, cache_dir=None, on_fold: Callable[[dict], None] | None = None) -> list[dict]:
    """The course's one cross-validation loop: fit and predict every fold, timed, checked and optionally cached.

    Parameters
    ----------
    fit_predict : callable
        ``fit_predict(fold) -> dict``: trains a new model on ``fold.train`` (and
        ``fold.val``) and returns at least its test predictions (e.g. ``{"proba": ...}``
        or ``{"pred": ...}``), plus anything the caller wants back (``"model"``, a
        ``"row"`` of extra columns). It may give ``fit_seconds`` itself (the training
        time alone, or the original one of a fold it read back from a store of its own,
        then with ``cached=True``); otherwise the call is timed.
    folds : list of Fold
        Each is checked first: its training, validation and test rows must not overlap.
    desc : str
        Label of the progress bar.
    progress : bool
        Show a progress bar over the folds.
    cache_dir : str, Path or None
        Keep each finished fold's NumPy arrays in ``cache_dir/fold_<k>.npz`` (with the
        test rows and the fitting seconds) and reuse them on a rerun, so that an
        interrupted run resumes. Only array and number outputs are kept. Name the folder
        after the model's settings.
    on_fold : callable or None
        Called with each fold's output as soon as the fold is done (e.g. to print it).

    Returns
    -------
    list of dict
        One per fold, in order: ``fit_predict``'s output plus ``fold`` (the Fold),
        ``fit_seconds`` and ``cached`` (True when read back).
    """
    from tqdm.auto import tqdm

    from .atomic import atomic_save_npz

    cache = Path(cache_dir) if cache_dir else None
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
    outputs = []
    for f in tqdm(list(folds), desc=desc, disable=not progress, leave=False):
        parts = [np.asarray(f.train), np.asarray(f.test)] + ([np.asarray(f.val)] if f.val is not None else [])
        if len(np.unique(np.concatenate(parts))) != sum(len(p) for p in parts):
            raise ValueError(f"fold {f.fold}: training, validation and test rows overlap")
        path = cache / f"fold_{f.fold}.npz" if cache else None
        if path is not None and path.is_file():
            with np.load(path) as saved:
                if not np.array_equal(saved["test_index"], f.test):
                    raise ValueError(f"{path} was made with other folds; delete it")
                out = {k: saved[k] for k in saved.files if k not in ("test_index", "fit_seconds")}
                out.update(fit_seconds=float(saved["fit_seconds"]), cached=True)
        else:
            start = time.perf_counter()
            out = dict(fit_predict(f))
            # a fit_predict that reads a finished fold from a store of its own gives its training time
            out.setdefault("fit_seconds", time.perf_counter() - start)
            out.setdefault("cached", False)
            if path is not None:
                arrays = {k: np.asarray(v) for k, v in out.items()
                          if isinstance(v, (np.ndarray, float, int)) and k not in ("fit_seconds", "cached")}
                atomic_save_npz(path, **arrays, test_index=np.asarray(f.test), fit_seconds=out["fit_seconds"])
        out["fold"] = f
        outputs.append(out)
        if on_fold is not None:
            on_fold(out)
    return outputs


@dataclass
class FoldResults:
    """Pooled test predictions of one model over the folds of a protocol (:func:`pooled_results`).

    Attributes
    ----------
    protocol : str
        The protocol's name (e.g. "speaker-independent actor folds").
    per_fold : DataFrame
        One row per fold: its number, sizes, accuracy, macro F1, UAR, chosen
        hyper-parameters, fit seconds.
    pooled : dict
        Accuracy, macro F1 and UAR over all test predictions together.
    y_true, y_pred, index : arrays
        The pooled predictions (``index``: their rows of ``X``), for a confusion matrix
        and per-class recall.
    fit_seconds : float
        Training time of all folds, in seconds.
    labels : list
        The class order of the scores (and of the columns of ``proba``).
    proba : array (n, n_labels) or None
        Pooled test probabilities, when the model gives them.
    histories : list
        Training curves (one ``history_`` dict per model trained), for deep models.
    corrupted : dict
        (modality, mode) -> pooled scores with that modality corrupted at test time (fusion).
    models : list
        Each fold's fitted model, when kept.
    name : str
        The model's name, when the protocol runs several.
    """

    protocol: str
    per_fold: pd.DataFrame
    pooled: dict
    y_true: np.ndarray
    y_pred: np.ndarray
    index: np.ndarray
    fit_seconds: float
    labels: list = field(default_factory=list)
    proba: np.ndarray | None = None
    histories: list = field(default_factory=list)
    corrupted: dict = field(default_factory=dict)
    models: list = field(default_factory=list)
    name: str = ""

    def per_class_recall(self) -> pd.Series:
        """Recall of each class of ``labels`` over the pooled predictions."""
        return per_class_recall(self.y_true, self.y_pred, labels=self.labels)

    def summary(self) -> pd.Series:
        """Pooled scores plus mean and std over folds of the accuracy."""
        s = pd.Series(self.pooled, name=self.protocol)
        s["fold_accuracy_mean"] = self.per_fold["accuracy"].mean()
        s["fold_accuracy_std"] = self.per_fold["accuracy"].std(ddof=0)
        return s


def recall_table(results: dict) -> pd.DataFrame:
    """Per-class recall of several runs side by side (rows: classes, columns: runs).

    Parameters
    ----------
    results : dict name -> FoldResults

    Returns
    -------
    DataFrame
        One column per run, from :meth:`FoldResults.per_class_recall`.
    """
    return pd.DataFrame({name: res.per_class_recall() for name, res in results.items()})


HEADLINE = ("accuracy", "macro_f1", "uar")


def headline_scores(y_true, y_pred, *, labels=None) -> dict[str, float]:
    """Accuracy, macro F1 and UAR (the scores of every fold table).

    Parameters
    ----------
    y_true, y_pred : array (n,)
    labels : sequence or None
        Classes counted.

    Returns
    -------
    dict name -> float

    >>> headline_scores(["a", "b"], ["a", "a"])["accuracy"]
    0.5
    """
    scores = classification_scores(y_true, y_pred, labels=labels)
    return {k: scores[k] for k in HEADLINE}


def pooled_results(protocol: str, outputs: Sequence[dict], y, *, labels: Sequence, name: str = "",
                   keep_models: bool = False) -> FoldResults:
    """A :class:`FoldResults` from :func:`run_folds`' outputs of a single-label classifier.

    Parameters
    ----------
    protocol : str
        The protocol's name.
    outputs : list of dict
        Each with ``proba`` (columns in ``labels`` order) or ``pred`` (labels) for the
        fold's test rows; optional ``row`` (extra columns), ``model``, ``history``.
    y : array (n,)
        Every row's label.
    labels : list
        Class order of the scores.
    name : str
        The model's name.
    keep_models : bool
        Keep each fold's ``model`` in ``models``.

    Returns
    -------
    FoldResults
    """
    y = np.asarray(y)
    labels = list(labels)
    rows, trues, preds, probas, idx = [], [], [], [], []
    for out in outputs:
        f = out["fold"]
        if "proba" in out:
            probas.append(np.asarray(out["proba"]))
            pred = np.asarray(labels, dtype=object)[probas[-1].argmax(axis=1)]
            if y.dtype.kind == "U":  # its own width: y's could cut a longer label ("surprised" -> "surprise")
                pred = pred.astype(str)
            elif y.dtype.kind != "O":
                pred = pred.astype(y.dtype)
        else:
            pred = np.asarray(out["pred"])
        sizes = {"n_train": len(f.train)} | ({"n_val": len(f.val)} if f.val is not None else {})
        rows.append({"fold": f.fold, **f.info, **sizes, "n_test": len(f.test),
                     **headline_scores(y[f.test], pred, labels=labels), **out.get("row", {}),
                     "fit_seconds": out["fit_seconds"]})
        trues.append(y[f.test])
        preds.append(pred)
        idx.append(np.asarray(f.test))
    y_true, y_pred = np.concatenate(trues), np.concatenate(preds)
    return FoldResults(protocol, pd.DataFrame(rows), headline_scores(y_true, y_pred, labels=labels), y_true, y_pred,
                       np.concatenate(idx), float(sum(o["fit_seconds"] for o in outputs)), labels,
                       proba=np.concatenate(probas) if len(probas) == len(outputs) else None,
                       histories=[o["history"] for o in outputs if "history" in o],
                       models=[o["model"] for o in outputs] if keep_models else [], name=name)


def rescored(template: FoldResults, proba, *, name: str = "", labels: Sequence | None = None) -> FoldResults:
    """``template``'s folds and test rows scored with other probabilities (an ensemble, a fusion rule).

    Nothing is trained: the result keeps ``template``'s protocol, test rows, true labels
    and training time, and its per-fold table keeps the fold columns (``fold``,
    ``test_actors`` when present, ``n_test``) with the accuracy recomputed. Predictions
    take the type of ``template.y_true``, as in :func:`pooled_results`.

    Parameters
    ----------
    template : FoldResults
        The run whose folds and pooled test rows ``proba`` covers, in the same order.
    proba : array (n, n_labels)
        New probabilities, columns in ``labels`` order.
    name : str
        The new run's name.
    labels : sequence or None
        Class order of ``proba``; default ``template.labels``.

    Returns
    -------
    FoldResults

    >>> import pandas as pd
    >>> run = FoldResults("demo", pd.DataFrame({"fold": [0, 1], "n_test": [2, 2]}), {}, np.array(["a", "b", "a", "b"]),
    ...                   np.array(["a", "a", "a", "a"]), np.arange(4), 1.0, labels=["a", "b"])
    >>> new = rescored(run, [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
    >>> new.per_fold["accuracy"].tolist(), new.pooled["accuracy"]
    ([1.0, 0.5], 0.75)
    """
    labels = list(template.labels if labels is None else labels)
    proba = np.asarray(proba)
    if proba.shape != (len(template.y_true), len(labels)):
        raise ValueError(f"proba must be ({len(template.y_true)}, {len(labels)}): one row per test row of the "
                         f"template and one column per label, got {proba.shape}")
    y_true = np.asarray(template.y_true)
    y_pred = np.asarray(labels, dtype=object)[proba.argmax(axis=1)]
    if y_true.dtype.kind == "U":   # its own width, as in pooled_results
        y_pred = y_pred.astype(str)
    elif y_true.dtype.kind != "O":
        y_pred = y_pred.astype(y_true.dtype)
    keep = [c for c in ("fold", "test_actors", "n_test") if c in template.per_fold]
    per_fold = template.per_fold[keep].copy()
    bounds = np.cumsum([0] + per_fold["n_test"].tolist())
    per_fold["accuracy"] = [float(np.mean(y_true[a:b].astype(object) == y_pred[a:b].astype(object)))
                            for a, b in zip(bounds[:-1], bounds[1:])]
    return FoldResults(protocol=template.protocol, per_fold=per_fold,
                       pooled=headline_scores(y_true, y_pred, labels=labels), y_true=y_true, y_pred=y_pred,
                       index=template.index, fit_seconds=template.fit_seconds, labels=labels, proba=proba, name=name)
