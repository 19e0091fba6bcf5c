"""Data augmentation for speech: new training examples that keep the emotion.

With 1,440 clips (about 900 in a training fold), a CNN learns the training actors'
voices by heart; augmentation shows it the same emotion under changes that should
not matter. Two levels:

* **waveform** (:func:`augment_waveform`, librosa): background noise at a given
  signal-to-noise ratio, a time shift, a pitch shift (a few semitones: a higher or
  lower voice), a time stretch (faster or slower speech). These are slow-ish
  (pitch shift and stretch take tens of milliseconds a clip), so they make
  augmented *copies* once, cached on disk
  (:func:`mmer_utils.audio.spectrogram.logmel_batch` with ``augment=...``).
* **spectrogram** (:func:`spec_augment`, SpecAugment, Park et al. 2019): a few
  random bands of time frames and of mel bands set to the mean. Cheap, so applied
  on the fly to every training batch, a new draw each epoch.

Rules: augment the **training actors only** (never validation or test), and keep
each augmentation switchable to measure what it brings. Every function is pure:
the randomness comes from the ``rng`` argument (``numpy.random.Generator``), so
a run is repeatable.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = np.sin(2 * np.pi * 220 * np.arange(16000) / 16000).astype("float32")
>>> noisy = add_noise(y, 10.0, rng)
>>> round(float(snr_db(y, noisy - y)), 1)
10.0
"""

from __future__ import annotations

import numpy as np


def snr_db(signal, noise) -> float:
    """Signal-to-noise ratio in dB: ``10 log10(mean(signal^2) / mean(noise^2))``."""
    signal = np.asarray(signal, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    return float(10 * np.log10(np.mean(signal ** 2) / max(np.mean(noise ** 2), 1e-20)))


def add_noise(y, snr: float, rng: np.random.Generator, *, color: str = "white") -> np.ndarray:
    """Add Gaussian noise so that the signal-to-noise ratio is exactly ``snr`` dB.

    The signal power is the mean over the whole clip (pauses included). ``color``
    is "white" (flat spectrum) or "pink" (1/f, closer to room and crowd noise).
    """
    y = np.asarray(y, dtype=np.float32)
    noise = rng.standard_normal(len(y))
    if color == "pink":
        spectrum = np.fft.rfft(noise)
        f = np.arange(len(spectrum))
        spectrum[1:] /= np.sqrt(f[1:])
        spectrum[0] = 0
        noise = np.fft.irfft(spectrum, n=len(y))
    elif color != "white":
        raise ValueError(f"color must be 'white' or 'pink', got {color!r}")
    p_signal = np.mean(y.astype(np.float64) ** 2)
    p_noise = np.mean(noise ** 2)
    noise *= np.sqrt(p_signal / (p_noise * 10 ** (snr / 10)))
    return (y + noise).astype(np.float32)


def time_shift(y, shift: int) -> np.ndarray:
    """Delay (``shift > 0``) or advance (``shift < 0``) the signal by ``shift`` samples, zero-filled.

    The length is kept: what moves out of the clip is lost (no wrap-around, which
    would glue the end of a sentence before its start).

    >>> time_shift(np.array([1., 2., 3., 4.]), 1)
    array([0., 1., 2., 3.])
    """
    y = np.asarray(y)
    out = np.zeros_like(y)
    if abs(shift) >= len(y):
        return out
    if shift >= 0:
        out[shift:] = y[: len(y) - shift]
    else:
        out[: len(y) + shift] = y[-shift:]
    return out


def pitch_shift(y, sr: int, n_steps: float) -> np.ndarray:
    """Shift the pitch by ``n_steps`` semitones, keeping the duration (librosa)."""
    import librosa

    return librosa.effects.pitch_shift(np.asarray(y, dtype=np.float32), sr=sr, n_steps=float(n_steps),
                                       res_type="soxr_hq").astype(np.float32)


def time_stretch(y, rate: float) -> np.ndarray:
    """Speed up (``rate > 1``) or slow down (``rate < 1``) the speech, keeping the pitch (librosa).

    The duration becomes ``len(y) / rate``; the spectrogram's pad/crop brings it
    back to the model's fixed length.
    """
    import librosa

    return librosa.effects.time_stretch(np.asarray(y, dtype=np.float32), rate=float(rate)).astype(np.float32)


def augment_waveform(y, sr: int, rng: np.random.Generator, *, noise_snr: tuple[float, float] | None = (15.0, 35.0),
                     shift: float | None = 0.25, pitch: float | None = 2.0,
                     stretch: tuple[float, float] | None = (0.85, 1.15), p: float = 0.5) -> np.ndarray:
    """Apply a random subset of the waveform augmentations, each with probability ``p``.

    Parameters (None switches an augmentation off)
    ----------
    noise_snr : (low, high) dB; the SNR is drawn uniformly in this range.
    shift : seconds; the shift is drawn uniformly in ``[-shift, shift]``.
    pitch : semitones; the shift is drawn uniformly in ``[-pitch, pitch]``.
    stretch : (low, high) rate, drawn uniformly.
    p : probability of applying each enabled augmentation.

    Order: stretch, pitch, shift, then noise last (noise is not pitch-shifted).
    The output is float32 and finite; its length changes only with ``stretch``.

    >>> rng = np.random.default_rng(0)
    >>> y = np.random.default_rng(1).normal(0, 0.1, 16000).astype("float32")
    >>> augment_waveform(y, 16000, rng, stretch=None, pitch=None, p=1.0).shape
    (16000,)
    """
    y = np.asarray(y, dtype=np.float32)
    if stretch is not None and rng.random() < p:
        y = time_stretch(y, rng.uniform(*stretch))
    if pitch is not None and rng.random() < p:
        y = pitch_shift(y, sr, rng.uniform(-pitch, pitch))
    if shift is not None and rng.random() < p:
        y = time_shift(y, int(round(rng.uniform(-shift, shift) * sr)))
    if noise_snr is not None and rng.random() < p:
        y = add_noise(y, rng.uniform(*noise_snr), rng)
    return y


def spec_augment(S, rng: np.random.Generator, *, n_time_masks: int = 2, max_time: int = 25,
                 n_freq_masks: int = 2, max_freq: int = 8, value: float | None = None) -> np.ndarray:
    """SpecAugment-style masks: ``n_time_masks`` bands of up to ``max_time`` frames and
    ``n_freq_masks`` bands of up to ``max_freq`` mel bands set to ``value``.

    ``S`` is ``(n_frames, n_mels)`` or ``(n_frames, n_mels, 1)`` (time first, as
    :func:`mmer_utils.audio.spectrogram.logmel`); ``value=None`` uses the mean of
    ``S`` (0 for a normalised spectrogram), so a mask carries no energy cue. The input
    is not modified.

    >>> S = np.ones((100, 40))
    >>> M = spec_augment(S, np.random.default_rng(0), value=0.0)
    >>> M.shape, bool((M == 0).any()), bool((S == 1).all())
    ((100, 40), True, True)
    """
    S = np.array(S, copy=True)
    n_t, n_f = S.shape[0], S.shape[1]
    fill = float(S.mean()) if value is None else value
    for _ in range(n_time_masks):
        width = int(rng.integers(0, min(max_time, n_t) + 1))
        start = int(rng.integers(0, n_t - width + 1))
        S[start:start + width] = fill
    for _ in range(n_freq_masks):
        width = int(rng.integers(0, min(max_freq, n_f) + 1))
        start = int(rng.integers(0, n_f - width + 1))
        S[:, start:start + width] = fill
    return S
