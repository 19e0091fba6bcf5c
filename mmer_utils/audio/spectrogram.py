"""Log-mel spectrograms of fixed-length clips: the input of the deep models.

A deep model needs every example to have the same shape, but RAVDESS clips last
from 2.9 to 5.3 s. :func:`fix_length` pads (with zeros) or crops each signal to
``duration`` seconds (3.5 s by default, centred: the speech sits in the middle of
a RAVDESS clip, with silence before and after). :func:`logmel` then gives a
``(n_frames, n_mels)`` array in dB, **time first** (Keras' convention for
sequences; librosa's is ``(n_mels, n_frames)``), normalised per utterance.

The time-distributed CNN-LSTM does not see the whole spectrogram at once: it is
cut by :func:`rolling_windows` into overlapping windows of ``win`` frames every
``hop`` frames, each window a small image for the CNN, the sequence of windows
read by the LSTM.

:func:`logmel_batch` computes many files with an on-disk cache
(``config.cache_dir("audio_logmel")``), keyed by the file's content and the
parameters, with atomic writes and a progress bar.

>>> import numpy as np
>>> y = np.random.default_rng(0).normal(size=16000).astype("float32")
>>> S = logmel(y, 16000, duration=3.5)
>>> S.shape                                   # 351 frames of 10 ms, 64 mel bands
(351, 64)
>>> rolling_windows(S, win=128, hop=64).shape  # 4 windows of 1.28 s, every 0.64 s
(4, 128, 64, 1)
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import config
from ..cache import keyed_folder, load_or_compute
from .features import file_sha256
from .io import SR

#: Bump when a change of the code changes the values: old cache entries are then ignored.
LOGMEL_VERSION = 1

#: Default parameters of :func:`logmel` (the course's speech settings at 16 kHz).
DEFAULT_PARAMS = {
    "duration": 3.5,      # seconds after pad/crop: covers the speech of every RAVDESS clip
    "align": "center",    # where to crop or pad: "center" or "start"
    "trim_db": None,      # trim leading/trailing silence quieter than peak - trim_db first (None: no trim)
    "n_fft": 512,         # 32 ms FFT
    "win_length": 400,    # 25 ms window
    "hop_length": 160,    # 10 ms hop: 100 frames per second
    "n_mels": 64,
    "fmin": 0.0,
    "fmax": None,         # None = sr / 2; 4000 drops the content above 4 kHz (the source's trick)
    "normalize": "utterance",  # "utterance" (one mean/std per clip), "band" (per mel band) or None
}


def fix_length(y, n: int, *, align: str = "center") -> np.ndarray:
    """Pad with zeros or crop ``y`` to exactly ``n`` samples.

    ``align="center"`` keeps the middle of a long signal and pads a short one on both
    sides; ``"start"`` keeps the beginning and pads at the end.

    >>> fix_length(np.arange(5.0), 3)
    array([1., 2., 3.])
    >>> fix_length(np.ones(2), 4, align="start")
    array([1., 1., 0., 0.])
    """
    y = np.asarray(y)
    if align not in ("center", "start"):
        raise ValueError(f"align must be 'center' or 'start', got {align!r}")
    if len(y) >= n:
        start = (len(y) - n) // 2 if align == "center" else 0
        return y[start:start + n]
    missing = n - len(y)
    before = missing // 2 if align == "center" else 0
    return np.pad(y, (before, missing - before))


def logmel(y, sr: int = SR, *, duration: float | None = 3.5, align: str = "center", trim_db: float | None = None,
           n_fft: int = 512, win_length: int = 400, hop_length: int = 160, n_mels: int = 64, fmin: float = 0.0,
           fmax: float | None = None, normalize: str | None = "utterance") -> np.ndarray:
    """Log-mel spectrogram (dB) of a clip, shape ``(n_frames, n_mels)``, float32.

    Parameters
    ----------
    y : 1-D array, the signal (mono, at ``sr``).
    duration : float or None
        Pad/crop the signal to this many seconds first (None: keep its length).
    trim_db : float or None
        Remove leading and trailing parts quieter than the peak minus ``trim_db`` dB
        before pad/crop (None: no trimming).
    fmax : float or None
        Highest frequency of the mel filterbank; ``fmax=4000`` drops everything above
        4 kHz (same number of bands, finer in the low band).
    normalize : "utterance", "band" or None
        ``"utterance"``: subtract the clip's mean dB and divide by its std (removes the
        recording level); ``"band"``: the same per mel band (also removes the channel's
        and part of the speaker's spectral colour); None: raw dB.

    >>> logmel(np.ones(8000) * 0.1 + np.random.default_rng(0).normal(0, 0.01, 8000), duration=1.0).shape
    (101, 64)
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if trim_db is not None:
        y, _ = librosa.effects.trim(y, top_db=trim_db, frame_length=n_fft, hop_length=hop_length)
    if duration is not None:
        y = fix_length(y, int(round(duration * sr)), align=align)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, win_length=win_length, hop_length=hop_length,
                                         n_mels=n_mels, fmin=fmin, fmax=fmax, power=2.0)
    S = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).T  # (frames, mels)
    # Floor at 80 dB below the peak: digital silence (zero padding) would otherwise sit at -100 dB
    S = np.maximum(S, S.max() - 80.0)
    if normalize == "utterance":
        S = (S - S.mean()) / (S.std() + 1e-6)
    elif normalize == "band":
        S = (S - S.mean(axis=0)) / (S.std(axis=0) + 1e-6)
    elif normalize is not None:
        raise ValueError(f"normalize must be 'utterance', 'band' or None, got {normalize!r}")
    return S.astype(np.float32)


