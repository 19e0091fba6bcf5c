"""Log-mel windows, augmentation and the deep models of the audio chapter (synthetic signals, fast)."""


import numpy as np
import pytest
import soundfile as sf

from mmer_utils.audio import augment, models, spectrogram

SR = 16000


def _tone(freq, seconds=1.0, amp=0.3):
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype("float32")


def _peak_hz(y):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.fft.rfftfreq(len(y), 1 / SR)[np.argmax(spectrum)]


# --------------------------------------------------------------------------- spectrogram


def test_fix_length_pads_and_crops():
    assert np.array_equal(spectrogram.fix_length(np.arange(6), 4), [1, 2, 3, 4])
    assert np.array_equal(spectrogram.fix_length(np.arange(6), 4, align="start"), [0, 1, 2, 3])
    assert np.array_equal(spectrogram.fix_length(np.ones(2), 5), [0, 1, 1, 0, 0])
    with pytest.raises(ValueError):
        spectrogram.fix_length(np.ones(2), 5, align="end")


def test_logmel_shape_normalisation_and_the_4khz_option():
    rng = np.random.default_rng(0)
    y = _tone(440, 2.0) + rng.normal(0, 0.01, 2 * SR).astype("float32")
    S = spectrogram.logmel(y, SR, duration=3.5)
    assert S.shape == (spectrogram.n_frames(3.5), 64) == (351, 64) and S.dtype == np.float32
    assert abs(S.mean()) < 1e-4 and abs(S.std() - 1) < 1e-3
    band = spectrogram.logmel(y, SR, duration=None, normalize="band")
    assert np.allclose(band.mean(axis=0), 0, atol=1e-4)
    # A 6 kHz tone is seen with the full band and gone with fmax=4000
    high = _tone(6000, 1.0) + rng.normal(0, 1e-3, SR).astype("float32")
    full = spectrogram.logmel(high, SR, duration=None, normalize=None)
    low = spectrogram.logmel(high, SR, duration=None, normalize=None, fmax=4000)
    assert full.max() - low.max() > 30  # dB
    with pytest.raises(ValueError):
        spectrogram.logmel(y, SR, normalize="global")


def test_rolling_windows_cut_the_time_axis():
    S = np.arange(100 * 8, dtype="float32").reshape(100, 8)
    W = spectrogram.rolling_windows(S, win=20, hop=10)
    assert W.shape == (9, 20, 8, 1)
    for k in range(9):
        assert np.array_equal(W[k, :, :, 0], S[10 * k:10 * k + 20])
    batch = spectrogram.rolling_windows(np.stack([S, S + 1]), win=20, hop=10)
    assert batch.shape == (2, 9, 20, 8, 1) and np.array_equal(batch[1] - 1, W)
    assert spectrogram.windows_shape(3.5) == spectrogram.rolling_windows(np.zeros((351, 64))).shape == (4, 128, 64, 1)
    with pytest.raises(ValueError, match="shorter than one window"):
        spectrogram.rolling_windows(S[:10], win=20)


def test_logmel_batch_caches_by_content_and_augmented_copies_differ(tmp_path, monkeypatch):
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(1)
    paths = []
    for i, f in enumerate((220, 330, 440)):
        p = tmp_path / f"clip{i}.wav"
        sf.write(p, _tone(f, 1.2) + rng.normal(0, 0.01, int(1.2 * SR)).astype("float32"), SR)
        paths.append(p)
    X = spectrogram.logmel_batch(paths, duration=1.0, progress=False)
    assert X.shape == (3, 101, 64)
    entries = list((tmp_path / "cache" / "audio_logmel").rglob("*.npy"))
    assert len(entries) == 3 and not list((tmp_path / "cache").rglob("*.tmp"))
    renamed = tmp_path / "renamed.wav"
    renamed.write_bytes(paths[0].read_bytes())
    again = spectrogram.logmel_batch([renamed], duration=1.0, progress=False)
    assert np.array_equal(again[0], X[0])
    assert len(list((tmp_path / "cache" / "audio_logmel").rglob("*.npy"))) == 3  # same content: a cache hit
    aug = dict(noise_snr=(10, 10), shift=0.1, pitch=None, stretch=None, p=1.0)
    copy1 = spectrogram.logmel_batch(paths, duration=1.0, progress=False, augment=aug, copy=1)
    copy1b = spectrogram.logmel_batch(paths, duration=1.0, progress=False, augment=aug, copy=1, cache=False)
    copy2 = spectrogram.logmel_batch(paths, duration=1.0, progress=False, augment=aug, copy=2)
    assert np.allclose(copy1, copy1b)  # seeded: the same copy is the same draw
    assert not np.allclose(copy1, X) and not np.allclose(copy1, copy2)
    with pytest.raises(TypeError, match="unknown"):
        spectrogram.logmel_batch(paths, n_mfcc=13)


