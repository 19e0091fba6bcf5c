"""Classic speech-emotion features: per-frame descriptors and their global statistics.

The source's SVM baseline describes a clip in two steps:

1. **Per frame** (short-time frames of ``frame_length`` seconds every ``hop_length``
   seconds, Hamming window): zero-crossing rate, energy, entropy of energy
   (over sub-frames), spectral centroid, spread, entropy, flux and roll-off,
   MFCC, and the deltas (local slopes over time) of all of them.
2. **Per clip**: each frame descriptor is summarised by ten statistics
   (:data:`STATISTICS`: mean, median, std, kurtosis, skewness, 1 % and 99 %
   percentiles, min, max, range), which gives one fixed-length vector whatever
   the clip's duration.

Defaults: 25 ms frames every 10 ms, after cutting the leading and trailing
silence (30 dB below the peak); :data:`FEATURE_SETS` also holds the source's
framing (50 ms frames every 25 ms over the whole clip), so that a grid search can
choose between them on the training actors.

Extraction of many files is cached on disk (:func:`extract_features`), one
``.npy`` per (file content, parameters): the key is the SHA-256 of the file and
of the parameters, so renaming a file reuses its entry and changing a parameter
recomputes. Writes are atomic (temporary file + ``os.replace``): an interrupted
run leaves no broken entry.

>>> import numpy as np
>>> sr = 16000
>>> y = 0.1 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
>>> vec, names = clip_features(y, sr)
>>> vec.shape == (len(names),)
True
>>> names[0]
'zcr_mean'
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..cache import keyed_folder, load_or_compute, settings_key
from .io import SR

#: Bump when a change of the code changes the values: old cache entries are then ignored.
FEATURES_VERSION = 1

#: Scalar descriptors computed on each frame (MFCC and deltas come after them).
FRAME_FEATURES = ("zcr", "energy", "energy_entropy", "spectral_centroid", "spectral_spread",
                  "spectral_entropy", "spectral_flux", "spectral_rolloff")

#: Statistics that summarise each frame descriptor over a clip, in output order.
STATISTICS = ("mean", "median", "std", "kurtosis", "skewness", "p01", "p99", "min", "max", "range")

#: Default extraction parameters (see :func:`frame_features`).
DEFAULT_PARAMS = {
    "frame_length": 0.025,
    "hop_length": 0.010,
    "n_mfcc": 13,
    "n_mels": 40,
    "n_subframes": 10,
    "rolloff_percent": 0.90,
    "preemphasis": 0.0,
    "max_freq": None,
    "trim_db": 30.0,
    "deltas": True,
}

#: Candidate feature sets compared by the inner cross-validation (see
#: :func:`mmer_utils.audio.baselines.make_svm` ``feature_sets``): the source's framing
#: (pyAudioAnalysis-style 50 ms frames every 25 ms over the whole clip) and the
#: course's default (25 ms every 10 ms, the usual speech framing, after cutting the
#: leading/trailing silence, about a third of each RAVDESS clip).
FEATURE_SETS = {
    "source": {"frame_length": 0.050, "hop_length": 0.025, "trim_db": None},
    "speech": {},
}

_EPS = 1e-12


# --------------------------------------------------------------------------- frames


def _frame(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """(n_frames, frame_length) view of ``y``; a signal shorter than a frame is zero-padded to one."""
    if y.size < frame_length:
        y = np.pad(y, (0, frame_length - y.size))
    return np.lib.stride_tricks.sliding_window_view(y, frame_length)[::hop_length]


def lowpass(y: np.ndarray, sr: int, cutoff: float = 4000.0, *, order: int = 10) -> np.ndarray:
    """Drop the content above ``cutoff`` Hz (zero-phase Butterworth filter).

    The source's ablation: emotion cues in speech lie mostly below 4 kHz.

    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> y = np.sin(2 * np.pi * 500 * t) + np.sin(2 * np.pi * 6000 * t)
    >>> out = lowpass(y, 16000)
    >>> bool(np.std(out - np.sin(2 * np.pi * 500 * t)) < 0.05)
    True
    """
    from scipy.signal import butter, sosfiltfilt

    if cutoff >= sr / 2:
        return np.asarray(y, dtype=np.float64)
    sos = butter(order, cutoff, btype="low", fs=sr, output="sos")
    return sosfiltfilt(sos, np.asarray(y, dtype=np.float64))


def frame_feature_names(*, n_mfcc: int = 13, deltas: bool = True, **_ignored) -> list[str]:
    """Names of the columns of :func:`frame_features`, in order."""
    base = list(FRAME_FEATURES) + [f"mfcc{i}" for i in range(n_mfcc)]
    return base + [f"delta_{n}" for n in base] if deltas else base


def frame_features(y, sr: int = SR, *, frame_length: float = 0.025, hop_length: float = 0.010,
                   n_mfcc: int = 13, n_mels: int = 40, n_subframes: int = 10, rolloff_percent: float = 0.90,
                   preemphasis: float = 0.0, max_freq: float | None = None, trim_db: float | None = 30.0,
                   deltas: bool = True) -> tuple[np.ndarray, list[str]]:
    """Per-frame descriptors of a signal: array (n_frames, n_features) and column names.

    Parameters
    ----------
    y : array, shape (n,)
        Mono signal (16 kHz in the course).
    sr : int
        Sample rate of ``y``.
    frame_length, hop_length : float
        Frame size and step in seconds.
    n_mfcc, n_mels : int
        Number of MFCCs and of mel bands they are computed from.
    n_subframes : int
        Sub-frames per frame for the entropy of energy.
    rolloff_percent : float
        Fraction of the spectral energy below the roll-off frequency.
    preemphasis : float
        Pre-emphasis coefficient (``y[n] - a y[n-1]``) before the spectral descriptors; 0 = none.
    max_freq : float or None
        Drop the content above this frequency (e.g. 4000): the signal is low-passed and the
        spectral descriptors only see bins up to it.
    trim_db : float or None
        Cut leading and trailing silence quieter than ``trim_db`` below the peak before framing
        (None: keep the whole signal). RAVDESS clips start and end with about a second of
        silence, whose frames would otherwise dilute every statistic.
    deltas : bool
        Append the delta (local slope over 9 frames) of every descriptor.

    Returns
    -------
    feats : ndarray, shape (n_frames, n_features), float64
    names : list of str

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).normal(size=16000) * 0.1
    >>> feats, names = frame_features(y, 16000)
    >>> feats.shape, names[:2]
    ((98, 42), ['zcr', 'energy'])
    """
    import librosa

    y = np.asarray(y, dtype=np.float64).ravel()
    if y.size == 0:
        raise ValueError("frame_features: the signal has no samples")
    if max_freq is not None:
        y = lowpass(y, sr, max_freq)
    if trim_db is not None:
        trimmed, _ = librosa.effects.trim(y, top_db=trim_db, frame_length=512, hop_length=128)
        y = trimmed if trimmed.size else y
    win = max(int(round(frame_length * sr)), 2)
    hop = max(int(round(hop_length * sr)), 1)
    frames = _frame(y, win, hop)                                           # (T, win)

    # Time-domain descriptors (on the raw frames).
    signs = np.signbit(frames)
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    energy = np.mean(frames ** 2, axis=1)
    sub = win // n_subframes
    sub_energy = np.sum(frames[:, : sub * n_subframes].reshape(len(frames), n_subframes, sub) ** 2, axis=2)
    p_sub = sub_energy / (sub_energy.sum(axis=1, keepdims=True) + _EPS)
    energy_entropy = -np.sum(p_sub * np.log2(p_sub + _EPS), axis=1)

    # Spectral descriptors (pre-emphasis, Hamming window, magnitude spectrum).
    if preemphasis:
        emph = np.append(y[0], y[1:] - preemphasis * y[:-1])
        spec_frames = _frame(emph, win, hop)
    else:
        spec_frames = frames
    n_fft = int(2 ** np.ceil(np.log2(win)))
    mag = np.abs(np.fft.rfft(spec_frames * np.hamming(win), n=n_fft, axis=1))   # (T, n_fft/2+1)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    fmax = sr / 2 if max_freq is None else min(max_freq, sr / 2)
    keep = freqs <= fmax
    mag, freqs = mag[:, keep], freqs[keep]
    power = mag ** 2
    m_sum = mag.sum(axis=1)
    silent = m_sum <= _EPS
    centroid = (mag @ freqs) / (m_sum + _EPS)
    spread = np.sqrt(np.maximum((mag * (freqs[None, :] - centroid[:, None]) ** 2).sum(axis=1) / (m_sum + _EPS), 0))
    p_bins = power / (power.sum(axis=1, keepdims=True) + _EPS)
    spectral_entropy = -np.sum(p_bins * np.log2(p_bins + _EPS), axis=1) / np.log2(len(freqs))
    m_norm = mag / (m_sum[:, None] + _EPS)
    flux = np.concatenate([[0.0], np.sum(np.diff(m_norm, axis=0) ** 2, axis=1)])
    cum = np.cumsum(power, axis=1)
    rolloff = freqs[np.minimum(np.argmax(cum >= rolloff_percent * cum[:, -1:], axis=1), len(freqs) - 1)]
    centroid[silent] = spread[silent] = spectral_entropy[silent] = rolloff[silent] = 0.0

    # MFCC from the same frames: mel filterbank -> log -> DCT (librosa).
    mel_fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmax=fmax)[:, keep]
    log_mel = 10.0 * np.log10(power @ mel_fb.T + 1e-10)                      # (T, n_mels)
    mfcc = librosa.feature.mfcc(S=log_mel.T, n_mfcc=n_mfcc).T                 # (T, n_mfcc)

    feats = np.column_stack([zcr, energy, energy_entropy, centroid, spread, spectral_entropy, flux, rolloff, mfcc])
    if deltas:
        d = librosa.feature.delta(feats, width=9, order=1, axis=0, mode="nearest")
        feats = np.concatenate([feats, d], axis=1)
    return feats, frame_feature_names(n_mfcc=n_mfcc, deltas=deltas)


# --------------------------------------------------------------------------- statistics


def statistic_names(feature_names: Sequence[str]) -> list[str]:
    """``<feature>_<statistic>`` for every feature and statistic, in :func:`global_statistics` order."""
    return [f"{f}_{s}" for f in feature_names for s in STATISTICS]


def global_statistics(frames, names: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Summarise each column of ``frames`` (n_frames, n_features) by the ten :data:`STATISTICS`.

    Kurtosis (Fisher, 0 for a normal law) and skewness of a constant column are 0.

    >>> import numpy as np
    >>> vec, names = global_statistics(np.arange(10.0)[:, None], ["x"])
    >>> dict(zip(names, vec))["x_mean"], dict(zip(names, vec))["x_range"]
    (np.float64(4.5), np.float64(9.0))
    """
    from scipy import stats

    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim == 1:
        frames = frames[:, None]
    if frames.shape[0] == 0:
        raise ValueError("global_statistics: no frames")
    names = list(names) if names is not None else [f"f{i}" for i in range(frames.shape[1])]
    if len(names) != frames.shape[1]:
        raise ValueError(f"global_statistics: {len(names)} names for {frames.shape[1]} columns")
    std = frames.std(axis=0)
    flat = std <= 1e-12 * (1 + np.abs(frames.mean(axis=0)))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # near-constant columns: precision loss
        kurt = np.where(flat, 0.0, stats.kurtosis(frames, axis=0, fisher=True))
        skew = np.where(flat, 0.0, stats.skew(frames, axis=0))
    p01, median, p99 = np.percentile(frames, [1, 50, 99], axis=0)
    mn, mx = frames.min(axis=0), frames.max(axis=0)
    table = np.stack([frames.mean(axis=0), median, std, kurt, skew, p01, p99, mn, mx, mx - mn], axis=1)
    return np.nan_to_num(table).ravel(), statistic_names(names)


