"""YUV4MPEG2 (``.y4m``) files: what Chromium's fake camera plays, written with NumPy.

``chromium --use-fake-device-for-media-stream --use-file-for-fake-video-capture=x.y4m``
shows the file's frames in a loop as the camera: the course's browser tests, the app's
end-to-end test and the browser benchmark use it to film FER2013 faces.

>>> import numpy as np, tempfile, pathlib
>>> frames = [np.full((4, 6, 3), 128, np.uint8)] * 2
>>> path = write_y4m(pathlib.Path(tempfile.mkdtemp()) / "x.y4m", frames, fps=5)
>>> path.read_bytes()[:22]
b'YUV4MPEG2 W6 H4 F5:1 I'
>>> [p.shape for p in bgr_to_i420(frames[0])]
[(4, 6), (2, 3), (2, 3)]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["bgr_to_i420", "write_y4m"]


def bgr_to_i420(image: np.ndarray) -> list[np.ndarray]:
    """The Y, U, V planes (4:2:0, BT.601 studio range) of a BGR image with even sides.

    Parameters
    ----------
    image : uint8 array (height, width, 3), BGR (OpenCV's order), even height and width.

    Returns
    -------
    list of three uint8 arrays: Y (height, width), U and V (height / 2, width / 2).
    """
    f = image.astype(np.float32)
    b, g, r = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255

    def half(c):
        return c.reshape(c.shape[0] // 2, 2, c.shape[1] // 2, 2).mean(axis=(1, 3))

    return [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, half(u), half(v))]


def write_y4m(path, frames, fps: int = 10) -> Path:
    """Write ``frames`` as a plain YUV4MPEG2 file (4:2:0, progressive); return its path.

    Parameters
    ----------
    path : str or Path
    frames : iterable of BGR uint8 arrays of one size (even sides).
    fps : frames per second written in the header (the rate the fake camera plays them at).
    """
    frames = list(frames)
    h, w = frames[0].shape[:2]
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for frame in frames:
            fh.write(b"FRAME\n")
            for plane in bgr_to_i420(frame):
                fh.write(plane.tobytes())
    return Path(path)
