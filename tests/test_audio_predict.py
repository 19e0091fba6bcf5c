"""The inference API: files and signals in, probabilities out; saved and loaded with its preprocessing."""

import numpy as np
import pytest
import soundfile as sf

from mmer_utils.audio.io import AudioError
from mmer_utils.audio.models import make_estimator
from mmer_utils.audio.predict import AudioEmotionModel
from mmer_utils.errors import UnreadableFileError

SR = 16000
PARAMS = {"duration": 1.0, "n_mels": 32}


def tone(freq, seconds=1.0, sr=SR, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    signals = [tone(f) + rng.normal(0, 0.01, SR).astype(np.float32) for f in rng.uniform(200, 3000, 64)]
    labels = np.array(["calm" if f < 1500 else "angry" for f in rng.uniform(200, 3000, 64)])
    m = AudioEmotionModel(make_estimator("cnn2d", filters=(4, 8), pools=(2, 2), epochs=1, batch_size=16,
                                         spec_augment=None), logmel_params=PARAMS, labels=["calm", "angry"])
    m.estimator.fit(m.features(signals), labels)
    return m


def test_probabilities_for_signals_and_files(model, tmp_path):
    p = model.predict_signal(tone(440, sr=48000), 48000)
    assert list(p.index) == ["calm", "angry"] and abs(p.sum() - 1) < 1e-5
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.stack([tone(440, sr=44100)] * 2, axis=1), 44100)
    np.testing.assert_allclose(model.predict_file(stereo).values, model.predict_signal(tone(440, sr=44100), 44100).values,
                               atol=1e-4)
    (tmp_path / "bad.wav").write_text("not audio")
    with pytest.raises(UnreadableFileError):
        model.predict_file(tmp_path / "bad.wav")
    with pytest.raises(AudioError, match="silent"):
        model.predict_signal(np.zeros(SR), SR)


def test_save_and_load_keep_preprocessing_and_predictions(model, tmp_path):
    path = model.save(tmp_path / "voice.keras")
    loaded = AudioEmotionModel.load(path)
    assert loaded.logmel_params == model.logmel_params and loaded.labels == ["calm", "angry"]
    y = tone(700)
    np.testing.assert_allclose(loaded.predict_signal(y, SR).values, model.predict_signal(y, SR).values, atol=1e-5)


def test_timeline_over_a_long_recording(model):
    y = np.concatenate([tone(300, 3), np.zeros(SR * 2, np.float32), tone(2500, 3)])
    tl = model.timeline(y, SR, window=1.0, hop=0.5)
    assert len(tl) == 15 and set(tl.label) <= {"calm", "angry", "silence"}
    assert (tl.label[(tl.start >= 3) & (tl.end <= 5)] == "silence").all()
    assert tl.attrs["rtf"] > 0
