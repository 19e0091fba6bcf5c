"""The NumPy front end of mmer_utils.audio.dsp, step by step, against librosa, NumPy and SciPy."""


import librosa
import numpy as np
import pytest
import scipy.fft
import scipy.signal

from conftest import real_dataset
from mmer_utils.audio import dsp

SR = 16000
# The course's settings, passed to librosa explicitly (its defaults are 2048/512/hann).
STFT_ARGS = dict(n_fft=512, hop_length=160, win_length=400, window="hamming")


def chirp_and_noise(seconds=1.37, sr=SR, seed=0, dtype=np.float64):
    """A 100 Hz -> 6 kHz sweep in noise: energy everywhere in the band, an odd number of samples."""
    t = np.arange(int(seconds * sr)) / sr
    y = 0.5 * scipy.signal.chirp(t, 100, t[-1], 6000) + 0.05 * np.random.default_rng(seed).normal(size=t.size)
    return y.astype(dtype)


def librosa_log_mel(y, sr=SR, n_mels=64, top_db=80.0, **kw):
    return librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_mels=n_mels, **{**STFT_ARGS, **kw}),
                               top_db=top_db)


# --------------------------------------------------------------------------- time domain

def test_pre_emphasis_matches_librosa_and_keeps_first_sample():
    y = chirp_and_noise()
    for coef in (0.97, 0.5):
        np.testing.assert_allclose(dsp.pre_emphasis(y, coef), librosa.effects.preemphasis(y, coef=coef, zi=[0.0]),
                                   rtol=0, atol=1e-12)
    # librosa's default initial state only changes the first sample
    np.testing.assert_allclose(dsp.pre_emphasis(y)[1:], librosa.effects.preemphasis(y)[1:], atol=1e-12)
    assert dsp.pre_emphasis(y)[0] == y[0]


def test_pre_emphasis_removes_dc_and_boosts_high_frequencies():
    out = dsp.pre_emphasis(np.ones(100), 0.97)
    np.testing.assert_allclose(out[1:], 0.03)
    t = np.arange(SR) / SR
    gain = [np.std(dsp.pre_emphasis(np.sin(2 * np.pi * f * t))[1:]) / np.std(np.sin(2 * np.pi * f * t)) for f in (100, 4000)]
    assert gain[0] < 0.1 and gain[1] > 1.3  # |1 - 0.97 e^{-iw}|: ~0.05 at 100 Hz, ~1.4 at 4 kHz
    with pytest.raises(ValueError):
        dsp.pre_emphasis(np.ones((2, 10)))


