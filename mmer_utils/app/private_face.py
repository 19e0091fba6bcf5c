"""Private mode of the video answer: the video never leaves the browser, only face emotions do.

While the candidate records, the page (``static/live_face.js``) finds the face and reads its
emotion in the browser, with the same two ONNX models as the server (YuNet and the shipped face
model; tests/test_browser_parity.py checks they agree). In private mode the form sends, instead
of the video, one JSON document::

    {"format": 1, "labels": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
     "frames": 41, "seconds": 8.2,
     "records": [{"f": 0, "t": 0.21, "p": [0.01, 0.0, 0.05, 0.8, 0.04, 0.03, 0.07],
                  "box": [250, 170, 140, 140], "score": 0.93}, ...]}

``frames``: frames analysed (with or without a face); one record per frame where a face was
found (the largest face): ``f`` its number among the analysed frames, ``t`` seconds since the
recording started, ``p`` the probabilities in ``labels`` order (FER2013), ``box`` and ``score``
from the detector. :func:`parse_face_json` checks it strictly (size, keys, labels, lengths,
finite numbers, probabilities that sum to 1, times in order and within the recording), so a
forged or broken document is one clear line on the answer page and nothing is stored.

:func:`face_timeline` turns it into the face timeline the portrait uses (the columns of
:mod:`mmer_utils.timeline`, as ``FaceEmotionModel.timeline`` gives), and
:func:`build_private_portrait` builds the face part of the portrait from it, with the same
combination and report as a server-side analysis.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..labels import FER2013, SHARED
from .media import InputError

FORMAT = 1
#: The file of a private answer, in the interview's inputs folder.
FILE_NAME = "face.json"
#: The most analysed frames a second a page may claim (the live overlay does at most 5).
MAX_RATE = 30
_KEYS = {"format", "labels", "frames", "seconds", "records"}
_RECORD_KEYS = {"f", "t", "p", "box", "score"}
#: What the report says the face input was.
INPUT_NAME = "face emotions computed in the browser (private mode: no video sent)"


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"Private mode: the face emotions sent are not valid ({what} must be a finite number).")
    return float(value)


def parse_face_json(raw, *, max_seconds: float, min_seconds: float = 0.0, max_bytes: int = 400_000) -> dict:
    """The checked document (see the module's docstring), or :class:`~mmer_utils.app.media.InputError`."""
    bad = "Private mode: the face emotions sent are not valid"
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise InputError("Private mode: no face emotions were sent. Record your answer with the camera "
                         "(the emotions are computed while you record), or switch private mode off.")
    data_bytes = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    if len(data_bytes) > max_bytes:
        raise InputError(f"{bad} (more than {max_bytes // 1000} kB).")
    try:
        data = json.loads(data_bytes.decode("utf-8"), parse_constant=lambda c: float("nan"))
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"{bad} (not JSON).") from None
    if not isinstance(data, dict) or set(data) != _KEYS:
        raise InputError(f"{bad} (expected the keys {', '.join(sorted(_KEYS))}).")
    if data["format"] != FORMAT:
        raise InputError(f"{bad} (format {data['format']!r}; this server reads format {FORMAT}).")
    if data["labels"] != list(FER2013):
        raise InputError(f"{bad} (the labels must be {', '.join(FER2013)}, in this order).")
    seconds = _number(data["seconds"], "seconds")
    if seconds > max_seconds + 1:
        raise InputError(f"The recording is {seconds:.0f} s long; the longest answer accepted is {max_seconds:.0f} s.")
    if seconds < min_seconds:
        raise InputError(f"The recording is too short ({seconds:.1f} s): answer for at least {min_seconds:.0f} s.")
    frames = data["frames"]
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 0 or frames > MAX_RATE * seconds + 10:
        raise InputError(f"{bad} (frames must be a whole number of analysed frames, at most {MAX_RATE} a second).")
    records = data["records"]
    if not isinstance(records, list) or len(records) > frames:
        raise InputError(f"{bad} (records must be a list, at most one per analysed frame).")
    last_t, last_f = -1.0, -1
    for k, rec in enumerate(records):
        if not isinstance(rec, dict) or not {"t", "p"} <= set(rec) <= _RECORD_KEYS:
            raise InputError(f"{bad} (record {k} must have t and p, and only f, t, p, box, score).")
        t = _number(rec["t"], f"record {k}'s time")
        if t < 0 or t > seconds + 1 or t < last_t:
            raise InputError(f"{bad} (record {k}'s time {t:g} s is outside the recording or out of order).")
        last_t = t
        p = rec["p"]
        if not isinstance(p, list) or len(p) != len(FER2013):
            raise InputError(f"{bad} (record {k} must have {len(FER2013)} probabilities).")
        p = [_number(v, f"record {k}'s probabilities") for v in p]
        if min(p) < 0 or max(p) > 1 or abs(sum(p) - 1) > 1e-3:
            raise InputError(f"{bad} (record {k}'s probabilities must be in [0, 1] and sum to 1).")
        if "f" in rec:
            f = rec["f"]
            if isinstance(f, bool) or not isinstance(f, int) or f <= last_f or f >= frames:
                raise InputError(f"{bad} (record {k}'s frame number must increase and stay below frames).")
            last_f = f
        if "box" in rec:
            box = rec["box"]
            if not isinstance(box, list) or len(box) != 4:
                raise InputError(f"{bad} (record {k}'s box must be [x, y, w, h]).")
            box = [_number(v, f"record {k}'s box") for v in box]
            if min(box) < 0 or box[2] <= 0 or box[3] <= 0 or max(box) > 100_000:
                raise InputError(f"{bad} (record {k}'s box must have a positive size).")
        if "score" in rec:
            score = _number(rec["score"], f"record {k}'s score")
            if not 0 <= score <= 1:
                raise InputError(f"{bad} (record {k}'s score must be in [0, 1]).")
    if not records:
        raise InputError(f"No face was found in the {frames} frames analysed in your browser: record again facing "
                         "the camera, with light on your face and nothing covering it.")
    return data


