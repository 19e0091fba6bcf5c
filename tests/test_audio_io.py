"""Every documented behaviour of mmer_utils.audio.io on bad or unusual recordings."""

import numpy as np
import pytest
import soundfile as sf

from mmer_utils.audio.io import SR, AudioError, ClippedAudioWarning, load_audio, prepare_signal
from mmer_utils.errors import DataNotFoundError, UnreadableFileError


def tone(sr, seconds=1.0, freq=440.0, amp=0.5):
    t = np.arange(int(sr * seconds)) / sr
    return amp * np.sin(2 * np.pi * freq * t)


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 48000])
def test_resampled_to_16k_keeping_duration_and_pitch(tmp_path, sr):
    path = tmp_path / f"tone_{sr}.wav"
    sf.write(path, tone(sr), sr)
    y, out_sr = load_audio(path)
    assert out_sr == SR and y.dtype == np.float32 and abs(len(y) - SR) <= 2
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * SR / len(y) - 440) < 3


def test_stereo_is_averaged_and_flac_is_read(tmp_path):
    left, right = tone(48000, freq=440), tone(48000, freq=1000)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, right], axis=1), 48000)
    y, _ = load_audio(path)
    spectrum = np.abs(np.fft.rfft(y))
    peaks = sorted(np.argsort(spectrum)[-2:] * SR / len(y))
    assert abs(peaks[0] - 440) < 3 and abs(peaks[1] - 1000) < 3


def test_bad_recordings_get_one_line_errors(tmp_path):
    with pytest.raises(DataNotFoundError, match="not found"):
        load_audio(tmp_path / "nope.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(tmp_path / "empty.wav")
    (tmp_path / "notes.wav").write_text("this is not audio")
    with pytest.raises(UnreadableFileError, match="not a readable audio file"):
        load_audio(tmp_path / "notes.wav")
    sf.write(tmp_path / "silent.wav", np.zeros(16000), 16000)
    with pytest.raises(AudioError, match="silent"):
        load_audio(tmp_path / "silent.wav")
    sf.write(tmp_path / "short.wav", tone(16000, seconds=0.1), 16000)
    with pytest.raises(AudioError, match="too short"):
        load_audio(tmp_path / "short.wav")
    sf.write(tmp_path / "low.wav", tone(4000), 4000)
    with pytest.raises(AudioError, match="4000 Hz"):
        load_audio(tmp_path / "low.wav")
    good = tmp_path / "good.wav"
    sf.write(good, tone(16000), 16000)
    data = good.read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:40])  # header only
    with pytest.raises((UnreadableFileError, AudioError)):
        load_audio(tmp_path / "cut.wav")


def test_signals_in_memory():
    with pytest.raises(AudioError, match="NaN"):
        prepare_signal(np.array([0.1, np.nan] * 8000), 16000)
    with pytest.raises(AudioError, match="no samples"):
        prepare_signal(np.array([]), 16000)
    pcm = (tone(16000) * 32767).astype(np.int16)
    y, _ = prepare_signal(pcm, 16000)
    assert 0.45 < np.abs(y).max() < 0.55  # int16 scaled to [-1, 1]
    with pytest.warns(ClippedAudioWarning):
        prepare_signal(np.clip(tone(16000, amp=3.0), -1, 1), 16000)
