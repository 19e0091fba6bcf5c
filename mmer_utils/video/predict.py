"""Use a trained face-emotion classifier on photos, crops and videos.

:class:`FaceEmotionModel` keeps a face classifier (any estimator of the chapter:
its ``predict_proba`` takes :func:`~mmer_utils.video.data.to_model_input` faces)
together with how faces are found and cut for it (detector, margin, alignment),
so a saved model is always used with the preprocessing it was meant for.

The inference contract, shared with the text and voice models:

==================  ===========================================================
call                returns
==================  ===========================================================
``predict_proba``   ``(n, len(labels))`` probabilities of a batch of 48x48
                    crops (columns in ``labels`` order; also ``predict_crops``)
``analyse``         the per-face table of one image (path or array): one row
                    per detected face: x, y, w, h, score, one column per
                    emotion, emotion (the most probable). **No face: an empty
                    DataFrame with the same columns**, not an error (also
                    ``analyse_image``)
``timeline``        emotions over time of a video in the shared vocabulary:
                    the columns of :mod:`mmer_utils.timeline` (the same as the
                    voice's: time, the 7 shared emotions, emotion, confidence)
                    then frame, face, x, y, w, h, score; frames without a face
                    give no row
``predict_face``    a Series, one probability per emotion, for one face crop
                    (any size, colour or gray: it is converted to 48x48 gray;
                    no detection is run)
``analyse_video``   the timeline in the model's own labels: frame, time, face,
                    x, y, w, h, score, emotions, emotion (also
                    ``native_timeline``); ``.attrs["fps"]`` and
                    ``.attrs["n_frames"]`` (frames analysed)
``save``/``load``   one file; ``load_pretrained``: the course's shipped model
                    (``mmer_utils.models.load("face_emotion")``)
==================  ===========================================================

All faces of a frame are classified in one batch. Saved as one file: a Keras
classifier (:class:`~mmer_utils.training.KerasEstimator`) as ``.keras`` with the
settings (a small JSON) inside the archive; a scikit-learn pipeline as ``.skops``
(no pickle: only trusted types are loaded, see :mod:`mmer_utils.persist`). Any other
object with ``predict_proba`` and ``classes_`` (e.g. an ONNX Runtime classifier) works
as a classifier; save it in its own format.

>>> model = FaceEmotionModel.load_pretrained()                   # doctest: +SKIP
>>> model.analyse("photo.jpg")[["x", "y", "emotion"]]            # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import DataNotFoundError
from ..labels import FER2013, source_of
from ..persist import ModelFileError, load_payload, load_shipped, save_payload
from ..timeline import shared_timeline
from .assets import asset_path
from .data import to_model_input
from .faces import DETECTORS, Face, FaceError, crop_faces, detect_faces
from .io import as_bgr, to_gray

#: Format version of the settings saved with a model.
_FORMAT = 1
#: Kind written in ``.skops`` files (see :func:`mmer_utils.persist.save_payload`).
FILE_KIND = "FaceEmotionModel"
#: The face columns of a timeline, after the shared ones (see :mod:`mmer_utils.timeline`).
FACE_COLUMNS = ("frame", "face", "x", "y", "w", "h", "score")
#: Default crop margin per detector: the margin whose crops of FER2013 faces pasted on a
#: background are closest to the original 48x48 faces (measured in notebook 03_video/01_faces:
#: YuNet's and Haar's boxes already frame a face like FER2013; dlib's HOG boxes are tighter).
FER_MARGINS = {"yunet": 0.0, "haar": 0.0, "hog": 0.1}


def flatten_faces(X) -> np.ndarray:
    """``(n, 48, 48, 1)`` -> ``(n, 576)``: 2x2-averaged pixels as features (a step of
    :func:`pixel_logistic_regression`; averaging makes it 4 times smaller and a little
    less sensitive to where exactly the face is)."""
    X = np.asarray(X, dtype=np.float32)
    n, h, w = X.shape[:3]
    return X.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4)).reshape(n, -1)


def pixel_logistic_regression(C: float = 0.001, *, max_iter: int = 200):
    """A deliberately simple face classifier: pixels -> standardise -> logistic regression.

    Weak (it sees pixels, not shapes: about 30 % on FER2013 when trained on a few
    thousand faces, against 14 % for chance over 7 classes) but quick to train and
    to run; it follows the chapter's classifier interface, so tests and demos of the
    video pipeline can use it when no trained model is at hand.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return make_pipeline(FunctionTransformer(flatten_faces), StandardScaler(),
                         LogisticRegression(C=C, max_iter=max_iter))


