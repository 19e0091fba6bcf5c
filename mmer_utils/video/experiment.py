"""The video chapter's face-model experiments on FER2013: data, settings, resumable deep training, scores.

The notebooks and the benchmark (``python -m mmer_utils.bench video``) run the same
experiments through these functions, so a full-mode notebook reuses the deep
trainings the benchmark already did (:func:`deep_cache_dir`), and the reverse.

Protocol: the official splits. Models train on Training, PublicTest (``val``) drives
early stopping and the learning rate and chooses the best deep model, and
PrivateTest (``test``) is predicted once per final model.

>>> deep_settings("mini_xception", full=False)["epochs"]
1
"""

from __future__ import annotations

import time

import numpy as np

from .. import config
from ..cache import settings_key
from ..labels import FER2013

#: Settings of the deep models (arguments of :func:`mmer_utils.video.models.make_estimator`).
DEEP: dict[str, dict] = {
    "simple_cnn": {"epochs": 25},
    "mini_xception": {"epochs": 40},
    # No class weights: PrivateTest accuracy is the headline, and weighting the rare
    # classes up trades majority-class accuracy for recall (mini-XCeption keeps them, so
    # the chapter shows both). Longer patience: PublicTest loss is noisy between epochs.
    "larger_cnn": {"epochs": 40, "class_weight": None, "patience": 10, "lr_patience": 4},
}
#: Settings of the HOG baselines (arguments of the pipelines of :mod:`mmer_utils.video.baselines`).
HOG: dict[str, dict] = {"hog_linear": {"C": 0.001}, "hog_rbf": {"C": 3.0}}
#: Quick smoke run: subset sizes, one epoch, tiny networks.
QUICK = {"train": 700, "val": 200, "test": 200, "rbf_train": 350, "epochs": 1,
         "deep": {"simple_cnn": {"filters": (8, 16, 16), "dense": 32},
                  "mini_xception": {"filters": (8, 16)},
                  "larger_cnn": {"filters": (8, 16), "dense": 16}}}
#: The quick mode of notebook 03_video/03 (a few minutes on 2 CPU cores). One or two epochs
#: of ~15 batches (the benchmark's quick smoke run) learn next to nothing; a few hundred
#: training steps (more faces, more epochs, smaller batches) is the least that learns
#: something. The networks stay the tiny ones of :data:`QUICK`. ``bn_momentum`` goes to
#: the builders with BatchNorm: with Keras' 0.99 the moving averages (used at prediction)
#: keep 0.99^500 ~ 0.007 of their start value (variance 1) after 500 steps, and the real
#: variance of the activations is far smaller (faces in [0, 1], small kernels that L2 keeps
#: shrinking, as BatchNorm undoes their scale): the moving variances stay several times too
#: large, and the network that learned in training answers one class at prediction. 0.9
#: forgets the start within ~50 steps (0.9^50 ~ 0.005); training steps are unchanged.
NOTEBOOK_QUICK = {"train": 2000, "eval": 300, "epochs": 8, "batch_size": 32, "bn_momentum": 0.9}
#: The builders that take ``bn_momentum`` (they have BatchNorm layers).
WITH_BATCHNORM = ("mini_xception", "larger_cnn")
#: Bump when a change of the code changes the results: deep trainings then start over.
VERSION = 1


def load_data(*, full: bool = True, seed: int = config.DEFAULT_SEED) -> dict:
    """FER2013's three official splits as model inputs.

    Parameters
    ----------
    full : bool
        False: the :data:`QUICK` stratified subsets.
    seed : int
        Seed of the subsets.

    Returns
    -------
    dict
        ``{"train": (X, y), "val": (X, y), "test": (X, y)}`` with ``X`` = ``to_model_input`` faces.
    """
    from .data import load_fer_arrays, to_model_input

    out = {}
    for split in ("train", "val", "test"):
        X, y = load_fer_arrays(split, limit=None if full else QUICK[split], seed=seed)
        out[split] = (to_model_input(X), y)
    return out


def deep_settings(kind: str, *, full: bool = True, **overrides) -> dict:
    """The settings of a deep model (:data:`DEEP`; quick ones with ``full=False``), with ``overrides``.

    Parameters
    ----------
    kind : str
        One of :data:`mmer_utils.video.models.KINDS`.
    full : bool
        False: one epoch and a tiny network (:data:`QUICK`).
    **overrides
        Settings that replace the chosen ones.

    Returns
    -------
    dict
        Arguments of :func:`mmer_utils.video.models.make_estimator`.
    """
    settings = dict(DEEP[kind])
    if not full:
        settings.update(QUICK["deep"].get(kind, {}), epochs=QUICK["epochs"])
    settings.update(overrides)
    return settings