def accept(raw, *, video_upload, mode: str, folder: Path, config) -> str:
    """Check a private answer and save it as ``folder/face.json``; return the line describing the input.

    A video file sent with it is refused (private mode means that no video reaches the server).
    """
    if mode != "video":
        raise InputError("Private mode is for the video interview only (the other interviews need the recording).")
    if video_upload is not None:
        raise InputError("Private mode sends no video, but a video file came with the answer: switch private "
                         "mode off to send the video, or record again.")
    data = parse_face_json(raw, max_seconds=float(config["MAX_RECORDING_SECONDS"]),
                           min_seconds=float(config["MIN_RECORDING_SECONDS"]),
                           max_bytes=int(config["MAX_FACE_JSON_BYTES"]))
    (Path(folder) / FILE_NAME).write_text(json.dumps(data, allow_nan=False), encoding="utf-8")
    return f"face emotions from the browser, {data['seconds']:.0f} s (private mode: no video)"


def face_timeline(data: dict) -> pd.DataFrame:
    """The face timeline of a checked document: shared-vocabulary columns of :mod:`mmer_utils.timeline`,
    then frame, face, x, y, w, h, score (``attrs``: ``n_frames``, ``fps``, ``labels``, ``source``)."""
    from ..labels import source_of
    from ..timeline import shared_timeline

    labels = list(data["labels"])
    records = data["records"]
    proba = np.array([r["p"] for r in records], dtype=float).reshape(len(records), len(labels))
    box = np.array([r.get("box", [0, 0, 0, 0]) for r in records], dtype=float).reshape(len(records), 4)
    extra = pd.DataFrame({"frame": [int(r.get("f", k)) for k, r in enumerate(records)], "face": 0,
                          "x": box[:, 0].round().astype(int), "y": box[:, 1].round().astype(int),
                          "w": box[:, 2].round().astype(int), "h": box[:, 3].round().astype(int),
                          "score": [float(r.get("score", 1.0)) for r in records]})
    out = shared_timeline([r["t"] for r in records], proba, labels, source=source_of(labels), extra=extra)
    seconds = float(data["seconds"])
    out.attrs.update(n_frames=int(data["frames"]), fps=(data["frames"] / seconds) if seconds > 0 else 0.0,
                     labels=labels, source="browser")
    return out


def build_private_portrait(models, face_file, *, name: str = "candidate"):
    """The portrait of a private video answer: its face part from the browser's emotions, then the same
    combination as :func:`mmer_utils.portrait.build_portrait` (one modality: the face)."""
    from .. import labels as vocab
    from ..portrait.report import MODALITIES, Portrait, agreement_table, combine, pairwise_similarity

    data = parse_face_json(Path(face_file).read_text(encoding="utf-8"), max_seconds=float("inf"),
                           max_bytes=10**8)
    timeline = face_timeline(data)
    info = getattr(models, "info", {}) or {}
    described = models.describe() if hasattr(models, "describe") else {}
    face_model = described.get("face", "the course's face model")
    portrait = Portrait(name=str(name), created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        inputs={"text": None, "audio": None, "video": INPUT_NAME},
                        models={"face": f"{face_model} (run in the candidate's browser: onnxruntime-web, "
                                        "YuNet face detection)"},
                        quick_models=bool(info.get("quick", False)))
    portrait.face_timeline, portrait.face_frames = timeline, int(data["frames"])
    portrait.notes.append("face: analysed in the candidate's browser (private mode): the server received the "
                          "emotions of each analysed frame, never the video")
    if data["frames"] and len(timeline) < data["frames"]:
        portrait.notes.append(f"face: a face was found in {len(timeline)} of {data['frames']} analysed frames")
    dists = {"face": timeline[list(SHARED)].to_numpy().mean(axis=0)}
    portrait.source_probas = {m: pd.Series(p, index=list(vocab.vocabulary(MODALITIES[m]))) for m, p in dists.items()}
    shared = pd.DataFrame({m: vocab.to_shared_proba(p, MODALITIES[m]) for m, p in dists.items()},
                          index=list(SHARED)).T
    portrait.shared = shared
    portrait.combined = combine(dists, MODALITIES)
    portrait.agreement = agreement_table(shared, portrait.combined)
    portrait.similarity = pairwise_similarity(shared)
    portrait.notes += ["text: not given", "audio: not given"]
    return portrait
