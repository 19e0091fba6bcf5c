"""Classic features, their cache, and the SVM baselines' evaluation protocol."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from sklearn.base import BaseEstimator, ClassifierMixin

from conftest import real_dataset
from mmer_utils.audio import baselines, features
from mmer_utils.audio import opensmile_peer

SR = 16000
T = np.arange(SR) / SR


def _tone(freq, amp=0.5, seconds=1.0):
    t = np.arange(int(SR * seconds)) / SR
    return amp * np.sin(2 * np.pi * freq * t)


def _frame_means(y, **kw):
    feats, names = features.frame_features(y, SR, trim_db=None, deltas=False, **kw)
    return dict(zip(names, feats.mean(axis=0)))


# --------------------------------------------------------------------------- per-frame features


@pytest.mark.parametrize("freq", [440, 1000, 3000])
def test_zero_crossing_rate_of_a_sine_is_twice_its_frequency(freq):
    d = _frame_means(_tone(freq))
    assert d["zcr"] * SR / 2 == pytest.approx(freq, rel=0.02)


@pytest.mark.parametrize("freq", [1000, 3000])
def test_centroid_and_rolloff_of_a_pure_tone_sit_at_its_frequency(freq):
    d = _frame_means(_tone(freq))
    assert d["spectral_centroid"] == pytest.approx(freq, rel=0.05)
    assert d["spectral_rolloff"] == pytest.approx(freq, abs=2 * SR / 512)  # within two FFT bins
    assert d["spectral_spread"] < 0.5 * freq


def test_centroid_matches_librosa_on_the_same_frames():
    import librosa

    y = _tone(440) + 0.3 * _tone(2500)
    feats, names = features.frame_features(y, SR, trim_db=None, deltas=False)
    # librosa centres the 400-sample window in a 512-sample frame: pad by 56 to align the frames
    ref = librosa.feature.spectral_centroid(y=np.pad(y, 56), sr=SR, n_fft=512, hop_length=160, win_length=400,
                                            window="hamming", center=False)[0]
    ours = feats[:, names.index("spectral_centroid")]
    assert len(ours) == len(ref)
    np.testing.assert_allclose(ours, ref, rtol=2e-3)  # librosa's Hamming window is the periodic one


def test_energy_entropies_and_silence():
    d = _frame_means(_tone(1000, amp=0.5))
    assert d["energy"] == pytest.approx(0.125, rel=0.01)                 # A^2 / 2
    assert d["energy_entropy"] == pytest.approx(np.log2(10), rel=0.01)    # flat over 10 sub-frames
    noise = _frame_means(np.random.default_rng(0).normal(scale=0.1, size=SR))
    assert noise["spectral_entropy"] > 0.85 > 0.3 > d["spectral_entropy"]
    assert noise["spectral_flux"] > d["spectral_flux"]
    feats, names = features.frame_features(np.zeros(SR), SR)              # silence: finite, zero energy
    assert np.isfinite(feats).all()
    for name in ("zcr", "energy", "spectral_centroid", "spectral_rolloff", "spectral_entropy"):
        assert np.all(feats[:, names.index(name)] == 0), name


def test_lowpass_drops_content_above_4_khz():
    y = _tone(500) + _tone(6000)
    full, low = _frame_means(y), _frame_means(y, max_freq=4000)
    assert full["spectral_rolloff"] > 5000 and low["spectral_rolloff"] < 1000
    assert low["energy"] == pytest.approx(0.125, rel=0.02)                 # only the 500 Hz tone is left
    assert features.lowpass(_tone(6000), SR)[1000:-1000].std() < 1e-3      # (edges: filter transients)


def test_silence_trimming_keeps_only_the_voiced_part():
    y = np.concatenate([np.zeros(SR), _tone(300, seconds=0.5), np.zeros(SR)])
    n_trim = len(features.frame_features(y, SR, trim_db=30)[0])
    n_full = len(features.frame_features(y, SR, trim_db=None)[0])
    assert n_full == 1 + (len(y) - 400) // 160 and n_trim < 0.25 * n_full + 5


def test_short_signal_gives_one_frame_and_deltas_double_the_columns():
    feats, names = features.frame_features(np.full(100, 0.1), SR)
    assert feats.shape == (1, len(names)) == (1, 2 * (8 + 13))
    assert names[21] == "delta_zcr"


# --------------------------------------------------------------------------- statistics


def test_global_statistics_values_names_and_shape():
    x = np.arange(101.0)[:, None]
    vec, names = features.global_statistics(np.hstack([x, np.ones_like(x)]), ["ramp", "flat"])
    stats = dict(zip(names, vec))
    assert len(vec) == len(names) == 2 * len(features.STATISTICS)
    assert names[:3] == ["ramp_mean", "ramp_median", "ramp_std"]
    assert stats["ramp_mean"] == stats["ramp_median"] == 50
    assert stats["ramp_p01"] == pytest.approx(1) and stats["ramp_p99"] == pytest.approx(99)
    assert stats["ramp_range"] == 100 and stats["ramp_skewness"] == pytest.approx(0, abs=1e-12)
    assert stats["ramp_kurtosis"] == pytest.approx(-1.2, abs=0.01)        # uniform law
    assert stats["flat_std"] == stats["flat_kurtosis"] == stats["flat_skewness"] == 0
    with pytest.raises(ValueError):
        features.global_statistics(np.zeros((5, 2)), ["a"])


def test_clip_features_length_matches_feature_names():
    vec, names = features.clip_features(_tone(300), SR, n_mfcc=20)
    assert vec.shape == (len(names),) and names == features.feature_names(n_mfcc=20)
    assert len(names) == 2 * (8 + 20) * 10 and np.isfinite(vec).all()
    with pytest.raises(TypeError, match="unknown"):
        features.clip_features(_tone(300), SR, n_mffc=20)


# --------------------------------------------------------------------------- cache


@pytest.fixture
def wav_files(tmp_path, monkeypatch):
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    paths = []
    for i, freq in enumerate([200, 400, 800]):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, _tone(freq, seconds=0.6).astype(np.float32), SR)
        paths.append(path)
    return paths


@pytest.fixture
def count_calls(monkeypatch):
    calls = []
    real = features.clip_features

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(features, "clip_features", counting)
    return calls


def test_cache_hits_on_second_call_and_recomputes_when_params_change(wav_files, count_calls, tmp_path):
    X1 = features.extract_features(wav_files, progress=False)
    assert X1.shape == (3, len(features.feature_names())) and len(count_calls) == 3
    X2 = features.extract_features(wav_files, progress=False)
    assert len(count_calls) == 3                                          # all from the cache
    np.testing.assert_array_equal(X1, X2)
    renamed = tmp_path / "renamed.wav"                                    # same content, other name: a hit
    renamed.write_bytes(wav_files[0].read_bytes())
    features.extract_features([renamed], progress=False)
    assert len(count_calls) == 3
    X3 = features.extract_features(wav_files, progress=False, max_freq=4000)
    assert len(count_calls) == 6 and not np.allclose(X1, X3)              # new parameters: recomputed
    sf.write(wav_files[0], _tone(1600, seconds=0.6).astype(np.float32), SR)  # new content: recomputed
    features.extract_features(wav_files, progress=False)
    assert len(count_calls) == 7
    features.extract_features(wav_files, progress=False, cache=False)
    assert len(count_calls) == 10


def test_interrupted_cache_write_leaves_no_entry(wav_files, monkeypatch, count_calls):
    real_save = np.save

    def half_then_interrupt(fh, arr, *a, **k):
        fh.write(b"\x93NUMPY half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        features.extract_features(wav_files[:1], progress=False)
    monkeypatch.setattr(np, "save", real_save)
    from mmer_utils import config

    cache = config.cache_dir("audio_features")
    leftovers = [p for p in cache.rglob("*") if p.is_file() and p.name != "params.json"]
    assert leftovers == []
    X = features.extract_features(wav_files[:1], progress=False)          # next run computes it cleanly
    assert np.isfinite(X).all() and len(count_calls) == 2
    assert len(list(cache.rglob("*.npy"))) == 1


def test_clip_features_transformer_in_a_pipeline(wav_files):
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(features.ClipFeatures(max_freq=4000), baselines.make_svm("linear"))
    labels = ["low", "low", "high"]
    model.fit([str(p) for p in wav_files], labels)
    assert list(model.predict(wav_files)) == labels
    assert clone(model).get_params()["clipfeatures__max_freq"] == 4000
    assert model[0].get_feature_names_out()[0] == "zcr_mean"


def test_extract_feature_sets_blocks(wav_files):
    X, blocks = features.extract_feature_sets(wav_files, progress=False)
    assert list(blocks) == list(features.FEATURE_SETS)
    assert blocks["source"] == (0, 420) and blocks["speech"] == (420, 840) and X.shape == (3, 840)


# --------------------------------------------------------------------------- SVM protocol


class SpyClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the majority class; records the actor ids (column 0) of every fit."""

    seen: list = []

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        SpyClassifier.seen.append(set(np.asarray(X)[:, 0].astype(int).tolist()))
        values, counts = np.unique(y, return_counts=True)
        self.classes_, self.majority_ = values, values[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


def test_inner_cv_never_sees_test_actors(monkeypatch):
    from sklearn.pipeline import Pipeline

    actors = np.repeat(np.arange(1, 25), 6)
    X = np.column_stack([actors, np.random.default_rng(0).normal(size=len(actors))])
    y = np.tile(["a", "b", "c"], len(actors) // 3)
    groups_seen = []
    real = baselines.fit_with_inner_cv

    def spy(pipeline, Xtr, ytr, groups, grid, **kw):
        groups_seen.append(set(np.unique(groups).tolist()))
        return real(pipeline, Xtr, ytr, groups, grid, **kw)

    monkeypatch.setattr(baselines, "fit_with_inner_cv", spy)
    SpyClassifier.seen = []
    res = baselines.evaluate_actor_folds(lambda: Pipeline([("clf", SpyClassifier())]), X, y, actors,
                                         param_grid={"clf__C": [1.0, 2.0]}, progress=False)
    from mmer_utils.splits import actor_folds

    assert len(groups_seen) == 6 and len(res.per_fold) == 6
    for fold, groups in enumerate(groups_seen):
        test = set(actor_folds()[fold])
        assert not groups & test and groups | test == set(range(1, 25))
    # every fit (2 params x 5 inner folds + the refit, per outer fold) saw training actors only
    assert len(SpyClassifier.seen) == 6 * (2 * 5 + 1)
    for fold in range(6):
        test = set(actor_folds()[fold])
        for seen in SpyClassifier.seen[fold * 11:(fold + 1) * 11]:
            assert seen and not seen & test
    assert sorted(res.index.tolist()) == list(range(len(y)))              # each clip tested exactly once


def test_quick_subset_of_folds_and_actors():
    rng = np.random.default_rng(1)
    actors = np.repeat([1, 2, 3, 4, 13, 14, 15, 16], 8)
    y = np.tile(["x", "y"], len(actors) // 2)
    X = rng.normal(size=(len(y), 4)) + (y == "y")[:, None] * 3
    res = baselines.evaluate_actor_folds(lambda: baselines.make_svm("rbf", probability=False), X, y, actors,
                                         param_grid=baselines.default_param_grid("rbf", quick=True),
                                         folds=[0, 1, 2], progress=False)
    assert res.per_fold["fold"].tolist() == [0, 1]                         # fold 2's actors are absent
    assert res.per_fold["test_actors"].tolist() == ["1, 2, 13, 14", "3, 4, 15, 16"]
    assert res.pooled["accuracy"] > 0.9 and res.protocol.startswith("speaker-independent")


def test_random_split_is_labelled_leaky_and_covers_every_clip():
    rng = np.random.default_rng(2)
    y = np.tile(["x", "y", "z"], 40)
    X = rng.normal(size=(len(y), 3))
    res = baselines.evaluate_random_split(lambda: baselines.make_svm("linear"), X, y, param_grid={"clf__C": [0.1, 1]},
                                          scoring="f1_macro", progress=False)
    assert "leaky" in res.protocol and len(res.per_fold) == 6
    assert sorted(res.index.tolist()) == list(range(len(y)))


def test_feature_set_is_chosen_inside_the_training_folds():
    rng = np.random.default_rng(3)
    y = np.repeat(["a", "b"], 60)
    groups = np.tile(np.arange(6), 20)
    informative = rng.normal(size=(120, 3)) + (y == "b")[:, None] * 2
    X = np.hstack([rng.normal(size=(120, 5)), informative])
    blocks = {"noise": (0, 5), "signal": (5, 8)}
    grid = baselines.default_param_grid("rbf", quick=True, blocks=blocks)
    model = baselines.fit_with_inner_cv(baselines.make_svm("rbf", blocks=blocks), X, y, groups, grid)
    assert model.best_params_["select__block"] == "signal"
    assert model.cv_results_["param_select__block"].tolist().count("noise") == 2
    proba = model.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert model.named_steps["select"].transform(X).shape == (120, 3)


def test_calibrated_svc_gamma_scale_factors():
    X = np.random.default_rng(4).normal(size=(40, 8)) * 2
    y = np.repeat([0, 1], 20)
    svc = baselines.CalibratedSVC(gamma="scale/4", calibrate=False).fit(X, y)
    assert svc.gamma_ == pytest.approx(1 / (8 * X.var()) / 4)
    with pytest.raises(AttributeError):
        svc.predict_proba(X)
    with pytest.raises(ValueError):
        baselines.make_svm("poly")


# --------------------------------------------------------------------------- real data and openSMILE


def test_end_to_end_on_a_handful_of_real_clips(tmp_path, monkeypatch):
    from mmer_utils.datasets import load_ravdess

    real_dataset("ravdess")
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    df = load_ravdess()
    df = df[df.actor.isin([1, 2, 3, 4]) & df.emotion.isin(["calm", "angry"])].reset_index(drop=True)
    assert len(df) == 64
    X = features.extract_features(df.path, progress=False)
    assert X.shape == (64, len(features.feature_names())) and np.isfinite(X).all()
    res = baselines.evaluate_actor_folds(lambda: baselines.make_svm("rbf"), X, df.emotion.values, df.actor.values,
                                         param_grid=baselines.default_param_grid("rbf", quick=True), progress=False)
    assert res.per_fold["fold"].tolist() == [0, 1]                         # actors 1-2 vs 3-4
    assert res.pooled["accuracy"] > 0.8                                   # calm vs angry is easy
    assert set(res.per_class_recall().index) == {"angry", "calm"}


def test_opensmile_missing_package_gives_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "opensmile", None)
    monkeypatch.setattr(opensmile_peer, "_SMILES", {})
    with pytest.raises(opensmile_peer.OpenSmileMissingError, match="pip install opensmile"):
        opensmile_peer.opensmile_feature_names("eGeMAPSv02")


def test_opensmile_egemaps_on_files_is_cached(wav_files, monkeypatch):
    pytest.importorskip("opensmile")
    X = opensmile_peer.opensmile_features(wav_files, "eGeMAPSv02", progress=False)
    assert X.shape == (3, 88) == (3, len(opensmile_peer.opensmile_feature_names("eGeMAPSv02")))
    assert np.isfinite(X).all()
    monkeypatch.setattr(opensmile_peer, "opensmile_signal_features", lambda *a, **k: 1 / 0)
    np.testing.assert_array_equal(opensmile_peer.opensmile_features(wav_files, "eGeMAPSv02", progress=False), X)
    with pytest.raises(ValueError, match="unknown openSMILE feature set"):
        opensmile_peer.opensmile_features(wav_files, "GeMAPS", progress=False)
