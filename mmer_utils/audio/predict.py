"""Use a trained voice-emotion model: a file or a signal in, probabilities per emotion out.

:class:`AudioEmotionModel` keeps a trained estimator together with the
preprocessing it was trained with (sample rate, log-mel parameters), so a saved
model cannot be fed the wrong input. Saved in Keras' native ``.keras`` format,
with the preprocessing inside the same file.

Behaviour on unusual input follows :mod:`mmer_utils.audio.io`: stereo is averaged,
8-48 kHz (up to 192 kHz) is resampled, an empty, silent, too short, corrupt or
non-audio file is a one-line error, a clipped one is used with a warning. A
recording longer than the model's clip length is cut to it (centred) by
:meth:`predict_signal`; use :meth:`timeline` for emotions over time.

>>> model = AudioEmotionModel.load("build/cache/models/audio_cnn_lstm.keras")   # doctest: +SKIP
>>> model.predict_file("answer.wav").idxmax()                            # doctest: +SKIP
'calm'
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..labels import RAVDESS
from .io import SR, load_audio, prepare_signal
from .spectrogram import DEFAULT_PARAMS, logmel
from .stream import emotion_timeline


class AudioEmotionModel:
    """A trained estimator on log-mel spectrograms plus the parameters that made its input."""

    def __init__(self, estimator, *, logmel_params: dict | None = None, labels: Sequence[str] = RAVDESS,
                 sr: int = SR):
        self.estimator = estimator
        self.logmel_params = {**DEFAULT_PARAMS, **(logmel_params or {})}
        self.labels = list(labels)
        self.sr = sr

    # -- input
    def features(self, signals: Sequence[np.ndarray]) -> np.ndarray:
        """Log-mel spectrograms of signals already at ``self.sr``: ``(n, n_frames, n_mels)``."""
        return np.stack([logmel(y, self.sr, **self.logmel_params) for y in signals])

    # -- predictions
    def predict_windows(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities ``(n, n_labels)`` for a batch of signals at ``self.sr`` (the stream's interface)."""
        proba = self.estimator.predict_proba(self.features(list(windows)))
        classes = [str(c) for c in getattr(self.estimator, "classes_", self.labels)]
        order = [classes.index(label) for label in self.labels]
        return np.asarray(proba)[:, order]

    def predict_signal(self, y, sr: int) -> pd.Series:
        """Probability of each emotion for one recording given as a NumPy signal."""
        y, _ = prepare_signal(y, sr, target_sr=self.sr)
        return pd.Series(self.predict_windows(y[None, :])[0], index=self.labels, name="probability")

    def predict_file(self, path) -> pd.Series:
        """Probability of each emotion for one audio file (WAV, FLAC, OGG, MP3...)."""
        y, _ = load_audio(path, sr=self.sr)
        return pd.Series(self.predict_windows(y[None, :])[0], index=self.labels, name="probability")

    def timeline(self, y, sr: int, *, window: float = 2.0, hop: float = 0.5) -> pd.DataFrame:
        """Emotions over time for a long recording (see :func:`~mmer_utils.audio.stream.emotion_timeline`)."""
        y, _ = prepare_signal(y, sr, target_sr=self.sr)
        return emotion_timeline(y, self.sr, self.predict_windows, labels=self.labels, window=window, hop=hop)

    # -- persistence
    def save(self, path) -> Path:
        """Save to one ``.keras`` file (Keras' native format) with the preprocessing inside."""
        meta = {"logmel_params": self.logmel_params, "labels": self.labels, "sr": self.sr}
        return self.estimator.save(path, metadata=meta)

    @classmethod
    def load(cls, path) -> "AudioEmotionModel":
        """Load a model saved by :meth:`save`."""
        from ..training import KerasEstimator

        est = KerasEstimator.load(path)
        meta = getattr(est, "metadata_", {}) or {}
        return cls(est, logmel_params=meta.get("logmel_params"), labels=meta.get("labels", RAVDESS),
                   sr=int(meta.get("sr", SR)))
