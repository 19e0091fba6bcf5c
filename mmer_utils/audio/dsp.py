"""Speech signal processing from first principles, in NumPy: from a waveform to MFCC.

Each step of the classic front end is one small function, written to be read,
and checked against librosa / NumPy / SciPy in ``tests/test_audio_dsp.py``:

==========================  =============================================  =====================================
step                        function                                       reference it matches
==========================  =============================================  =====================================
pre-emphasis                :func:`pre_emphasis`                           ``librosa.effects.preemphasis(zi=0)``
framing (rolling window)    :func:`frame_signal`                           ``librosa.util.frame``
Hamming window              :func:`hamming` (:func:`hann`)                 ``scipy.signal.get_window``
DFT, naive O(N^2)           :func:`dft`                                    ``numpy.fft.rfft``
short-time Fourier          :func:`stft`                                   ``librosa.stft``
power spectrum              :func:`power_spectrum`                         ``numpy.abs(D) ** 2``
Hz <-> mel                  :func:`hz_to_mel`, :func:`mel_to_hz`           ``librosa.hz_to_mel`` (Slaney, HTK)
mel filterbank              :func:`mel_filterbank`                         ``librosa.filters.mel``
decibels                    :func:`power_to_db`                            ``librosa.power_to_db``
log-mel spectrogram         :func:`log_mel_spectrogram`                    ``power_to_db(melspectrogram(...))``
DCT-II                      :func:`dct_ii`                                 ``scipy.fft.dct(type=2)``
MFCC                        :func:`mfcc`                                   ``librosa.feature.mfcc``
==========================  =============================================  =====================================

Conventions follow librosa: spectrograms are ``(n_freqs, n_frames)``, mel
spectrograms ``(n_mels, n_frames)``, MFCC ``(n_mfcc, n_frames)``; only
:func:`frame_signal` returns ``(n_frames, frame_length)``, one frame per row, as
frames are usually drawn. Everything is computed in float64. The defaults are
the course's speech settings at 16 kHz: 25 ms windows (400 samples) every 10 ms
(160 samples), zero-padded to a 512-point FFT (31.25 Hz per bin).

>>> import numpy as np
>>> sr = 16000
>>> t = np.arange(sr) / sr
>>> y = np.sin(2 * np.pi * 440 * t)          # one second of A4
>>> log_mel_spectrogram(y, sr).shape         # 64 mel bands, one frame per 10 ms
(64, 101)
>>> mfcc(y, sr).shape
(13, 101)
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "N_FFT", "HOP_LENGTH", "WIN_LENGTH",
    "pre_emphasis", "frame_signal", "hamming", "hann", "get_window", "dft", "stft", "power_spectrum",
    "fft_frequencies", "hz_to_mel", "mel_to_hz", "mel_frequencies", "mel_filterbank", "power_to_db",
    "log_mel_spectrogram", "dct_ii", "mfcc",
]

#: FFT size at 16 kHz: 512 points = 32 ms, the power of two just above the 25 ms window.
N_FFT = 512
#: 10 ms hop: 100 frames per second, the usual rate of speech features.
HOP_LENGTH = 160
#: 25 ms window: long enough to hold 2-3 pitch periods, short enough for the vocal tract to be ~stationary.
WIN_LENGTH = 400


# --------------------------------------------------------------------------- time domain

def pre_emphasis(y, coef: float = 0.97) -> np.ndarray:
    """First-order high-pass filter ``y'[n] = y[n] - coef * y[n-1]`` (``y'[0] = y[0]``).

    Why: voiced speech loses about 6 dB of energy per octave (the glottal pulse
    falls off at -12 dB/octave, radiation from the lips gives back +6). Pre-emphasis
    rises by about +6 dB/octave from ~100 Hz (0 dB near 2.7 kHz, +6 dB at 8 kHz for
    ``coef=0.97`` at 16 kHz), so the formants and fricatives at high frequencies are
    not buried under the low harmonics. It also removes any DC offset (gain
    ``1 - coef`` at 0 Hz).

    Matches ``librosa.effects.preemphasis(y, coef=coef, zi=[0])``; librosa's default
    ``zi`` changes the first sample only.

    >>> pre_emphasis(np.array([1.0, 2.0, 3.0]), coef=0.5)
    array([1. , 1.5, 2. ])
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"pre_emphasis expects a 1-D signal, got shape {y.shape}")
    out = y.copy()
    out[1:] -= coef * y[:-1]
    return out


