"""The real-time face-emotion pipeline: frames -> faces -> emotions -> an annotated video.

:func:`run_pipeline` reads frames from a video file or a webcam, detects the
faces of each frame, classifies all of them in one batch, draws boxes, labels
and probability bars on the frame, optionally writes the annotated video, and
measures itself: frames per second (frames processed / wall-clock seconds, from
reading the frame to writing it) and milliseconds per frame of each stage.

Faces keep an id from frame to frame (``face`` column): each face is given the
id of the nearest face of the previous frames (centre distance below the box
size), else a new id. It is enough for a person who sits in front of a camera.

The result's timeline is what the source app showed as "emotions over time":
:func:`plot_emotion_timeline` draws it and :func:`emotion_summary` gives the
distribution and "your most frequent emotion".

In Colab there is no webcam stream for Python: :func:`colab_snapshot` takes a
photo with the browser's camera (JavaScript) and returns it as an image.

>>> result = run_pipeline("clip.mp4", model, out="build/annotated.mp4")   # doctest: +SKIP
>>> result.fps, emotion_summary(result.timeline).attrs["most_frequent"]    # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import MmerError
from .faces import Face
from .io import VideoWriter, iter_frames

#: Stages timed by :func:`run_pipeline`, in order.
STAGES = ("read", "detect", "classify", "overlay", "write")
# BGR colour of each FER2013 emotion in the overlay and the plots
COLORS = {"angry": (40, 40, 220), "disgust": (40, 140, 60), "fear": (160, 60, 160), "happy": (40, 200, 240),
          "sad": (200, 120, 40), "surprise": (0, 140, 255), "neutral": (170, 170, 170)}


class PipelineError(MmerError, ValueError):
    """The pipeline cannot run with these settings or on this source."""


@dataclass
class PipelineResult:
    """What :func:`run_pipeline` measured and produced.

    ``timeline``: one row per (frame, face), like
    :meth:`~mmer_utils.video.predict.FaceEmotionModel.analyse_video`; ``n_frames``:
    frames processed; ``seconds``: wall-clock time of the loop; ``fps``: n_frames /
    seconds; ``stage_ms``: mean milliseconds per frame of each stage; ``out``: the
    annotated video or None; ``frame_size``: (width, height) of the frames;
    ``frames``: the first annotated frames when ``keep_frames`` was set.
    """

    timeline: pd.DataFrame
    n_frames: int
    seconds: float
    fps: float
    stage_ms: dict = field(default_factory=dict)
    out: Path | None = None
    frame_size: tuple[int, int] | None = None
    frames_with_faces: int = 0
    frames: list = field(default_factory=list, repr=False)

    def report(self) -> pd.DataFrame:
        """A one-row table: frames, frame size, faces found, fps and ms per stage."""
        row = {"frames": self.n_frames,
               "frame size": f"{self.frame_size[0]}x{self.frame_size[1]}" if self.frame_size else "",
               "frames with a face": self.frames_with_faces, "fps": round(self.fps, 1),
               **{f"{k} ms": round(v, 2) for k, v in self.stage_ms.items()}}
        return pd.DataFrame([row])


class _Tracker:
    """Give each face the id of the nearest face seen in the last frames (greedy, by centre distance)."""

    def __init__(self, max_age: int = 10):
        self.tracks: dict[int, tuple[float, float, float, int]] = {}  # id -> (cx, cy, size, last frame)
        self.next_id = 0
        self.max_age = max_age

    def assign(self, faces: Sequence[Face], frame: int) -> list[int]:
        self.tracks = {k: v for k, v in self.tracks.items() if frame - v[3] <= self.max_age}
        pairs = []
        for i, f in enumerate(faces):
            cx, cy = f.center
            for tid, (tx, ty, size, _) in self.tracks.items():
                d = float(np.hypot(cx - tx, cy - ty))
                if d < 0.6 * max(size, f.w, f.h):
                    pairs.append((d, i, tid))
        ids: list[int | None] = [None] * len(faces)
        used = set()
        for d, i, tid in sorted(pairs):
            if ids[i] is None and tid not in used:
                ids[i] = tid
                used.add(tid)
        for i, f in enumerate(faces):
            if ids[i] is None:
                ids[i] = self.next_id
                self.next_id += 1
            cx, cy = f.center
            self.tracks[ids[i]] = (cx, cy, float(max(f.w, f.h)), frame)
        return ids


def draw_emotions(frame: np.ndarray, faces: Sequence[Face], proba: np.ndarray, labels: Sequence[str], *,
                  ids: Sequence[int] | None = None, bars: bool = True, info: str | None = None) -> np.ndarray:
    """Draw on ``frame`` (BGR, **in place**, and return it): a box and "emotion 0.87" per face,
    a bar per emotion beside the box, and an ``info`` line (e.g. the fps) at the top left."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    H, W = frame.shape[:2]
    for k, (f, p) in enumerate(zip(faces, proba)):
        best = int(np.argmax(p))
        color = COLORS.get(labels[best], (0, 220, 0))
        cv2.rectangle(frame, (f.x, f.y), (f.x + f.w, f.y + f.h), color, 2)
        text = f"{labels[best]} {p[best]:.2f}" + (f" #{ids[k]}" if ids is not None else "")
        below = f.y <= 20   # no room above the box (a face at the top, a still photo of one face): label below
        ty = f.y - 8 if not below else min(H - 4, f.y + f.h + 16)
        cv2.putText(frame, text, (f.x, ty), font, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(frame, text, (f.x, ty), font, 0.55, color, 1, cv2.LINE_AA)
        if bars:
            # bars under the box (where they cannot cover a face beside it), else beside it
            bw, bh = min(60, max(30, f.w // 2)), 8
            panel = len(labels) * (bh + 2)
            others = [g for g in faces if g is not f]

            def free(x, y):  # the panel (bars and names) stays in the frame and off the other faces
                x1, y1 = x + bw + 40, y + panel
                return x >= 0 and x1 < W and y1 < H and not any(
                    x < g.x + g.w and g.x < x1 and y < g.y + g.h and g.y - 24 < y1 for g in others)

            # under the box starts under the label when the label is there (it must stay readable)
            places = [(min(f.x, W - bw - 40), f.y + f.h + (24 if below else 4)), (f.x + f.w + 6, f.y),
                      (f.x - bw - 46, f.y)]
            x0, top = next((p for p in places if free(*p)), places[0])
            for j, name in enumerate(labels):
                y0 = top + j * (bh + 2)
                if y0 + bh >= H:
                    break
                cv2.rectangle(frame, (x0, y0), (x0 + int(bw * float(p[j])), y0 + bh), COLORS.get(name, color), -1)
                cv2.rectangle(frame, (x0, y0), (x0 + bw, y0 + bh), (220, 220, 220), 1)
                cv2.putText(frame, name[:4], (x0 + bw + 3, y0 + bh - 1), font, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    if info:
        cv2.putText(frame, info, (8, 20), font, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(frame, info, (8, 20), font, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return frame


def run_pipeline(source, model, *, out=None, every: int = 1, max_frames: int | None = None, show: bool = False,
                 keep_frames: int = 0, draw: bool = True) -> PipelineResult:
    """Run detect -> classify -> overlay (-> write) on every frame of ``source``.

    Parameters
    ----------
    source : video file path, camera index (0 = default webcam), or a sequence of
        BGR frames (then ``time`` is the frame number / 30).
    model : :class:`~mmer_utils.video.predict.FaceEmotionModel`.
    out : path or None
        Write the annotated frames to this ``.mp4`` (at the source's fps / ``every``).
    every, max_frames : which frames to process (:func:`~mmer_utils.video.io.iter_frames`).
    show : bool
        Show the annotated frames in an OpenCV window (local webcam use; press q to stop).
    keep_frames : int
        Keep the first ``keep_frames`` annotated frames in ``result.frames`` (for a notebook).
    draw : bool
        Draw the overlay (False: time detection and classification alone).

    The fps is measured on the whole loop: reading (decoding) a frame, detecting,
    classifying, drawing and writing it.
    """
    import cv2

    fps_src = 30.0
    stills = not isinstance(source, (str, Path, int, np.integer))   # photos: no frame number, no fps stamped
    if isinstance(source, (str, Path)):
        from .io import video_info

        fps_src = video_info(source)["fps"] or 30.0
        frames = iter_frames(source, every=every, max_frames=max_frames)
    elif isinstance(source, (int, np.integer)):
        frames = iter_frames(int(source), every=every, max_frames=max_frames)
    else:
        seq = list(source)[::every][:max_frames]
        frames = ((i * every, i * every / fps_src, f) for i, f in enumerate(seq))
    out_fps = fps_src / every
    writer = VideoWriter(out, fps=out_fps) if out is not None else None
    tracker = _Tracker()
    stage = dict.fromkeys(STAGES, 0.0)
    rows, kept = [], []
    n = with_faces = 0
    frame_size = None
    start = time.perf_counter()
    try:
        t0 = time.perf_counter()
        for index, t, frame in frames:
            t1 = time.perf_counter()
            stage["read"] += t1 - t0
            frame_size = (frame.shape[1], frame.shape[0])
            faces = model.detect(frame)
            t2 = time.perf_counter()
            proba = model.analyse_faces(frame, faces)
            t3 = time.perf_counter()
            ids = tracker.assign(faces, n)
            if draw:
                # the running speed once it is known (not "0 fps" on the first frame)
                info = None if stills else f"frame {index}" + (f"  {n / (t3 - start):.0f} fps" if n else "")
                draw_emotions(frame, faces, proba, model.labels, ids=ids, info=info)
            t4 = time.perf_counter()
            if writer is not None:
                writer.write(frame)
            if show:
                cv2.imshow("mmer: face emotions (q to quit)", frame)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    break
            if len(kept) < keep_frames:
                kept.append(frame.copy())
            for f, fid, p in zip(faces, ids, proba):
                rows.append((index, t, fid, f.x, f.y, f.w, f.h, f.score, *p.tolist()))
            with_faces += bool(faces)
            n += 1
            t0 = time.perf_counter()
            stage["classify"] += t3 - t2
            stage["detect"] += t2 - t1
            stage["overlay"] += t4 - t3
            stage["write"] += t0 - t4
    finally:
        if writer is not None:
            writer.close()
        if show:
            cv2.destroyAllWindows()
    seconds = time.perf_counter() - start
    labels = list(model.labels)
    timeline = pd.DataFrame(rows, columns=["frame", "time", "face", "x", "y", "w", "h", "score", *labels])
    timeline = timeline.astype({"frame": int, "time": float, "face": int, "x": int, "y": int, "w": int, "h": int,
                                "score": float})
    timeline["emotion"] = timeline[labels].idxmax(axis=1) if len(timeline) else pd.Series(dtype=str)
    timeline.attrs.update({"fps": float(out_fps), "n_frames": int(n)})
    return PipelineResult(timeline=timeline, n_frames=n, seconds=seconds, fps=n / seconds if seconds > 0 else 0.0,
                          stage_ms={k: 1000 * v / max(1, n) for k, v in stage.items()},
                          out=Path(out) if out is not None else None, frame_size=frame_size,
                          frames_with_faces=with_faces, frames=kept)


def _labels_of(df: pd.DataFrame, labels) -> list[str]:
    if labels is not None:
        return list(labels)
    from ..labels import FER2013

    found = [c for c in FER2013 if c in df.columns]
    if not found:
        raise PipelineError("the timeline has no probability columns; pass labels=[...]")
    return found


def emotion_summary(df: pd.DataFrame, *, labels: Sequence[str] | None = None, face: int | None = None) -> pd.DataFrame:
    """The distribution of emotions over a timeline, most frequent first.

    One row per emotion: ``frames`` (rows where it is the most probable), ``share``
    of those rows, ``mean_probability``. ``.attrs["most_frequent"]`` is "your most
    frequent emotion" (None for an empty timeline). ``face`` keeps one face id.
    """
    labels = _labels_of(df, labels)
    if face is not None and "face" in df.columns:
        df = df[df["face"] == face]
    top = df[labels].idxmax(axis=1) if len(df) else pd.Series(dtype=str)
    counts = top.value_counts().reindex(labels, fill_value=0)
    out = pd.DataFrame({"frames": counts.astype(int),
                        "share": counts / max(1, len(df)),
                        "mean_probability": df[labels].mean() if len(df) else 0.0})
    out = out.sort_values(["frames", "mean_probability"], ascending=False)
    out.index.name = "emotion"
    out.attrs["most_frequent"] = out.index[0] if len(df) else None
    return out


def plot_emotion_timeline(df: pd.DataFrame, *, labels: Sequence[str] | None = None, face: int | None = None,
                          smooth: int = 1, truth: pd.DataFrame | None = None, ax=None, title: str | None = None):
    """Emotions over time: stacked probabilities, one face (``face=id``) or all faces averaged per frame.

    ``face=None`` averages the faces of each frame, which, for one person in front of a
    camera, is that person even when a missed detection gave them a new id.
    ``smooth`` averages probabilities over that many analysed frames (a moving mean).
    ``truth``: a DataFrame with ``time`` and ``label`` (e.g. the synthetic video's),
    drawn as a strip of true emotions under the plot. Returns the axis.
    """
    import matplotlib.pyplot as plt

    labels = _labels_of(df, labels)
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 3.2))
    fps = df.attrs.get("fps", 10.0)
    if face is not None and "face" in df.columns:
        df = df[df["face"] == face]
    if not len(df):
        ax.text(0.5, 0.5, "no face in any frame", ha="center", va="center", transform=ax.transAxes)
        return ax
    probs = df.groupby("time")[labels].mean().sort_index()
    if smooth > 1:
        probs = probs.rolling(smooth, min_periods=1, center=True).mean()
    colors = [np.array(COLORS.get(c, (128, 128, 128))[::-1]) / 255 for c in labels]
    ax.stackplot(probs.index, probs.T.values, labels=labels, colors=colors, alpha=0.9)
    ax.set_ylim(-0.12 if truth is not None else 0, 1)
    ax.set_xlim(probs.index.min(), probs.index.max())
    if truth is not None and len(truth):
        for row in truth.itertuples():
            c = COLORS.get(row.label, (128, 128, 128))[::-1]
            end = getattr(row, "end", row.time + 1 / max(1e-9, fps))
            ax.axvspan(row.time, end, ymin=0, ymax=0.09, color=np.array(c) / 255)
        ax.text(probs.index.min(), -0.06, " true emotion", va="center", fontsize=8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.set_title(title or (f"Emotions over time (face {face})" if face is not None else
                           "Emotions over time (mean of the faces of each frame)"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return ax


def colab_snapshot(filename: str = "photo.jpg", *, quality: float = 0.9, timeout_s: float = 60) -> np.ndarray:
    """Take a photo with the webcam in Google Colab; return it as a BGR image (also saved to ``filename``).

    Colab runs Python on a remote machine, so ``cv2.VideoCapture(0)`` sees no camera:
    this shows a video preview and a "Capture" button in the browser (JavaScript,
    ``google.colab.output.eval_js``) and sends the JPEG back. Only works in Colab.
    """
    from .. import config

    if not config.in_colab():
        raise PipelineError("colab_snapshot works only in Google Colab; locally use run_pipeline(0, model, show=True)")
    import base64  # pragma: no cover - needs a browser

    from google.colab.output import eval_js  # type: ignore  # pragma: no cover
    from IPython.display import Javascript, display  # pragma: no cover

    from .io import read_image  # pragma: no cover

    display(Javascript("""
      async function takePhoto(quality) {
        const div = document.createElement('div');
        const button = document.createElement('button');
        button.textContent = 'Capture';
        div.appendChild(button);
        const video = document.createElement('video');
        video.style.display = 'block';
        const stream = await navigator.mediaDevices.getUserMedia({video: true});
        document.body.appendChild(div);
        div.appendChild(video);
        video.srcObject = stream;
        await video.play();
        google.colab.output.setIframeHeight(document.documentElement.scrollHeight, true);
        await new Promise((resolve) => button.onclick = resolve);
        const canvas = document.createElement('canvas');
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        canvas.getContext('2d').drawImage(video, 0, 0);
        stream.getVideoTracks()[0].stop();
        div.remove();
        return canvas.toDataURL('image/jpeg', quality);
      }
    """))  # pragma: no cover
    data = eval_js(f"takePhoto({quality})", timeout_sec=timeout_s)  # pragma: no cover
    Path(filename).write_bytes(base64.b64decode(data.split(",", 1)[1]))  # pragma: no cover
    return read_image(filename)  # pragma: no cover