def n_frames(duration: float, *, sr: int = SR, hop_length: int = 160) -> int:
    """Number of frames :func:`logmel` gives for ``duration`` seconds (librosa's centred frames).

    >>> n_frames(3.5)
    351
    """
    return 1 + int(round(duration * sr)) // hop_length


def rolling_windows(S, win: int = 128, hop: int = 64) -> np.ndarray:
    """Cut a spectrogram into overlapping windows along time, with a channel axis for Conv2D.

    ``S`` is ``(n_frames, n_mels)`` -> ``(n_windows, win, n_mels, 1)``, or a batch
    ``(n, n_frames, n_mels)`` -> ``(n, n_windows, win, n_mels, 1)``, with
    ``n_windows = 1 + (n_frames - win) // hop``: the last frames that do not fill a
    window are dropped.

    >>> rolling_windows(np.zeros((351, 64)), win=64, hop=32).shape
    (9, 64, 64, 1)
    >>> rolling_windows(np.zeros((351, 64))).shape
    (4, 128, 64, 1)
    """
    S = np.asarray(S)
    if S.ndim == 3 and S.shape[-1] == 1 and S.shape[0] >= win:  # (frames, mels, 1)
        S = S[..., 0]
    if S.ndim not in (2, 3):
        raise ValueError(f"expected (n_frames, n_mels) or (n, n_frames, n_mels), got shape {S.shape}")
    frames = S.shape[-2]
    if frames < win:
        raise ValueError(f"a spectrogram of {frames} frames is shorter than one window ({win} frames)")
    n_windows = 1 + (frames - win) // hop
    view = np.lib.stride_tricks.sliding_window_view(S, win, axis=-2)  # (..., n_possible, mels, win)
    view = view[..., : (n_windows - 1) * hop + 1 : hop, :, :]
    return np.ascontiguousarray(np.swapaxes(view, -1, -2)[..., None])


def windows_shape(duration: float = 3.5, *, win: int = 128, hop: int = 64, n_mels: int = 64,
                  hop_length: int = 160) -> tuple[int, int, int, int]:
    """Input shape of the CNN-LSTM for clips of ``duration`` seconds.

    >>> windows_shape(3.5)
    (4, 128, 64, 1)
    """
    return (1 + (n_frames(duration, hop_length=hop_length) - win) // hop, win, n_mels, 1)


# --------------------------------------------------------------------------- many files


def _file_logmel(path, params: dict, augment: dict | None, copy: int, seed: int) -> np.ndarray:
    from .io import load_audio

    y, sr = load_audio(path, sr=SR)
    if augment:
        from .augment import augment_waveform

        # One generator per (seed, file, copy): the same copy is the same on every run.
        digest = int(file_sha256(path)[:12], 16)
        rng = np.random.default_rng([seed, copy, digest])
        y = augment_waveform(y, sr, rng, **augment)
    return logmel(y, sr, **params)


def logmel_batch(paths: Sequence, *, cache: bool = True, progress: bool = True, augment: dict | None = None,
                 copy: int = 0, seed: int = config.DEFAULT_SEED, **params) -> np.ndarray:
    """Log-mel spectrograms of many files, stacked: ``(n_files, n_frames, n_mels)`` float32.

    Parameters are those of :func:`logmel` (defaults in :data:`DEFAULT_PARAMS`); every
    clip must come out with the same shape, so ``duration`` must not be None.

    augment : dict or None
        Keyword arguments of :func:`mmer_utils.audio.augment.augment_waveform`: each
        signal is augmented (with a generator seeded by ``seed``, ``copy`` and the file's
        content) before its spectrogram is taken. ``copy`` numbers the augmented copies
        (``copy=1, 2, ...`` give different draws). Use it for training actors only.
    cache : bool
        Keep each spectrogram in ``config.cache_dir("audio_logmel", <params hash>)`` as
        ``<SHA-256 of the file>.npy``; renaming a file reuses its entry, changing a
        parameter recomputes. Writes are atomic.

    >>> from mmer_utils.datasets import load_ravdess          # doctest: +SKIP
    >>> X = logmel_batch(load_ravdess().path[:8])               # doctest: +SKIP
    >>> X.shape                                                 # doctest: +SKIP
    (8, 351, 64)
    """
    from tqdm.auto import tqdm

    unknown = set(params) - set(DEFAULT_PARAMS)
    if unknown:
        raise TypeError(f"logmel_batch: unknown parameters {sorted(unknown)}; known: {sorted(DEFAULT_PARAMS)}")
    full = {**DEFAULT_PARAMS, **params}
    if full["duration"] is None:
        raise ValueError("logmel_batch needs a fixed duration (clips must have the same shape)")
    paths = [str(p) for p in paths]
    if not paths:
        raise ValueError("no paths given")
    key = {**full, "sr": SR, "version": LOGMEL_VERSION, "augment": augment or None,
           "copy": copy if augment else 0, "seed": seed if augment else None}
    folder = keyed_folder("audio_logmel", settings=key) if cache else None

    def compute(path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # clipped-audio warnings: kept, as documented
            return _file_logmel(path, full, augment, copy, seed)

    out = None
    desc = "log-mel" + (f" (augmented copy {copy})" if augment else "")
    for i, path in enumerate(tqdm(paths, desc=desc, disable=not progress, leave=False)):
        entry = folder / f"{file_sha256(path)}.npy" if folder is not None else None
        S = load_or_compute(entry, lambda: compute(path))
        if out is None:
            out = np.empty((len(paths),) + S.shape, dtype=np.float32)
        out[i] = S
    return out


def cache_size(folder: Path | None = None) -> int:
    """Bytes used by the log-mel cache (to decide when to clear ``build/cache/audio_logmel``)."""
    folder = Path(folder) if folder else config.cache_dir("audio_logmel")
    return sum(p.stat().st_size for p in folder.rglob("*.npy"))
