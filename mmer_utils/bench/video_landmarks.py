"""``python -m mmer_utils.bench video-landmarks --full``: do landmarks and blendshapes help emotion?

MediaPipe's FaceLandmarker (:mod:`mmer_utils.video.landmarks`) runs on a stratified subset of
FER2013 Training and on PublicTest / PrivateTest faces (upscaled to 192 px and padded). Then,
on PrivateTest (the held-out split, never used for any choice):

* logistic regression on the 52 blendshapes, on the geometric features, on both
  (trained on the Training subset, C chosen on PublicTest);
* an *image model* alone: the saved predictions of the video benchmark with the best PublicTest
  accuracy (:func:`pick_image_model`) when there are any, else HOG + linear SVM
  (:func:`mmer_utils.video.baselines.hog_linear_svm`) trained here (quick: on the same Training
  subset; full: on all Training faces, as it needs no landmarks);
* the image model recalibrated on PublicTest (a control: stacking also recalibrates);
* the image model + blendshapes (+ geometry), stacked: a logistic regression over the
  log-probabilities of the image model and of the landmark model, **fit on PublicTest**;
* the detection rate of the landmarker and its time per face;
* the blink count error on synthetic videos built from real FER faces with open and closed eyes
  (selected by MediaPipe's own eyeBlink score, see :func:`mmer_utils.video.blinks.eye_state_faces`).

In full mode the landmark model's PublicTest / PrivateTest probabilities are saved under
:data:`LANDMARK_MODEL_NAME` (:func:`mmer_utils.video.data.save_predictions`), so that the
ensemble chapter stacks it with the image models.

Faces the landmarker misses keep their row (features imputed with the training medians, plus
a ``found`` indicator), so every model is scored on the same PrivateTest faces.

Quick mode (no ``--full``): 300 training, 200 PublicTest and 200 PrivateTest faces, one blink
video; full: 6,000 training faces and all 3,589 + 3,589 test faces, five blink videos.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..results import BenchRecord

CHAPTER = "video"
#: Every row of this benchmark starts with it; a full run replaces all of them (see save_records).
OWNED_PREFIX = "landmarks: "
#: Name of the saved predictions (for the ensemble chapter) of the landmark model, in full mode.
LANDMARK_MODEL_NAME = "landmarks: blendshapes + geometry + LR"
QUICK_SIZES = {"n_train": 300, "n_val": 200, "n_test": 200}
#: Full mode: MediaPipe on 6,000 Training faces (~9 ms each); a HOG image model sees every Training face.
FULL_SIZES = {"n_train": 6000, "n_val": None, "n_test": None, "image_train": None}


def _lr(C: float, seed: int):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         LogisticRegression(C=C, max_iter=3000, random_state=seed))


def _log(p):
    return np.log(np.clip(p, 1e-6, 1.0))


def pick_image_model() -> str | None:
    """The saved predictions (video benchmark) to use as image model, or None when there are none.

    The one with the best **PublicTest** accuracy among the models trained on FER2013 Training
    (the ``fer`` package's pretrained peer and this benchmark's own landmark model excluded):
    chosen like any model, never on PrivateTest.
    """
    from ..video.data import PEER_PREFIX, list_predictions, load_predictions

    best = None
    for name in list_predictions():
        if name.lower().startswith(PEER_PREFIX) or name.startswith("landmarks:"):
            continue
        saved = load_predictions(name)
        acc = float(np.mean(saved["val_proba"].argmax(axis=1) == saved["val_y"]))
        if best is None or acc > best[0]:
            best = (acc, name)
    return None if best is None else best[1]


def landmark_emotion_experiment(*, n_train: int | None = 300, n_val: int | None = 200, n_test: int | None = 200,
                                seed: int = 42, image_model: str | None = "auto", image_train="same",
                                grid_c=(0.01, 0.1, 1.0), progress: bool = False) -> dict:
    """Run the whole comparison; return a dict with ``table`` (one row per model) and details.

    ``image_model``: "auto" (saved predictions if any, else HOG + linear SVM trained here), the
    name of saved predictions, or "hog" (always train HOG + linear SVM here).
    ``image_train``: the Training faces of that HOG + linear SVM: "same" (the landmark models'
    ``n_train`` faces), a number (a stratified subset) or None (all 28,709: the image model
    needs no landmarks, so it can use every face).

    Returns keys: table (DataFrame: model, features, accuracy, macro_f1, uar, n_test), detection
    (DataFrame per split: n, found, rate), ms_per_face, image_model (its description),
    features (dict split -> DataFrame), y (dict split -> labels), proba (dict model -> test probabilities),
    models (feature set -> fitted pipeline), feature_sets (feature set -> its columns).
    """
    from .. import evaluation
    from ..video import data
    from ..video.landmarks import BLENDSHAPE_NAMES, GEOMETRY_NAMES, face_features

    sizes = {"train": n_train, "val": n_val, "test": n_test}
    X, y = {}, {}
    index = {}
    for split, limit in sizes.items():
        Xs, ys = data.load_fer_arrays(split)
        keep = data.stratified_subset(ys, limit, seed=seed)
        X[split], y[split], index[split] = Xs[keep], ys[keep], keep
    feats, ms = {}, {}
    for split in sizes:
        feats[split] = face_features(X[split], progress=progress)
        ms[split] = feats[split].attrs.get("ms_per_face", np.nan)
    detection = pd.DataFrame({split: {"n": len(f), "found": int(f["found"].sum()), "rate": float(f["found"].mean())}
                              for split, f in feats.items()}).T
    sets = {"blendshapes": list(BLENDSHAPE_NAMES) + ["found"],
            "geometry": list(GEOMETRY_NAMES) + ["found"],
            "blendshapes + geometry": list(BLENDSHAPE_NAMES) + list(GEOMETRY_NAMES) + ["found"]}
    rows, proba, val_proba, chosen, models = [], {}, {}, {}, {}

    def score(name, features, p, seconds):
        pred = np.argmax(p, axis=1)
        s = evaluation.classification_scores(y["test"], pred)
        found = feats["test"]["found"].to_numpy()
        rows.append({"model": name, "features": features, "accuracy": s["accuracy"], "macro_f1": s["macro_f1"],
                     "uar": s["uar"], "accuracy_on_found": evaluation.accuracy(y["test"][found], pred[found]),
                     "n_test": len(pred), "seconds": round(seconds, 1)})
        proba[name] = p

    for set_name, cols in sets.items():
        t = time.perf_counter()
        Xtr = feats["train"][cols].to_numpy(float)
        best = None
        for C in grid_c:  # chosen on PublicTest, never on PrivateTest
            model = _lr(C, seed).fit(Xtr, y["train"])
            acc = evaluation.accuracy(y["val"], model.predict(feats["val"][cols].to_numpy(float)))
            if best is None or acc > best[0]:
                best = (acc, C, model)
        _, C, model = best
        chosen[set_name] = C
        models[set_name] = model
        val_proba[set_name] = model.predict_proba(feats["val"][cols].to_numpy(float))
        score(f"{set_name} + LR", set_name, model.predict_proba(feats["test"][cols].to_numpy(float)),
              time.perf_counter() - t)

    # the image model: probabilities on the same PublicTest / PrivateTest faces
    t = time.perf_counter()
    name = pick_image_model() if image_model == "auto" else (None if image_model == "hog" else image_model)
    img_val = img_test = None
    if name is not None:
        saved = data.load_predictions(name)
        if len(saved["val_y"]) == len(data.load_fer_arrays("val")[1]) and \
                len(saved["test_y"]) == len(data.load_fer_arrays("test")[1]) and \
                np.array_equal(saved["val_y"][index["val"]], y["val"]) and \
                np.array_equal(saved["test_y"][index["test"]], y["test"]):
            img_val, img_test = saved["val_proba"][index["val"]], saved["test_proba"][index["test"]]
            description = f"{name} (saved predictions of the video benchmark)"
        else:  # saved on a different subset: cannot be aligned with these faces
            name = None
    if name is None:
        from ..video.baselines import hog_linear_svm

        if isinstance(image_train, str) and image_train == "same":
            Xi, yi, which = X["train"], y["train"], "the same"
        else:
            Xi, yi = data.load_fer_arrays("train", limit=image_train, seed=seed)
            which = "all" if image_train is None else "a stratified subset of"
        hog = hog_linear_svm().fit(data.to_model_input(Xi), yi)
        img_val = hog.predict_proba(data.to_model_input(X["val"]))
        img_test = hog.predict_proba(data.to_model_input(X["test"]))
        description = f"HOG + linear SVM (trained here on {which} {len(yi)} Training faces)"
    score("image model", "pixels", img_test, time.perf_counter() - t)

    def stack(inputs_val, inputs_test, label, features):
        t = time.perf_counter()
        from sklearn.linear_model import LogisticRegression

        combiner = LogisticRegression(C=1.0, max_iter=3000, random_state=seed)
        combiner.fit(np.hstack([_log(p) for p in inputs_val]), y["val"])  # fit on PublicTest only
        score(label, features, combiner.predict_proba(np.hstack([_log(p) for p in inputs_test])),
              time.perf_counter() - t)

    stack([img_val], [img_test], "image model, recalibrated on PublicTest", "pixels")
    stack([img_val, val_proba["blendshapes"]], [img_test, proba["blendshapes + LR"]],
          "image model + blendshapes (stacked)", "pixels + blendshapes")
    stack([img_val, val_proba["geometry"]], [img_test, proba["geometry + LR"]],
          "image model + geometry (stacked)", "pixels + geometry")
    stack([img_val, val_proba["blendshapes + geometry"]], [img_test, proba["blendshapes + geometry + LR"]],
          "image model + blendshapes + geometry (stacked)", "pixels + blendshapes + geometry")
    majority = evaluation.majority_baseline(y["train"], y["test"])
    rows.append({"model": "majority class", "features": "-", "accuracy": majority, "macro_f1": np.nan,
                 "uar": 1 / 7, "accuracy_on_found": np.nan, "n_test": len(y["test"]), "seconds": 0.0})
    table = pd.DataFrame(rows)
    return {"table": table, "detection": detection, "ms_per_face": float(np.nanmean(list(ms.values()))),
            "image_model": description, "chosen_C": chosen, "features": feats, "y": y, "proba": proba,
            "val_proba": val_proba, "index": index,
            "models": models, "feature_sets": sets, "sizes": {k: len(v) for k, v in y.items()}}


def blink_experiment(*, n_videos: int = 1, n_candidates: int = 300, fps: float = 10.0, seconds: float = 20.0,
                     n_blinks: int = 8, seed: int = 42, workdir=None) -> pd.DataFrame:
    """Count blinks on synthetic videos of real FER faces; one row per (video, signal) with the error."""
    import tempfile
    from pathlib import Path

    from ..video import blinks, data

    Xc, _ = data.load_fer_arrays("train", limit=n_candidates, seed=seed)
    open_idx, closed_idx, _ = blinks.eye_state_faces(Xc, n=3)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(workdir or tmp)
        for v in range(n_videos):
            frames, truth = blinks.blink_test_frames(Xc[open_idx], Xc[closed_idx], fps=fps, seconds=seconds,
                                                     n_blinks=n_blinks, seed=seed + v)
            path = blinks.write_video(folder / f"blinks_{v}.mp4", frames, fps=fps)
            t = time.perf_counter()
            sig = blinks.blink_signal(path)
            ms = 1000 * (time.perf_counter() - t) / len(sig)
            true_count = int(np.sum(np.diff(np.r_[0, truth.astype(int)]) == 1))
            for column, closed_when in (("blink", "above"), ("ear", "below")):
                res = blinks.count_blinks(sig[column], sig.attrs["fps"], closed_when=closed_when)
                rows.append({"video": v, "signal": column, "true": true_count, "counted": res.count,
                             "abs_error": abs(res.count - true_count), "threshold": res.threshold,
                             "method": res.method, "detection_rate": sig.attrs["detection_rate"],
                             "ms_per_frame": ms})
    return pd.DataFrame(rows)


def n_full_splits(res: dict) -> bool:
    """True when the experiment ran on every PublicTest and PrivateTest face, in file order
    (the layout of the saved predictions of the video benchmark)."""
    from ..video.data import load_fer_arrays

    return all(np.array_equal(res["index"][split], np.arange(len(load_fer_arrays(split)[1])))
               for split in ("val", "test"))


def run(full: bool = False, command: str = "python -m mmer_utils.bench video-landmarks") -> list[BenchRecord]:
    """Both experiments; one :class:`BenchRecord` per number (chapter "video")."""
    sizes = FULL_SIZES if full else QUICK_SIZES
    start = time.perf_counter()
    res = landmark_emotion_experiment(**sizes, progress=full)
    seconds = round(time.perf_counter() - start, 1)
    extra = {"full": full, "sizes": res["sizes"], "image_model": res["image_model"],
             "chosen_C": {k: float(v) for k, v in res["chosen_C"].items()},
             "detection_rate": {k: round(float(v), 4) for k, v in res["detection"]["rate"].items()}}
    protocol = (f"FER2013 PrivateTest ({res['sizes']['test']} faces); trained on {res['sizes']['train']} "
                f"Training faces, C and stacking on PublicTest ({res['sizes']['val']})")
    if full and n_full_splits(res):
        from ..video.data import save_predictions

        save_predictions(LANDMARK_MODEL_NAME, val_proba=res["val_proba"]["blendshapes + geometry"],
                         test_proba=res["proba"]["blendshapes + geometry + LR"], val_y=res["y"]["val"],
                         test_y=res["y"]["test"])
    records = []
    for row in res["table"].itertuples():
        name = row.model if row.model != "image model" else f"image model: {res['image_model']}"
        for metric in ("accuracy", "macro_f1"):
            value = getattr(row, metric)
            if np.isfinite(value):
                records.append(BenchRecord(chapter=CHAPTER, model=f"landmarks: {name}", protocol=protocol,
                                           split="test", metric=metric, value=float(value),
                                           train_seconds=float(row.seconds), command=command,
                                           extra={**extra, "accuracy_on_found": float(row.accuracy_on_found)}))
    det = res["detection"]
    for split in det.index:
        records.append(BenchRecord(chapter=CHAPTER, model="MediaPipe FaceLandmarker",
                                   protocol=f"FER2013 {split} ({int(det.loc[split, 'n'])} faces, upscaled to 192 px + 48 px pad)", split=split, metric="detection_rate",
                                   value=float(det.loc[split, "rate"]), train_seconds=None, command=command,
                                   extra={"n": int(det.loc[split, "n"]), "found": int(det.loc[split, "found"])}))
    records.append(BenchRecord(chapter=CHAPTER, model="MediaPipe FaceLandmarker",
                               protocol="IMAGE mode, CPU, mean time of detect() per face", split="all", metric="ms_per_face",
                               value=res["ms_per_face"], train_seconds=seconds, command=command, extra={}))
    blink = blink_experiment(n_videos=5 if full else 1, n_candidates=1000 if full else 300)
    for column, group in blink.groupby("signal"):
        records.append(BenchRecord(
            chapter=CHAPTER, model=f"blink count ({'eyeBlink blendshapes' if column == 'blink' else 'eye aspect ratio'},"
                                   f" threshold from the data)",
            protocol=f"{len(group)} synthetic 20 s videos of real FER faces (open/closed eyes chosen by eyeBlink score)",
            split="test", metric="blink_count_abs_error", value=float(group["abs_error"].sum()),
            train_seconds=None, command=command,
            extra={"true_blinks": int(group["true"].sum()), "counted": int(group["counted"].sum()),
                   "methods": sorted(set(group["method"])), "ms_per_frame": round(float(group["ms_per_frame"].mean()), 1)}))
    return records