# --------------------------------------------------------------------------- augmentation


@pytest.mark.parametrize("snr", [0.0, 10.0, 25.0])
@pytest.mark.parametrize("color", ["white", "pink"])
def test_noise_is_added_at_the_requested_snr(snr, color):
    y = _tone(300, 1.0)
    noisy = augment.add_noise(y, snr, np.random.default_rng(3), color=color)
    assert noisy.shape == y.shape and np.isfinite(noisy).all()
    assert augment.snr_db(y, noisy - y) == pytest.approx(snr, abs=0.05)


def test_time_shift_moves_and_zero_fills():
    y = np.arange(1.0, 6.0)
    assert np.array_equal(augment.time_shift(y, 2), [0, 0, 1, 2, 3])
    assert np.array_equal(augment.time_shift(y, -2), [3, 4, 5, 0, 0])
    assert np.array_equal(augment.time_shift(y, 9), np.zeros(5))


def test_pitch_shift_and_time_stretch():
    y = _tone(400, 1.0)
    up = augment.pitch_shift(y, SR, 12)  # one octave
    assert up.shape == y.shape and np.isfinite(up).all()
    assert _peak_hz(up) == pytest.approx(800, rel=0.03)
    fast = augment.time_stretch(y, 1.25)
    assert len(fast) == pytest.approx(len(y) / 1.25, rel=0.01)
    assert _peak_hz(fast) == pytest.approx(400, rel=0.03)  # the pitch is kept


def test_augment_waveform_is_seeded_switchable_and_finite():
    y = _tone(250, 1.0) + np.random.default_rng(0).normal(0, 0.01, SR).astype("float32")
    a = augment.augment_waveform(y, SR, np.random.default_rng(7), p=1.0)
    b = augment.augment_waveform(y, SR, np.random.default_rng(7), p=1.0)
    assert np.array_equal(a, b) and np.isfinite(a).all() and a.dtype == np.float32
    assert not np.allclose(a[: min(len(a), len(y))], y[: min(len(a), len(y))])
    off = augment.augment_waveform(y, SR, np.random.default_rng(7), noise_snr=None, shift=None, pitch=None,
                                   stretch=None)
    assert np.array_equal(off, y)


def test_spec_augment_masks_bands_without_touching_the_input():
    S = np.random.default_rng(0).normal(size=(200, 64)).astype("float32") + 5
    M = augment.spec_augment(S, np.random.default_rng(1), n_time_masks=2, max_time=30, n_freq_masks=2, max_freq=10,
                             value=-99.0)
    assert M.shape == S.shape and (S > -99).all()
    masked_rows = np.all(M == -99, axis=1).sum()
    masked_cols = np.all(M == -99, axis=0).sum()
    assert 0 < masked_rows <= 60 and 0 < masked_cols <= 20
    assert np.array_equal(M[M != -99], S[M != -99])
    same = augment.spec_augment(S, np.random.default_rng(1), n_time_masks=2, max_time=30, n_freq_masks=2,
                                max_freq=10, value=-99.0)
    assert np.array_equal(M, same)
    default_fill = augment.spec_augment(S, np.random.default_rng(1), max_time=30)
    changed = default_fill != S
    assert changed.any() and np.allclose(default_fill[changed], S.mean())  # masks filled with the mean
    assert augment.spec_augment(S[..., None], np.random.default_rng(1)).shape == (200, 64, 1)


