"""Count eye blinks in a video from MediaPipe's eyeBlink blendshapes or the eye aspect ratio.

A blink is a short run of frames where the eyes are closed. Per frame, two signals say how
closed the eyes are (:func:`blink_signal`):

* ``blink``: the mean of MediaPipe's ``eyeBlinkLeft`` and ``eyeBlinkRight`` scores (high = closed);
* ``ear``: the eye aspect ratio from the mesh landmarks (Soukupova & Cech 2016; low = closed).

The threshold between "open" and "closed" differs from face to face, camera to camera, so
:func:`blink_threshold` chooses it **from the signal itself**: when its histogram has two
modes (open and closed frames), the valley between them; otherwise (few or no blinks) a
robust outlier rule, median + k x robust standard deviation (1.4826 x MAD). :func:`count_blinks`
returns the count, the threshold and the blink events, so a figure can show all three.

>>> rng = np.random.default_rng(0)
>>> x = 0.05 + 0.02 * rng.standard_normal(300)
>>> x[[50, 51, 52, 150, 151, 250, 251, 252]] = 0.7          # three blinks
>>> count_blinks(x, fps=30).count
3
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MmerError


class BlinkInputError(MmerError, ValueError):
    """A signal or a video that blinks cannot be counted in (empty, wrong shape, bad fps)."""


#: Default k of the outlier rule: median + k robust SD (about 1 false alarm per 30,000 Gaussian frames).
DEFAULT_K = 4.0


@dataclass
class BlinkCount:
    """Result of :func:`count_blinks`.

    count : number of blinks; threshold : the threshold used; method : "valley", "mad" or "given";
    events : DataFrame with one row per blink (start, end: frame indices, inclusive; frames: closed
    frames; start_time, duration in seconds); closed : bool per frame (NaN frames are False).
    """

    count: int
    threshold: float
    method: str
    events: pd.DataFrame
    closed: np.ndarray
    fps: float
    closed_when: str = "above"
    info: dict = field(default_factory=dict)

    @property
    def per_minute(self) -> float:
        """Blinks per minute over the whole signal (people blink about 15-20 times a minute)."""
        minutes = len(self.closed) / self.fps / 60
        return self.count / minutes if minutes > 0 else float("nan")


def _check_signal(signal) -> np.ndarray:
    x = np.asarray(signal, dtype=np.float64) if not isinstance(signal, pd.Series) else signal.to_numpy(np.float64)
    if x.ndim != 1:
        raise BlinkInputError(f"the blink signal must be 1-D (one value per frame), got shape {x.shape}")
    if np.isinf(x).any():
        raise BlinkInputError("the blink signal has infinite values; use NaN for frames without a face")
    return x


def _otsu(x: np.ndarray, bins: int = 64) -> float:
    hist, edges = np.histogram(x, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mu0 = m0 / np.maximum(w0, 1)
    mu1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mu0 - mu1) ** 2
    return float(edges[1:][np.argmax(between[:-1])]) if len(between) > 1 else float(np.median(x))


def blink_threshold(signal, *, closed_when: str = "above", k: float = DEFAULT_K,
                    method: str = "auto") -> tuple[float, str]:
    """Choose the closed-eye threshold from the signal; return ``(threshold, method_used)``.

    Parameters
    ----------
    closed_when : "above" (blink scores: high = closed) or "below" (eye aspect ratio: low = closed).
    k : the outlier rule's multiple of the robust standard deviation, and the separation (in robust
        SDs of the open mode) the valley must have from the open mode to be trusted.
    method : "valley" (two modes: the midpoint between the medians of the open and closed frames,
        found by Otsu's split refined by Ridler-Calvard iterations), "mad" (median + k robust SD:
        for signals where closed frames are rare) or "auto": the valley when the histogram has two
        well separated modes, else the outlier rule.

    >>> x = np.r_[np.zeros(50), np.ones(50)] + np.random.default_rng(0).normal(0, 0.01, 100)
    >>> t, how = blink_threshold(x); (round(t, 1), how)
    (0.5, 'valley')
    """
    if closed_when not in ("above", "below"):
        raise BlinkInputError(f"closed_when must be 'above' or 'below', got {closed_when!r}")
    if method not in ("auto", "valley", "mad"):
        raise BlinkInputError(f"method must be 'auto', 'valley' or 'mad', got {method!r}")
    x = _check_signal(signal)
    x = x[np.isfinite(x)]
    if len(x) < 3:
        raise BlinkInputError(f"the signal has {len(x)} valid frames: at least 3 are needed to choose a threshold")
    sign = 1.0 if closed_when == "above" else -1.0
    x = sign * x  # from here on, high = closed
    floor = 1e-6 * max(1.0, float(np.abs(x).max()))  # a constant signal has no spread at all

    def robust_sd(v):
        return max(1.4826 * float(np.median(np.abs(v - np.median(v)))), floor)

    med = float(np.median(x))
    mad_t = med + k * robust_sd(x)
    valley_t, separated = np.nan, False
    if x.max() - x.min() > floor:
        t = _otsu(x)
        for _ in range(50):  # Ridler-Calvard: the threshold halfway between the two classes' medians
            lo, hi = x[x <= t], x[x > t]
            if len(lo) == 0 or len(hi) == 0:
                break
            new = (float(np.median(lo)) + float(np.median(hi))) / 2
            if abs(new - t) <= floor:
                t = new
                break
            t = new
        lo, hi = x[x <= t], x[x > t]
        if len(lo) and len(hi):
            valley_t = t
            separated = t - float(np.median(lo)) > k * robust_sd(lo)
    if method == "valley" or (method == "auto" and separated):
        if np.isnan(valley_t):
            raise BlinkInputError("the signal is constant: there is no valley between open and closed frames")
        return sign * valley_t, "valley"
    return sign * mad_t, "mad"


def count_blinks(signal, fps: float, *, threshold: float | None = None, closed_when: str = "above",
                 min_frames: int = 1, max_seconds: float | None = 1.0, k: float = DEFAULT_K,
                 method: str = "auto") -> BlinkCount:
    """Count blinks: runs of at least ``min_frames`` consecutive closed-eye frames.

    Parameters
    ----------
    signal : one value per frame (``blink`` score or ``ear``); NaN = no face in that frame.
        NaN frames neither start nor end a blink: closed frames separated only by NaN frames
        belong to the same blink.
    fps : frames per second (for times, durations and ``max_seconds``).
    threshold : closed-eye threshold; None chooses it from the signal (:func:`blink_threshold`).
    closed_when : "above" for blink scores, "below" for the eye aspect ratio.
    min_frames : shortest run of closed frames that counts (at 30 fps a blink lasts 3-12 frames).
    max_seconds : longer closures are not blinks (eyes shut, looking down); None keeps them.

    >>> count_blinks([0, 0, 1, 1, 0, 0, 1, 0], fps=10, threshold=0.5).count
    2
    """
    x = _check_signal(signal)
    if not np.isfinite(fps) or fps <= 0:
        raise BlinkInputError(f"fps must be a positive number of frames per second, got {fps}")
    if int(min_frames) < 1:
        raise BlinkInputError(f"min_frames must be at least 1, got {min_frames}")
    columns = ["start", "end", "frames", "start_time", "duration"]
    valid = np.isfinite(x)
    if threshold is None:
        if valid.sum() < 3:
            return BlinkCount(0, float("nan"), "none", pd.DataFrame(columns=columns), np.zeros(len(x), bool),
                              float(fps), closed_when, {"reason": "fewer than 3 frames with a face"})
        threshold, how = blink_threshold(x, closed_when=closed_when, k=k, method=method)
    else:
        how = "given"
    with np.errstate(invalid="ignore"):
        closed = (x > threshold) if closed_when == "above" else (x < threshold)
    closed &= valid
    # runs over the valid frames only, so that NaN frames bridge a blink instead of splitting it
    idx = np.flatnonzero(valid)
    state = closed[idx].astype(np.int8)
    edges = np.diff(np.r_[0, state, 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    rows = []
    for s, e in zip(starts, ends):
        n = e - s + 1
        start, end = int(idx[s]), int(idx[e])
        duration = (end - start + 1) / fps
        if n < min_frames or (max_seconds is not None and duration > max_seconds):
            continue
        rows.append((start, end, int(n), start / fps, duration))
    events = pd.DataFrame(rows, columns=columns)
    return BlinkCount(len(events), float(threshold), how, events, closed, float(fps), closed_when)


# --------------------------------------------------------------------------- video


def blink_signal(video, *, fps: float | None = None, every: int = 1, max_frames: int | None = None,
                 landmarker=None) -> pd.DataFrame:
    """Per-frame eye signals of a video: one row per analysed frame.

    ``video`` is a path (any format OpenCV reads; ``fps`` overrides the file's) or a sequence of
    images (then ``fps`` is needed). ``every``: analyse one frame in ``every``; ``max_frames``: stop
    after analysing that many.
    Columns: frame, time (s), found, blink_left, blink_right, blink (mean of MediaPipe's
    eyeBlink scores: high = closed), ear_left, ear_right, ear (eye aspect ratio: low = closed);
    NaN where no face was found. ``.attrs``: fps (of the rows, i.e. divided by ``every``),
    n_frames, detection_rate. The landmarker runs in VIDEO mode (it tracks the face).

    >>> sig = blink_signal("interview.mp4")                             # doctest: +SKIP
    >>> count_blinks(sig["blink"], sig.attrs["fps"]).count              # doctest: +SKIP
    """
    from .io import iter_frames, video_info
    from .landmarks import FaceLandmarker, geometry_features

    if int(every) < 1:
        raise BlinkInputError(f"every must be at least 1, got {every}")
    if isinstance(video, (str, Path)):
        info = video_info(video)
        video_fps = float(fps or info["fps"] or 30.0)
        n_total = info["n_frames"]
        frames = ((i, f) for i, _, f in iter_frames(video, every=every, max_frames=max_frames))
    else:
        images = list(video)
        if fps is None or not fps > 0:
            raise BlinkInputError("frames given as images need fps (frames per second)")
        video_fps, n_total = float(fps), len(images)
        frames = [(i, f) for i, f in enumerate(images) if i % every == 0][:max_frames]
    rows = []
    own = landmarker is None
    lm = FaceLandmarker(mode="video") if own else landmarker
    try:
        for i, frame in frames:
            t = i / video_fps
            faces = lm.detect(frame, timestamp_ms=int(round(1000 * t))) if lm.mode == "video" else lm.detect(frame)
            if faces:
                bs = faces[0].blendshapes
                geo = geometry_features(faces[0].landmarks).iloc[0]
                rows.append((i, t, True, bs["eyeBlinkLeft"], bs["eyeBlinkRight"],
                             geo["ear_left"], geo["ear_right"]))
            else:
                rows.append((i, t, False, np.nan, np.nan, np.nan, np.nan))
    finally:
        if own:
            lm.close()
    if not rows:
        raise BlinkInputError("the video has no frames")
    df = pd.DataFrame(rows, columns=["frame", "time", "found", "blink_left", "blink_right", "ear_left", "ear_right"])
    df["blink"] = df[["blink_left", "blink_right"]].mean(axis=1)
    df["ear"] = df[["ear_left", "ear_right"]].mean(axis=1)
    df = df[["frame", "time", "found", "blink_left", "blink_right", "blink", "ear_left", "ear_right", "ear"]]
    df.attrs.update(fps=video_fps / every, n_frames=n_total or len(df), detection_rate=float(df["found"].mean()))
    return df


# --------------------------------------------------------------------------- a test sequence


def _background(frame_size, seed):
    import cv2

    w, h = frame_size
    noise = np.clip(np.random.default_rng(seed).normal(120, 18, (h, w)), 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 3)


def _paste(background, face, face_size, jitter=(0, 0)):
    import cv2

    frame = background.copy()
    h, w = frame.shape[:2]
    big = cv2.resize(np.asarray(face), (face_size, face_size), interpolation=cv2.INTER_CUBIC)
    if big.ndim == 3:
        big = cv2.cvtColor(big, cv2.COLOR_BGR2GRAY)
    x0, y0 = (w - face_size) // 2 + int(jitter[0]), (h - face_size) // 2 + int(jitter[1])
    frame[y0:y0 + face_size, x0:x0 + face_size] = big
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def eye_state_faces(faces, *, n: int = 3, frame_size=(480, 360), face_size: int = 192, max_open: float = 0.1,
                    min_closed: float = 0.4, **kwargs) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Pick ``n`` clearly open-eyed and ``n`` clearly closed-eyed faces among small crops.

    Chosen **by MediaPipe's own eyeBlink score** (mean of left and right), so a test built from
    them checks the signal and the counting, not the landmarker: FER2013 has no video and no
    labelled blinks. Candidates are ranked on the upscaled crops (:func:`~mmer_utils.video.landmarks.face_features`;
    closed ones must also have a lower eye aspect ratio than every open one), then each is checked
    the way :func:`blink_test_frames` shows it (pasted on the background): it must be found there
    with a score below ``max_open`` (open) or above ``min_closed`` (closed).
    Returns ``(open_idx, closed_idx, scores)``.
    """
    from .landmarks import FaceLandmarker, face_features

    faces = np.asarray(faces)
    df = face_features(faces, **kwargs)
    df["blink"] = df[["eyeBlinkLeft", "eyeBlinkRight"]].mean(axis=1)
    ok = df[df["found"]]
    if len(ok) < 2 * n:
        raise BlinkInputError(f"only {len(ok)} of {len(df)} faces were found: give more faces to choose {n} + {n}")
    open_rank = ok.sort_values("blink").index[: 5 * n]
    ear_open_min = df.loc[open_rank[:n], "ear_mean"].min()
    closed_rank = ok[ok["ear_mean"] < ear_open_min].sort_values("blink", ascending=False).index[: 5 * n]
    background = _background(frame_size, 0)
    df["blink_in_frame"] = np.nan
    chosen = {"open": [], "closed": []}
    with FaceLandmarker() as lm:
        for kind, rank in (("open", open_rank), ("closed", closed_rank)):
            for i in rank:
                found = lm.detect(_paste(background, faces[i], face_size))
                if not found:
                    continue
                score = float(found[0].blendshapes[["eyeBlinkLeft", "eyeBlinkRight"]].mean())
                df.loc[i, "blink_in_frame"] = score
                if (score < max_open) if kind == "open" else (score > min_closed):
                    chosen[kind].append(i)
                if len(chosen[kind]) == n:
                    break
    if len(chosen["open"]) < n or len(chosen["closed"]) < n:
        raise BlinkInputError(f"found {len(chosen['open'])} clearly open and {len(chosen['closed'])} clearly closed "
                              f"eyes among these faces, {n} of each are needed: give more faces")
    return (np.array(chosen["open"]), np.array(chosen["closed"]),
            df[["blink", "blink_in_frame", "ear_mean", "found"]])


def blink_test_frames(open_faces, closed_faces, *, fps: float = 10.0, seconds: float = 20.0,
                      n_blinks: int = 8, blink_frames: int = 2, frame_size=(480, 360),
                      face_size: int = 192, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames of a synthetic "video" with known blinks, built from real face crops.

    Most frames show one open-eyed face (``open_faces[0]``: switching people between open frames
    makes the tracker of VIDEO mode misfire at the switch); a blink replaces it by a closed-eyed
    face (cycling through ``closed_faces``) for ``blink_frames`` frames. Faces are upscaled to ``face_size`` and pasted
    on a textured grey background, with a few pixels of jitter. The faces of a "blink" are other
    people: this checks the signal and the counting, not a real blink.

    Returns ``(frames, truth)``: BGR uint8 frames and a bool array, True where eyes are closed.
    """
    rng = np.random.default_rng(seed)
    n = int(round(fps * seconds))
    gap = max(1, int(round(fps)))  # blinks at least a second apart
    if n_blinks * (blink_frames + gap) + gap > n:
        raise BlinkInputError(f"{n_blinks} blinks do not fit in {seconds} s at {fps} fps")
    free = n - gap - n_blinks * (blink_frames + gap)
    cuts = np.sort(rng.integers(0, free + 1, n_blinks))
    starts = gap + cuts + np.arange(n_blinks) * (blink_frames + gap)
    truth = np.zeros(n, bool)
    for s in starts:
        truth[s:s + blink_frames] = True
    background = _background(frame_size, 0)
    frames, blink_no, last_closed = [], -1, False
    for i in range(n):
        jitter = rng.integers(-3, 4, 2)  # a little head motion
        if truth[i]:
            if not last_closed:
                blink_no += 1
            face = closed_faces[blink_no % len(closed_faces)]
        else:
            face = open_faces[0]
        last_closed = bool(truth[i])
        frames.append(_paste(background, face, face_size, jitter))
    return frames, truth


def write_video(path, frames, *, fps: float = 10.0) -> Path:
    """Write BGR frames as an .mp4 (OpenCV's mp4v codec); return the path."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not frames:
        raise BlinkInputError("no frames to write")
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
    if not writer.isOpened():
        from .io import VideoError

        raise VideoError(f"OpenCV cannot write an mp4v video to {path}")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return path


def plot_blinks(signal, result: BlinkCount, *, time=None, ax=None, truth=None, label: str = "signal"):
    """Plot a blink signal, the threshold chosen and the blinks counted (and the true ones, if given)."""
    import matplotlib.pyplot as plt

    x = _check_signal(signal)
    t = np.arange(len(x)) / result.fps if time is None else np.asarray(time)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3))
    ax.plot(t, x, lw=1, label=label)
    ax.axhline(result.threshold, color="red", ls="--", label=f"threshold {result.threshold:.3f} ({result.method})")
    if truth is not None:
        truth = np.asarray(truth, bool)
        ax.fill_between(t, 0, 1, where=truth, transform=ax.get_xaxis_transform(), color="grey", alpha=0.2,
                        label="eyes closed (truth)")
    for _, ev in result.events.iterrows():
        ax.axvspan(t[int(ev.start)], t[int(ev.end)] + 1 / result.fps, color="orange", alpha=0.4)
    ax.plot([], [], color="orange", alpha=0.4, lw=6, label=f"{result.count} blinks counted")
    ax.set_xlabel("time (s)")
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    return ax
