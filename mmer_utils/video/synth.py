"""Test photos and videos made of real FER2013 faces, with known faces and emotions.

FER2013 faces are tight 48x48 crops: a detector needs context around a face to
see a face, so :func:`make_face_photo` and :func:`make_face_video` upscale each
face (``face_size`` pixels, 160 by default) and paste it, with soft edges, on a
smooth textured background, leaving background all around it. The layout is
known, so detectors can be scored (:func:`~mmer_utils.video.faces.compare_detectors`
with ``truth``) and the emotion timeline of the pipeline compared with the true
labels (:func:`face_video_truth`).

The faces drift by a few pixels from frame to frame, so a video is not a still
image repeated (and face tracking has something to do).

>>> faces, labels = sample_fer_faces(6, seed=0)                          # doctest: +SKIP
>>> path = make_face_video("build/demo.mp4", faces, faces_per_frame=2)   # doctest: +SKIP
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import MmerError
from ..labels import FER2013
from .io import VideoWriter


class SynthError(MmerError, ValueError):
    """Settings of a synthetic photo or video that cannot work (faces do not fit, no faces...)."""


def sample_fer_faces(n: int, *, split: str = "test", seed: int = 0, emotions: Sequence[str] | None = None,
                     root=None) -> tuple[np.ndarray, list[str]]:
    """``n`` real FER2013 faces (uint8 ``(n, 48, 48)``) and their emotion names.

    ``split`` is the course's name (train / val / test = PrivateTest); ``emotions``
    cycles through the given emotions (one face each, in turn), otherwise the
    faces are a random sample of the split.
    """
    from ..datasets import load_fer2013, load_fer2013_images
    from .data import SPLITS

    if split not in SPLITS:
        raise SynthError(f"split must be one of {list(SPLITS)}, got {split!r}")
    df = load_fer2013(root)
    df = df[df["usage"] == SPLITS[split]]
    rng = np.random.default_rng(seed)
    if emotions is None:
        pick = df.iloc[rng.choice(len(df), size=n, replace=n > len(df))]
    else:
        unknown = sorted(set(emotions) - set(FER2013))
        if unknown:
            raise SynthError(f"unknown emotion(s) {unknown}; FER2013 has {list(FER2013)}")
        rows = []
        pools = {e: df[df["label"] == e] for e in set(emotions)}
        for i in range(n):
            pool = pools[emotions[i % len(emotions)]]
            rows.append(pool.iloc[int(rng.integers(len(pool)))])
        pick = pd.DataFrame(rows)
    return load_fer2013_images(pick), pick["label"].tolist()


def background(size: tuple[int, int] = (640, 480), *, seed: int = 0) -> np.ndarray:
    """A smooth, textured BGR background ``(height, width, 3)``: a colour gradient plus blurred noise."""
    import cv2

    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(70, 170, 3).astype(np.float32)
    tilt = rng.uniform(-50, 50, (2, 3)).astype(np.float32)
    img = base + (xx[..., None] / w - 0.5) * tilt[0] + (yy[..., None] / h - 0.5) * tilt[1]
    noise = cv2.GaussianBlur(rng.normal(0, 25, (h, w, 3)).astype(np.float32), (0, 0), 6)
    img = img + noise + rng.normal(0, 4, (h, w, 3)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _paste(frame: np.ndarray, face: np.ndarray, x: int, y: int, size: int) -> None:
    """Paste a gray face, upscaled to ``size``, at (x, y) with soft edges (in place)."""
    import cv2

    big = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    # a feathered border: a hard square edge would be the strongest "feature" in the picture
    ramp = np.clip(np.minimum(np.arange(size), np.arange(size)[::-1]) / max(1.0, 0.06 * size), 0, 1)
    alpha = np.minimum.outer(ramp, ramp)[..., None]
    region = frame[y:y + size, x:x + size].astype(np.float32)
    frame[y:y + size, x:x + size] = np.rint(big[..., None] * alpha + region * (1 - alpha)).astype(np.uint8)


def _slots(n: int, frame_size: tuple[int, int], face_size: int) -> list[tuple[int, int]]:
    """Top-left corners of ``n`` faces on a grid, each with a margin of background."""
    w, h = frame_size
    cols = math.ceil(math.sqrt(n * w / h))
    cols = min(max(1, cols), n)
    rows = math.ceil(n / cols)
    cell_w, cell_h = w / cols, h / rows
    if face_size * 1.25 > min(cell_w, cell_h):
        raise SynthError(f"{n} faces of {face_size} px do not fit in {w}x{h} with a margin; use a smaller "
                         f"face_size (at most {int(min(cell_w, cell_h) / 1.25)}) or fewer faces per frame")
    return [(int(c * cell_w + (cell_w - face_size) / 2), int(r * cell_h + (cell_h - face_size) / 2))
            for r in range(rows) for c in range(cols)][:n]


def _check_faces(faces) -> np.ndarray:
    faces = np.asarray(faces)
    if faces.ndim == 2:
        faces = faces[None]
    if faces.ndim != 3 or len(faces) == 0 or faces.dtype != np.uint8:
        raise SynthError(f"faces must be a non-empty uint8 array (n, h, w) of grayscale faces, got "
                         f"{faces.dtype} {faces.shape}")
    return faces


def make_face_photo(faces, *, image_size: tuple[int, int] = (640, 480), face_size: int = 160, jitter: int = 10,
                    seed: int = 0) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A still BGR photo with every face of ``faces`` (uint8 ``(n, 48, 48)``) on a background.

    Returns ``(image, boxes)``: ``boxes[i]`` is ``(x, y, w, h)`` of the pasted square of
    face ``i`` (the whole 48x48 crop; a detector's box is usually a bit smaller).
    ``jitter`` moves each face up to that many pixels away from its grid slot.
    """
    faces = _check_faces(faces)
    rng = np.random.default_rng(seed)
    image = background(image_size, seed=seed)
    w, h = image_size
    boxes = []
    for face, (x, y) in zip(faces, _slots(len(faces), image_size, face_size)):
        dx, dy = rng.integers(-jitter, jitter + 1, 2) if jitter else (0, 0)
        x = int(np.clip(x + dx, 0, w - face_size))
        y = int(np.clip(y + dy, 0, h - face_size))
        _paste(image, face, x, y, face_size)
        boxes.append((x, y, face_size, face_size))
    return image, boxes


