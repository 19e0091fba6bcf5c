"""Find faces in an image and cut them out the way FER2013 faces look.

Three detectors, one function (:func:`detect_faces`):

=========  ===========================================  ======================================
name       what it is                                   gives
=========  ===========================================  ======================================
``yunet``  a tiny CNN (Wu, Peng & Yu 2023), run by       box, score (0-1), 5 landmarks: right
           OpenCV's ``FaceDetectorYN`` with the ONNX     eye, left eye, nose tip, right and left
           file ``python -m mmer_utils.datasets fetch    mouth corners (the person's right and
           yunet`` downloads                             left, i.e. image left and right)
``haar``   Viola-Jones Haar cascade (2001), shipped      box, score = number of overlapping
           with OpenCV                                   detections that agreed
``hog``    HOG + linear SVM (Dalal & Triggs 2005), the   box, score = the SVM's margin
           source's detector: dlib's frontal face
           detector (package ``dlib-bin``)
=========  ===========================================  ======================================

``score_threshold`` filters YuNet's scores only: Haar and HOG have their own,
fixed decision rules (5 agreeing neighbours; a positive margin), and their
scores are not probabilities. Detectors are built once and kept (one per
detector name and input size), so calling :func:`detect_faces` on every frame of
a video costs only the detection.

Large images are detected on a copy downscaled to ``max_side`` pixels (faster,
and the detectors are trained on faces of 20-300 px), tiny ones on a copy
upscaled to ``min_side``; boxes always come back in the coordinates of the image
you passed, clipped to its borders.

:func:`crop_face` then makes a FER2013-like face: a square around the box with
a ``margin``, optionally rotated so the eyes are level (``align=True``, YuNet's
landmarks), resized to 48x48 grayscale. Parts of the square outside the image
are filled with the edge pixels, so a face at the border is never stretched.

>>> import numpy as np
>>> detect_faces(np.zeros((120, 160, 3), np.uint8), detector="haar")
[]
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import MmerError
from .assets import asset_path
from .io import as_bgr, resize_max, to_gray

#: The detectors :func:`detect_faces` knows.
DETECTORS = ("yunet", "haar", "hog")
#: Names of YuNet's five landmarks, in its order.
LANDMARKS = ("right_eye", "left_eye", "nose_tip", "right_mouth", "left_mouth")


class FaceError(MmerError, ValueError):
    """A face or a detector setting that cannot be used (unknown detector, no landmarks to align...)."""


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face, in the coordinates of the image it was found in.

    ``score`` is the detector's confidence (YuNet: 0-1; Haar: agreeing
    detections; HOG: SVM margin), comparable only between faces of one detector.
    ``landmarks`` is ``(5, 2)`` float ``(x, y)`` in :data:`LANDMARKS` order, or None.
    """

    x: int
    y: int
    w: int
    h: int
    score: float = 1.0
    landmarks: np.ndarray | None = field(default=None, repr=False)

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    def to_dict(self) -> dict:
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h, "score": self.score}


# --------------------------------------------------------------------------- detectors (built once)


@functools.lru_cache(maxsize=8)
def _yunet(model: str, width: int, height: int):
    import cv2

    # top_k 5000 / NMS 0.3 are OpenCV Zoo's settings; the score threshold is set per call
    return cv2.FaceDetectorYN.create(model, "", (width, height), 0.5, 0.3, 5000)


@functools.lru_cache(maxsize=2)
def _haar(name: str = "haarcascade_frontalface_default.xml"):
    import cv2

    path = cv2.data.haarcascades + name
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise FaceError(f"OpenCV has no Haar cascade {path}: install opencv-contrib-python>=4.8,<5 "
                        f"(OpenCV 5 ships no cascade files)")
    return cascade


@functools.lru_cache(maxsize=1)
def _hog():
    try:
        import dlib
    except ImportError:  # pragma: no cover - dlib-bin is a dependency of the package
        raise FaceError("the 'hog' detector needs dlib: pip install dlib-bin") from None
    return dlib.get_frontal_face_detector()


def get_detector(name: str, input_size: tuple[int, int] | None = None):
    """The (cached) detector object behind ``name``: ``cv2.FaceDetectorYN`` (needs the
    ``(width, height)`` it will see), ``cv2.CascadeClassifier`` or dlib's detector."""
    if name == "yunet":
        width, height = input_size or (320, 320)
        return _yunet(str(asset_path("yunet")), int(width), int(height))
    if name == "haar":
        return _haar()
    if name == "hog":
        return _hog()
    raise FaceError(f"unknown face detector {name!r}; use one of {', '.join(DETECTORS)}")


