"""ONNX exports of the face networks: the inference twin, parity with Keras on real faces,
onnxruntime behind FaceEmotionModel, clear errors for bad models and files."""

import doctest
from functools import partial

import numpy as np
import pytest

from conftest import real_dataset
from mmer_utils import onnx_export
from mmer_utils.errors import DataNotFoundError, MmerError, UnreadableFileError
from mmer_utils.onnx_export import (OnnxClassifier, OnnxExportError, OnnxModelError, augmentation_layers_of,
                                    export_onnx, inference_twin, onnx_face_model, parity)
from mmer_utils.video import models

#: Tiny networks (seconds to train on a few hundred faces); augment=True, as the chapter trains them.
TINY = {"simple_cnn": {"filters": (4, 8), "dense": 8},
        "mini_xception": {"base_filters": 4, "filters": (8, 8)}}


def _one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text and text
    return text


# --------------------------------------------------------------------------- real FER2013 faces


@pytest.fixture(scope="module")
def fer():
    real_dataset("fer2013")
    from mmer_utils.video.data import load_fer_arrays, to_model_input

    X, y = load_fer_arrays("train", limit=320)
    Xt, yt = load_fer_arrays("test", limit=200)  # PrivateTest
    return to_model_input(X), y, to_model_input(Xt), Xt


@pytest.fixture(scope="module", params=sorted(TINY))
def trained(request, fer, tmp_path_factory):
    """(kind, estimator trained one epoch with augmentation, path of its twin's ONNX export)."""
    kind = request.param
    X, y = fer[:2]
    est = models.make_estimator(kind, epochs=1, batch_size=32, augment=True, **TINY[kind])
    est.fit(X, y)
    assert augmentation_layers_of(est)  # the random layers are inside the trained network
    twin = inference_twin(est, partial(models.BUILDERS[kind], n_classes=len(est.classes_), augment=False,
                                       **TINY[kind]))
    path = export_onnx(twin, tmp_path_factory.mktemp("onnx") / f"{kind}.onnx", classes=est.classes_)
    return kind, est, path


@pytest.mark.data
def test_twin_export_matches_keras_on_real_private_test_faces(trained, fer):
    kind, est, path = trained
    Xt = fer[2]
    report = parity(est, path, Xt)
    assert report["n"] == len(Xt) == 200
    assert report["max_abs_diff"] <= 1e-4 and report["label_agreement"] == 1.0, report
    clf = OnnxClassifier(path)
    assert clf.classes_.tolist() == est.classes_.tolist()  # read back from the file's metadata
    assert np.array_equal(clf.predict(Xt), est.predict(Xt))
    proba = clf.predict_proba(Xt)
    assert proba.shape == (200, len(est.classes_)) and proba.dtype == np.float32
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    # batches of 7 (with a smaller last one) give the same numbers as one call
    assert np.allclose(OnnxClassifier(path, batch_size=7).predict_proba(Xt[:20]), proba[:20], atol=1e-6)
    assert clf.predict_proba(Xt[:0]).shape == (0, len(est.classes_))


@pytest.mark.data
def test_generic_twin_equals_the_builder_twin(trained, fer):
    kind, est, path = trained
    Xt = fer[2][:50]
    twin = inference_twin(est)  # cloned with the augmentation replaced by an identity
    assert augmentation_layers_of(twin) == []
    assert len(twin.get_weights()) == len(est.model_.get_weights())
    assert np.max(np.abs(twin.predict(Xt, verbose=0) - est.predict_proba(Xt))) <= 1e-6
    assert parity(twin, path, Xt)["max_abs_diff"] <= 1e-4


@pytest.mark.data
def test_export_of_a_model_with_augmentation_is_refused_with_one_line(trained, tmp_path):
    kind, est, _ = trained
    target = tmp_path / "face.onnx"
    target.write_bytes(b"old")
    with pytest.raises(OnnxExportError) as info:
        export_onnx(est, target)
    message = _one_line(info)
    assert "augmentation" in message and "inference_twin" in message and "RandomFlip" not in message
    assert isinstance(info.value, MmerError)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["face.onnx"]


@pytest.mark.data
def test_face_emotion_model_on_onnxruntime_matches_keras(trained, fer):
    from mmer_utils.video.predict import FaceEmotionModel

    kind, est, path = trained
    crops = fer[3][:40]  # uint8 48x48 PrivateTest faces
    keras_face = FaceEmotionModel(est)
    onnx_face = FaceEmotionModel(OnnxClassifier(path))
    p_keras, p_onnx = keras_face.predict_crops(crops), onnx_face.predict_crops(crops)
    assert p_onnx.shape == p_keras.shape == (40, 7) and p_onnx.dtype == np.float32
    assert np.max(np.abs(p_onnx - p_keras)) <= 1e-4
    assert np.allclose(onnx_face.predict_crops(crops[:1]), p_keras[:1], atol=1e-4)  # the one-face call
    # onnx_face_model: same settings, the classifier exported through a temporary file
    fast = onnx_face_model(FaceEmotionModel(est, detector="haar", margin=0.05))
    assert isinstance(fast.classifier, OnnxClassifier) and not fast.classifier.path.exists()
    assert fast.settings() == FaceEmotionModel(est, detector="haar", margin=0.05).settings()
    assert np.max(np.abs(fast.predict_crops(crops) - p_keras)) <= 1e-4


@pytest.mark.data
def test_onnx_face_model_writes_then_reuses_the_file(trained, fer, tmp_path):
    from mmer_utils.video.predict import FaceEmotionModel

    kind, est, _ = trained
    crops = fer[3][:10]
    target = tmp_path / "face_emotion.onnx"
    first = onnx_face_model(FaceEmotionModel(est), target)
    assert target.is_file() and first.classifier.path == target
    again = onnx_face_model(FaceEmotionModel(est), target)  # loaded as it is
    assert np.array_equal(again.predict_crops(crops), first.predict_crops(crops))


