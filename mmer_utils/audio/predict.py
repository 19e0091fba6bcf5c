"""Use a trained voice-emotion model: a file or a signal in, probabilities per emotion out.

:class:`AudioEmotionModel` keeps a trained estimator together with the
preprocessing it was trained with, so a saved model cannot be fed the wrong input.
It holds one of two kinds of model:

==========  ==================================================  ==========================
kind        input of the estimator                              saved as
==========  ==================================================  ==========================
logmel      log-mel spectrograms (:func:`~mmer_utils.audio.     ``.keras`` (Keras' native
            spectrogram.logmel`): the chapter's CNNs            format, parameters inside)
classic     clip features (:func:`~mmer_utils.audio.features.   ``.skops`` (no pickle)
            clip_features`, one or several feature sets side
            by side): the chapter's scaler + SVM pipelines
==========  ==================================================  ==========================

The inference contract, shared with the text and face models:

==================  ===================================================================
``predict_proba``   a list of signals at ``sr`` -> ``(n, len(labels))``, columns in
                    ``labels`` order (also ``predict_windows``: the stream's interface)
``analyse``         a path or ``(signal, sr)`` -> :class:`VoiceAnalysis`: the whole
                    recording's probabilities, its timeline and their summary
``timeline``        emotions over time in the shared vocabulary (the columns of
                    :mod:`mmer_utils.timeline`, the same as the face's), plus ``start``,
                    ``end``; ``native_timeline``: the same windows in the model's labels
``save``/``load``   one file (see the table above); ``load_pretrained``: the course's
                    shipped model (``mmer_utils.models.load("voice_emotion")``)
==================  ===================================================================

Behaviour on unusual input follows :mod:`mmer_utils.audio.io`: stereo is averaged,
8-48 kHz (up to 192 kHz) is resampled, an empty, silent, too short, corrupt or
non-audio file is a one-line error, a clipped one is used with a warning. A log-mel
model hears its clip length (centred) of a longer recording in :meth:`predict_signal`;
a classic model summarises the whole recording; use :meth:`timeline` for emotions over time.

>>> model = AudioEmotionModel.load_pretrained()                          # doctest: +SKIP
>>> model.predict_file("answer.wav").idxmax()                            # doctest: +SKIP
'calm'
>>> model.timeline(*load_audio("answer.wav"))[["time", "emotion"]]       # doctest: +SKIP

After training a classic model (the audio chapter's features and SVM)::

    X, blocks = features.extract_feature_sets(paths)              # the FEATURE_SETS side by side
    pipe = baselines.make_svm("rbf", blocks=blocks).fit(X, y)
    model = AudioEmotionModel.classic(pipe, feature_sets=features.FEATURE_SETS)
    model.save("voice_emotion.skops")
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..labels import RAVDESS, SHARED, source_of
from ..persist import ModelFileError, load_payload, load_shipped, save_payload
from ..timeline import SILENCE, mean_distribution, shared_timeline
from .io import SR, load_audio, prepare_signal
from .spectrogram import DEFAULT_PARAMS, logmel
from .stream import emotion_timeline

#: The kinds of model an :class:`AudioEmotionModel` holds.
KINDS = ("logmel", "classic")
#: Kind written in ``.skops`` files (see :func:`mmer_utils.persist.save_payload`).
FILE_KIND = "AudioEmotionModel"


@dataclass
class VoiceAnalysis:
    """What :meth:`AudioEmotionModel.analyse` returns for one recording.

    ``proba``: the model's own labels for the whole recording at once (what
    :meth:`~AudioEmotionModel.predict_file` gives: fits a clip of the training length);
    ``timeline``: the sliding-window timeline in the shared vocabulary
    (:mod:`mmer_utils.timeline`); ``summary``: its mean over the speech windows (NaN
    when every window is silent); ``emotion``: the summary's most probable shared
    emotion (``"silence"`` when there is no speech window); ``duration``: seconds.
    """

    proba: pd.Series
    timeline: pd.DataFrame
    summary: pd.Series
    emotion: str
    duration: float


class AudioEmotionModel:
    """A trained voice-emotion estimator plus the preprocessing that made its input.

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba`` (and ``classes_``, whose names say
        which column is which label; without it, columns are in ``labels`` order).
    kind : ``"logmel"`` (Keras estimator on log-mel spectrograms) or ``"classic"``
        (scikit-learn pipeline on clip features); see :meth:`classic`.
    logmel_params : parameters of :func:`~mmer_utils.audio.spectrogram.logmel` (logmel kind).
    feature_params : parameters of :func:`~mmer_utils.audio.features.clip_features` common to
        every feature set (classic kind).
    feature_sets : classic kind: ``{name: params}`` of feature sets computed side by side, in
        order, as :func:`~mmer_utils.audio.features.extract_feature_sets` does (a pipeline of
        :func:`~mmer_utils.audio.baselines.make_svm` ``(blocks=...)`` picks one); None: one set.
    labels : the emotions, in column order (default: RAVDESS's 8).
    sr : the sample rate the estimator was trained at (16 kHz).
    source : the label vocabulary of ``labels`` for the shared mapping (default: guessed).
    info : free description (training data, scores), saved with the model.
    """

    def __init__(self, estimator, *, kind: str = "logmel", logmel_params: dict | None = None,
                 feature_params: dict | None = None, feature_sets: Mapping | Sequence | None = None,
                 labels: Sequence[str] = RAVDESS, sr: int = SR, source: str | None = None, info: dict | None = None):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.estimator = estimator
        self.kind = kind
        self.labels = [str(c) for c in labels]
        self.sr = int(sr)
        self.source = source or source_of(self.labels)
        self.info = dict(info or {})
        self.logmel_params = {**DEFAULT_PARAMS, **(logmel_params or {})} if kind == "logmel" else None
        self.feature_params = self.feature_sets = None
        if kind == "classic":
            self.feature_params = dict(feature_params or {})
            pairs = feature_sets.items() if isinstance(feature_sets, Mapping) else (feature_sets or [])
            self.feature_sets = {str(name): dict(params) for name, params in pairs} or None
            self._check_features()
        self._column_order()  # a fitted estimator whose classes lack a label is refused now


    @classmethod
    def classic(cls, estimator, *, feature_params: dict | None = None, feature_sets: Mapping | None = None,
                labels: Sequence[str] = RAVDESS, sr: int = SR, info: dict | None = None) -> "AudioEmotionModel":
        """A classic model: clip features -> ``estimator`` (a fitted scikit-learn pipeline).

        Give the features exactly as in training: ``extract_features(paths, **feature_params)``
        -> ``feature_params``; ``extract_feature_sets(paths, sets, **common)`` ->
        ``feature_sets=sets`` (default :data:`~mmer_utils.audio.features.FEATURE_SETS`: pass it
        explicitly) and ``feature_params=common``. The estimator's ``n_features_in_`` is
        checked against them.
        """
        return cls(estimator, kind="classic", feature_params=feature_params, feature_sets=feature_sets,
                   labels=labels, sr=sr, info=info)

    def __repr__(self) -> str:
        return f"AudioEmotionModel({type(self.estimator).__name__}, kind={self.kind!r}, labels={self.labels})"

    def _column_order(self) -> list[int] | None:
        """Which estimator column holds each label (None: the estimator has no ``classes_`` yet, or none
        at all: its columns are in ``labels`` order). Read at each call: the estimator may be fitted after
        the model is made (``model.estimator.fit(model.features(signals), y)``)."""
        classes = getattr(self.estimator, "classes_", None)
        if classes is None:
            return None
        classes = [str(c) for c in np.asarray(classes).tolist()]
        missing = [c for c in self.labels if c not in classes]
        if missing:
            raise ModelFileError(f"the estimator's classes {classes} lack the labels {missing}")
        return [classes.index(c) for c in self.labels]

    # -- input
    def _feature_param_list(self) -> list[dict]:
        from .features import DEFAULT_PARAMS as CLIP_DEFAULTS

        sets = list(self.feature_sets.values()) if self.feature_sets else [{}]
        return [{**CLIP_DEFAULTS, **self.feature_params, **extra} for extra in sets]

    def _check_features(self) -> None:
        from .features import DEFAULT_PARAMS as CLIP_DEFAULTS, feature_names

        for params in [self.feature_params, *(self.feature_sets or {}).values()]:
            unknown = set(params) - set(CLIP_DEFAULTS)
            if unknown:
                raise ValueError(f"unknown clip-feature parameters {sorted(unknown)}; known: {sorted(CLIP_DEFAULTS)}")
        width = sum(len(feature_names(**p)) for p in self._feature_param_list())
        expected = getattr(self.estimator, "n_features_in_", None)
        if expected is not None and int(expected) != width:
            raise ModelFileError(f"the estimator takes {expected} features but these feature parameters give {width}: "
                                 "give the feature_params / feature_sets it was trained with")

    def features(self, signals: Sequence[np.ndarray]) -> np.ndarray:
        """The estimator's input for signals already at ``self.sr``: log-mel spectrograms
        ``(n, n_frames, n_mels)`` (logmel kind) or clip-feature vectors ``(n, n_features)`` (classic)."""
        if self.kind == "logmel":
            return np.stack([logmel(y, self.sr, **self.logmel_params) for y in signals])
        from .features import clip_features

        params = self._feature_param_list()
        return np.stack([np.concatenate([clip_features(y, self.sr, **p)[0] for p in params]) for y in signals])

    # -- predictions
    def predict_proba(self, signals) -> np.ndarray:
        """Probabilities ``(n, len(labels))`` (columns in ``labels`` order) of a batch of signals at ``self.sr``."""
        signals = list(signals)
        if not signals:
            return np.zeros((0, len(self.labels)))
        proba = np.asarray(self.estimator.predict_proba(self.features(signals)), dtype=float)
        order = self._column_order()
        return proba[:, order] if order is not None else proba

    def predict_windows(self, windows: np.ndarray) -> np.ndarray:
        """:meth:`predict_proba` of windows ``(n, samples)``: the interface of :mod:`~mmer_utils.audio.stream`."""
        return self.predict_proba(list(windows))

    def _signal(self, audio) -> np.ndarray:
        """``audio`` (a path, or ``(y, sr)``) as a checked signal at ``self.sr``."""
        if isinstance(audio, (str, Path)):
            return load_audio(audio, sr=self.sr)[0]
        if isinstance(audio, tuple) and len(audio) == 2:
            return prepare_signal(audio[0], int(audio[1]), target_sr=self.sr)[0]
        raise TypeError(f"audio must be a file path or a (signal, sample_rate) pair, got {type(audio).__name__}")

    def predict_signal(self, y, sr: int) -> pd.Series:
        """Probability of each emotion (model's labels) for one recording given as a NumPy signal."""
        y = self._signal((y, sr))
        return pd.Series(self.predict_proba([y])[0], index=self.labels, name="probability")

    def predict_file(self, path) -> pd.Series:
        """Probability of each emotion (model's labels) for one audio file (WAV, FLAC, OGG, MP3...)."""
        y = self._signal(path)
        return pd.Series(self.predict_proba([y])[0], index=self.labels, name="probability")

    def native_timeline(self, y, sr: int, *, window: float = 2.0, hop: float = 0.5) -> pd.DataFrame:
        """Emotions over time in the model's own labels (:func:`~mmer_utils.audio.stream.emotion_timeline`:
        ``start``, ``end``, one column per label, ``label`` or ``"silence"``, ``confidence``)."""
        y, _ = prepare_signal(y, sr, target_sr=self.sr)
        return emotion_timeline(y, self.sr, self.predict_windows, labels=self.labels, window=window, hop=hop)

    def timeline(self, y, sr: int, *, window: float = 2.0, hop: float = 0.5) -> pd.DataFrame:
        """Emotions over time in the shared vocabulary: windows of ``window`` s every ``hop`` s.

        Columns (see :mod:`mmer_utils.timeline`): ``time`` (window centre, s), one column per
        shared emotion, ``emotion`` (``"silence"`` for a near-silent window, whose
        probabilities are NaN), ``confidence``, then ``start``, ``end``. ``attrs``: ``rtf``
        (processing time / audio duration), ``seconds``, ``audio_seconds``, ``labels``.
        """
        native = self.native_timeline(y, sr, window=window, hop=hop)
        out = shared_timeline((native["start"] + native["end"]) / 2, native[self.labels].to_numpy(dtype=float),
                              self.labels, source=self.source, extra=native[["start", "end"]])
        out.attrs.update(native.attrs, labels=list(self.labels))
        return out

    def analyse(self, audio, *, window: float = 2.0, hop: float = 0.5) -> VoiceAnalysis:
        """One recording (a path, or ``(signal, sr)``): probabilities, timeline, summary (:class:`VoiceAnalysis`)."""
        y = self._signal(audio)
        proba = pd.Series(self.predict_proba([y])[0], index=self.labels, name="probability")
        timeline = self.timeline(y, self.sr, window=window, hop=hop)
        summary = mean_distribution(timeline)
        emotion = SILENCE if summary.isna().all() else str(summary.idxmax())
        return VoiceAnalysis(proba=proba, timeline=timeline, summary=summary, emotion=emotion,
                             duration=len(y) / self.sr)

    def shared(self, proba: pd.Series) -> pd.Series:
        """A distribution in the model's labels mapped onto :data:`~mmer_utils.labels.SHARED`."""
        from ..labels import shared_proba

        return pd.Series(shared_proba(np.asarray(proba)[None, :], self.labels, self.source)[0], index=list(SHARED),
                         name="probability")

    # -- persistence
    def save(self, path) -> Path:
        """Save to one file: ``.keras`` (logmel kind, the preprocessing inside the archive) or
        ``.skops`` (classic kind: pipeline, feature parameters, labels); atomic."""
        path = Path(path)
        if self.kind == "logmel":
            if path.suffix != ".keras":
                raise ModelFileError(f"a log-mel voice model is saved as .keras, got {path.name}")
            meta = {"kind": "logmel", "logmel_params": self.logmel_params, "labels": self.labels, "sr": self.sr,
                    "source": self.source, "info": self.info}
            return self.estimator.save(path, metadata=meta)
        if path.suffix != ".skops":
            raise ModelFileError(f"a classic voice model is saved as .skops, got {path.name}")
        sets = [[name, params] for name, params in self.feature_sets.items()] if self.feature_sets else None
        return save_payload(path, FILE_KIND, {
            "kind": "classic", "estimator": self.estimator, "feature_params": self.feature_params,
            "feature_sets": sets, "labels": list(self.labels), "sr": self.sr, "source": self.source,
            "info_json": json.dumps(self.info, default=str)})

    @classmethod
    def load(cls, path) -> "AudioEmotionModel":
        """Load a model saved by :meth:`save` (``.keras`` with ``safe_mode``; ``.skops`` with trusted types only)."""
        path = Path(path)
        if path.suffix == ".keras":
            from ..training import KerasEstimator

            est = KerasEstimator.load(path)
            meta = getattr(est, "metadata_", {}) or {}
            return cls(est, logmel_params=meta.get("logmel_params"), labels=meta.get("labels", RAVDESS),
                       sr=int(meta.get("sr", SR)), source=meta.get("source"), info=meta.get("info"))
        if path.suffix == ".skops":
            obj = load_payload(path, FILE_KIND)
            return cls(obj["estimator"], kind="classic", feature_params=obj["feature_params"],
                       feature_sets=obj["feature_sets"], labels=obj["labels"], sr=int(obj["sr"]),
                       source=obj.get("source"), info=json.loads(obj.get("info_json") or "{}"))
        if not path.is_file():
            from ..errors import DataNotFoundError

            raise DataNotFoundError(f"voice model {path} not found")
        raise ModelFileError(f"voice models are .keras or .skops files, got {path.name}")

    @classmethod
    def load_pretrained(cls) -> "AudioEmotionModel":
        """The course's shipped voice model: ``mmer_utils.models.load("voice_emotion")``."""
        return load_shipped("voice_emotion")