def _run_yunet(image: np.ndarray, score_threshold: float) -> list[tuple]:
    h, w = image.shape[:2]
    det = get_detector("yunet", (w, h))
    det.setScoreThreshold(float(score_threshold))
    _, rows = det.detect(image)
    if rows is None:
        return []
    return [(r[0], r[1], r[2], r[3], float(r[14]), r[4:14].reshape(5, 2).astype(np.float64)) for r in rows]


def _run_haar(gray: np.ndarray, min_size: int, scale_factor: float) -> list[tuple]:
    side = max(1, int(min_size))
    boxes, neighbours = _haar().detectMultiScale2(gray, scaleFactor=scale_factor, minNeighbors=5,
                                                  minSize=(side, side))
    return [(b[0], b[1], b[2], b[3], float(n), None) for b, n in zip(np.asarray(boxes).reshape(-1, 4),
                                                                     np.asarray(neighbours).ravel())]


def _run_hog(gray: np.ndarray, upsample: int) -> list[tuple]:
    rects, scores, _ = _hog().run(gray, upsample, 0.0)
    return [(r.left(), r.top(), r.width(), r.height(), float(s), None) for r, s in zip(rects, scores)]


def detect_faces(image, *, detector: str = "yunet", score_threshold: float = 0.6, min_size: int = 24,
                 max_side: int | None = 640, min_side: int = 160, haar_scale: float = 1.1,
                 hog_upsample: int | None = None) -> list[Face]:
    """Find the faces in ``image``; return them sorted left to right.

    Parameters
    ----------
    image : path or array
        Anything :func:`~mmer_utils.video.io.read_image` accepts (BGR arrays are used as they are).
    detector : "yunet", "haar" or "hog"
        See the table at the top of the module.
    score_threshold : float
        Minimum YuNet score (0-1); ignored by Haar and HOG.
    min_size : int
        Faces smaller than this (pixels of the original image) are dropped.
    max_side : int or None
        Detect on a copy whose longer side is at most this many pixels (None: full size).
        Smaller is faster (a 640x480 frame at ``max_side=320`` is 4 times fewer pixels)
        but misses small faces.
    min_side : int
        A smaller image is upscaled to this longer side first (a 60x60 photo of a face
        is too small for the detectors' windows).
    haar_scale : float
        The Haar cascade's step between scales (1.1 finds more, 1.2 is faster).
    hog_upsample : int or None
        How many times dlib doubles the image first: its window is 80x80 pixels, so
        smaller faces need it, at 4 times the cost each. None: once when the detection
        image's longer side is at most 400 pixels, else not (faces under 80 px of a
        640x480 frame are then missed by HOG).

    Returns a list of :class:`Face` (empty when there is no face), boxes in the
    coordinates of ``image``.

    >>> faces = detect_faces("photo.jpg", detector="hog")           # doctest: +SKIP
    >>> [f.box for f in faces]                                      # doctest: +SKIP
    [(212, 80, 160, 160)]
    """
    if detector not in DETECTORS:
        raise FaceError(f"unknown face detector {detector!r}; use one of {', '.join(DETECTORS)}")
    img = as_bgr(image)
    H, W = img.shape[:2]
    if max(H, W) < min(min_size, min_side):
        return []
    if max(H, W) < min_side:
        import cv2

        scale = min_side / max(H, W)
        small = cv2.resize(img, (max(1, round(W * scale)), max(1, round(H * scale))), interpolation=cv2.INTER_CUBIC)
    else:
        small, scale = resize_max(img, max_side)
    if detector == "yunet":
        raw = _run_yunet(small, score_threshold)
    elif detector == "haar":
        raw = _run_haar(to_gray(small), max(20, min_size * scale), haar_scale)
    else:
        if hog_upsample is None:
            hog_upsample = 1 if max(small.shape[:2]) <= 400 else 0
        raw = _run_hog(to_gray(small), int(hog_upsample))
    faces = []
    for x, y, w, h, score, marks in raw:
        x0, y0 = max(0.0, x / scale), max(0.0, y / scale)
        x1, y1 = min(float(W), (x + w) / scale), min(float(H), (y + h) / scale)
        if x1 - x0 < min_size or y1 - y0 < min_size:
            continue
        faces.append(Face(int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0)), float(score),
                          None if marks is None else marks / scale))
    return sorted(faces, key=lambda f: (f.x, f.y))


# --------------------------------------------------------------------------- crops


def eye_angle(face: Face) -> float:
    """Angle in degrees of the line from the right eye to the left eye (0 = level);
    positive when the face is tilted clockwise on screen."""
    if face.landmarks is None:
        raise FaceError("this face has no landmarks: eye alignment needs detector='yunet'")
    (rx, ry), (lx, ly) = face.landmarks[0], face.landmarks[1]
    return math.degrees(math.atan2(ly - ry, lx - rx))


