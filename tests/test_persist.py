"""Safe persistence: skops files with an explicit allow-list (no pickle), refused types, corrupt files."""

import os
import zipfile

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from conftest import real_dataset
from mmer_utils.errors import DataNotFoundError, MmerError
from mmer_utils.persist import (TRUSTED_TYPES, ModelFileError, UntrustedTypesError, load_payload, load_skops,
                                save_payload, save_skops, untrusted_types)

BUILT = []


class Sneaky(TransformerMixin, BaseEstimator):
    """A transformer the allow-list does not know: loading a file that holds it must fail before it is built."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X

    def __setstate__(self, state):
        BUILT.append(state)
        super().__setstate__(state)


def test_round_trip_of_the_text_chapter_pipeline_on_real_meld(tmp_path):
    real_dataset("meld")
    from mmer_utils.datasets import load_meld
    from mmer_utils.text.emotion import tfidf_classifier

    df = load_meld(splits=("train",)).sample(400, random_state=0)
    clf = tfidf_classifier(max_char_features=5000).fit(df["text"].tolist(), df["emotion"].tolist())
    path = save_skops(clf, tmp_path / "emotion.skops")
    assert zipfile.is_zipfile(path) and "schema.json" in zipfile.ZipFile(path).namelist()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temporary file left
    back = load_skops(path)
    texts = df["text"].tolist()[:20]
    np.testing.assert_allclose(back.predict_proba(texts), clf.predict_proba(texts))
    assert list(back.classes_) == list(clf.classes_)


def test_round_trip_of_our_own_estimators(tmp_path):
    """The audio chapter's SVM pipeline (CalibratedSVC, SelectBlock, private calibration helpers) and the
    video chapter's pixel and HOG pipelines need the allow-list, and load with it."""
    from mmer_utils.audio.baselines import make_svm
    from mmer_utils.video.baselines import hog_linear_svm
    from mmer_utils.video.predict import pixel_logistic_regression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 12))
    y = np.repeat(["calm", "angry", "happy"], 30)
    X[y == "angry", :6] += 2
    audio = make_svm("rbf", blocks={"a": (0, 6), "b": (6, 12)}).fit(X, y)
    faces = rng.random((60, 48, 48, 1)).astype(np.float32)
    labels = np.repeat(np.arange(3), 20)
    pixel = pixel_logistic_regression(max_iter=50).fit(faces, labels)
    hog = hog_linear_svm(cache=False).fit(faces, labels)
    path = save_payload(tmp_path / "three.skops", "test bundle", {"audio": audio, "pixel": pixel, "hog": hog})
    needed = untrusted_types(path, trusted=())
    assert needed == []                       # all of them are on the allow-list
    import skops.io as sio

    raw = set(sio.get_untrusted_types(file=path))
    assert {"mmer_utils.estimators.CalibratedSVC", "mmer_utils.video.features.HogTransformer",
            "mmer_utils.video.predict.flatten_faces"} <= raw <= set(TRUSTED_TYPES)
    back = load_payload(path, "test bundle")
    np.testing.assert_allclose(back["audio"].predict_proba(X), audio.predict_proba(X))
    np.testing.assert_allclose(back["pixel"].predict_proba(faces), pixel.predict_proba(faces))
    np.testing.assert_allclose(back["hog"].predict_proba(faces), hog.predict_proba(faces))
    with pytest.raises(ModelFileError, match="holds a test bundle, not a voice model"):
        load_payload(path, "voice model")


def test_an_untrusted_type_is_refused_before_it_is_built(tmp_path):
    rng = np.random.default_rng(0)
    pipe = make_pipeline(Sneaky(), StandardScaler()).fit(rng.normal(size=(10, 3)))
    path = save_skops(pipe, tmp_path / "sneaky.skops")
    BUILT.clear()
    with pytest.raises(UntrustedTypesError) as info:
        load_skops(path)
    message = str(info.value)
    assert "Sneaky" in message and "\n" not in message and isinstance(info.value, MmerError)
    assert BUILT == []                        # refused before any object was made
    assert untrusted_types(path) == [f"{Sneaky.__module__}.Sneaky"]
    # the caller may trust it explicitly
    back = load_skops(path, trusted=[f"{Sneaky.__module__}.Sneaky"])
    assert isinstance(back.steps[0][1], Sneaky)