def notebook_settings(kind: str, *, quick: bool, epochs: int | None = None, **overrides) -> dict:
    """The settings of a deep model in notebook 03_video/03: the benchmark's, or in quick mode
    the tiny networks of :data:`QUICK` trained for :data:`NOTEBOOK_QUICK`'s epochs and batch size
    (and its BatchNorm momentum, for the networks of :data:`WITH_BATCHNORM`).

    Parameters
    ----------
    kind : str
        One of :data:`mmer_utils.video.models.KINDS`.
    quick : bool
        The notebook's ``QUICK``.
    epochs : int or None
        None: :data:`NOTEBOOK_QUICK`'s in quick mode, :data:`DEEP`'s in full mode.
    **overrides
        Settings that replace the chosen ones.

    Returns
    -------
    dict
        Arguments of :func:`mmer_utils.video.models.make_estimator`.

    >>> s = notebook_settings("mini_xception", quick=True)
    >>> s["epochs"], s["batch_size"], s["filters"], s["bn_momentum"]
    (8, 32, (8, 16), 0.9)
    """
    settings = deep_settings(kind, full=not quick)
    if quick:
        settings.update(epochs=NOTEBOOK_QUICK["epochs"], batch_size=NOTEBOOK_QUICK["batch_size"])
        if kind in WITH_BATCHNORM:
            settings["bn_momentum"] = NOTEBOOK_QUICK["bn_momentum"]
    if epochs:
        settings["epochs"] = epochs
    settings.update(overrides)
    return settings


def prediction_check(y_true, proba, y_train, *, n_classes: int = 7) -> dict:
    """What a quick model's predictions show: collapse to a few classes, and where it stands
    against the majority class and chance.

    Parameters
    ----------
    y_true : array (n,)
        True class ids.
    proba : array (n, n_classes)
        Predicted probabilities (columns = class ids).
    y_train : array
        Training labels (the majority class is the training set's).
    n_classes : int

    Returns
    -------
    dict
        ``counts`` (predictions per class), ``n_predicted`` (classes predicted at least once),
        ``top`` (most predicted class id), ``top_share``, ``accuracy``, ``majority``
        (accuracy of always answering the training majority class), ``uar`` (mean recall),
        ``chance`` (1 / n_classes), ``collapsed`` (one class takes >= 90 % of the predictions),
        ``below_majority``, ``below_chance`` (UAR not above chance).

    >>> c = prediction_check([0, 1, 1], np.array([[.9, .1], [.8, .2], [.7, .3]]), [1, 1, 0], n_classes=2)
    >>> c["n_predicted"], c["collapsed"], c["below_majority"]
    (1, True, True)
    """
    from .. import evaluation

    y_true = np.asarray(y_true)
    pred = np.asarray(proba).argmax(axis=1)
    counts = np.bincount(pred, minlength=n_classes)
    labels = list(range(n_classes))
    out = {"counts": counts, "n_predicted": int((counts > 0).sum()), "top": int(counts.argmax()),
           "top_share": float(counts.max() / max(len(pred), 1)), "accuracy": evaluation.accuracy(y_true, pred),
           "majority": evaluation.majority_baseline(np.asarray(y_train), y_true),
           "uar": evaluation.uar(y_true, pred, labels=labels), "chance": 1.0 / n_classes}
    out["collapsed"] = out["top_share"] >= 0.9
    out["below_majority"] = out["accuracy"] <= out["majority"]
    out["below_chance"] = out["uar"] <= out["chance"]
    return out


def what_went_wrong(check: dict, history: dict | None = None, *, names=FER2013) -> list[str]:
    """Plain sentences on a model's quick run, from :func:`prediction_check` and its training history.

    Parameters
    ----------
    check : dict
        :func:`prediction_check`'s result.
    history : dict or None
        ``KerasEstimator.history_`` (``accuracy``, ``val_accuracy``, ``loss``, ``val_loss``).
    names : sequence of str
        Class names, by id.

    Returns
    -------
    list of str
        One sentence per finding (collapse, below the majority class, below chance, or else
        "learned something"; then over-fitting and "still improving" when the history shows them).
    """
    out = []
    top = names[check["top"]]
    if check["collapsed"]:
        out.append(f"collapse: {check['top_share']:.0%} of the predictions are '{top}' "
                   f"({check['n_predicted']} {'class' if check['n_predicted'] == 1 else 'classes'} predicted at all): "
                   "the network has not learned to tell the faces apart")
    elif check["n_predicted"] < len(check["counts"]):
        out.append(f"{check['n_predicted']} of {len(check['counts'])} classes are ever predicted; "
                   f"'{top}' takes {check['top_share']:.0%} of the answers")
    if check["below_majority"]:
        out.append(f"accuracy {check['accuracy']:.3f} is not above always answering the majority class "
                   f"({check['majority']:.3f})")
    if check["below_chance"]:
        out.append(f"the mean recall per class (UAR) {check['uar']:.3f} is not above chance ({check['chance']:.3f})")
    if not out:
        out.append(f"learned something: accuracy {check['accuracy']:.3f} above the majority class "
                   f"({check['majority']:.3f}), UAR {check['uar']:.3f} above chance ({check['chance']:.3f}), "
                   f"{check['n_predicted']} classes predicted")
    if history and "val_accuracy" in history and "accuracy" in history:
        best = int(np.argmax(history["val_accuracy"]))
        gap = history["accuracy"][best] - history["val_accuracy"][best]
        if gap > 0.15:
            out.append(f"over-fitting: at its best epoch it is right on {history['accuracy'][best]:.2f} of its "
                       f"training faces but {history['val_accuracy'][best]:.2f} of PublicTest")
        if best == len(history["val_accuracy"]) - 1 and len(history["val_accuracy"]) > 1:
            out.append("still improving at the last epoch: more epochs (or more faces) would help")
    return out