def frame_signal(y, frame_length: int = WIN_LENGTH, hop_length: int = HOP_LENGTH, *, center: bool = False,
                 pad_mode: str = "constant") -> np.ndarray:
    """Cut a signal into overlapping frames with a rolling window: shape ``(n_frames, frame_length)``.

    Frame ``t`` is ``y[t * hop_length : t * hop_length + frame_length]``. With
    ``center=True`` the signal is first padded with ``frame_length // 2`` samples
    on each side (``pad_mode`` as in :func:`numpy.pad`), so that frame ``t`` is
    centred on sample ``t * hop_length``: then there is one frame per hop,
    ``1 + len(y) // hop_length`` for any even frame length. Without centring the
    last incomplete frame is dropped (``1 + (len(y) - frame_length) // hop_length``
    frames) and a signal shorter than one frame is an error.

    The frames are a read-only *view* of the (padded) signal: no copy is made.
    Same frames as ``librosa.util.frame(y, frame_length=..., hop_length=...).T``.

    >>> frame_signal(np.arange(10), frame_length=4, hop_length=3)
    array([[0., 1., 2., 3.],
           [3., 4., 5., 6.],
           [6., 7., 8., 9.]])
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"frame_signal expects a 1-D signal, got shape {y.shape}")
    if frame_length < 1 or hop_length < 1:
        raise ValueError(f"frame_length and hop_length must be >= 1, got {frame_length} and {hop_length}")
    if center:
        y = np.pad(y, frame_length // 2, mode=pad_mode)
    if y.size < frame_length:
        raise ValueError(f"signal of {y.size} samples is shorter than one frame ({frame_length}); "
                         "pad it or use center=True")
    return np.lib.stride_tricks.sliding_window_view(y, frame_length)[::hop_length]


# --------------------------------------------------------------------------- windows

def _cosine_window(n: int, a0: float, sym: bool) -> np.ndarray:
    if n < 0:
        raise ValueError(f"window length must be >= 0, got {n}")
    if n <= 1:
        return np.ones(n)
    # Periodic: one period of a length-(n+1) symmetric window with the last point dropped.
    denom = n - 1 if sym else n
    return a0 - (1.0 - a0) * np.cos(2.0 * np.pi * np.arange(n) / denom)


def hamming(n: int, *, sym: bool = False) -> np.ndarray:
    """Hamming window ``0.54 - 0.46 cos(2 pi k / N)``; periodic by default (``N = n``).

    Why a window at all: the DFT treats a frame as one period of an infinite,
    periodic signal; the cut at the frame edges is a jump that smears every
    frequency over the whole spectrum (*spectral leakage*). Tapering the edges to
    near zero removes the jump. Hamming's coefficients put the first side lobe at
    about -43 dB (a rectangular window: -13 dB) at the cost of a main lobe twice as
    wide; unlike Hann it does not reach 0 at the edges (0.08).

    Periodic vs symmetric: the *symmetric* window (``sym=True``, ``N = n - 1``,
    ``numpy.hamming(n)``, what filter design uses) is exactly symmetric, so its
    first and last samples are equal. The *periodic* window (``N = n``,
    ``scipy.signal.get_window('hamming', n, fftbins=True)``, what librosa and
    every STFT use) is one period of a window that repeats every ``n`` samples:
    overlapping copies add up evenly and its DFT has exactly the theoretical shape.
    The two differ by less than 1 % for n = 400.

    >>> hamming(4)
    array([0.08, 0.54, 1.  , 0.54])
    >>> hamming(4, sym=True)
    array([0.08, 0.77, 0.77, 0.08])
    """
    return _cosine_window(n, 0.54, sym)


def hann(n: int, *, sym: bool = False) -> np.ndarray:
    """Hann window ``0.5 - 0.5 cos(2 pi k / N)`` (librosa's default); periodic unless ``sym=True``.

    >>> hann(4)
    array([0. , 0.5, 1. , 0.5])
    """
    return _cosine_window(n, 0.5, sym)


def get_window(window, n: int) -> np.ndarray:
    """A periodic window of length ``n`` by name (``"hamming"``, ``"hann"``, ``"rectangular"``), or an array.

    >>> get_window("rectangular", 3)
    array([1., 1., 1.])
    """
    if isinstance(window, str):
        name = window.lower()
        if name == "hamming":
            return hamming(n)
        if name in ("hann", "hanning"):
            return hann(n)
        if name in ("rectangular", "rect", "boxcar", "ones"):
            return np.ones(n)
        raise ValueError(f"unknown window {window!r}: use 'hamming', 'hann', 'rectangular' or an array")
    w = np.asarray(window, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"window array has shape {w.shape}, expected ({n},)")
    return w


# --------------------------------------------------------------------------- frequency domain

def dft(x, *, onesided: bool = True) -> np.ndarray:
    """Discrete Fourier transform by its definition, ``X[k] = sum_n x[n] exp(-2 pi i k n / N)``.

    A matrix product with the ``(K, N)`` matrix of complex exponentials: O(N^2)
    operations, for teaching only (the FFT computes the same in O(N log N)). Row
    ``k`` of the matrix is a sinusoid of ``k`` cycles per frame, i.e. of frequency
    ``k * sr / N`` Hz; ``X[k]`` measures how much of it the frame contains.
    ``x`` may be one frame ``(N,)`` or a stack ``(..., N)``. For a real signal the
    bins above ``N / 2`` mirror those below, so by default only the
    ``N // 2 + 1`` bins of ``numpy.fft.rfft`` are returned.

    >>> x = np.array([1.0, 0.0, -1.0, 0.0])        # cos at 1 cycle per frame
    >>> np.abs(dft(x)).round(12)
    array([0., 2., 0.])
    """
    x = np.asarray(x)
    n = x.shape[-1]
    k = np.arange(n // 2 + 1 if onesided else n)
    basis = np.exp(-2j * np.pi * np.outer(k, np.arange(n)) / n)  # (K, N): one sinusoid per row
    return x @ basis.T


def stft(y, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH, win_length: int | None = WIN_LENGTH,
         window="hamming", *, center: bool = True, pad_mode: str = "constant") -> np.ndarray:
    """Short-time Fourier transform: shape ``(1 + n_fft // 2, n_frames)``, complex.

    The steps: frame the signal in ``n_fft``-sample frames every ``hop_length``
    samples (centred frames when ``center=True``); multiply each frame by a
    ``win_length`` window zero-padded on both sides to ``n_fft`` (so only the
    central ``win_length`` samples count: a 25 ms analysis, but a 512-point FFT,
    which is fast and samples the spectrum every ``sr / n_fft`` Hz); take the DFT
    of each frame. Same result, same frame positions, as
    ``librosa.stft(y, n_fft=..., hop_length=..., win_length=..., window=...,
    center=..., pad_mode=...)``.

    >>> stft(np.zeros(16000)).shape
    (257, 101)
    """
    win_length = n_fft if win_length is None else win_length
    if not 0 < win_length <= n_fft:
        raise ValueError(f"win_length must be in [1, n_fft={n_fft}], got {win_length}")
    w = get_window(window, win_length)
    left = (n_fft - win_length) // 2
    w = np.pad(w, (left, n_fft - win_length - left))  # centred in the FFT frame, as librosa does
    frames = frame_signal(y, n_fft, hop_length, center=center, pad_mode=pad_mode)
    return np.fft.rfft(frames * w, n=n_fft, axis=-1).T


def power_spectrum(spec, *, power: float = 2.0) -> np.ndarray:
    """``|X| ** power`` of a complex spectrum (power 2: energy per frequency bin; 1: magnitude).

    The phase is dropped: the ear is largely deaf to it, and it is unstable from
    frame to frame. No ``1 / N`` scaling (some texts divide by ``n_fft`` to get a
    periodogram): after the logarithm it would only shift every value by a
    constant, and librosa does not scale either.

    >>> power_spectrum(np.array([3 + 4j, 1j]))
    array([25.,  1.])
    """
    return np.abs(spec) ** power


def fft_frequencies(sr: float = 16000, n_fft: int = N_FFT) -> np.ndarray:
    """Centre frequency (Hz) of each bin of a one-sided DFT: ``k * sr / n_fft``, k = 0..n_fft//2.

    >>> fft_frequencies(16000, 8)
    array([   0., 2000., 4000., 6000., 8000.])
    """
    return np.arange(n_fft // 2 + 1) * sr / n_fft


# --------------------------------------------------------------------------- mel scale

# Slaney's mel scale (Auditory Toolbox, librosa's default): linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3  # Hz per mel in the linear part
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # 15 mels
_LOGSTEP = np.log(6.4) / 27.0  # 27 mels per factor 6.4 in frequency


def hz_to_mel(freqs, *, htk: bool = False):
    """Hz to mel. Slaney (default, as librosa): ``f / (200/3)`` below 1 kHz, logarithmic above.

    HTK: ``2595 log10(1 + f / 700)``. Both follow how we hear pitch: equal steps
    in mel sound like equal steps in pitch, roughly linear up to 1 kHz and
    logarithmic above, so a 100 Hz change matters far more at 300 Hz than at 6 kHz.

    >>> round(float(hz_to_mel(1000.0)), 6), round(float(hz_to_mel(1000.0, htk=True)), 1)
    (15.0, 1000.0)
    """
    f = np.asarray(freqs, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    mels = f / _F_SP
    log_part = f >= _MIN_LOG_HZ
    # np.maximum avoids log(0) warnings on the linear part; those values are not used.
    return np.where(log_part, _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP, mels)


def mel_to_hz(mels, *, htk: bool = False):
    """Mel to Hz, the inverse of :func:`hz_to_mel` (same ``htk`` switch).

    >>> round(float(mel_to_hz(15.0)), 6), round(float(mel_to_hz(hz_to_mel(440.0, htk=True), htk=True)), 6)
    (1000.0, 440.0)
    """
    m = np.asarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    freqs = _F_SP * m
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), freqs)


def mel_frequencies(n_mels: int = 40, fmin: float = 0.0, fmax: float = 8000.0, *, htk: bool = False) -> np.ndarray:
    """``n_mels`` frequencies (Hz) equally spaced on the mel scale from ``fmin`` to ``fmax``.

    >>> mel_frequencies(3, 0, 2000).round(1)
    array([   0. ,  836.1, 2000. ])
    """
    return mel_to_hz(np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels), htk=htk)


def mel_filterbank(sr: float = 16000, n_fft: int = N_FFT, n_mels: int = 40, fmin: float = 0.0,
                   fmax: float | None = None, *, htk: bool = False, norm="slaney") -> np.ndarray:
    """Triangular mel filters, shape ``(n_mels, 1 + n_fft // 2)``: ``mel_power = fb @ power_spectrum``.

    Filter ``m`` rises linearly from edge ``m`` to 1 at edge ``m + 1`` and falls back
    to 0 at edge ``m + 2``, where the ``n_mels + 2`` edges are equally spaced in mel
    between ``fmin`` and ``fmax`` (default ``sr / 2``). So the filters are narrow at
    low frequencies and wide at high ones, as the ear's critical bands: 257 FFT bins
    become 40 or 64 numbers per frame that keep what the ear resolves.

    ``norm='slaney'`` divides each triangle by its width in Hz (``2 / (f[m+2] -
    f[m])``), so every filter has the same area: a flat spectrum gives the same
    value in every band. ``norm=None`` keeps peaks at 1; a number ``p`` scales each
    filter to unit ``L^p`` norm. Same values as ``librosa.filters.mel`` with the
    same arguments.

    >>> fb = mel_filterbank(16000, 512, n_mels=40)
    >>> fb.shape, int((fb > 0).sum(axis=1).min()) > 0     # no empty filter
    ((40, 257), True)
    """
    fmax = sr / 2.0 if fmax is None else float(fmax)
    if not 0 <= fmin < fmax <= sr / 2.0 + 1e-9:
        raise ValueError(f"need 0 <= fmin < fmax <= sr / 2, got fmin={fmin}, fmax={fmax}, sr={sr}")
    fft_f = fft_frequencies(sr, n_fft)
    edges = mel_frequencies(n_mels + 2, fmin, fmax, htk=htk)
    widths = np.diff(edges)
    # Distance of each FFT bin from each edge -> rising and falling slopes of each triangle.
    ramps = edges[:, None] - fft_f[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    elif norm is not None:
        if isinstance(norm, str) or norm <= 0:
            raise ValueError(f"norm must be 'slaney', None or a positive number, got {norm!r}")
        length = np.sum(weights ** norm, axis=1, keepdims=True) ** (1.0 / norm)
        weights = np.divide(weights, length, out=np.zeros_like(weights), where=length > 0)
    return weights


# --------------------------------------------------------------------------- log and cepstrum

def power_to_db(S, *, ref=1.0, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """Power to decibels: ``10 log10(max(S, amin) / ref)``, floored at ``max - top_db``.

    Why a logarithm: loudness perception is roughly logarithmic, and speech power
    spans about 80 dB between loud vowels and silence; in dB, a gain change (a
    speaker closer to the microphone) becomes an added constant instead of a
    factor, and the values have a range a neural network can learn from. ``amin``
    avoids ``log(0)``; ``top_db`` keeps the noise floor from dominating. ``ref`` may
    be a number or a function of ``S`` (``np.max`` gives 0 dB at the peak).
    Same as ``librosa.power_to_db``.

    >>> power_to_db(np.array([1.0, 10.0, 1e-12]), top_db=None)
    array([   0.,   10., -100.])
    """
    S = np.asarray(S, dtype=np.float64)
    if amin <= 0:
        raise ValueError("amin must be > 0")
    ref_value = ref(S) if callable(ref) else np.abs(ref)
    log_spec = 10.0 * np.log10(np.maximum(amin, S)) - 10.0 * np.log10(np.maximum(amin, ref_value))
    if top_db is not None:
        if top_db < 0:
            raise ValueError("top_db must be >= 0")
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec


def log_mel_spectrogram(y, sr: float = 16000, *, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH,
                        win_length: int | None = WIN_LENGTH, window="hamming", n_mels: int = 64,
                        fmin: float = 0.0, fmax: float | None = None, htk: bool = False, norm="slaney",
                        power: float = 2.0, preemphasis: float | None = None, center: bool = True,
                        pad_mode: str = "constant", ref=1.0, amin: float = 1e-10,
                        top_db: float | None = 80.0) -> np.ndarray:
    """Log-mel spectrogram in dB, shape ``(n_mels, n_frames)``: the input of the deep models.

    ``[pre_emphasis] -> stft -> power_spectrum -> mel_filterbank -> power_to_db``.
    ``fmax=4000`` keeps only the band below 4 kHz (the source's "drop content above
    4 kHz" trick). With ``preemphasis=None`` (default) this equals
    ``librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, ...))`` with the
    same arguments.

    >>> log_mel_spectrogram(np.random.default_rng(0).normal(size=8000), 16000, n_mels=40).shape
    (40, 51)
    """
    y = np.asarray(y, dtype=np.float64)
    if preemphasis:
        y = pre_emphasis(y, preemphasis)
    spec = power_spectrum(stft(y, n_fft, hop_length, win_length, window, center=center, pad_mode=pad_mode),
                          power=power)
    mel = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk=htk, norm=norm) @ spec
    return power_to_db(mel, ref=ref, amin=amin, top_db=top_db)


def dct_ii(x, n_coeffs: int | None = None, *, norm: str | None = "ortho", axis: int = -1) -> np.ndarray:
    """DCT of type II along ``axis`` by its definition, keeping the first ``n_coeffs`` coefficients.

    ``X[k] = 2 sum_n x[n] cos(pi k (2n + 1) / (2N))`` (SciPy's convention); with
    ``norm='ortho'`` scaled by ``sqrt(1 / (4N))`` for ``k = 0`` and ``sqrt(1 / (2N))``
    otherwise, which makes the transform an orthonormal rotation (energy kept,
    inverse = transpose). Same as ``scipy.fft.dct(x, type=2, norm=norm, axis=axis)[:n_coeffs]``.

    Why for MFCC: neighbouring mel bands overlap and move together, so the log-mel
    values of a frame are strongly correlated. The cosines are close to the
    principal components of such smooth, correlated vectors, so the DCT turns them
    into nearly uncorrelated coefficients ordered from the coarse spectral shape
    (c0 = loudness, c1 = tilt, ...) to fine detail; keeping the first 13-20 keeps
    the envelope (vocal tract, formants) and drops the harmonics' fine structure
    (pitch).

    >>> dct_ii(np.ones(4)).round(12) + 0.0      # a constant has only a c0 term
    array([2., 0., 0., 0.])
    """
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    n = x.shape[-1]
    n_coeffs = n if n_coeffs is None else n_coeffs
    if not 1 <= n_coeffs <= n:
        raise ValueError(f"n_coeffs must be in [1, {n}], got {n_coeffs}")
    k = np.arange(n_coeffs)[:, None]
    basis = 2.0 * np.cos(np.pi * k * (2 * np.arange(n) + 1) / (2 * n))  # (n_coeffs, n): one cosine per row
    if norm == "ortho":
        basis[0] *= np.sqrt(1.0 / (4 * n))
        basis[1:] *= np.sqrt(1.0 / (2 * n))
    elif norm is not None:
        raise ValueError(f"norm must be 'ortho' or None, got {norm!r}")
    return np.moveaxis(x @ basis.T, -1, axis)


def mfcc(y, sr: float = 16000, *, n_mfcc: int = 13, n_mels: int = 40, n_fft: int = N_FFT,
         hop_length: int = HOP_LENGTH, win_length: int | None = WIN_LENGTH, window="hamming",
         fmin: float = 0.0, fmax: float | None = None, htk: bool = False, norm="slaney",
         preemphasis: float | None = None, center: bool = True, top_db: float | None = 80.0,
         lifter: float = 0) -> np.ndarray:
    """Mel-frequency cepstral coefficients, shape ``(n_mfcc, n_frames)``.

    :func:`log_mel_spectrogram` (``n_mels`` bands, dB) then :func:`dct_ii` over the
    mel axis, keeping ``n_mfcc`` coefficients; ``lifter > 0`` re-weights them by
    ``1 + lifter / 2 * sin(pi * (k + 1) / lifter)`` (HTK's liftering, which lifts
    the small higher coefficients). With ``preemphasis=None`` (default) this equals
    ``librosa.feature.mfcc(y=y, sr=sr, n_mfcc=..., n_mels=..., n_fft=...,
    hop_length=..., win_length=..., window=..., fmin=..., fmax=..., htk=...,
    lifter=...)``. Tolerance (tested): 1e-4 on float64 input, where only librosa's
    float32 filterbank differs (2e-6 measured on 40 RAVDESS clips); 1e-3 on float32
    input such as :func:`~mmer_utils.audio.io.load_audio` returns, where librosa's
    STFT runs in float32 (1e-4 measured, on coefficients as large as 630).

    >>> y = np.random.default_rng(0).normal(size=16000)
    >>> mfcc(y, 16000, n_mfcc=20).shape
    (20, 101)
    """
    log_mel = log_mel_spectrogram(y, sr, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                                  window=window, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm,
                                  preemphasis=preemphasis, center=center, top_db=top_db)
    coeffs = dct_ii(log_mel, n_mfcc, norm="ortho", axis=0)
    if lifter > 0:
        coeffs *= (1.0 + (lifter / 2.0) * np.sin(np.pi * np.arange(1, n_mfcc + 1) / lifter))[:, None]
    elif lifter < 0:
        raise ValueError(f"lifter must be >= 0, got {lifter}")
    return coeffs
