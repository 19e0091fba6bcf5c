"""Read any image as uint8 BGR, and read or write video frame by frame.

Everything in the video chapter works on OpenCV's convention: ``uint8`` arrays of
shape ``(h, w, 3)`` in **BGR** order. :func:`read_image` turns whatever a user
has into that, or says in one line why it cannot:

=============================  =====================================================
input                          behaviour
=============================  =====================================================
missing file                   :class:`ImageNotFoundError` (a ``DataNotFoundError``)
empty / corrupt / not an image :class:`ImageError`
grayscale (h, w) or (h, w, 1)  copied into the three channels
with alpha (h, w, 4)           composited on ``background`` (default white), or the
                               alpha channel dropped with ``alpha="drop"``
16-bit (PNG/TIFF)              scaled to 8 bits (``value / 257``)
float in [0, 1]                scaled to 0-255; other float ranges are an error
RGB array (PIL, matplotlib)    pass ``rgb=True`` so the channels are swapped
tiny (a few pixels)            returned as it is; detectors upscale it
huge (e.g. 8000 x 6000)        returned as it is; :func:`~mmer_utils.video.faces.detect_faces`
                               detects on a downscaled copy and gives boxes in
                               the original image's coordinates
=============================  =====================================================

Video: :func:`iter_frames` yields ``(index, time, frame)`` from a file or a
camera, :func:`video_info` describes a file, :class:`VideoWriter` writes frames
to an ``.mp4`` (OpenCV's ``mp4v`` codec, readable everywhere OpenCV is).

>>> import numpy as np
>>> read_image(np.zeros((4, 5), np.uint16)).shape
(4, 5, 3)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import DataNotFoundError, MmerError


class ImageError(MmerError, ValueError):
    """An image that cannot be used: empty, corrupt, not an image, or an unsupported array."""


class ImageNotFoundError(ImageError, DataNotFoundError):
    """The image file does not exist."""


class VideoError(MmerError, ValueError):
    """A video file or camera that cannot be opened or read, or frames that cannot be written."""


# --------------------------------------------------------------------------- images


def _decode_file(path: Path) -> np.ndarray:
    import cv2

    if not path.exists():
        raise ImageNotFoundError(f"image {path} not found; check the path")
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file")
    # np.fromfile + imdecode instead of imread: imread fails silently on non-ASCII paths (Windows)
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        raise ImageError(f"image file {path} is empty (0 bytes)")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageError(f"cannot decode {path}: not an image, or a format OpenCV cannot read "
                         f"(use JPEG, PNG, BMP, TIFF or WebP)")
    return image


def _to_uint8(image: np.ndarray, name: str) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if image.dtype == np.uint16:
        # 65535 -> 255 exactly; rounding keeps mid-grey at 128
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise ImageError(f"{name} has NaN or infinite pixels")
        lo, hi = float(image.min()), float(image.max())
        if lo >= 0 and hi <= 1:
            return np.rint(image * 255).astype(np.uint8)
        if lo >= 0 and hi <= 255:
            raise ImageError(f"{name} is float with values up to {hi:.1f}: pass uint8 for 0-255 pixels, "
                             f"or floats in [0, 1]")
        raise ImageError(f"{name} is float with values in [{lo:.3g}, {hi:.3g}]; expected [0, 1]")
    if np.issubdtype(image.dtype, np.integer):
        lo, hi = int(image.min()), int(image.max())
        if lo >= 0 and hi <= 255:
            return image.astype(np.uint8)
        raise ImageError(f"{name} has {image.dtype} values in [{lo}, {hi}]; expected 0-255 (uint8) or "
                         f"0-65535 (uint16)")
    raise ImageError(f"{name} has unsupported dtype {image.dtype}")


def _composite(image: np.ndarray, background) -> np.ndarray:
    rgb = image[..., :3].astype(np.float32)
    a = image[..., 3:4].astype(np.float32) / 255.0
    bg = np.asarray(background, dtype=np.float32).reshape(1, 1, 3)
    return np.rint(rgb * a + bg * (1 - a)).astype(np.uint8)


def read_image(src, *, rgb: bool = False, alpha: str = "composite", background=(255, 255, 255)) -> np.ndarray:
    """Return ``src`` (a path or an array) as a uint8 BGR image ``(h, w, 3)``.

    Parameters
    ----------
    src : str, Path or ndarray
        An image file (JPEG, PNG, BMP, TIFF, WebP...) or an array ``(h, w)``,
        ``(h, w, 1)``, ``(h, w, 3)`` or ``(h, w, 4)`` of uint8, uint16, bool or
        float in [0, 1]. Arrays are taken as BGR(A), like OpenCV's.
    rgb : bool
        The array is RGB(A) (PIL, matplotlib, ``imageio``): swap to BGR. Files are
        always decoded correctly whatever this says.
    alpha : "composite" or "drop"
        What to do with a transparency channel: blend the image on ``background``
        (a BGR colour) so transparent pixels do not turn black, or ignore it.

    Raises :class:`ImageNotFoundError` for a missing file and :class:`ImageError`
    for anything that is not a usable image. The result is a new array (the
    input is never modified).

    >>> read_image(np.full((2, 2, 4), 255, np.uint8))[0, 0].tolist()
    [255, 255, 255]
    """
    if alpha not in ("composite", "drop"):
        raise ValueError(f"alpha must be 'composite' or 'drop', got {alpha!r}")
    if isinstance(src, (str, os.PathLike)):
        path = Path(src).expanduser()
        image, name, from_file = _decode_file(path), str(path), True
    elif isinstance(src, np.ndarray) or hasattr(src, "__array__"):
        image, name, from_file = np.asarray(src), "image array", False
    else:
        raise ImageError(f"read_image takes a file path or a NumPy array, got {type(src).__name__}")
    if image.size == 0:
        raise ImageError(f"{name} is empty (shape {image.shape})")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ImageError(f"{name} has shape {image.shape}; expected (h, w), (h, w, 1), (h, w, 3) or (h, w, 4)")
    image = _to_uint8(image, name)
    import cv2

    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if rgb and not from_file:
        image = image[..., [2, 1, 0, 3][: image.shape[2]]]
    if image.shape[2] == 4:
        image = _composite(image, background) if alpha == "composite" else image[..., :3]
    # arrays are copied so that drawing on the result never changes the caller's image
    return np.ascontiguousarray(image) if from_file else np.array(image, dtype=np.uint8, order="C", copy=True)


def as_bgr(image) -> np.ndarray:
    """``image`` as uint8 BGR ``(h, w, 3)`` without a copy when it already is (the fast path of
    the video loop); anything else goes through :func:`read_image`."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 \
            and image.size:
        return image
    return read_image(image)