def native_logs_off() -> None:
    """Send this process's native (C++) log lines to ``/dev/null`` from now on.

    MediaPipe and TensorFlow write start-up and per-graph lines ("Sets FaceBlendshapesGraph
    acceleration to xnnpack", "oneDNN custom operations are on") straight to file
    descriptor 2, which a notebook shows as output. After this call they are gone; Python's
    own warnings and errors still show (IPython writes them through ``sys.stderr``, not
    the descriptor). For notebooks; a command-line tool uses
    :func:`mmer_utils.config.import_tensorflow_quietly`.
    """
    import os
    import sys

    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def deep_cache_dir(kind: str, settings: dict, n_train: int):
    """``cache_dir("video_deep", kind, <hash>)``: the resumable state of one configuration.

    The hash covers every setting except ``epochs`` (so that a longer run continues a
    shorter one), the training-set size and :data:`VERSION`.

    Parameters
    ----------
    kind : str
    settings : dict
        As :func:`deep_settings` returns them.
    n_train : int
        Number of training faces.

    Returns
    -------
    Path
    """
    key = {k: v for k, v in settings.items() if k not in ("epochs", "verbose")}
    key.update(kind=kind, n_train=n_train, version=VERSION)
    return config.cache_dir("video_deep", kind, settings_key(key))


def fit_deep(kind: str, data: dict, *, settings: dict | None = None, resumable: bool = True, verbose: int = 0):
    """Train (or resume, or reload) one deep model on ``data["train"]`` with ``data["val"]`` for selection.

    Parameters
    ----------
    kind : str
        One of :data:`mmer_utils.video.models.KINDS`.
    data : dict
        As :func:`load_data` returns it.
    settings : dict or None
        Default: :func:`deep_settings` ``(kind)``.
    resumable : bool
        True keeps the state in :func:`deep_cache_dir`, shared by the benchmark and the
        notebooks in full mode; False trains in memory (quick runs).
    verbose : int
        Keras' verbosity.

    Returns
    -------
    FaceEstimator
        Fitted, with the best PublicTest epoch.
    """
    from . import models

    settings = dict(settings if settings is not None else deep_settings(kind))
    X, y = data["train"]
    ckpt = deep_cache_dir(kind, settings, len(X)) if resumable else None
    est = models.make_estimator(kind, checkpoint_dir=ckpt, verbose=verbose, **settings)
    if ckpt is None:
        est.set_params(checkpoint_dir=None)
    est.fit(X, y, validation_data=data["val"])
    return est


def evaluate(name: str, est, data: dict, *, tta: bool = False, train_seconds: float | None = None) -> dict:
    """Scores of a fitted face classifier on PublicTest (``val``) and PrivateTest (``test``).

    Parameters
    ----------
    name : str
        The model's name in the result.
    est : fitted classifier with ``predict_proba``
    data : dict
        As :func:`load_data` returns it.
    tta : bool
        Average each face's probabilities with its mirror image's (:func:`~mmer_utils.video.models.predict_proba_tta`).
    train_seconds : float or None
        Training time in seconds, copied into the result.

    Returns
    -------
    dict
        name, val_proba, test_proba, val_y, test_y, accuracy (test), macro_f1 (test),
        val_accuracy, per_class_recall (test, by emotion), images_per_second, train_seconds.
    """
    from .. import evaluation
    from .models import predict_proba_tta

    (Xv, yv), (Xt, yt) = data["val"], data["test"]

    def proba(X):
        return predict_proba_tta(est, X) if tta else np.asarray(est.predict_proba(X))

    proba(Xt[:8])  # warm-up: graph building and lazy loading are not classification speed
    start = time.perf_counter()
    test_proba = proba(Xt)
    speed = len(Xt) / (time.perf_counter() - start)
    val_proba = proba(Xv)
    labels = list(range(len(FER2013)))
    pred = test_proba.argmax(axis=1)
    recall = evaluation.per_class_recall(yt, pred, labels=labels)
    return {"name": name, "val_proba": val_proba, "test_proba": test_proba, "val_y": yv, "test_y": yt,
            "accuracy": evaluation.accuracy(yt, pred), "macro_f1": evaluation.macro_f1(yt, pred, labels=labels),
            "val_accuracy": evaluation.accuracy(yv, val_proba.argmax(axis=1)),
            "per_class_recall": {FER2013[i]: round(float(r), 4) for i, r in enumerate(recall)},
            "images_per_second": speed, "train_seconds": train_seconds}