def test_a_function_outside_the_list_is_refused(tmp_path):
    """A pipeline step that names ``os.system`` would run it on the data: the file is refused."""
    path = save_skops(make_pipeline(FunctionTransformer(os.system)), tmp_path / "system.skops")
    with pytest.raises(UntrustedTypesError, match="system"):
        load_skops(path)


def test_corrupt_missing_and_misnamed_files_are_one_line_errors(tmp_path):
    junk = tmp_path / "junk.skops"
    junk.write_bytes(os.urandom(2000))
    with pytest.raises(ModelFileError, match="not a skops model file") as info:
        load_skops(junk)
    assert "\n" not in str(info.value)
    good = save_skops({"a": np.arange(3)}, tmp_path / "good.skops")
    truncated = tmp_path / "truncated.skops"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelFileError):
        load_skops(truncated)
    not_skops = tmp_path / "plain.skops"
    with zipfile.ZipFile(not_skops, "w") as zf:
        zf.writestr("hello.txt", "a zip, but not a skops file")
    with pytest.raises(ModelFileError):
        load_skops(not_skops)
    with pytest.raises(DataNotFoundError):
        load_skops(tmp_path / "missing.skops")
    with pytest.raises(ModelFileError, match=".skops"):
        save_skops({"a": 1}, tmp_path / "model.joblib")
    with pytest.raises(ModelFileError, match="not one of this package's models"):
        load_payload(good, "voice model")


def test_a_failed_save_keeps_the_old_file(tmp_path):
    path = save_skops({"version": 1}, tmp_path / "m.skops")
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save_skops({"version": 2, "bad": (i for i in range(3))}, path)   # skops cannot store a generator
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["m.skops"]
    assert load_skops(path) == {"version": 1}


def test_load_pretrained_goes_through_the_model_store(monkeypatch):
    """Every model's ``load_pretrained`` is ``mmer_utils.models.load(<its name>)``."""
    store = pytest.importorskip("mmer_utils.models")
    from mmer_utils.audio.predict import AudioEmotionModel
    from mmer_utils.text.predict import TextAnswerModel, TextEmotionModel
    from mmer_utils.video.predict import FaceEmotionModel

    from mmer_utils.text.emotion import tfidf_classifier

    emotion = TextEmotionModel(tfidf_classifier(min_df=1, max_char_features=None).fit(["good day", "bad day"],
                                                                                      ["joy", "anger"]))
    calls = []

    class Loaded:
        emotion_model = None

    def fake_load(name, **kwargs):
        calls.append((name, kwargs))
        return emotion if name == "text_emotion" else Loaded()

    monkeypatch.setattr(store, "load", fake_load)
    AudioEmotionModel.load_pretrained()
    FaceEmotionModel.load_pretrained(detector="haar")
    assert TextEmotionModel.load_pretrained() is emotion
    text = TextAnswerModel.load_pretrained()
    assert isinstance(text, Loaded) and text.emotion_model is emotion
    assert calls == [("voice_emotion", {}), ("face_emotion", {"detector": "haar"}), ("text_emotion", {}),
                     ("bigfive", {}), ("text_emotion", {})]
    calls.clear()
    assert TextAnswerModel.load_pretrained(emotion=False).emotion_model is None and calls == [("bigfive", {})]


def test_docstring_examples():
    import doctest

    from mmer_utils import persist, timeline
    from mmer_utils.text import predict

    for module in (persist, timeline, predict):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0, module.__name__
    from mmer_utils import labels

    for fn in (labels.source_of, labels.shared_proba):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(fn):
            runner.run(test)
        assert runner.summarize(verbose=False).failed == 0 and runner.summarize(verbose=False).attempted > 0
