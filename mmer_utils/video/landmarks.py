"""Face landmarks and blendshapes with MediaPipe's FaceLandmarker, and geometric features.

MediaPipe's Face Landmarker (Tasks API) finds a face (BlazeFace), fits a 478-point mesh
(468 face points and 10 iris points) and scores 52 ARKit-style *blendshapes* (``jawOpen``,
``mouthSmileLeft``, ``eyeBlinkLeft`` ...): a compact, interpretable description of the
expression, close in spirit to FACS action units.

* :class:`FaceLandmarker` wraps the task: created once (loading the model takes a moment),
  IMAGE mode for independent images, VIDEO mode for the frames of a video (it tracks the
  face from frame to frame); use it as a context manager or call :meth:`~FaceLandmarker.close`.
* :func:`landmark_face` is the one-call version for one image (a shared IMAGE-mode landmarker).
* :func:`prepare_small_face` upscales and pads a small crop (FER2013's 48x48): the face
  detector was trained on faces that do not fill the frame, and misses most raw 48x48 crops.
* :func:`face_features` / :func:`blendshape_features` run it on many faces, with NaN rows and a
  ``found`` mask for faces it misses, cached under ``cache_dir()/landmarks`` keyed by the pixels.
* :func:`geometry_features` turns landmarks into scale-invariant distances and angles
  (eye and mouth aspect ratios, brow raise, mouth-corner lift ...).

Landmarks are returned in **pixel coordinates of the image given** (x right, y down; z is
MediaPipe's relative depth, in the same units as x), so they can be drawn directly.

>>> from mmer_utils.video.landmarks import landmark_face         # doctest: +SKIP
>>> faces = landmark_face(image)                                  # doctest: +SKIP
>>> faces[0].landmarks.shape, faces[0].blendshapes["eyeBlinkLeft"]  # doctest: +SKIP
((478, 3), 0.05)
"""

from __future__ import annotations

import atexit
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config
from ..cache import load_or_compute
from ..errors import DataNotFoundError, MmerError
from .assets import asset_path

#: Number of mesh points (468 face + 10 iris).
N_LANDMARKS = 478
#: The 52 blendshapes in the model's output order (``_neutral`` is the model's own first output).
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)
#: FER2013-sized faces are upscaled to this side and padded by this many pixels (see README of the model).
SMALL_FACE_SIZE = 192
SMALL_FACE_PAD = 48
#: Bump when a change of the code changes cached features.
_VERSION = 1

# Mesh indices (MediaPipe canonical face mesh). "right" is the subject's right (image left).
RIGHT_EYE = (33, 160, 158, 133, 153, 144)  # outer corner, 2 upper lid, inner corner, 2 lower lid
LEFT_EYE = (263, 387, 385, 362, 380, 373)
_MOUTH_RIGHT, _MOUTH_LEFT = 61, 291
_LIP_UPPER_INNER, _LIP_LOWER_INNER = 13, 14
_LIP_UPPER_OUTER, _LIP_LOWER_OUTER = 0, 17
_BROW_RIGHT = (70, 63, 105, 66, 107)  # outer -> inner
_BROW_LEFT = (300, 293, 334, 296, 336)
_NOSE_TIP, _CHIN, _FOREHEAD = 1, 152, 10
_NOSE_RIGHT, _NOSE_LEFT = 98, 327  # alae
_CHEEK_RIGHT, _CHEEK_LEFT = 234, 454  # face contour at the ears
_IRIS_RIGHT, _IRIS_LEFT = 468, 473  # iris centres
#: Names of :func:`geometry_features`' columns.
GEOMETRY_NAMES: tuple[str, ...] = (
    "ear_right", "ear_left", "ear_mean", "ear_asymmetry",
    "mar", "mouth_open", "mouth_width", "mouth_corner_lift", "mouth_corner_angle", "lip_thickness",
    "brow_raise_right", "brow_raise_left", "brow_inner_raise", "brow_gap", "brow_slope",
    "nose_width", "nose_to_lip", "jaw_drop", "face_height",
    "roll", "yaw", "pitch",
)


class LandmarkInputError(MmerError, ValueError):
    """An image that the landmarker cannot take: empty, wrong shape, wrong dtype."""