def face_video_truth(n_faces: int, *, fps: float = 10, frame_size: tuple[int, int] = (640, 480),
                     seconds_per_face: float = 1.0, faces_per_frame: int = 1, face_size: int = 160,
                     seed: int = 0) -> pd.DataFrame:
    """Where every face is in the video :func:`make_face_video` makes with the same arguments.

    One row per (frame, slot): ``frame``, ``time``, ``slot`` (position on screen),
    ``face`` (index into ``faces``), ``x, y, w, h``.
    """
    if n_faces < 1 or faces_per_frame < 1:
        raise SynthError("need at least one face and one face per frame")
    per_segment = max(1, int(round(seconds_per_face * fps)))
    slots = _slots(faces_per_frame, frame_size, face_size)
    n_segments = math.ceil(n_faces / faces_per_frame)
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * math.pi, (faces_per_frame, 2))
    w, h = frame_size
    rows = []
    for seg in range(n_segments):
        for k in range(per_segment):
            frame = seg * per_segment + k
            for slot, (x, y) in enumerate(slots):
                face = seg * faces_per_frame + slot
                if face >= n_faces:
                    continue
                # a slow drift of a few pixels: the faces move like a person who sits still
                dx = int(round(6 * math.sin(2 * math.pi * frame / 25 + phase[slot, 0])))
                dy = int(round(4 * math.sin(2 * math.pi * frame / 35 + phase[slot, 1])))
                rows.append({"frame": frame, "time": frame / fps, "slot": slot, "face": face,
                             "x": int(np.clip(x + dx, 0, w - face_size)), "y": int(np.clip(y + dy, 0, h - face_size)),
                             "w": face_size, "h": face_size})
    return pd.DataFrame(rows)


def make_face_video(path, faces, *, fps: float = 10, frame_size: tuple[int, int] = (640, 480),
                    seconds_per_face: float = 1.0, faces_per_frame: int = 1, face_size: int = 160,
                    seed: int = 0) -> Path:
    """Write an ``.mp4`` (OpenCV ``mp4v``) showing real faces one after another; return its path.

    Parameters
    ----------
    faces : uint8 ``(n, 48, 48)`` grayscale faces (e.g. :func:`sample_fer_faces`).
    fps : frames per second of the file.
    frame_size : ``(width, height)``.
    seconds_per_face : how long each group of faces stays on screen.
    faces_per_frame : how many faces are on screen at once (side by side); the video
        shows faces ``0..k-1``, then ``k..2k-1``, ...
    face_size : side in pixels of an upscaled face.

    The video has ``ceil(n / faces_per_frame) * round(seconds_per_face * fps)`` frames;
    :func:`face_video_truth` with the same arguments says where each face is.
    """
    faces = _check_faces(faces)
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise SynthError(f"make_face_video writes .mp4 files, got {path.name}")
    truth = face_video_truth(len(faces), fps=fps, frame_size=frame_size, seconds_per_face=seconds_per_face,
                             faces_per_frame=faces_per_frame, face_size=face_size, seed=seed)
    base = background(frame_size, seed=seed)
    n_frames = int(truth["frame"].max()) + 1
    by_frame = {f: g for f, g in truth.groupby("frame")}
    with VideoWriter(path, fps=fps) as writer:
        for f in range(n_frames):
            frame = base.copy()
            for row in by_frame[f].itertuples():
                _paste(frame, faces[row.face], row.x, row.y, face_size)
            writer.write(frame)
    return path