# --------------------------------------------------------------------------- models


def test_cnn_lstm_and_cnn2d_shapes_and_forward_pass():
    model = models.build_cnn_lstm(spectrogram.windows_shape(3.5), 8)  # the benchmark's size
    assert model.input_shape == (None, 4, 128, 64, 1) and model.output_shape == (None, 8)
    names = [layer.name for layer in model.get_layer("time_distributed_cnn").layer.layers]
    assert sum(n.endswith("_conv") for n in names) == 4 and "lflb4_elu" in names and "lflb4_drop" in names
    assert [layer.name for layer in model.layers if layer.name.startswith("lstm")] == ["lstm1", "lstm2"]
    assert models.build_cnn2d((351, 64, 1), 8).output_shape == (None, 8)

    small = models.build_cnn_lstm((3, 32, 16, 1), 8, filters=(4, 4, 8, 8))
    x = np.random.default_rng(0).normal(size=(2, 3, 32, 16, 1)).astype("float32")
    p = small.predict(x, verbose=0)
    assert p.shape == (2, 8) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    cnn = models.build_cnn2d((64, 16, 1), 8, filters=(4, 4, 8, 8))
    p = cnn.predict(np.zeros((2, 64, 16, 1), "float32"), verbose=0)
    assert np.allclose(p.sum(axis=1), 1, atol=1e-5)
    assert models.add_channel(np.zeros((3, 10, 4))).shape == (3, 10, 4, 1)
    with pytest.raises(ValueError, match="kind"):
        models.make_estimator("transformer")