@dataclass
class FaceLandmarks:
    """One face found by :class:`FaceLandmarker`.

    landmarks : float32 (478, 3): x, y in pixels of the image given, z relative depth (x units).
    blendshapes : pd.Series of the 52 scores in [0, 1], indexed by :data:`BLENDSHAPE_NAMES`.
    matrix : float32 (4, 4) facial transformation matrix (canonical face -> camera), or None.
    """

    landmarks: np.ndarray
    blendshapes: pd.Series
    matrix: np.ndarray | None = None

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Bounding box x, y, w, h of the mesh (pixels)."""
        lo, hi = self.landmarks[:, :2].min(0), self.landmarks[:, :2].max(0)
        return int(lo[0]), int(lo[1]), int(np.ceil(hi[0] - lo[0])), int(np.ceil(hi[1] - lo[1]))


# --------------------------------------------------------------------------- images


def to_rgb(image) -> np.ndarray:
    """Any image -> contiguous uint8 RGB (h, w, 3), what MediaPipe takes.

    Accepts what :func:`mmer_utils.video.io.read_image` accepts: a path, or an array (gray, BGR or
    BGRA as OpenCV reads them; uint8, uint16 or float in [0, 1]). Bad input raises its
    :class:`~mmer_utils.video.io.ImageError`.
    """
    import cv2

    from .io import ImageError, read_image

    bgr = read_image(image)
    if min(bgr.shape[:2]) < 8:
        raise ImageError(f"the image is too small ({bgr.shape[1]}x{bgr.shape[0]} px) for the face landmarker: "
                         f"at least 8x8; upscale small crops with prepare_small_face")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def prepare_small_face(face, *, size: int = SMALL_FACE_SIZE, pad: int = SMALL_FACE_PAD) -> tuple[np.ndarray, float, int]:
    """Upscale a small face crop so that its longer side is ``size`` and pad it with ``pad`` black pixels.

    Returns ``(image, scale, pad)``: landmarks found in ``image`` map back to the crop by
    ``(xy - pad) / scale``. On FER2013, 192 px + 48 px of black padding finds a face in about
    95 % of the images (README of the model; replicate or mirrored padding find fewer).

    >>> img, scale, pad = prepare_small_face(np.zeros((48, 48), np.uint8))
    >>> img.shape, scale, pad
    ((288, 288), 4.0, 48)
    """
    import cv2

    face = np.asarray(face)
    if face.size == 0:
        raise LandmarkInputError(f"the face is empty (shape {face.shape})")
    h, w = face.shape[:2]
    scale = size / max(h, w)
    big = cv2.resize(face, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_CUBIC)
    big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    return big, scale, pad


# --------------------------------------------------------------------------- the landmarker


class FaceLandmarker:
    """MediaPipe's FaceLandmarker, created once and reused.

    Parameters
    ----------
    model_path : path of ``face_landmarker.task`` (default
        :func:`mmer_utils.video.assets.asset_path` ``("face_landmarker")``).
    mode : "image" (independent images) or "video" (frames in order, with timestamps: the face
        is tracked, which is faster and steadier).
    num_faces : most faces returned per image.
    min_detection_confidence, min_presence_confidence, min_tracking_confidence : MediaPipe's thresholds.

    >>> with FaceLandmarker() as lm:                       # doctest: +SKIP
    ...     faces = lm.detect(image)
    """

    def __init__(self, model_path=None, *, mode: str = "image", num_faces: int = 1,
                 min_detection_confidence: float = 0.5, min_presence_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5):
        if mode not in ("image", "video"):
            raise LandmarkInputError(f"mode must be 'image' or 'video', got {mode!r}")
        if num_faces < 1:
            raise LandmarkInputError(f"num_faces must be at least 1, got {num_faces}")
        if model_path is None:
            model_path = asset_path("face_landmarker")
        model_path = Path(model_path)
        if not model_path.is_file():
            raise DataNotFoundError(f"face landmarker model not found at {model_path}: "
                                    f"run `python -m mmer_utils.video.assets fetch face_landmarker`")
        from mediapipe.tasks import python as mpt
        from mediapipe.tasks.python import vision

        self.mode = mode
        self.model_path = model_path
        running = vision.RunningMode.IMAGE if mode == "image" else vision.RunningMode.VIDEO
        options = vision.FaceLandmarkerOptions(
            base_options=mpt.BaseOptions(model_asset_path=str(model_path)), running_mode=running,
            num_faces=num_faces, min_face_detection_confidence=min_detection_confidence,
            min_face_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence,
            output_face_blendshapes=True, output_facial_transformation_matrixes=True)
        self._task = vision.FaceLandmarker.create_from_options(options)
        self._last_ts = -1

    def detect(self, image, *, timestamp_ms: int | None = None) -> list[FaceLandmarks]:
        """Faces in one image (most confident first); an empty list when there is none.

        In video mode ``timestamp_ms`` is required and must increase from call to call.
        """
        import mediapipe as mp

        if self._task is None:
            raise LandmarkInputError("this FaceLandmarker is closed; create a new one")
        rgb = to_rgb(image)
        h, w = rgb.shape[:2]
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        if self.mode == "image":
            result = self._task.detect(mp_image)
        else:
            if timestamp_ms is None:
                raise LandmarkInputError("video mode needs timestamp_ms (the frame's time in milliseconds)")
            timestamp_ms = int(timestamp_ms)
            if timestamp_ms <= self._last_ts:
                raise LandmarkInputError(f"timestamps must increase: got {timestamp_ms} ms after {self._last_ts} ms")
            self._last_ts = timestamp_ms
            result = self._task.detect_for_video(mp_image, timestamp_ms)
        faces = []
        for i, points in enumerate(result.face_landmarks):
            xyz = np.array([(p.x * w, p.y * h, p.z * w) for p in points], dtype=np.float32)
            scores = pd.Series({c.category_name: float(c.score) for c in result.face_blendshapes[i]},
                               dtype=np.float64).reindex(list(BLENDSHAPE_NAMES))
            matrix = (np.asarray(result.facial_transformation_matrixes[i], dtype=np.float32)
                      if result.facial_transformation_matrixes else None)
            faces.append(FaceLandmarks(xyz, scores, matrix))
        return faces

    __call__ = detect

    def close(self) -> None:
        if self._task is not None:
            self._task.close()
            self._task = None

    def __enter__(self) -> "FaceLandmarker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_DEFAULT: FaceLandmarker | None = None


def _close_default() -> None:
    # MediaPipe closes through a thread pool that Python stops before atexit callbacks run, and
    # its __del__ then fails noisily at exit: close while the pool is alive, else drop the handle.
    global _DEFAULT
    if _DEFAULT is not None and _DEFAULT._task is not None:
        try:
            _DEFAULT.close()
        except Exception:  # noqa: BLE001 - the process is ending; nothing is left to release
            _DEFAULT._task._handle = None
            _DEFAULT._task = None
    _DEFAULT = None


def _register_close() -> None:
    import threading

    register = getattr(threading, "_register_atexit", None)  # runs before thread pools stop
    try:
        register(_close_default)
    except Exception:  # noqa: BLE001 - private API missing or too late: fall back to atexit
        atexit.register(_close_default)


def default_landmarker() -> FaceLandmarker:
    """A shared IMAGE-mode landmarker (one face), created on first use."""
    global _DEFAULT
    if _DEFAULT is None or _DEFAULT._task is None:
        _DEFAULT = FaceLandmarker()
        _register_close()
    return _DEFAULT


def landmark_face(image, *, landmarker: FaceLandmarker | None = None) -> list[FaceLandmarks]:
    """Landmarks and blendshapes of the faces in one image (path or array); [] when none is found.

    Small crops (FER2013's 48x48) should go through :func:`prepare_small_face` first, or
    through :func:`face_features`, which does it.

    >>> faces = landmark_face("photo.jpg")                  # doctest: +SKIP
    >>> faces[0].blendshapes.nlargest(3)                    # doctest: +SKIP
    """
    return (landmarker or default_landmarker()).detect(image)


# --------------------------------------------------------------------------- geometry


def _dist(p, a, b):
    return np.linalg.norm(p[..., a, :] - p[..., b, :], axis=-1)


def geometry_features(landmarks) -> pd.DataFrame:
    """Scale-invariant geometric features of faces: one row per face, columns :data:`GEOMETRY_NAMES`.

    ``landmarks`` is (478, 3) or (n, 478, 3) (or (..., 2): x, y only); rows with NaN landmarks
    (face not found) give NaN features. Distances are divided by the inter-ocular distance (outer
    eye corners) and vertical positions are measured in the face's own frame (the eye line is the
    x axis), so the features do not change when the image is scaled, shifted or rotated in-plane.

    * ``ear_*``: eye aspect ratio (Soukupova & Cech 2016): lid distance / eye width; low = closed.
    * ``mar``: inner-lip opening / mouth width; ``mouth_open``, ``mouth_width``: per inter-ocular distance.
    * ``mouth_corner_lift``: how far the corners sit above the lips' centre (smile > 0, frown < 0);
      ``mouth_corner_angle`` (degrees) the same as an angle.
    * ``brow_raise_*``: brow-to-eye distance; ``brow_inner_raise``: inner brow ends over the inner
      eye corners (sadness, fear); ``brow_gap``: distance of the inner ends (frown: small);
      ``brow_slope``: inner minus outer brow height.
    * ``nose_width``, ``nose_to_lip`` (sneer), ``jaw_drop`` (nose-chin), ``face_height``.
    * ``roll`` (degrees, in-plane), ``yaw`` and ``pitch`` (unitless asymmetries of the nose
      position: 0 = frontal) describe the head pose, not the expression.

    >>> p = np.random.default_rng(0).normal(size=(478, 3)).astype(np.float32)
    >>> np.allclose(geometry_features(p).to_numpy(), geometry_features(3 * p + 5).to_numpy(), atol=1e-4)
    True
    """
    p = np.asarray(landmarks, dtype=np.float64)
    single = p.ndim == 2
    if single:
        p = p[None]
    if p.ndim != 3 or p.shape[1] != N_LANDMARKS or p.shape[2] not in (2, 3):
        raise LandmarkInputError(f"landmarks must be ({N_LANDMARKS}, 3) or (n, {N_LANDMARKS}, 3), got {np.shape(landmarks)}")
    xy = p[..., :2]
    with np.errstate(invalid="ignore", divide="ignore"):
        # the face's own frame: origin between the outer eye corners, x along the eye line, y down
        r_out, l_out = xy[:, RIGHT_EYE[0]], xy[:, LEFT_EYE[0]]
        axis_x = l_out - r_out
        iod = np.linalg.norm(axis_x, axis=-1)
        ux = axis_x / iod[:, None]
        uy = np.stack([-ux[:, 1], ux[:, 0]], axis=-1)  # x rotated by +90 degrees: down in image coords
        origin = (r_out + l_out) / 2
        rel = xy - origin[:, None]
        fx = (rel * ux[:, None]).sum(-1) / iod[:, None]  # face-frame coordinates in IOD units
        fy = (rel * uy[:, None]).sum(-1) / iod[:, None]
        f = np.stack([fx, fy], axis=-1)

        def ear(eye):
            o, u1, u2, i, l1, l2 = eye
            return (_dist(f, u1, l2) + _dist(f, u2, l1)) / (2 * _dist(f, o, i))

        ear_r, ear_l = ear(RIGHT_EYE), ear(LEFT_EYE)
        mouth_w = _dist(f, _MOUTH_RIGHT, _MOUTH_LEFT)
        mouth_open = _dist(f, _LIP_UPPER_INNER, _LIP_LOWER_INNER)
        lip_centre_y = (fy[:, _LIP_UPPER_INNER] + fy[:, _LIP_LOWER_INNER]) / 2
        corners_y = (fy[:, _MOUTH_RIGHT] + fy[:, _MOUTH_LEFT]) / 2
        lift = lip_centre_y - corners_y  # y points down: corners above the centre -> positive
        corner_angle = np.degrees(np.arctan2(lift, mouth_w / 2))
        lip_thick = (_dist(f, _LIP_UPPER_OUTER, _LIP_UPPER_INNER) + _dist(f, _LIP_LOWER_INNER, _LIP_LOWER_OUTER))

        def eye_centre_y(eye):
            return fy[:, list(eye)].mean(-1)

        brow_r = eye_centre_y(RIGHT_EYE) - fy[:, list(_BROW_RIGHT)].mean(-1)
        brow_l = eye_centre_y(LEFT_EYE) - fy[:, list(_BROW_LEFT)].mean(-1)
        inner = ((fy[:, RIGHT_EYE[3]] - fy[:, _BROW_RIGHT[-1]]) + (fy[:, LEFT_EYE[3]] - fy[:, _BROW_LEFT[-1]])) / 2
        outer = ((fy[:, RIGHT_EYE[0]] - fy[:, _BROW_RIGHT[0]]) + (fy[:, LEFT_EYE[0]] - fy[:, _BROW_LEFT[0]])) / 2
        brow_gap = _dist(f, _BROW_RIGHT[-1], _BROW_LEFT[-1])
        nose_w = _dist(f, _NOSE_RIGHT, _NOSE_LEFT)
        nose_to_lip = fy[:, _LIP_UPPER_OUTER] - fy[:, _NOSE_TIP]
        jaw_drop = fy[:, _CHIN] - fy[:, _NOSE_TIP]
        face_h = fy[:, _CHIN] - fy[:, _FOREHEAD]
        roll = np.degrees(np.arctan2(axis_x[:, 1], axis_x[:, 0]))
        # yaw: where the nose tip sits between the two sides of the face (0 = centred)
        side_r, side_l = fx[:, _CHEEK_RIGHT], fx[:, _CHEEK_LEFT]
        yaw = (fx[:, _NOSE_TIP] - (side_r + side_l) / 2) / (side_l - side_r)
        # pitch: where the nose tip sits between the eye line and the chin (relative to a typical 0.5)
        pitch = fy[:, _NOSE_TIP] / fy[:, _CHIN] - 0.5
        out = np.stack([ear_r, ear_l, (ear_r + ear_l) / 2, ear_r - ear_l,
                        mouth_open / mouth_w, mouth_open, mouth_w, lift, corner_angle, lip_thick,
                        brow_r, brow_l, inner, brow_gap, inner - outer,
                        nose_w, nose_to_lip, jaw_drop, face_h, roll, yaw, pitch], axis=-1)
    out[~np.isfinite(out).all(-1)] = np.nan
    return pd.DataFrame(out, columns=list(GEOMETRY_NAMES))


def eye_aspect_ratio(landmarks) -> np.ndarray:
    """Mean eye aspect ratio of both eyes for (478, 3) or (n, 478, 3) landmarks (low = closed)."""
    return geometry_features(landmarks)["ear_mean"].to_numpy()


# --------------------------------------------------------------------------- many faces


def _cache_key(faces: np.ndarray, size: int, pad: int, model_path: Path) -> str:
    h = hashlib.sha256()
    h.update(f"v{_VERSION}|{faces.shape}|{faces.dtype}|{size}|{pad}|{model_path.stat().st_size}".encode())
    h.update(np.ascontiguousarray(faces).tobytes())
    return h.hexdigest()[:20]


@dataclass
class LandmarkBatch:
    """MediaPipe's output for many small faces (one row per face, NaN where no face was found)."""

    landmarks: np.ndarray  # float32 (n, 478, 3), in pixels of the original crops
    blendshapes: pd.DataFrame  # (n, 52)
    found: np.ndarray  # bool (n,)
    ms_per_face: float = float("nan")  # time of the run that filled the cache (NaN when unknown)
    cached: bool = False
    info: dict = field(default_factory=dict)

    @property
    def detection_rate(self) -> float:
        return float(self.found.mean()) if len(self.found) else float("nan")


