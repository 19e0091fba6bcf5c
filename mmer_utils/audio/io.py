"""Load any speech recording as a mono float32 signal at the course's sample rate.

Documented behaviour on bad input (each a one-line error, nothing is modified):

=========================  ===================================================
input                      behaviour
=========================  ===================================================
missing file               :class:`~mmer_utils.errors.DataNotFoundError`
corrupt / non-audio file   :class:`~mmer_utils.errors.UnreadableFileError`
no samples                 :class:`AudioError` ("has no samples")
shorter than min_duration  :class:`AudioError` ("too short")
silent                     :class:`AudioError` ("is silent")
NaN or inf samples         :class:`AudioError`
stereo / multi-channel     averaged to mono
8 kHz to 192 kHz           resampled to ``sr`` (soxr, high quality)
below 8 kHz                :class:`AudioError`: the speech band is missing
clipped (>1 % at full      kept, with a :class:`ClippedAudioWarning`
scale)
=========================  ===================================================

>>> import numpy as np
>>> y, sr = prepare_signal(0.5 * np.sin(np.linspace(0, 2000, 48000)), 48000)
>>> sr, y.shape
(16000, (16000,))
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import DataNotFoundError, MmerError, UnreadableFileError

#: The course's sample rate: RAVDESS is recorded at 48 kHz, speech emotion needs < 8 kHz of band.
SR = 16000
MIN_INPUT_SR = 8000
MAX_INPUT_SR = 192000


class AudioError(MmerError, ValueError):
    """A recording that cannot be used: empty, silent, too short, or too low a sample rate."""


class ClippedAudioWarning(UserWarning):
    """Many samples sit at full scale: the recording was too loud and is distorted."""


def prepare_signal(y, sr: int, *, target_sr: int = SR, min_duration: float = 0.25,
                   silence_rms: float = 1e-4, name: str = "signal") -> tuple[np.ndarray, int]:
    """Check and convert a signal: mono, float32, resampled to ``target_sr``.

    ``y`` may be (n,), (n, channels) or (channels, n) with channels <= 8.
    """
    y = np.asarray(y)
    if y.dtype.kind in "iu":  # integer PCM -> [-1, 1]
        y = y.astype(np.float64) / max(abs(np.iinfo(y.dtype).min), np.iinfo(y.dtype).max)
    y = y.astype(np.float64, copy=False)
    if y.ndim == 2:
        channel_axis = 1 if y.shape[1] <= 8 and y.shape[1] < y.shape[0] else 0
        y = y.mean(axis=channel_axis)
    elif y.ndim != 1:
        raise AudioError(f"{name}: expected a 1-D or 2-D signal, got shape {y.shape}")
    if y.size == 0:
        raise AudioError(f"{name} has no samples")
    if not np.isfinite(y).all():
        raise AudioError(f"{name} has NaN or infinite samples")
    if not (MIN_INPUT_SR <= sr <= MAX_INPUT_SR):
        raise AudioError(f"{name} has a sample rate of {sr} Hz; use {MIN_INPUT_SR}-{MAX_INPUT_SR} Hz "
                         "(below 8 kHz the speech band is missing and cannot be recovered)")
    duration = y.size / sr
    if duration < min_duration:
        raise AudioError(f"{name} is too short ({duration:.3f} s < {min_duration} s)")
    if np.sqrt(np.mean(y ** 2)) < silence_rms:
        raise AudioError(f"{name} is silent (RMS below {silence_rms})")
    if np.mean(np.abs(y) >= 0.999) > 0.01:
        warnings.warn(f"{name} is clipped: over 1 % of its samples are at full scale", ClippedAudioWarning,
                      stacklevel=2)
    if sr != target_sr:
        import soxr

        y = soxr.resample(y, sr, target_sr, quality="HQ")
    return y.astype(np.float32), target_sr


def load_audio(path, *, sr: int = SR, min_duration: float = 0.25, silence_rms: float = 1e-4) -> tuple[np.ndarray, int]:
    """Read a recording (WAV, FLAC, OGG; MP3 and others through librosa) as mono float32 at ``sr``.

    >>> y, sr = load_audio("03-01-05-01-01-01-01.wav")      # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"audio file {path} not found")
    if path.stat().st_size == 0:
        raise AudioError(f"{path} is empty (0 bytes)")
    try:
        import soundfile as sf

        data, file_sr = sf.read(str(path), always_2d=False)
    except Exception:  # noqa: BLE001 - not a format libsndfile knows: try librosa's decoders
        try:
            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data, file_sr = librosa.load(str(path), sr=None, mono=False)
            data = data.T if data.ndim == 2 else data
        except Exception as exc:  # noqa: BLE001
            raise UnreadableFileError(f"{path} is not a readable audio file ({type(exc).__name__})") from None
    return prepare_signal(data, int(file_sr), target_sr=sr, min_duration=min_duration,
                          silence_rms=silence_rms, name=str(path))
