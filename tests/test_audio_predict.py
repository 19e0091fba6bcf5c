"""The inference API: files and signals in, probabilities out; saved and loaded with its preprocessing."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mmer_utils.audio.io import AudioError
from mmer_utils.audio.models import make_estimator
from mmer_utils.audio.predict import AudioEmotionModel, VoiceAnalysis
from mmer_utils.errors import UnreadableFileError
from mmer_utils.labels import SHARED
from mmer_utils.persist import ModelFileError
from mmer_utils.timeline import TIMELINE_COLUMNS

SR = 16000
PARAMS = {"duration": 1.0, "n_mels": 32}
#: Fast clip features for the tests (the source's framing, no trimming): ~0.05 s per second of audio.
FAST = {"frame_length": 0.050, "hop_length": 0.025, "trim_db": None, "n_mfcc": 8}
#: Label order on purpose different from the estimators' sorted classes_ (["angry", "calm"]).
LABELS = ["calm", "angry"]


def tone(freq, seconds=1.0, sr=SR, amp=0.3, seed=None):
    t = np.arange(int(seconds * sr)) / sr
    y = amp * np.sin(2 * np.pi * freq * t)
    if seed is not None:
        y = y + np.random.default_rng(seed).normal(0, 0.01, len(t))
    return y.astype(np.float32)


def tone_label(freq):
    """The class of a tone: its pitch says it, so a model can learn it and a test can check it."""
    return "calm" if freq < 1500 else "angry"


@pytest.fixture(scope="module")
def training_tones():
    rng = np.random.default_rng(0)
    freqs = np.r_[rng.uniform(200, 900, 12), rng.uniform(2200, 3000, 12)]
    return [tone(f, seed=i) for i, f in enumerate(freqs)], np.array([tone_label(f) for f in freqs])


@pytest.fixture(scope="module")
def model(training_tones):
    """A tiny log-mel CNN (one epoch: its answers are rough; it tests the plumbing, not the learning)."""
    signals, labels = training_tones
    m = AudioEmotionModel(make_estimator("cnn2d", filters=(4, 8), pools=(2, 2), epochs=1, batch_size=8,
                                         spec_augment=None), logmel_params=PARAMS, labels=LABELS)
    m.estimator.fit(m.features(signals), labels)
    return m


@pytest.fixture(scope="module")
def classic(training_tones):
    """Clip features -> scaler -> logistic regression: learns the tones' classes exactly."""
    from mmer_utils.audio.baselines import make_svm

    signals, labels = training_tones
    untrained = AudioEmotionModel.classic(make_svm("linear"), feature_params=FAST, labels=LABELS)
    pipe = make_svm("linear").fit(untrained.features(signals), labels)
    assert list(pipe.classes_) == ["angry", "calm"]      # sorted: not the model's label order
    return AudioEmotionModel.classic(pipe, feature_params=FAST, labels=LABELS)