def landmark_faces(faces, *, size: int = SMALL_FACE_SIZE, pad: int = SMALL_FACE_PAD, cache: bool = True,
                   progress: bool = False, model_path=None) -> LandmarkBatch:
    """Run the landmarker on many small face crops, e.g. FER2013's (n, 48, 48) uint8 faces.

    Each crop is upscaled and padded (:func:`prepare_small_face`); landmarks are mapped back to
    the crop's pixels. Results are cached under ``cache_dir()/landmarks``, keyed by the pixels,
    the preparation and the model file, so a second call on the same faces is instant.
    """
    faces = np.asarray(faces)
    if faces.ndim == 4 and faces.shape[-1] == 1:
        faces = faces[..., 0]
    if faces.ndim == 2 and faces.size:
        faces = faces[None]
    if faces.ndim not in (3, 4) or len(faces) == 0 or faces[0].size == 0:
        raise LandmarkInputError(f"faces must be (n, h, w) gray or (n, h, w, 3) BGR crops with n >= 1, got shape {faces.shape}")
    if faces.dtype != np.uint8:
        raise LandmarkInputError(f"faces must be uint8 (0-255), got dtype {faces.dtype}")
    if model_path is None:
        model_path = asset_path("face_landmarker")
    model_path = Path(model_path)
    path = config.cache_dir("landmarks") / f"faces_{_cache_key(faces, size, pad, model_path)}.npz" if cache else None
    cached = path is not None and path.is_file()
    data = load_or_compute(path, lambda: _landmark_arrays(faces, size, pad, progress, model_path))
    return LandmarkBatch(data["landmarks"], pd.DataFrame(data["blendshapes"], columns=list(BLENDSHAPE_NAMES)),
                         data["found"].astype(bool), float(data["ms_per_face"]), cached=cached)