def crop_matrix(face: Face, *, margin: float = 0.2, align: bool = False) -> tuple[np.ndarray, int]:
    """The affine map from the image to the square crop of ``face``, and the crop's side in pixels.

    The square is centred on the box, its side is the box's longer side plus
    ``margin`` of it on each side; with ``align`` it is rotated about the centre by
    :func:`eye_angle` (about the eyes' midpoint) so the eyes end up level.
    """
    import cv2

    side = max(face.w, face.h) * (1 + 2 * margin)
    cx, cy = face.center
    angle = 0.0
    if align:
        angle = eye_angle(face)
    out = max(1, int(round(side)))
    rot = cv2.getRotationMatrix2D((cx, cy), angle, out / side)
    rot[0, 2] += out / 2 - cx
    rot[1, 2] += out / 2 - cy
    return rot, out


def crop_face(image, face: Face, *, size: int = 48, margin: float = 0.2, align: bool = False) -> np.ndarray:
    """The face as a uint8 grayscale ``(size, size)`` crop, like a FER2013 face.

    Parameters
    ----------
    image : the image the face was detected in (any :func:`~mmer_utils.video.io.read_image` input).
    face : :class:`Face` (or anything with x, y, w, h and landmarks).
    margin : float
        Extra context on each side, as a share of the box's side (0.2: a square 1.4
        times the box). FER2013 faces are tight crops: 0.1-0.25 looks most like them.
    align : bool
        Rotate so the eyes are level (needs YuNet's landmarks).

    The part of the square outside the image is filled with the nearest edge
    pixels (the face keeps its shape at the border).

    >>> img = np.full((100, 100, 3), 128, np.uint8)
    >>> crop_face(img, Face(90, 90, 30, 30)).shape
    (48, 48)
    """
    import cv2

    if margin < 0:
        raise FaceError(f"margin must be >= 0, got {margin}")
    if face.w <= 0 or face.h <= 0:
        raise FaceError(f"face box has no area: {face.w}x{face.h}")
    gray = to_gray(image)
    matrix, side = crop_matrix(face, margin=margin, align=align)
    # crop (and rotate) at full resolution, then shrink with INTER_AREA, which averages
    # pixels: warpAffine alone would alias when a 300 px face becomes 48 px
    square = cv2.warpAffine(gray, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(square, (size, size), interpolation=interp)


def crop_faces(image, faces: Sequence[Face], *, size: int = 48, margin: float = 0.2, align: bool = False) -> np.ndarray:
    """:func:`crop_face` for several faces of one image: uint8 ``(n, size, size)``."""
    gray = to_gray(image)
    if not len(faces):
        return np.zeros((0, size, size), np.uint8)
    return np.stack([crop_face(gray, f, size=size, margin=margin, align=align) for f in faces])


# --------------------------------------------------------------------------- comparing detectors


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _match(found: Sequence[Face], truth: Sequence, min_iou: float) -> int:
    """Number of true boxes matched by a found face (greedy, best IoU first)."""
    pairs = sorted(((_iou(f.box, t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)), reverse=True)
    used_f, used_t = set(), set()
    for iou, i, j in pairs:
        if iou < min_iou:
            break
        if i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
    return len(used_t)


def compare_detectors(images, detectors: Sequence[str] = DETECTORS, *, truth=None, min_iou: float = 0.3,
                      **detect_kw) -> pd.DataFrame:
    """Run each detector on each image; one row per detector.

    Parameters
    ----------
    images : sequence of images (arrays or paths; paths are read once, before timing).
    truth : sequence of lists of true boxes ``(x, y, w, h)``, one list per image, or None.
        With it, a detected face counts only when it overlaps a true face by at least
        ``min_iou`` (intersection over union).
    **detect_kw : passed to :func:`detect_faces` (e.g. ``max_side=320``).

    Columns: ``detector``, ``images``, ``detection_rate`` (share of images with at
    least one face found; with ``truth``: with every true face found), ``faces_found``,
    and with ``truth`` also ``recall`` (share of true faces found) and
    ``false_positives`` (found faces matching no true face); ``ms_per_image`` (mean
    wall time of :func:`detect_faces`, the first, detector-building call excluded)
    and ``ms_median``.

    >>> compare_detectors([np.zeros((64, 64, 3), np.uint8)], ["haar"])[["detector", "faces_found"]]  # doctest: +SKIP
    """
    imgs = [as_bgr(im) for im in images]
    if truth is not None and len(truth) != len(imgs):
        raise FaceError(f"truth has {len(truth)} lists of boxes for {len(imgs)} images")
    rows = []
    for name in detectors:
        if imgs:
            detect_faces(imgs[0], detector=name, **detect_kw)  # build the detector outside the timing
        times, found, complete, matched, n_true = [], 0, 0, 0, 0
        for k, img in enumerate(imgs):
            start = time.perf_counter()
            faces = detect_faces(img, detector=name, **detect_kw)
            times.append(time.perf_counter() - start)
            found += len(faces)
            if truth is None:
                complete += bool(faces)
            else:
                m = _match(faces, truth[k], min_iou)
                matched += m
                n_true += len(truth[k])
                complete += m == len(truth[k])
        row = {"detector": name, "images": len(imgs), "detection_rate": complete / max(1, len(imgs)),
               "faces_found": found}
        if truth is not None:
            row["recall"] = matched / max(1, n_true)
            row["false_positives"] = found - matched
        row["ms_per_image"] = 1000 * float(np.mean(times)) if times else float("nan")
        row["ms_median"] = 1000 * float(np.median(times)) if times else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- figures


def draw_boxes(image, faces: Sequence[Face], *, color=(0, 200, 0), labels: Sequence[str] | None = None,
               landmarks: bool = True, thickness: int = 2) -> np.ndarray:
    """A copy of ``image`` (BGR) with the faces' boxes, optional labels above them and landmarks."""
    import cv2

    out = as_bgr(image).copy()
    for i, f in enumerate(faces):
        cv2.rectangle(out, (f.x, f.y), (f.x + f.w, f.y + f.h), color, thickness)
        if labels is not None:
            cv2.putText(out, str(labels[i]), (f.x, max(12, f.y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1,
                        cv2.LINE_AA)
        if landmarks and f.landmarks is not None:
            for px, py in f.landmarks:
                cv2.circle(out, (int(round(px)), int(round(py))), max(2, f.w // 40), (0, 0, 255), -1)
    return out


def show_image(image, *, ax=None, title: str | None = None):
    """Show a BGR (or grayscale) image with matplotlib (which expects RGB); return the axis."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    arr = np.asarray(image)
    if arr.ndim == 2:
        ax.imshow(arr, cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(as_bgr(arr)[..., ::-1])
    if title:
        ax.set_title(title, fontsize=9)
    ax.axis("off")
    return ax


def hog_detector_demo(image, *, template_faces=None, pixels_per_cell: int = 8, orientations: int = 9, axes=None):
    """The idea of the HOG face detector in pictures; return the axes.

    Panels: the image with dlib's HOG detections; the image's gradient magnitude;
    its HOG picture (one star of gradient orientations per ``pixels_per_cell`` cell,
    scikit-image); and, with ``template_faces`` (uint8 ``(n, 48, 48)``, e.g. FER2013
    faces), the mean HOG picture of those faces: the "face shape" a linear SVM on
    HOG learns to look for while it slides a window over the image's HOG.
    """
    import cv2
    import matplotlib.pyplot as plt
    from skimage import exposure
    from skimage.feature import hog

    img = as_bgr(image)
    gray = to_gray(img)
    n = 4 if template_faces is not None else 3
    if axes is None:
        _, axes = plt.subplots(1, n, figsize=(4 * n, 3.6))
    faces = detect_faces(img, detector="hog")
    show_image(draw_boxes(img, faces), ax=axes[0], title=f"dlib HOG detector: {len(faces)} face(s)")
    gx = cv2.Sobel(gray.astype(np.float32), cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(gray.astype(np.float32), cv2.CV_32F, 0, 1)
    axes[1].imshow(np.hypot(gx, gy), cmap="gray")
    axes[1].set_title("gradient magnitude", fontsize=9)
    axes[1].axis("off")
    _, picture = hog(gray, orientations=orientations, pixels_per_cell=(pixels_per_cell,) * 2,
                     cells_per_block=(2, 2), visualize=True)
    axes[2].imshow(exposure.rescale_intensity(picture, out_range=(0, 1)), cmap="magma")
    axes[2].set_title(f"HOG of the image ({pixels_per_cell}x{pixels_per_cell} px cells)", fontsize=9)
    axes[2].axis("off")
    if template_faces is not None:
        faces_arr = np.asarray(template_faces)
        pics = [hog(cv2.resize(f, (96, 96)), orientations=orientations, pixels_per_cell=(pixels_per_cell,) * 2,
                    cells_per_block=(2, 2), visualize=True)[1] for f in faces_arr]
        axes[3].imshow(exposure.rescale_intensity(np.mean(pics, axis=0), out_range=(0, 1)), cmap="magma")
        axes[3].set_title(f"mean HOG of {len(faces_arr)} faces: the template", fontsize=9)
        axes[3].axis("off")
    return axes