def to_gray(image) -> np.ndarray:
    """uint8 grayscale ``(h, w)`` of any image :func:`read_image` accepts."""
    import cv2

    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 2 and image.size:
        return image
    return cv2.cvtColor(as_bgr(image), cv2.COLOR_BGR2GRAY)


def resize_max(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """Downscale ``image`` so its longer side is at most ``max_side``; return ``(image, scale)``.

    ``scale`` maps original coordinates to the returned image's (1.0 when nothing
    was done), so a box found on the small copy is ``box / scale`` in the original.
    """
    import cv2

    h, w = image.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return image, 1.0
    scale = max_side / max(h, w)
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


# --------------------------------------------------------------------------- video


def _open_capture(source):
    import cv2

    if isinstance(source, (int, np.integer)):
        cap = cv2.VideoCapture(int(source))
        if not cap.isOpened():
            raise VideoError(f"no camera at index {source} (or it is used by another program); in Colab use "
                             f"mmer_utils.video.pipeline.colab_snapshot() instead")
        return cap, f"camera {source}"
    path = Path(source).expanduser()
    if not path.exists():
        raise DataNotFoundError(f"video {path} not found; check the path")
    if path.is_dir():
        raise VideoError(f"{path} is a folder, not a video file")
    if path.stat().st_size == 0:
        raise VideoError(f"video file {path} is empty (0 bytes)")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoError(f"cannot open {path} as a video: corrupt, or a codec OpenCV cannot read "
                         f"(convert it with: ffmpeg -i {path.name} -c:v libx264 out.mp4)")
    return cap, str(path)


def video_info(path) -> dict:
    """``{"fps", "n_frames", "width", "height", "duration"}`` of a video file (from its header).

    ``n_frames`` is what the container declares; some files declare it wrongly,
    which is why :func:`iter_frames` reads until the frames run out instead.
    """
    import cv2

    cap, _ = _open_capture(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 0.0
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        info = {"fps": fps, "n_frames": n, "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}
    finally:
        cap.release()
    info["duration"] = n / fps if fps > 0 else float("nan")
    return info


def iter_frames(source, *, every: int = 1, max_frames: int | None = None) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(index, time, frame)`` from a video file or a camera.

    Parameters
    ----------
    source : path or int
        A video file, or the index of a camera (0 = the default webcam).
    every : int
        Yield one frame in ``every`` (the others are decoded and skipped).
    max_frames : int or None
        Stop after yielding this many frames (a camera runs until you stop
        iterating, so set it or break out of the loop).

    ``index`` counts every frame of the source (so it is the frame number in the
    file even with ``every > 1``), ``time`` is ``index / fps`` in seconds for a
    file, and the seconds since the first frame for a camera. Frames are uint8
    BGR. A file that opens but yields no frame raises :class:`VideoError`.

    >>> for index, t, frame in iter_frames("clip.mp4", every=5, max_frames=3):  # doctest: +SKIP
    ...     print(index, round(t, 2), frame.shape)
    """
    import cv2

    if int(every) < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
    cap, name = _open_capture(source)
    camera = isinstance(source, (int, np.integer))
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 0.0
    start = time.perf_counter()
    index = yielded = 0
    try:
        while max_frames is None or yielded < max_frames:
            if index % every:
                ok = cap.grab()  # skipped frames are not decoded into an image
                frame = None
            else:
                ok, frame = cap.read()
            if not ok:
                break
            if frame is not None:
                t = time.perf_counter() - start if camera or fps <= 0 else index / fps
                yield index, float(t), frame
                yielded += 1
            index += 1
    finally:
        cap.release()
    if index == 0:
        raise VideoError(f"{name} opened but gave no frame: empty or corrupt video")


class VideoWriter:
    """Write BGR frames to a video file; use as a context manager.

    The file is opened at the first frame, with that frame's size; every later
    frame must have the same size. Grayscale frames are accepted. Raises
    :class:`VideoError` when OpenCV cannot open an encoder for ``path``.

    >>> with VideoWriter("out.mp4", fps=10) as writer:          # doctest: +SKIP
    ...     for frame in frames:
    ...         writer.write(frame)
    """

    def __init__(self, path, fps: float = 10.0, *, fourcc: str = "mp4v"):
        if not fps or fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        self.fps = float(fps)
        self.fourcc = fourcc
        self.size: tuple[int, int] | None = None
        self.n_frames = 0
        self._writer = None

    def _open(self, size: tuple[int, int]):
        import cv2

        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, size)
        if not writer.isOpened():
            raise VideoError(f"cannot write video {self.path} with codec {self.fourcc!r}; use an .mp4 file "
                             f"name with 'mp4v', or .avi with 'MJPG'")
        self._writer, self.size = writer, size

    def write(self, frame) -> None:
        frame = as_bgr(frame)
        size = (frame.shape[1], frame.shape[0])
        if self._writer is None:
            self._open(size)
        elif size != self.size:
            raise VideoError(f"frame {self.n_frames} is {size[0]}x{size[1]} but the video is "
                             f"{self.size[0]}x{self.size[1]}; resize frames to one size")
        self._writer.write(frame)
        self.n_frames += 1

    def close(self) -> Path:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        return self.path

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