def _landmark_arrays(faces, size, pad, progress, model_path) -> dict:
    """The landmarker over every crop: what :func:`landmark_faces` keeps in its cache."""
    n = len(faces)
    marks = np.full((n, N_LANDMARKS, 3), np.nan, dtype=np.float32)
    shapes = np.full((n, len(BLENDSHAPE_NAMES)), np.nan, dtype=np.float32)
    found = np.zeros(n, dtype=bool)
    iterator = range(n)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="landmarks", unit="face")
    seconds = 0.0
    with FaceLandmarker(model_path) as lm:
        for i in iterator:
            image, scale, offset = prepare_small_face(faces[i], size=size, pad=pad)
            t = time.perf_counter()
            result = lm.detect(image)
            seconds += time.perf_counter() - t
            if result:
                xyz = result[0].landmarks.copy()
                xyz[:, :2] = (xyz[:, :2] - offset) / scale
                xyz[:, 2] /= scale
                marks[i], shapes[i], found[i] = xyz, result[0].blendshapes.to_numpy(), True
    return {"landmarks": marks, "blendshapes": shapes, "found": found, "ms_per_face": np.float64(1000 * seconds / n)}


def blendshape_features(faces, **kwargs) -> pd.DataFrame:
    """The 52 blendshapes of many small faces, one row each, plus a boolean ``found`` column.

    Faces the landmarker misses get NaN scores and ``found=False`` (impute or drop them; do not
    read NaN as "no expression"). Keyword arguments go to :func:`landmark_faces`.

    >>> X, y = load_fer_arrays("test", limit=50)            # doctest: +SKIP
    >>> df = blendshape_features(X); df["found"].mean()     # doctest: +SKIP
    0.94
    """
    batch = landmark_faces(faces, **kwargs)
    out = batch.blendshapes.copy()
    out["found"] = batch.found
    out.attrs["ms_per_face"] = batch.ms_per_face
    return out


