"""The voice chapter's deep runs resume on a fresh machine from committed fold weights.

``train_eval_actor_folds(model_dir=...)`` keeps each finished fold's weights and scores (no
per-clip output) so that a clone without the cache rebuilds the same test predictions
without training again; a tampered weights file is refused in one line.
"""

import json

import numpy as np
import pytest

from mmer_utils.audio import models
from mmer_utils.errors import ChecksumError

LABELS = np.array(["neutral", "calm", "happy", "sad"])


def _data(n_per_actor=4, frames=32, n_mels=16, seed=0):
    """24 actors, 4 clips each (one per class), a class-specific band of the spectrogram raised."""
    rng = np.random.default_rng(seed)
    actors = np.repeat(np.arange(1, 25), n_per_actor)
    y = np.tile(np.arange(4), 24)
    X = rng.normal(size=(len(y), frames, n_mels)).astype("float32")
    for k in range(4):
        X[y == k, :, 4 * k: 4 * k + 4] += 1.5
    return X, LABELS[y], actors


def _estimator():
    return models.make_estimator("cnn2d", filters=(4, 8), pools=(2, 2), epochs=2, batch_size=16,
                                 spec_augment=None, patience=2)


def test_finished_folds_rebuild_from_weights_without_training(tmp_path, monkeypatch):
    X, y, actors = _data()
    first = models.train_eval_actor_folds(_estimator(), X, y, actors, folds=[0, 1], cache_dir=tmp_path / "cache",
                                          model_dir=tmp_path / "committed", progress=False)
    kept = sorted(p.name for p in (tmp_path / "committed").iterdir())
    # only weights and scores: no per-clip predictions, no epoch checkpoints left behind
    assert kept == ["fold0.json", "fold0.weights.npz", "fold1.json", "fold1.weights.npz"]
    info = json.loads((tmp_path / "committed" / "fold0.json").read_text())
    assert set(info) == {"row", "histories", "weights"} and len(info["histories"][0]["loss"]) >= 1

    # a fresh machine: no cache, the committed folder only; training must not run
    def no_training(*args, **kwargs):
        raise AssertionError("a finished fold was trained again")

    monkeypatch.setattr(models, "_fit_predict", no_training)
    again = models.train_eval_actor_folds(_estimator(), X, y, actors, folds=[0, 1], cache_dir=tmp_path / "fresh",
                                          model_dir=tmp_path / "committed", progress=False)
    np.testing.assert_allclose(again.proba, first.proba, atol=1e-6)
    assert np.array_equal(again.index, first.index) and again.pooled == first.pooled
    assert again.per_fold.to_dict("records") == first.per_fold.to_dict("records")


def test_random_split_rebuilds_from_weights(tmp_path, monkeypatch):
    X, y, _ = _data()
    first = models.train_eval_random_split(_estimator(), X, y, model_dir=tmp_path / "m", progress=False)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["random.json", "random.weights.npz"]
    monkeypatch.setattr(models, "_fit_predict", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    again = models.train_eval_random_split(_estimator(), X, y, model_dir=tmp_path / "m", progress=False)
    np.testing.assert_allclose(again.proba, first.proba, atol=1e-6)


def test_tampered_fold_weights_are_refused(tmp_path):
    X, y, actors = _data()
    models.train_eval_actor_folds(_estimator(), X, y, actors, folds=[0], model_dir=tmp_path / "m", progress=False)
    weights = tmp_path / "m" / "fold0.weights.npz"
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ChecksumError, match="fold0.json to train fold 0 again"):
        models.train_eval_actor_folds(_estimator(), X, y, actors, folds=[0], model_dir=tmp_path / "m", progress=False)


def test_fold_weights_hold_no_optimizer_state(tmp_path):
    X, y, actors = _data()
    est = _estimator()
    res = models.train_eval_actor_folds(est, X, y, actors, folds=[0], model_dir=tmp_path / "m", progress=False)
    with np.load(tmp_path / "m" / "fold0.weights.npz") as saved:
        n_arrays, n_values = len(saved.files), sum(saved[k].size for k in saved.files)
    model = est.build_fn((32, 16, 1), 4)  # cnn2d on (frames, mels, 1)
    assert n_arrays == len(model.get_weights()) and n_values == model.count_params()
    assert res.proba.shape == (16, 8)


def test_fold_ensemble_averages_the_committed_fold_networks_and_ships_as_one_file(tmp_path):
    """The shipped deep voice model: the fold networks averaged into one .keras file (no training)."""
    from mmer_utils.audio.predict import AudioEmotionModel
    from mmer_utils.errors import DataNotFoundError

    X, y, actors = _data()
    res = models.train_eval_actor_folds(_estimator(), X, y, actors, folds=[0, 1], model_dir=tmp_path / "m",
                                        progress=False, labels=list(LABELS))
    ens = models.fold_ensemble(tmp_path / "m", _estimator(), X.shape[1:] + (1,), n_folds=2)
    assert ens.classes_.tolist() == sorted(LABELS.tolist())
    # each member alone gives its fold's recorded test probabilities; the ensemble gives their mean
    members = [layer for layer in ens.model_.layers if layer.name.startswith("fold")]
    assert [m.name for m in members] == ["fold0", "fold1"]
    test0 = res.index[: int(res.per_fold.n_test[0])]
    member0 = members[0].predict(X[test0][..., None], verbose=0)
    order = [list(ens.classes_).index(c) for c in LABELS]
    np.testing.assert_allclose(member0[:, order], res.proba[: len(test0)], atol=1e-5)
    mean = np.mean([m.predict(X[..., None], verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(ens.predict_proba(X), mean, atol=1e-6)

    # as a shipped voice model: .keras, loaded in safe mode, the same answers
    path = AudioEmotionModel(ens, kind="logmel", logmel_params={"n_mels": 16}, labels=list(LABELS)).save(
        tmp_path / "voice.keras")
    loaded = AudioEmotionModel.load(path)
    np.testing.assert_allclose(loaded.estimator.predict_proba(X), mean, atol=1e-6)

    with pytest.raises(DataNotFoundError, match="fold 2 .* not finished"):
        models.fold_ensemble(tmp_path / "m", _estimator(), X.shape[1:] + (1,), n_folds=3)
    weights = tmp_path / "m" / "fold1.weights.npz"
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ChecksumError, match="fold1.weights.npz"):
        models.fold_ensemble(tmp_path / "m", _estimator(), X.shape[1:] + (1,), n_folds=2)