def _no_per_call_cache(classifier) -> None:
    """Switch off the on-disk HOG cache of a pipeline's :class:`~mmer_utils.video.features.HogTransformer`.

    That cache is keyed by the pixels: worth it for a training set, but on video every
    frame's faces are new, so each call would write one more file under ``cache_dir()``.
    """
    from .features import HogTransformer

    for step in getattr(classifier, "named_steps", {}).values():
        if isinstance(step, HogTransformer) and step.cache:
            step.set_params(cache=False)


def yunet_available() -> bool:
    """True when YuNet's model file is where the course looks for it (the data root's ``models/``)."""
    try:
        asset_path("yunet")
    except DataNotFoundError:
        return False
    return True


class FaceEmotionModel:
    """A face classifier plus the face detection and cropping it expects.

    Parameters
    ----------
    classifier : estimator
        ``predict_proba(X)`` on float ``(n, 48, 48, 1)`` in [0, 1] -> ``(n, k)``; its
        ``classes_`` (0..6 or emotion names) say which column is which label.
    detector : "yunet", "haar" or "hog" (see :mod:`mmer_utils.video.faces`).
    labels : names of the emotions, in the order of class indices.
    margin, align : how faces are cropped (:func:`~mmer_utils.video.faces.crop_face`); ``margin=None``
        uses :data:`FER_MARGINS` of the detector, which frames faces like FER2013's.
    score_threshold, min_size, max_side : passed to
        :func:`~mmer_utils.video.faces.detect_faces` (``max_side=320`` detects on a
        half-size copy of a 640x480 frame: about four times faster, but small or blurry
        faces are missed more often; notebook 03_video/04 measures both).
    """

    def __init__(self, classifier, *, detector: str = "yunet", labels: Sequence[str] = FER2013,
                 margin: float | None = None, align: bool = False, score_threshold: float = 0.6, min_size: int = 24,
                 max_side: int | None = 640):
        if detector not in DETECTORS:
            raise FaceError(f"unknown face detector {detector!r}; use one of {', '.join(DETECTORS)}")
        if align and detector != "yunet":
            raise FaceError(f"align=True needs eye landmarks, which only detector='yunet' gives (got {detector!r})")
        #: What the model changed about its settings, for reports (e.g. a detector that is not installed).
        self.notes: list[str] = []
        if detector == "yunet" and not yunet_available():
            # The shipped models need no data folder: without YuNet's file, OpenCV's Haar cascade
            # (inside the opencv package) finds frontal faces, a little less reliably.
            self.notes.append("faces found with OpenCV's Haar cascade: the YuNet detector is not installed "
                              "(python -m mmer_utils.video.assets fetch yunet)")
            detector, align, margin = "haar", False, None
        self.classifier = classifier
        self.detector = detector
        self.labels = [str(c) for c in labels]
        self.source = source_of(self.labels)
        self.margin = float(FER_MARGINS[detector] if margin is None else margin)
        self.align = bool(align)
        self.score_threshold = float(score_threshold)
        self.min_size = int(min_size)
        self.max_side = None if max_side is None else int(max_side)
        self._order = self._column_order()
        _no_per_call_cache(classifier)

    def __repr__(self) -> str:
        return (f"FaceEmotionModel({type(self.classifier).__name__}, detector={self.detector!r}, "
                f"margin={self.margin}, align={self.align}, max_side={self.max_side})")

    def _column_order(self) -> list[int] | None:
        classes = getattr(self.classifier, "classes_", None)
        if classes is None:
            return None
        classes = list(np.asarray(classes).tolist())
        if len(classes) != len(self.labels):
            raise ModelFileError(f"the classifier has {len(classes)} classes but {len(self.labels)} labels were given")
        if all(isinstance(c, str) for c in classes):
            missing = set(self.labels) - set(classes)
            if missing:
                raise ModelFileError(f"the classifier's classes {classes} lack {sorted(missing)}")
            return [classes.index(name) for name in self.labels]
        if sorted(classes) != list(range(len(self.labels))):
            raise ModelFileError(f"the classifier's classes_ must be 0..{len(self.labels) - 1} or emotion names, "
                                 f"got {classes}")
        return [classes.index(i) for i in range(len(self.labels))]

    # -- the classifier on 48x48 crops
    def predict_crops(self, crops) -> np.ndarray:
        """Probabilities ``(n, n_labels)`` (columns in ``labels`` order) of uint8 ``(n, 48, 48)`` crops."""
        crops = np.asarray(crops)
        if len(crops) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        X = to_model_input(crops)
        from ..training import KerasEstimator

        # only our own Keras estimators take to_model_input() as it is; adapters such as the
        # fer peer resize and rescale inside predict_proba, so they must go through it
        model = getattr(self.classifier, "model_", None) if isinstance(self.classifier, KerasEstimator) else None
        if model is not None and getattr(self.classifier, "transform", None) is None and len(X) <= 64:
            # one compiled call (predict_on_batch) skips predict()'s per-call set-up (tens of ms) and
            # eager layer-by-layer dispatch (~20 ms for mini-XCeption): it matters at 30 frames per
            # second; same weights, same numbers
            proba = np.asarray(model.predict_on_batch(X))
        else:
            proba = np.asarray(self.classifier.predict_proba(X))
        if self._order is not None:
            proba = proba[:, self._order]
        return proba.astype(np.float32, copy=False)

    def predict_face(self, img) -> pd.Series:
        """Probability of each emotion for one face crop (no detection: the whole image is the face).

        ``img`` may be any size, colour or gray (a path or an array); it is converted to
        48x48 grayscale like a FER2013 face.
        """
        import cv2

        gray = to_gray(img)
        interp = cv2.INTER_AREA if min(gray.shape) > 48 else cv2.INTER_CUBIC
        crop = cv2.resize(gray, (48, 48), interpolation=interp)
        return pd.Series(self.predict_crops(crop[None])[0], index=self.labels, name="probability")

    # -- detection + classification
    def detect(self, image) -> list[Face]:
        """The faces of ``image`` with this model's detector settings."""
        return detect_faces(image, detector=self.detector, score_threshold=self.score_threshold,
                            min_size=self.min_size, max_side=self.max_side)

    def analyse_faces(self, image, faces: Sequence[Face]) -> np.ndarray:
        """Probabilities ``(len(faces), n_labels)`` of given faces of ``image``, in one batch."""
        return self.predict_crops(crop_faces(image, faces, margin=self.margin, align=self.align))

    def _frame_table(self, faces: Sequence[Face], proba: np.ndarray) -> pd.DataFrame:
        df = pd.DataFrame([f.to_dict() for f in faces], columns=["x", "y", "w", "h", "score"])
        df = df.astype({"x": int, "y": int, "w": int, "h": int, "score": float})
        probs = pd.DataFrame(proba, columns=self.labels, index=df.index)
        df = pd.concat([df, probs], axis=1)
        df["emotion"] = [self.labels[i] for i in np.argmax(proba, axis=1)] if len(proba) else pd.Series(dtype=str)
        return df

    def analyse_image(self, img) -> pd.DataFrame:
        """One row per face found in ``img``: x, y, w, h, score, one column per emotion, emotion.

        No face: an empty DataFrame with these columns (check ``len(df)``).
        """
        image = as_bgr(img)
        faces = self.detect(image)
        return self._frame_table(faces, self.analyse_faces(image, faces))

    def analyse_video(self, path, *, every: int = 1, max_frames: int | None = None) -> pd.DataFrame:
        """One row per (frame, face) of a video file (or camera index), in the model's own labels.

        Columns: frame (number in the file), time (s), face (a track id: the same person
        keeps the same id from frame to frame), x, y, w, h, score, emotions, emotion.
        ``attrs``: ``fps`` (of the analysed frames: the file's fps / every), ``n_frames``
        (frames analysed, with or without a face). :meth:`timeline` gives the same rows in
        the shared vocabulary.
        """
        from .pipeline import run_pipeline

        return run_pipeline(path, self, every=every, max_frames=max_frames).timeline

    # -- the inference contract shared with the text and voice models
    def predict_proba(self, crops) -> np.ndarray:
        """``(n, len(labels))`` probabilities of 48x48 face crops (uint8 ``(n, 48, 48)``; see :meth:`predict_crops`)."""
        return self.predict_crops(crops)

    def analyse(self, img) -> pd.DataFrame:
        """The per-face table of one image (a path or an array): :meth:`analyse_image`."""
        return self.analyse_image(img)

    def native_timeline(self, path, *, every: int = 1, max_frames: int | None = None) -> pd.DataFrame:
        """The video's timeline in the model's own labels: :meth:`analyse_video`."""
        return self.analyse_video(path, every=every, max_frames=max_frames)

    def timeline(self, path, *, every: int = 1, max_frames: int | None = None) -> pd.DataFrame:
        """Emotions over time of a video in the shared vocabulary, one row per (frame, face).

        Columns (see :mod:`mmer_utils.timeline`, the same as the voice's): ``time`` (s), one
        column per shared emotion, ``emotion``, ``confidence``, then ``frame``, ``face``,
        ``x``, ``y``, ``w``, ``h``, ``score``. ``attrs``: ``fps``, ``n_frames`` (frames
        analysed, with or without a face), ``labels`` (the model's own).
        """
        native = self.analyse_video(path, every=every, max_frames=max_frames)
        out = shared_timeline(native["time"], native[self.labels].to_numpy(dtype=float), self.labels,
                              source=self.source, extra=native[list(FACE_COLUMNS)])
        out = out.astype({c: int for c in ("frame", "face", "x", "y", "w", "h")})
        out.attrs.update(native.attrs, labels=list(self.labels))
        return out

    # -- persistence
    def settings(self) -> dict:
        return {"format": _FORMAT, "detector": self.detector, "labels": self.labels, "margin": self.margin,
                "align": self.align, "score_threshold": self.score_threshold, "min_size": self.min_size,
                "max_side": self.max_side}

    def save(self, path) -> Path:
        """Save the classifier and the settings in one file: ``.keras`` for a Keras classifier
        (:class:`~mmer_utils.training.KerasEstimator`), ``.skops`` for a scikit-learn one."""
        path = Path(path)
        from ..training import KerasEstimator

        if isinstance(self.classifier, KerasEstimator):
            if path.suffix != ".keras":
                raise ModelFileError(f"a Keras face model is saved as .keras, got {path.name}")
            return self.classifier.save(path, metadata={"face_emotion_model": self.settings()})
        kind = type(self.classifier)
        if kind.__module__ == "mmer_utils.onnx_export" or (
                hasattr(self.classifier, "save") and not kind.__module__.startswith(("sklearn", "mmer_utils."))):
            raise ModelFileError(f"{kind.__name__} keeps its own model file (e.g. .onnx); "
                                 "FaceEmotionModel.save writes Keras and scikit-learn classifiers only")
        if path.suffix != ".skops":
            raise ModelFileError(f"a scikit-learn face model is saved as .skops, got {path.name}")
        return save_payload(path, FILE_KIND, {"classifier": self.classifier,
                                              "settings_json": json.dumps(self.settings())})

    @classmethod
    def load(cls, path, **overrides) -> "FaceEmotionModel":
        """Load a model saved by :meth:`save`, or a bare ``KerasEstimator`` ``.keras`` file (then
        the default settings apply). ``overrides`` replace saved settings (e.g. ``detector="haar"``).

        ``.keras`` files are read by Keras with ``safe_mode=True``, ``.skops`` files with the
        trusted types of :mod:`mmer_utils.persist` only; pickled ``.joblib`` files are refused.
        """
        path = Path(path)
        if not path.is_file():
            raise DataNotFoundError(f"face model {path} not found")
        if path.suffix == ".keras":
            from ..training import KerasEstimator

            classifier = KerasEstimator.load(path)
            settings = (getattr(classifier, "metadata_", {}) or {}).get("face_emotion_model", {})
        elif path.suffix == ".skops":
            payload = load_payload(path, FILE_KIND)
            classifier, settings = payload["classifier"], json.loads(payload.get("settings_json") or "{}")
        elif path.suffix == ".joblib":
            raise ModelFileError(f"{path.name} is a pickle (joblib), which can run code when loaded: it is no longer "
                                 "read; save the model again as .keras or .skops")
        else:
            raise ModelFileError(f"face models are .keras or .skops files, got {path.name}")
        kwargs = {k: v for k, v in settings.items() if k not in ("format",)}
        kwargs.update(overrides)
        return cls(classifier, **kwargs)

    @classmethod
    def load_pretrained(cls, **overrides) -> "FaceEmotionModel":
        """The course's shipped face model: ``mmer_utils.models.load("face_emotion")``
        (``overrides`` replace its settings, e.g. ``detector="haar"``)."""
        return load_shipped("face_emotion", **overrides)

    @classmethod
    def load_default(cls, **overrides) -> "FaceEmotionModel":
        """The chapter's trained face model (``mmer_utils.video.models.DEFAULT_MODEL_PATH``).

        Raises :class:`~mmer_utils.errors.DataNotFoundError` saying how to train it.
        """
        try:
            from .models import DEFAULT_MODEL_PATH
            path = Path(DEFAULT_MODEL_PATH)
        except ImportError:  # the models module is part of the package; this is a broken install
            from .. import config
            path = config.cache_dir("models") / "face_emotion.keras"
        if not path.is_file():
            raise DataNotFoundError(
                f"no trained face model at {path}: train it with the deep-models notebook of chapter 03_video "
                f"in full mode (QUICK=False) or with: python -m mmer_utils.bench video --full")
        return cls.load(path, **overrides)