# --------------------------------------------------------------------------- without data


def test_missing_corrupt_and_foreign_files_are_one_line_errors(tmp_path):
    with pytest.raises(DataNotFoundError) as info:
        OnnxClassifier(tmp_path / "absent.onnx")
    assert "absent.onnx" in _one_line(info) and isinstance(info.value, MmerError)
    for name, payload in (("corrupt.onnx", bytes(range(256)) * 8), ("empty.onnx", b""),
                          ("text.onnx", b"this is not a model\n")):
        (tmp_path / name).write_bytes(payload)
        with pytest.raises(OnnxModelError) as info:
            OnnxClassifier(tmp_path / name)
        assert name in _one_line(info) and isinstance(info.value, (MmerError, UnreadableFileError))
        assert info.value.__cause__ is None and info.value.__suppress_context__  # no chained traceback


def test_wrong_input_shape_and_wrong_model_are_one_line_errors(tmp_path):
    net = models.build_simple_cnn(filters=(4,), dense=4, n_classes=3, augment=False)
    clf = OnnxClassifier(export_onnx(net, tmp_path / "net.onnx"))
    assert clf.classes_.tolist() == [0, 1, 2] and clf.input_shape == (None, 48, 48, 1)
    with pytest.raises(OnnxModelError, match=r"\(n, 48, 48, 1\)") as info:
        clf.predict_proba(np.zeros((2, 48, 48), np.float32))
    _one_line(info)
    with pytest.raises(OnnxModelError, match="3 columns but 2 classes"):
        OnnxClassifier(tmp_path / "net.onnx", classes=["a", "b"])
    assert OnnxClassifier(tmp_path / "net.onnx", classes=["a", "b", "c"]).predict(
        np.zeros((1, 48, 48, 1))).tolist()[0] in {"a", "b", "c"}
    with pytest.raises(OnnxExportError, match=r"\.onnx"):
        export_onnx(net, tmp_path / "net.keras")
    with pytest.raises(OnnxExportError, match="keras.Model"):
        export_onnx(object(), tmp_path / "x.onnx")
    mismatched = partial(models.build_simple_cnn, filters=(8,), dense=4, n_classes=3, augment=False)
    with pytest.raises(OnnxExportError, match="does not match"):
        inference_twin(models.build_simple_cnn(filters=(4,), dense=4, n_classes=3), mismatched)


def test_failed_export_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    net = models.build_simple_cnn(filters=(4,), dense=4, augment=False)
    target = tmp_path / "net.onnx"
    target.write_bytes(b"old")

    def broken(*args, **kwargs):
        raise RuntimeError("converter crashed\nwith a long story")

    monkeypatch.setattr(type(net), "export", broken)
    with pytest.raises(OnnxExportError, match="converter crashed$"):
        export_onnx(net, target)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["net.onnx"]


def test_a_freshly_loaded_keras_file_exports(tmp_path):
    import keras

    net = models.build_mini_xception(base_filters=4, filters=(8,), augment=False)
    net(np.zeros((1, 48, 48, 1), np.float32))
    net.save(tmp_path / "net.keras")
    loaded = keras.models.load_model(tmp_path / "net.keras")  # never called: export_onnx calls it
    faces = np.random.default_rng(1).random((4, 48, 48, 1), dtype=np.float32)
    path = export_onnx(loaded, tmp_path / "net.onnx", sample=faces)
    assert parity(loaded, path, faces)["max_abs_diff"] <= 1e-5


def test_the_module_examples_run():
    failed, attempted = doctest.testmod(onnx_export, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted >= 8 and failed == 0


def test_the_realtime_bench_pairs_the_shipped_model_when_present(tmp_path, monkeypatch):
    """The bench's Keras/onnxruntime pair: the shipped file when it exists (here a stand-in), its ONNX if present."""
    from mmer_utils.bench import video_realtime
    from mmer_utils.training import KerasEstimator
    from mmer_utils.video.predict import FaceEmotionModel

    rng = np.random.default_rng(0)
    X, y = rng.random((16, 48, 48, 1), dtype=np.float32), np.arange(16) % 7
    est = models.make_estimator("simple_cnn", epochs=1, batch_size=8, filters=(4,), dense=4).fit(X, y)
    keras_path, onnx_path = tmp_path / "face_emotion.keras", tmp_path / "face_emotion.onnx"
    FaceEmotionModel(est, detector="haar").save(keras_path)
    monkeypatch.setattr(video_realtime, "shipped_model_paths", lambda: (keras_path, onnx_path))
    pair = video_realtime._runtime_pair(full=False)
    (k_name, k_model), (o_name, o_model) = pair.items()
    assert "Keras" in k_name and "onnxruntime" in o_name
    assert isinstance(k_model.classifier, KerasEstimator) and isinstance(o_model.classifier, OnnxClassifier)
    assert o_model.detector == k_model.detector == "haar"
    assert not onnx_path.exists()  # exported to a temporary file (the twin: not the recipe's net, so cloned)
    assert np.max(np.abs(o_model.predict_crops((X[:5, ..., 0] * 255).astype(np.uint8))
                         - k_model.predict_crops((X[:5, ..., 0] * 255).astype(np.uint8)))) <= 1e-4
    assert video_realtime._runtime(k_model) == "keras" and video_realtime._runtime(o_model) == "onnxruntime"
    export_onnx(inference_twin(est), onnx_path, classes=est.classes_)
    again = video_realtime._runtime_pair(full=False)
    assert list(again.values())[1].classifier.path == onnx_path  # the shipped ONNX file is used as it is