def test_probabilities_for_signals_and_files(model, tmp_path):
    p = model.predict_signal(tone(440, sr=48000), 48000)
    assert list(p.index) == LABELS and abs(p.sum() - 1) < 1e-5
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.stack([tone(440, sr=44100)] * 2, axis=1), 44100)
    np.testing.assert_allclose(model.predict_file(stereo).values, model.predict_signal(tone(440, sr=44100), 44100).values,
                               atol=1e-4)
    (tmp_path / "bad.wav").write_text("not audio")
    with pytest.raises(UnreadableFileError):
        model.predict_file(tmp_path / "bad.wav")
    with pytest.raises(AudioError, match="silent"):
        model.predict_signal(np.zeros(SR), SR)
    batch = model.predict_proba([tone(300), tone(2500)])
    assert batch.shape == (2, 2) and np.allclose(batch.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(model.predict_windows(np.stack([tone(300), tone(2500)])), batch)


def test_each_probability_column_belongs_to_its_label(classic):
    """Held-out tones: the column of the true label has the largest probability (a wrong column order fails)."""
    freqs = [250, 500, 800, 2300, 2600, 2900]
    P = classic.predict_proba([tone(f, seed=100 + i) for i, f in enumerate(freqs)])
    truth = [tone_label(f) for f in freqs]
    assert [classic.labels[j] for j in P.argmax(axis=1)] == truth
    assert all(P[i, classic.labels.index(t)] > 0.5 for i, t in enumerate(truth))
    assert classic.predict_signal(tone(2600, sr=22050), 22050).idxmax() == "angry"


def test_log_mel_columns_follow_the_estimator_classes():
    """A log-mel estimator whose classes_ are in another order than the labels: columns are reordered by name."""

    class HighBandIsAngry:
        classes_ = np.array(["angry", "calm"])

        def predict_proba(self, X):
            high = (X.mean(axis=1).argmax(axis=1) > X.shape[2] // 2).astype(float)
            return np.stack([high, 1 - high], axis=1) * 0.8 + 0.1

    m = AudioEmotionModel(HighBandIsAngry(), logmel_params=PARAMS, labels=LABELS)
    P = m.predict_proba([tone(300), tone(5000)])
    assert P.argmax(axis=1).tolist() == [LABELS.index("calm"), LABELS.index("angry")]


def test_save_and_load_keep_preprocessing_and_predictions(model, tmp_path):
    path = model.save(tmp_path / "voice.keras")
    loaded = AudioEmotionModel.load(path)
    assert loaded.kind == "logmel" and loaded.logmel_params == model.logmel_params and loaded.labels == LABELS
    y = tone(700)
    np.testing.assert_allclose(loaded.predict_signal(y, SR).values, model.predict_signal(y, SR).values, atol=1e-5)
    with pytest.raises(ModelFileError, match=".keras"):
        model.save(tmp_path / "voice.skops")


def test_classic_model_saved_as_skops(classic, tmp_path):
    import zipfile

    path = classic.save(tmp_path / "voice.skops")
    assert "schema.json" in zipfile.ZipFile(path).namelist()
    loaded = AudioEmotionModel.load(path)
    assert (loaded.kind, loaded.labels, loaded.sr, loaded.feature_params) == ("classic", LABELS, SR, FAST)
    signals = [tone(350), tone(2800)]
    np.testing.assert_allclose(loaded.predict_proba(signals), classic.predict_proba(signals))
    with pytest.raises(ModelFileError, match=".skops"):
        classic.save(tmp_path / "voice.keras")
    (tmp_path / "voice.joblib").write_bytes(b"a pickle")
    with pytest.raises(ModelFileError, match=".keras or .skops"):
        AudioEmotionModel.load(tmp_path / "voice.joblib")
    # features other than those it was trained on are refused up front
    with pytest.raises(ModelFileError, match="features"):
        AudioEmotionModel.classic(classic.estimator, feature_params={**FAST, "n_mfcc": 13}, labels=LABELS)
    with pytest.raises(ValueError, match="unknown clip-feature"):
        AudioEmotionModel.classic(classic.estimator, feature_params={"n_mfccs": 8}, labels=LABELS)


def test_feature_sets_match_the_audio_chapter_extraction(tmp_path):
    """A classic model made of several feature sets computes, from a signal, exactly the columns that
    extract_feature_sets computes from the files in training (same sets, same order)."""
    from mmer_utils.audio.baselines import make_svm
    from mmer_utils.audio.features import extract_feature_sets

    sets = {"source": {"frame_length": 0.050, "hop_length": 0.025, "trim_db": None}, "small": {"n_mfcc": 6}}
    paths, labels = [], []
    for i, f in enumerate([300, 400, 600, 2400, 2700, 2900]):
        paths.append(tmp_path / f"t{i}.wav")
        sf.write(paths[-1], tone(f, seconds=0.6, seed=i), SR)
        labels.append(tone_label(f))
    X, blocks = extract_feature_sets(paths, sets, cache=False, progress=False, n_mfcc=8)
    pipe = make_svm("linear", blocks=blocks).fit(X, labels)
    m = AudioEmotionModel.classic(pipe, feature_params={"n_mfcc": 8}, feature_sets=sets, labels=LABELS)
    from mmer_utils.audio.io import load_audio

    signals = [load_audio(p)[0] for p in paths]     # what predict_file reads
    np.testing.assert_allclose(m.features(signals), X, rtol=1e-6, atol=1e-8)
    back = AudioEmotionModel.load(m.save(tmp_path / "sets.skops"))
    assert list(back.feature_sets) == ["source", "small"]
    np.testing.assert_allclose(back.predict_proba(signals), pipe.predict_proba(X)[:, [1, 0]])


def test_timeline_over_a_long_recording(classic):
    y = np.concatenate([tone(300, 3, seed=3), np.zeros(SR * 2, np.float32), tone(2500, 3, seed=4)])
    tl = classic.timeline(y, SR, window=1.0, hop=0.5)
    assert list(tl.columns) == [*TIMELINE_COLUMNS, "start", "end"]
    assert len(tl) == 15 and set(tl.emotion) <= {"neutral", "angry", "silence"}
    assert (tl.time == (tl.start + tl.end) / 2).all()
    silent = (tl.start >= 3) & (tl.end <= 5)
    assert (tl.emotion[silent] == "silence").all() and tl.loc[silent, list(SHARED)].isna().all().all()
    speech = tl[tl.emotion != "silence"]
    np.testing.assert_allclose(speech[list(SHARED)].sum(axis=1), 1.0)
    assert (speech.confidence == speech[list(SHARED)].max(axis=1)).all()
    # RAVDESS calm is the shared neutral; the low tone is calm, the high tone angry
    assert (tl.emotion[tl.end <= 3] == "neutral").all() and (tl.emotion[tl.start >= 5] == "angry").all()
    native = classic.native_timeline(y, SR, window=1.0, hop=0.5)
    np.testing.assert_allclose(speech["neutral"], native.loc[speech.index, "calm"])
    assert set(native.label) <= {"calm", "angry", "silence"}
    assert tl.attrs["rtf"] > 0 and tl.attrs["labels"] == LABELS


def test_analyse_one_recording(classic, tmp_path):
    y = tone(2600, 4, seed=1)     # one continuous tone: a jump of frequency clicks, which these toy features mistake
    path = tmp_path / "answer.wav"
    sf.write(path, y, SR)
    result = classic.analyse(path, window=1.0, hop=1.0)
    assert isinstance(result, VoiceAnalysis) and result.duration == pytest.approx(4.0)
    assert list(result.proba.index) == LABELS and result.proba.idxmax() == "angry"
    assert result.emotion == "angry" and list(result.summary.index) == list(SHARED)
    assert len(result.timeline) == 4
    same = classic.analyse((y, SR), window=1.0, hop=1.0)
    pd.testing.assert_series_equal(same.summary, result.summary, atol=1e-4)
    with pytest.raises(TypeError, match="sample_rate"):
        classic.analyse(y)