def _band_data(n_per_class=40, n_classes=4, frames=64, n_mels=16, seed=0):
    """Spectrogram-like noise with a brighter band of mel rows per class: separable, not trivially."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.normal(size=(len(y), frames, n_mels)).astype("float32")
    for k in range(n_classes):
        X[y == k, :, 4 * k: 4 * k + 4] += 1.0
    return X, np.array(["neutral", "calm", "happy", "sad"])[y]


def test_tiny_cnn_lstm_learns_a_separable_problem():
    X, y = _band_data()
    order = np.random.default_rng(1).permutation(len(y))
    X, y = X[order], y[order]
    est = models.make_estimator("cnn_lstm", filters=(8, 8), pools=(2, 2), lstm_units=(16,), win=32, hop=16,
                                epochs=6, batch_size=16, learning_rate=3e-3, patience=6, dropout=0.1,
                                spec_augment={"max_time": 8, "max_freq": 2})
    est.fit(X[:112], y[:112], validation_data=(X[112:136], y[112:136]))
    accuracy = est.score(X[136:], y[136:])
    assert accuracy > 0.6, f"accuracy {accuracy:.2f} on 4 classes (chance 0.25)"


class _CountingModel:
    """A stand-in estimator: predicts the majority training class; counts its fits."""

    fits = 0

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, X, y, validation_data=None):
        _CountingModel.fits += 1
        self.seen_ = (len(X), None if validation_data is None else len(validation_data[0]))
        values, counts = np.unique(y, return_counts=True)
        self.classes_ = values
        self.majority_ = values[np.argmax(counts)]
        return self

    def predict_proba(self, X):
        return np.tile((self.classes_ == self.majority_).astype(float), (len(X), 1))


def test_actor_fold_protocol_uses_the_right_actors_resumes_and_pools(tmp_path):
    actors = np.repeat(np.arange(1, 25), 4)
    y = np.array(["happy", "sad", "angry", "neutral"] * 24)
    X = np.arange(len(y), dtype="float32")[:, None]
    seen = []

    class Recorder(_CountingModel):
        def fit(self, X_, y_, validation_data=None):
            seen.append((set(actors[X_[:, 0].astype(int) % len(y)]), set(actors[validation_data[0][:, 0].astype(int)])))
            return super().fit(X_, y_, validation_data)

    _CountingModel.fits = 0
    res = models.train_eval_actor_folds(Recorder, X, y, actors, folds=[0, 1], extra_train=[X + len(y)],
                                        cache_dir=tmp_path / "cv", progress=False)
    assert _CountingModel.fits == 2 and len(res.per_fold) == 2
    train0, val0 = seen[0]
    assert not train0 & {1, 2, 13, 14} and val0 == {3, 4, 15, 16} and not train0 & val0
    assert res.per_fold.n_train.tolist() == [2 * 64, 2 * 64]  # training actors + their augmented copies
    assert sorted(res.index.tolist()) == sorted(np.flatnonzero(np.isin(actors, [1, 2, 13, 14, 3, 4, 15, 16])))
    assert res.proba.shape == (32, 8) and set(res.y_true) <= set(res.labels)
    # A rerun skips the finished folds and returns the same predictions
    again = models.train_eval_actor_folds(Recorder, X, y, actors, folds=[0, 1], extra_train=[X + len(y)],
                                          cache_dir=tmp_path / "cv", progress=False)
    assert _CountingModel.fits == 2 and np.array_equal(again.proba, res.proba)
    assert again.pooled == res.pooled
    # One model per sex: twice as many fits, each on one sex only
    sex = np.where(actors % 2, "male", "female")
    by = models.train_eval_actor_folds(_CountingModel, X, y, actors, folds=[0], by=sex, progress=False)
    assert _CountingModel.fits == 4 and len(by.y_true) == 16


def test_random_split_is_labelled_leaky():
    actors = np.repeat(np.arange(1, 25), 4)
    y = np.array(["happy", "sad", "angry", "neutral"] * 24)
    res = models.train_eval_random_split(_CountingModel, np.zeros((96, 1)), y, progress=False)
    assert "leaky" in res.protocol and len(res.y_true) == round(0.2 * 96)
    assert set(actors[res.index]) & set(actors[np.setdiff1d(np.arange(96), res.index)])  # shared speakers


class _RandomModel(_CountingModel):
    """Random probabilities, seeded by the training-set size (two instances differ when seeds differ)."""

    seed = 0

    def predict_proba(self, X):
        return np.random.default_rng(self.seed + len(X)).dirichlet(np.ones(len(self.classes_)), size=len(X))


def test_bench_helpers_average_and_restrict_runs():
    from mmer_utils.bench import audio_deep

    actors = np.repeat(np.arange(1, 25), 4)
    y = np.array(["happy", "sad", "angry", "neutral"] * 24)
    X = np.zeros((96, 1))

    class Other(_RandomModel):
        seed = 7

    a = models.train_eval_actor_folds(_RandomModel, X, y, actors, folds=[0, 1, 2], progress=False)
    b = models.train_eval_actor_folds(Other, X, y, actors, folds=[0, 1, 2], progress=False)
    ens = audio_deep.average([a, b])
    assert np.allclose(ens.proba, (a.proba + b.proba) / 2)
    assert ens.pooled["accuracy"] == pytest.approx(np.mean(ens.y_true.astype(object) == ens.y_pred))
    assert len(ens.per_fold) == 3 and np.isclose(ens.per_fold.accuracy.mean(), ens.pooled["accuracy"])
    part = audio_deep.restrict(a, [1])
    assert len(part.y_true) == 16 and set(actors[part.index]) == {3, 4, 15, 16}
    assert part.pooled["accuracy"] == pytest.approx(a.per_fold.set_index("fold").accuracy[1])
    assert audio_deep.merge({"estimator": {"kind": "cnn2d", "epochs": 5}, "wave_copies": 1},
                            {"estimator": {"epochs": 2}}) == {"estimator": {"kind": "cnn2d", "epochs": 2},
                                                              "logmel": {}, "wave_copies": 1}


def test_a_fold_left_without_training_actors_is_one_clear_error():
    actors = np.repeat(np.arange(1, 25), 4)
    y = np.array(["happy", "sad", "angry", "neutral"] * 24)
    with pytest.raises(ValueError, match="fold 1: none of train_actors"):  # 5, 6, 17, 18 validate fold 1
        models.train_eval_actor_folds(_CountingModel, np.zeros((96, 1)), y, actors, folds=[0, 1],
                                      train_actors=[5, 6, 17, 18], progress=False)
