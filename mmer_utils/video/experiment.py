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

import hashlib
import json
import time

import numpy as np

from .. import config
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
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return config.cache_dir("video_deep", kind, digest)


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