def face_features(faces, **kwargs) -> pd.DataFrame:
    """Blendshapes (52 columns), geometry (:data:`GEOMETRY_NAMES`) and ``found`` of many small faces."""
    batch = landmark_faces(faces, **kwargs)
    out = pd.concat([batch.blendshapes, geometry_features(batch.landmarks)], axis=1)
    out["found"] = batch.found
    out.attrs["ms_per_face"] = batch.ms_per_face
    return out


# --------------------------------------------------------------------------- drawing


def draw_landmarks(image, face: FaceLandmarks, *, ax=None, size: float = 2.0, highlight=True):
    """Show an image with the mesh points of a face (eyes and mouth points highlighted)."""
    import matplotlib.pyplot as plt

    rgb = to_rgb(image)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(rgb)
    p = face.landmarks
    ax.scatter(p[:468, 0], p[:468, 1], s=size, c="deepskyblue", linewidths=0)
    if highlight:
        eyes = list(RIGHT_EYE) + list(LEFT_EYE)
        mouth = [_MOUTH_RIGHT, _MOUTH_LEFT, _LIP_UPPER_INNER, _LIP_LOWER_INNER, _LIP_UPPER_OUTER, _LIP_LOWER_OUTER]
        brows = list(_BROW_RIGHT) + list(_BROW_LEFT)
        ax.scatter(p[eyes, 0], p[eyes, 1], s=size * 6, c="yellow", label="eyes (EAR)")
        ax.scatter(p[mouth, 0], p[mouth, 1], s=size * 6, c="red", label="mouth")
        ax.scatter(p[brows, 0], p[brows, 1], s=size * 6, c="lime", label="brows")
        ax.scatter(p[468:, 0], p[468:, 1], s=size * 3, c="magenta", label="irises")
    ax.set_axis_off()
    return ax


def plot_blendshapes(scores, *, ax=None, top: int | None = None, title: str | None = None):
    """Horizontal bar plot of one face's blendshape scores (a Series indexed by name).

    ``top``: only the ``top`` highest scores (all 52 otherwise, in the model's order).
    """
    import matplotlib.pyplot as plt

    s = pd.Series(scores, dtype=float).drop("_neutral", errors="ignore")
    s = s.nlargest(top).iloc[::-1] if top else s.iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 0.18 * len(s) + 1))
    colors = ["tab:orange" if name.startswith("eyeBlink") else "tab:blue" for name in s.index]
    ax.barh(range(len(s)), s.to_numpy(), color=colors)
    ax.set_yticks(range(len(s)), s.index, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("score")
    if title:
        ax.set_title(title, fontsize=9)
    return ax