@pytest.mark.parametrize("n", [512, 513, 1000, 16001])
@pytest.mark.parametrize("frame_length,hop_length", [(400, 160), (7, 3), (512, 512)])
def test_frame_signal_matches_librosa_frame(n, frame_length, hop_length):
    y = np.random.default_rng(n).normal(size=n)
    frames = dsp.frame_signal(y, frame_length, hop_length)
    ref = librosa.util.frame(y, frame_length=frame_length, hop_length=hop_length).T
    assert frames.shape == (1 + (n - frame_length) // hop_length, frame_length)
    np.testing.assert_array_equal(frames, ref)
    centred = dsp.frame_signal(y, frame_length, hop_length, center=True)
    assert centred.shape[0] == 1 + (n + 2 * (frame_length // 2) - frame_length) // hop_length  # 1 + n // hop if even
    np.testing.assert_array_equal(centred, librosa.util.frame(np.pad(y, frame_length // 2), frame_length=frame_length,
                                                                hop_length=hop_length).T)


def test_frame_signal_edges():
    y = np.arange(10.0)
    assert np.shares_memory(dsp.frame_signal(y, 4, 3), y)  # a view, no copy
    with pytest.raises(ValueError, match="shorter than one frame"):
        dsp.frame_signal(y, 400, 160)
    short = dsp.frame_signal(y, 400, 160, center=True)  # padding makes one frame out of a short signal
    assert short.shape == (1, 400) and short[0, 200:210].tolist() == y.tolist()
    reflected = dsp.frame_signal(np.arange(1.0, 6.0), 4, 2, center=True, pad_mode="reflect")
    assert reflected[0].tolist() == [3.0, 2.0, 1.0, 2.0]
    with pytest.raises(ValueError):
        dsp.frame_signal(np.ones((3, 100)))
    with pytest.raises(ValueError):
        dsp.frame_signal(y, 4, 0)


# --------------------------------------------------------------------------- windows

@pytest.mark.parametrize("n", [0, 1, 2, 3, 400, 401, 512])
def test_windows_match_scipy_and_numpy(n):
    np.testing.assert_allclose(dsp.hamming(n), scipy.signal.get_window("hamming", n, fftbins=True) if n else [],
                               atol=1e-12)
    np.testing.assert_allclose(dsp.hamming(n, sym=True), np.hamming(n), atol=1e-12)
    np.testing.assert_allclose(dsp.hann(n), scipy.signal.get_window("hann", n, fftbins=True) if n else [], atol=1e-12)
    np.testing.assert_allclose(dsp.hann(n, sym=True), np.hanning(n), atol=1e-12)


def test_periodic_vs_symmetric_hamming():
    periodic, symmetric = dsp.hamming(400), dsp.hamming(400, sym=True)
    assert symmetric[0] == pytest.approx(symmetric[-1]) and periodic[0] != pytest.approx(periodic[-1])
    # periodic = the symmetric window one sample longer, last sample dropped
    np.testing.assert_allclose(periodic, dsp.hamming(401, sym=True)[:-1], atol=1e-12)
    assert 0 < np.abs(periodic - symmetric).max() < 0.01
    # overlapping periodic Hann windows at hop n/2 add up to a constant; symmetric ones do not
    hop = 200
    total = np.zeros(4000)
    for start in range(0, 4000 - 400 + 1, hop):
        total[start:start + 400] += dsp.hann(400)
    np.testing.assert_allclose(total[400:-400], 1.0, atol=1e-12)


def test_get_window_names_and_arrays():
    assert dsp.get_window("rectangular", 5).tolist() == [1.0] * 5
    np.testing.assert_array_equal(dsp.get_window("hamming", 8), dsp.hamming(8))
    np.testing.assert_array_equal(dsp.get_window(np.arange(4.0), 4), np.arange(4.0))
    with pytest.raises(ValueError):
        dsp.get_window("kaiser", 8)
    with pytest.raises(ValueError):
        dsp.get_window(np.ones(3), 4)


def test_hamming_window_reduces_spectral_leakage():
    # a tone between two bins: 1 kHz away from the tone, a rectangular window leaks ~17 dB more
    n = 400
    x = np.sin(2 * np.pi * 1010.0 * np.arange(n) / SR)
    far = np.abs(dsp.fft_frequencies(SR, n) - 1010) > 1000
    leak = {name: 20 * np.log10(np.abs(np.fft.rfft(x * dsp.get_window(name, n)))[far].max() /
                                np.abs(np.fft.rfft(x * dsp.get_window(name, n))).max())
            for name in ("rectangular", "hamming")}
    assert leak["hamming"] < leak["rectangular"] - 12


# --------------------------------------------------------------------------- frequency domain

@pytest.mark.parametrize("n", [1, 2, 7, 64, 400])
def test_naive_dft_matches_fft(n):
    x = np.random.default_rng(n).normal(size=n)
    np.testing.assert_allclose(dsp.dft(x), np.fft.rfft(x), atol=1e-9)
    np.testing.assert_allclose(dsp.dft(x, onesided=False), np.fft.fft(x), atol=1e-9)
    stack = np.random.default_rng(1).normal(size=(3, 5, n))
    np.testing.assert_allclose(dsp.dft(stack), np.fft.rfft(stack, axis=-1), atol=1e-9)


def test_dft_of_a_frame_of_speech_like_signal():
    frame = dsp.frame_signal(chirp_and_noise(), 512, 160)[20] * dsp.hamming(512)
    np.testing.assert_allclose(dsp.dft(frame), np.fft.rfft(frame), atol=1e-9)
    # Parseval: energy is the same in time and frequency (two-sided spectrum / N)
    assert np.sum(frame ** 2) == pytest.approx(np.sum(dsp.power_spectrum(dsp.dft(frame, onesided=False))) / 512)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("center", [True, False])
def test_stft_matches_librosa(dtype, center):
    y = chirp_and_noise(dtype=dtype)
    ours = dsp.stft(y, center=center)
    ref = librosa.stft(y, center=center, **STFT_ARGS)
    assert ours.shape == ref.shape == (257, 1 + (len(y) // 160 if center else (len(y) - 512) // 160))
    atol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(ours, ref, atol=atol * np.abs(ref).max())


@pytest.mark.filterwarnings("ignore:n_fft=.* is too large")  # librosa's note on short signals
@pytest.mark.parametrize("n", [100, 511, 513, 3201])
def test_stft_other_settings_and_short_signals(n):
    y = np.random.default_rng(n).normal(size=n)
    for kw in (dict(n_fft=256, hop_length=64, win_length=None, window="hann"),
               dict(n_fft=512, hop_length=160, win_length=401, window="hamming", pad_mode="reflect")):
        pad_mode = kw.pop("pad_mode", "constant")
        if pad_mode == "reflect" and n <= kw["n_fft"] // 2:
            continue  # librosa refuses to reflect-pad a signal shorter than the padding
        ours = dsp.stft(y, **kw, pad_mode=pad_mode)
        np.testing.assert_allclose(ours, librosa.stft(y, **kw, pad_mode=pad_mode), atol=1e-9)
    with pytest.raises(ValueError):
        dsp.stft(y, n_fft=256, win_length=400)


def test_stft_peaks_at_the_tone_frequency():
    y = np.sin(2 * np.pi * 1000 * np.arange(SR) / SR)
    spec = dsp.power_spectrum(dsp.stft(y))
    assert dsp.fft_frequencies(SR, 512)[spec[:, 50].argmax()] == 1000.0
    np.testing.assert_allclose(dsp.fft_frequencies(SR, 512), librosa.fft_frequencies(sr=SR, n_fft=512))


def test_power_spectrum():
    spec = dsp.stft(chirp_and_noise())
    np.testing.assert_allclose(dsp.power_spectrum(spec), np.abs(spec) ** 2)
    np.testing.assert_allclose(dsp.power_spectrum(spec, power=1.0), np.abs(spec))
    assert dsp.power_spectrum(spec).dtype == np.float64


# --------------------------------------------------------------------------- mel scale

@pytest.mark.parametrize("htk", [False, True])
def test_mel_scale_matches_librosa_and_inverts(htk):
    f = np.linspace(0, 24000, 2001)
    np.testing.assert_allclose(dsp.hz_to_mel(f, htk=htk), librosa.hz_to_mel(f, htk=htk), rtol=1e-12, atol=1e-9)
    m = dsp.hz_to_mel(f, htk=htk)
    np.testing.assert_allclose(dsp.mel_to_hz(m, htk=htk), librosa.mel_to_hz(m, htk=htk), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(dsp.mel_to_hz(m, htk=htk), f, atol=1e-6)
    np.testing.assert_allclose(dsp.mel_frequencies(66, 20, 7600, htk=htk),
                               librosa.mel_frequencies(66, fmin=20, fmax=7600, htk=htk), rtol=1e-12)
    assert np.all(np.diff(m) > 0)
    assert float(dsp.hz_to_mel(440.0, htk=htk)) == pytest.approx(librosa.hz_to_mel(440.0, htk=htk))


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [(16000, 512, 40, 0, None), (16000, 512, 64, 0, 4000),
                                                       (16000, 400, 26, 20, 7600), (22050, 2048, 128, 0, None),
                                                       (8000, 256, 40, 100, 3800)])
@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("norm", ["slaney", None, 1, 2])
def test_mel_filterbank_matches_librosa(sr, n_fft, n_mels, fmin, fmax, htk, norm):
    ours = dsp.mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk=htk, norm=norm)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm,
                              dtype=np.float64)
    assert ours.shape == (n_mels, 1 + n_fft // 2)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-14)


def test_mel_filterbank_properties():
    fb = dsp.mel_filterbank(16000, 512, 64, fmax=4000, norm=None)
    freqs = dsp.fft_frequencies(16000, 512)
    assert fb[:, freqs > 4000].sum() == 0  # the "drop content above 4 kHz" trick
    assert fb.max() <= 1.0 and np.all((fb > 0).sum(axis=1) >= 1)
    # filters get wider with frequency (mel spacing), and Slaney's norm gives them equal area in Hz
    widths = (fb > 0).sum(axis=1)
    assert widths[-1] > 3 * widths[0]
    slaney = dsp.mel_filterbank(16000, 512, 40)
    area = slaney.sum(axis=1) * (16000 / 512)
    np.testing.assert_allclose(area[5:], 1.0, rtol=0.1)
    with pytest.raises(ValueError):
        dsp.mel_filterbank(16000, 512, fmax=9000)
    with pytest.raises(ValueError):
        dsp.mel_filterbank(16000, 512, norm="max")


# --------------------------------------------------------------------------- log-mel and MFCC

@pytest.mark.parametrize("ref,top_db", [(1.0, 80.0), (np.max, None), (1e-3, 40.0)])
def test_power_to_db_matches_librosa(ref, top_db):
    S = dsp.power_spectrum(dsp.stft(chirp_and_noise()))
    np.testing.assert_allclose(dsp.power_to_db(S, ref=ref, top_db=top_db), librosa.power_to_db(S, ref=ref, top_db=top_db),
                               atol=1e-9)
    with pytest.raises(ValueError):
        dsp.power_to_db(S, amin=0)


@pytest.mark.parametrize("kw", [{}, dict(n_mels=40, fmax=4000), dict(n_mels=64, fmin=20, fmax=7600, htk=True),
                                dict(center=False, top_db=None)])
def test_log_mel_spectrogram_matches_librosa(kw):
    y = chirp_and_noise()
    ours = dsp.log_mel_spectrogram(y, SR, **kw)
    ref = librosa_log_mel(y, **{"n_mels": 64, **kw})
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-4)  # dB; librosa's filterbank is float32


def test_log_mel_preemphasis_and_band_limit():
    y = chirp_and_noise()
    plain, emph = dsp.log_mel_spectrogram(y, SR), dsp.log_mel_spectrogram(y, SR, preemphasis=0.97)
    np.testing.assert_allclose(emph, dsp.log_mel_spectrogram(dsp.pre_emphasis(y), SR))
    # pre-emphasis lowers the lowest bands relative to the highest (in a sweep that covers both)
    assert (emph[-5:].mean() - emph[:5].mean()) > (plain[-5:].mean() - plain[:5].mean()) + 10
    low = dsp.log_mel_spectrogram(y, SR, fmax=4000)
    assert low.shape == plain.shape


@pytest.mark.parametrize("n", [1, 13, 40])
def test_dct_ii_matches_scipy(n):
    x = np.random.default_rng(n).normal(size=(40, 30))
    np.testing.assert_allclose(dsp.dct_ii(x, n, axis=0), scipy.fft.dct(x, type=2, norm="ortho", axis=0)[:n], atol=1e-12)
    np.testing.assert_allclose(dsp.dct_ii(x.T, n, norm=None), scipy.fft.dct(x.T, type=2)[:, :n], atol=1e-12)
    odd = np.random.default_rng(2).normal(size=7)
    np.testing.assert_allclose(dsp.dct_ii(odd), scipy.fft.dct(odd, norm="ortho"), atol=1e-12)


def test_ortho_dct_is_a_rotation():
    basis = dsp.dct_ii(np.eye(16))  # row j = DCT of the j-th unit vector = column j of the DCT matrix
    np.testing.assert_allclose(basis @ basis.T, np.eye(16), atol=1e-12)
    with pytest.raises(ValueError):
        dsp.dct_ii(np.ones(4), 5)
    with pytest.raises(ValueError):
        dsp.dct_ii(np.ones(4), norm="forward")


@pytest.mark.parametrize("kw", [dict(n_mfcc=13), dict(n_mfcc=20), dict(n_mfcc=20, n_mels=64, fmin=20, fmax=7600),
                                dict(n_mfcc=13, htk=True, lifter=22)])
@pytest.mark.parametrize("dtype,atol", [(np.float64, 1e-4), (np.float32, 1e-3)])
def test_mfcc_matches_librosa(kw, dtype, atol):
    y = chirp_and_noise(dtype=dtype)
    ours = dsp.mfcc(y, SR, **kw)
    ref = librosa.feature.mfcc(y=y, sr=SR, **{"n_mels": 40, **kw}, **STFT_ARGS)
    assert ours.shape == ref.shape == (kw["n_mfcc"], 1 + len(y) // 160)
    np.testing.assert_allclose(ours, ref, atol=atol)
    with pytest.raises(ValueError):
        dsp.mfcc(y, SR, lifter=-1)


def test_short_and_odd_length_signals():
    for n in (1, 99, 161, 401):
        y = np.random.default_rng(n).normal(size=n)
        assert dsp.log_mel_spectrogram(y, SR).shape == (64, 1 + n // 160)
        assert dsp.mfcc(y, SR).shape == (13, 1 + n // 160)
    assert np.all(np.isfinite(dsp.log_mel_spectrogram(np.zeros(1600), SR)))  # silence: the amin floor, no -inf


# --------------------------------------------------------------------------- a real clip

@pytest.mark.data
def test_real_ravdess_clip_matches_librosa():
    from mmer_utils.audio.io import load_audio
    from mmer_utils.datasets import load_ravdess

    real_dataset("ravdess")
    df = load_ravdess()
    clip = df[(df.actor == 1) & (df.emotion == "angry")].iloc[0]
    y, sr = load_audio(clip.path)
    assert sr == SR and y.dtype == np.float32
    log_mel = dsp.log_mel_spectrogram(y, sr)
    np.testing.assert_allclose(log_mel, librosa_log_mel(y), atol=1e-3)
    coeffs = dsp.mfcc(y, sr, n_mfcc=20)
    np.testing.assert_allclose(coeffs, librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20, n_mels=40, **STFT_ARGS), atol=1e-3)
    # why the DCT: MFCCs are much less correlated with each other than the log-mel bands they come from
    voiced = log_mel.max(axis=0) > log_mel.max() - 40
    band_corr = np.abs(np.corrcoef(dsp.log_mel_spectrogram(y, sr, n_mels=40)[:, voiced]))
    mfcc_corr = np.abs(np.corrcoef(coeffs[1:, voiced]))
    off = lambda c: c[~np.eye(len(c), dtype=bool)].mean()  # noqa: E731
    assert off(mfcc_corr) < 0.5 * off(band_corr)
