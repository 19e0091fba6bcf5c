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

The comparison itself is :func:`mmer_utils.video.landmark_experiment.landmark_emotion_experiment`
(the notebook calls it too); this module runs and records it.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..results import BenchRecord
# the experiment lives in the video package; the benchmark only runs and records it
from ..video.landmark_experiment import landmark_emotion_experiment, pick_image_model  # noqa: F401

CHAPTER = "video"
#: Every row of this benchmark starts with it; a full run replaces all of them (see save_records).
OWNED_PREFIX = "landmarks: "
#: Name of the saved predictions (for the ensemble chapter) of the landmark model, in full mode.
LANDMARK_MODEL_NAME = "landmarks: blendshapes + geometry + LR"
QUICK_SIZES = {"n_train": 300, "n_val": 200, "n_test": 200}
#: Full mode: MediaPipe on 6,000 Training faces (~9 ms each); a HOG image model sees every Training face.
FULL_SIZES = {"n_train": 6000, "n_val": None, "n_test": None, "image_train": None}


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
