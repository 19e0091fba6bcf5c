"""Metrics and figures shared by every chapter.

``uar`` (unweighted average recall, the mean of per-class recalls) is the usual
headline in speech emotion recognition, because it does not reward a model for
favouring frequent classes; ``weighted_f1`` is MELD's official metric.

>>> y = ["a", "a", "b", "b"]; p = ["a", "a", "a", "b"]
>>> round(uar(y, p), 3)
0.75
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm


def accuracy(y_true, y_pred) -> float:
    """Fraction of correct predictions."""
    return float(skm.accuracy_score(y_true, y_pred))


def macro_f1(y_true, y_pred, *, labels=None) -> float:
    """F1 averaged over classes with equal weight."""
    return float(skm.f1_score(y_true, y_pred, average="macro", labels=labels, zero_division=0))


def weighted_f1(y_true, y_pred, *, labels=None) -> float:
    """F1 averaged over classes weighted by their support (MELD's metric)."""
    return float(skm.f1_score(y_true, y_pred, average="weighted", labels=labels, zero_division=0))


def uar(y_true, y_pred, *, labels=None) -> float:
    """Unweighted average recall: the mean of per-class recalls (balanced accuracy)."""
    return float(skm.recall_score(y_true, y_pred, average="macro", labels=labels, zero_division=0))


def per_class_recall(y_true, y_pred, *, labels: Sequence) -> pd.Series:
    """Recall of each class in ``labels`` order."""
    values = skm.recall_score(y_true, y_pred, average=None, labels=labels, zero_division=0)
    return pd.Series(values, index=list(labels), name="recall")


def classification_scores(y_true, y_pred, *, labels=None) -> dict[str, float]:
    """accuracy, macro F1, weighted F1 and UAR in one dict."""
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

    Returns a_only, b_only, difference (accuracy of a minus that of b) and p_value.

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
    """Accuracy of always predicting the most frequent training label: the floor to beat."""
    values, counts = np.unique(np.asarray(y_train), return_counts=True)
    return float(np.mean(np.asarray(y_test) == values[np.argmax(counts)]))


def plot_confusion_matrix(y_true, y_pred, *, labels: Sequence, normalize: bool = True,
                          title: str | None = None, ax=None, cmap: str = "Blues"):
    """Draw a confusion matrix (rows: true class; normalised per row by default); return the axes."""
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