def feature_names(**params) -> list[str]:
    """Names of the columns of :func:`clip_features` / :func:`extract_features` for these parameters."""
    p = {**DEFAULT_PARAMS, **params}
    return statistic_names(frame_feature_names(n_mfcc=p["n_mfcc"], deltas=p["deltas"]))


def clip_features(y, sr: int = SR, **params) -> tuple[np.ndarray, list[str]]:
    """One vector per clip: the :func:`global_statistics` of its :func:`frame_features`.

    Keyword arguments are those of :func:`frame_features`.

    >>> import numpy as np
    >>> vec, names = clip_features(np.random.default_rng(0).normal(size=8000), 16000)
    >>> len(names), names[-1]
    (420, 'delta_mfcc12_range')
    """
    unknown = set(params) - set(DEFAULT_PARAMS)
    if unknown:
        raise TypeError(f"clip_features: unknown parameters {sorted(unknown)}; known: {sorted(DEFAULT_PARAMS)}")
    feats, names = frame_features(y, sr, **params)
    return global_statistics(feats, names)


# --------------------------------------------------------------------------- cache


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes (the cache key: the same content under another name hits)."""
    from ..datasets.download import sha256sum

    return sha256sum(path)


def params_key(params: dict) -> str:
    """Short stable hash of a parameter dict (JSON, sorted keys): :func:`mmer_utils.cache.settings_key`."""
    return settings_key(params)


def _cache_folder(namespace: str, params: dict) -> Path:
    return keyed_folder("audio_features", namespace, settings=params)


def _cached_one(path, compute: Callable, folder: Path | None) -> np.ndarray:
    entry = folder / f"{file_sha256(path)}.npy" if folder is not None else None
    return load_or_compute(entry, lambda: np.asarray(compute(path), dtype=np.float64))


def cached_map(paths: Sequence, compute: Callable, *, namespace: str, params: dict, cache: bool = True,
               progress: bool = True, n_jobs: int = 1, desc: str | None = None) -> np.ndarray:
    """Apply ``compute(path) -> 1-D vector`` to every path, with an on-disk cache; stack the rows.

    Entries live in ``config.cache_dir("audio_features", namespace, <hash of params>)``,
    one ``<SHA-256 of the file>.npy`` each. ``params`` must describe everything that
    changes the output (it is the cache key together with the file content).
    ``n_jobs > 1`` computes the misses in parallel processes (joblib).
    """
    from tqdm.auto import tqdm

    paths = [str(p) for p in paths]
    if not paths:
        raise ValueError("no paths given")
    folder = _cache_folder(namespace, params) if cache else None
    bar = dict(total=len(paths), desc=desc or namespace, disable=not progress, leave=False)
    if n_jobs == 1:
        rows = [_cached_one(p, compute, folder) for p in tqdm(paths, **bar)]
    else:
        from joblib import Parallel, delayed

        gen = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_cached_one)(p, compute, folder) for p in paths)
        rows = list(tqdm(gen, **bar))
    return np.vstack(rows)


# --------------------------------------------------------------------------- many files


def _clip_from_file(path, params: dict) -> np.ndarray:
    from .io import load_audio

    y, sr = load_audio(path, sr=SR)
    return clip_features(y, sr, **params)[0]


class _ClipComputer:
    """Picklable ``path -> vector`` for joblib workers."""

    def __init__(self, params: dict):
        self.params = params

    def __call__(self, path):
        return _clip_from_file(path, self.params)


def extract_features(paths: Sequence, *, cache: bool = True, progress: bool = True, n_jobs: int = 1,
                     **params) -> np.ndarray:
    """Clip feature matrix (n_clips, n_features) of audio files, cached on disk.

    Parameters are those of :func:`frame_features`; column names come from
    :func:`feature_names` with the same parameters. Files are loaded with
    :func:`mmer_utils.audio.io.load_audio` (mono, 16 kHz).

    >>> from mmer_utils.datasets import load_ravdess                     # doctest: +SKIP
    >>> df = load_ravdess()                                               # doctest: +SKIP
    >>> X = extract_features(df.path[:10], max_freq=4000)                 # doctest: +SKIP
    >>> X.shape                                                           # doctest: +SKIP
    (10, 420)
    """
    unknown = set(params) - set(DEFAULT_PARAMS)
    if unknown:
        raise TypeError(f"extract_features: unknown parameters {sorted(unknown)}; known: {sorted(DEFAULT_PARAMS)}")
    full = {**DEFAULT_PARAMS, **params}
    key = {**full, "sr": SR, "version": FEATURES_VERSION}
    return cached_map(paths, _ClipComputer(full), namespace="classic", params=key, cache=cache,
                      progress=progress, n_jobs=n_jobs, desc="classic features")


def extract_feature_sets(paths: Sequence, feature_sets: dict[str, dict] | None = None, *, cache: bool = True,
                         progress: bool = True, n_jobs: int = 1, **common) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
    """Several candidate feature sets side by side, for a choice made inside the training folds.

    Returns the wide matrix ``hstack`` of every set (each extracted and cached like
    :func:`extract_features`, with ``common`` parameters under each set's own) and
    ``blocks``: set name -> (first column, end column). Give ``blocks`` to
    :func:`mmer_utils.audio.baselines.make_svm` and put ``"select__block"`` in the
    grid: the inner cross-validation then picks the feature set too.
    """
    feature_sets = FEATURE_SETS if feature_sets is None else feature_sets
    mats, blocks, start = [], {}, 0
    for name, extra in feature_sets.items():
        X = extract_features(paths, cache=cache, progress=progress, n_jobs=n_jobs, **{**common, **extra})
        blocks[name] = (start, start + X.shape[1])
        start += X.shape[1]
        mats.append(X)
    return np.hstack(mats), blocks


try:  # scikit-learn is a dependency; keep the module importable without it for tooling
    from sklearn.base import BaseEstimator, TransformerMixin
except ImportError:  # pragma: no cover
    BaseEstimator, TransformerMixin = object, object


class ClipFeatures(TransformerMixin, BaseEstimator):
    """Scikit-learn transformer: list of audio paths -> clip feature matrix (cached).

    Lets a whole model, from files to predictions, sit in one ``Pipeline``:

    >>> from sklearn.pipeline import make_pipeline                        # doctest: +SKIP
    >>> from mmer_utils.audio.baselines import make_svm                   # doctest: +SKIP
    >>> model = make_pipeline(ClipFeatures(), make_svm())                 # doctest: +SKIP
    >>> model.fit(train_paths, train_labels).predict(test_paths)          # doctest: +SKIP
    """

    def __init__(self, frame_length: float = 0.025, hop_length: float = 0.010, n_mfcc: int = 13, n_mels: int = 40,
                 n_subframes: int = 10, rolloff_percent: float = 0.90, preemphasis: float = 0.0,
                 max_freq: float | None = None, trim_db: float | None = 30.0, deltas: bool = True,
                 cache: bool = True, progress: bool = False, n_jobs: int = 1):
        self.frame_length = frame_length
        self.hop_length = hop_length
        self.n_mfcc = n_mfcc
        self.n_mels = n_mels
        self.n_subframes = n_subframes
        self.rolloff_percent = rolloff_percent
        self.preemphasis = preemphasis
        self.max_freq = max_freq
        self.trim_db = trim_db
        self.deltas = deltas
        self.cache = cache
        self.progress = progress
        self.n_jobs = n_jobs

    def _params(self) -> dict:
        return {k: getattr(self, k) for k in DEFAULT_PARAMS}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # each clip's features depend on that clip alone
        return tags

    def fit(self, X=None, y=None):
        self.feature_names_out_ = np.asarray(feature_names(**self._params()), dtype=object)
        return self

    def transform(self, X):
        return extract_features(list(X), cache=self.cache, progress=self.progress, n_jobs=self.n_jobs,
                                **self._params())

    def get_feature_names_out(self, input_features=None):
        return np.asarray(feature_names(**self._params()), dtype=object)
