"""MediaPipe landmarks and blendshapes (mmer_utils.video.landmarks), blink counting (video.blinks)."""

import numpy as np
import pandas as pd
import pytest

from conftest import real_dataset
from mmer_utils.video import blinks as B
from mmer_utils.video import landmarks as L
from mmer_utils.video.io import ImageError, ImageNotFoundError

#: Real FER2013 faces on which the landmarker finds a face (checked), and a frontal one.
FACES = ("test/happy/PrivateTest_10613684.jpg", "test/happy/PrivateTest_10077120.jpg",
         "test/happy/PrivateTest_10513598.jpg")


@pytest.fixture(scope="module")
def fer_faces():
    import cv2

    root = real_dataset("fer2013")
    real_dataset("face_landmarker")
    return np.stack([cv2.imread(str(root / f), cv2.IMREAD_GRAYSCALE) for f in FACES])


@pytest.fixture(scope="module")
def landmarker():
    real_dataset("face_landmarker")
    with L.FaceLandmarker() as lm:
        yield lm


# --------------------------------------------------------------------------- landmarker


def test_real_fer_face_gives_478_landmarks_and_52_named_blendshapes(fer_faces, landmarker):
    image, scale, pad = L.prepare_small_face(fer_faces[0])
    assert image.shape == (288, 288) and scale == 4.0 and pad == 48
    faces = landmarker.detect(image)
    assert len(faces) == 1
    face = faces[0]
    assert face.landmarks.shape == (478, 3) and face.landmarks.dtype == np.float32
    # pixel coordinates of the image given: the face sits inside the padded 192 px square
    assert (face.landmarks[:, :2] > 30).all() and (face.landmarks[:, :2] < 258).all()
    assert list(face.blendshapes.index) == list(L.BLENDSHAPE_NAMES) and len(face.blendshapes) == 52
    assert {"eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "mouthSmileLeft"} <= set(face.blendshapes.index)
    assert face.blendshapes.between(0, 1).all()
    # a smiling face: the smile scores are high, and higher than a frown
    assert face.blendshapes["mouthSmileLeft"] > 0.3 > face.blendshapes["mouthFrownLeft"]
    assert face.matrix.shape == (4, 4)
    x, y, w, h = face.box
    assert 100 < w < 250 and 100 < h < 250


def test_landmark_face_accepts_a_path_and_the_shared_landmarker(fer_faces, tmp_path):
    import cv2

    image, _, _ = L.prepare_small_face(fer_faces[0])
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), image)
    from_path = L.landmark_face(path)
    from_array = L.landmark_face(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    assert len(from_path) == len(from_array) == 1
    np.testing.assert_allclose(from_path[0].landmarks, from_array[0].landmarks, atol=1e-3)


def test_no_face_gives_an_empty_list(landmarker):
    assert landmarker.detect(np.full((256, 256, 3), 127, np.uint8)) == []
    noise = np.random.default_rng(0).integers(0, 256, (256, 256), dtype=np.uint8)
    assert landmarker.detect(noise) == []


def test_bad_images_raise_clear_errors(landmarker, tmp_path):
    with pytest.raises(ImageError, match="empty"):
        landmarker.detect(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(ImageError, match="int64"):
        landmarker.detect(np.full((64, 64), 1000, np.int64))
    with pytest.raises(ImageError, match=r"\[0, 1\]"):
        landmarker.detect(np.full((64, 64), 3.5, np.float32))
    with pytest.raises(ImageError, match="shape"):
        landmarker.detect(np.zeros((64, 64, 5), np.uint8))
    with pytest.raises(ImageError, match="too small"):
        landmarker.detect(np.zeros((4, 4), np.uint8))
    with pytest.raises(ImageNotFoundError):
        landmarker.detect(tmp_path / "missing.jpg")
    (tmp_path / "not_an_image.jpg").write_text("hello")
    with pytest.raises(ImageError, match="cannot decode"):
        landmarker.detect(tmp_path / "not_an_image.jpg")


def test_video_mode_needs_increasing_timestamps(fer_faces):
    image, _, _ = L.prepare_small_face(fer_faces[0])
    with L.FaceLandmarker(mode="video") as lm:
        with pytest.raises(L.LandmarkInputError, match="timestamp_ms"):
            lm.detect(image)
        assert len(lm.detect(image, timestamp_ms=0)) == 1
        assert len(lm.detect(image, timestamp_ms=100)) == 1
        with pytest.raises(L.LandmarkInputError, match="increase"):
            lm.detect(image, timestamp_ms=50)
    with pytest.raises(L.LandmarkInputError, match="closed"):
        lm.detect(image, timestamp_ms=200)
    with pytest.raises(L.LandmarkInputError, match="mode"):
        L.FaceLandmarker(mode="stream")


def test_missing_model_names_the_fetch_command(isolated_root):
    from mmer_utils.errors import DataNotFoundError

    with pytest.raises(DataNotFoundError, match="fetch face_landmarker"):
        L.FaceLandmarker()


# --------------------------------------------------------------------------- geometry


def test_geometry_is_invariant_to_scale_shift_and_rotation(fer_faces, landmarker):
    image, _, _ = L.prepare_small_face(fer_faces[0])
    p = landmarker.detect(image)[0].landmarks
    g = L.geometry_features(p)
    assert list(g.columns) == list(L.GEOMETRY_NAMES) and len(g) == 1 and g.notna().all(axis=None)
    theta = np.radians(20)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    q = p.copy()
    q[:, :2] = 3.0 * p[:, :2] @ rot.T + [17.0, -5.0]
    moved = L.geometry_features(q)
    pose_free = [c for c in L.GEOMETRY_NAMES if c != "roll"]
    np.testing.assert_allclose(moved[pose_free].to_numpy(), g[pose_free].to_numpy(), rtol=1e-5, atol=1e-5)
    assert moved["roll"].iloc[0] == pytest.approx(g["roll"].iloc[0] + 20, abs=1e-4)


def test_geometry_is_nearly_unchanged_when_the_image_is_scaled(fer_faces, landmarker):
    import cv2

    image, _, _ = L.prepare_small_face(fer_faces[0])
    small = landmarker.detect(image)[0]
    big = landmarker.detect(cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))[0]
    # the landmarks themselves move with the image (twice as far apart) ...
    iod_small = np.linalg.norm(small.landmarks[33, :2] - small.landmarks[263, :2])
    iod_big = np.linalg.norm(big.landmarks[33, :2] - big.landmarks[263, :2])
    assert iod_big / iod_small == pytest.approx(2.0, rel=0.05)
    # ... the ratios do not (MediaPipe's own output changes a little with the resolution)
    ratios = [c for c in L.GEOMETRY_NAMES if c not in ("roll", "mouth_corner_angle")]
    diff = (L.geometry_features(small.landmarks)[ratios] - L.geometry_features(big.landmarks)[ratios]).abs()
    assert diff.to_numpy().max() < 0.05


def test_geometry_marks_missing_faces_and_rejects_wrong_shapes():
    p = np.random.default_rng(0).normal(size=(3, 478, 3))
    p[1] = np.nan
    g = L.geometry_features(p)
    assert g.iloc[1].isna().all() and g.iloc[[0, 2]].notna().all(axis=None)
    with pytest.raises(L.LandmarkInputError, match="478"):
        L.geometry_features(np.zeros((68, 2)))


# --------------------------------------------------------------------------- many faces


def test_face_features_masks_missed_faces_and_caches(fer_faces, monkeypatch, tmp_path):
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    blank = np.full((48, 48), 128, np.uint8)
    faces = np.concatenate([fer_faces[:2], blank[None]])
    first = L.face_features(faces)
    assert first["found"].tolist() == [True, True, False]
    assert first.loc[2, list(L.BLENDSHAPE_NAMES) + list(L.GEOMETRY_NAMES)].isna().all()
    assert first.loc[:1, "eyeBlinkLeft"].notna().all() and first.loc[:1, "ear_mean"].notna().all()
    assert list(tmp_path.joinpath("cache", "landmarks").glob("faces_*.npz"))
    batch = L.landmark_faces(faces)
    assert batch.cached and batch.detection_rate == pytest.approx(2 / 3)
    # landmarks are mapped back onto the 48x48 crops
    assert np.nanmax(batch.landmarks[:2, :, :2]) < 52 and np.nanmin(batch.landmarks[:2, :, :2]) > -4
    again = L.face_features(faces)
    pd.testing.assert_frame_equal(first, again)
    bs = L.blendshape_features(faces)
    assert list(bs.columns) == list(L.BLENDSHAPE_NAMES) + ["found"]
    with pytest.raises(L.LandmarkInputError, match="uint8"):
        L.face_features(faces.astype(np.float32))
    with pytest.raises(L.LandmarkInputError, match="n >= 1"):
        L.face_features(np.zeros((0, 48, 48), np.uint8))


# --------------------------------------------------------------------------- blink counting


def _open_signal(n=600, seed=0, level=0.05, noise=0.02):
    return level + noise * np.random.default_rng(seed).standard_normal(n)


def _add_blinks(x, starts, length=3, value=0.7):
    x = x.copy()
    for s in starts:
        x[s:s + length] = value
    return x


def test_no_blinks_in_pure_noise():
    for seed in range(5):
        res = B.count_blinks(_open_signal(seed=seed), fps=30)
        assert res.count == 0, seed
        assert res.method == "mad"
    const = B.count_blinks(np.zeros(100), fps=30)
    assert const.count == 0


def test_one_and_several_blinks_are_counted():
    one = B.count_blinks(_add_blinks(_open_signal(), [300]), fps=30)
    assert one.count == 1 and one.method == "valley"
    assert one.events.loc[0, "start"] == 300 and one.events.loc[0, "end"] == 302
    assert one.events.loc[0, "duration"] == pytest.approx(0.1)
    assert 0.1 < one.threshold < 0.7
    starts = [40, 100, 170, 260, 330, 420, 500, 560]
    several = B.count_blinks(_add_blinks(_open_signal(seed=1), starts, length=4), fps=30)
    assert several.count == 8 and several.events["start"].tolist() == starts
    assert several.per_minute == pytest.approx(8 / (600 / 30 / 60))
    # half the frames closed: the histogram's valley, not the outlier rule
    half = np.tile(np.r_[np.full(10, 0.05), np.full(10, 0.8)], 10) + _open_signal(200, noise=0.01) - 0.05
    res = B.count_blinks(half, fps=30, max_seconds=None)
    assert res.count == 10 and res.method == "valley" and 0.2 < res.threshold < 0.65


def test_noisy_blinks_of_different_depths():
    x = _open_signal(900, seed=3, noise=0.04)
    x = _add_blinks(x, [100, 300], value=0.45)
    x = _add_blinks(x, [500, 700], value=0.9)
    assert B.count_blinks(x, fps=30).count == 4


def test_nan_gaps_bridge_a_blink_but_do_not_create_one():
    x = _add_blinks(_open_signal(), [100, 400], length=5)
    x[102] = np.nan  # the face is lost in the middle of a blink: still one blink
    x[200:260] = np.nan  # a long gap with open eyes on both sides: nothing
    res = B.count_blinks(x, fps=30)
    assert res.count == 2 and res.events.loc[0, "frames"] == 4
    assert not res.closed[200:260].any()
    assert B.count_blinks(np.full(50, np.nan), fps=30).count == 0


def test_ear_signal_closes_below_the_threshold():
    ear = 0.3 + 0.01 * np.random.default_rng(0).standard_normal(300)
    ear[[50, 51, 150, 151, 152, 250]] = 0.08
    res = B.count_blinks(ear, fps=25, closed_when="below")
    assert res.count == 3 and res.threshold < 0.3 and res.closed_when == "below"
    # the same signal read the wrong way round finds no blinks at all
    assert B.count_blinks(ear, fps=25, closed_when="above").count == 0


def test_min_frames_max_seconds_and_given_threshold():
    x = _add_blinks(_add_blinks(_open_signal(), [100], length=1), [300], length=4)
    assert B.count_blinks(x, fps=30).count == 2
    assert B.count_blinks(x, fps=30, min_frames=2).count == 1
    long = _add_blinks(_open_signal(), [100], length=60)  # 2 s with the eyes shut: not a blink
    assert B.count_blinks(long, fps=30, threshold=0.4).count == 0
    assert B.count_blinks(long, fps=30, threshold=0.4, max_seconds=None).count == 1
    given = B.count_blinks([0, 0, 1, 1, 0, 1], fps=10, threshold=0.5)
    assert given.count == 2 and given.method == "given" and given.threshold == 0.5


def test_blink_counting_rejects_bad_input():
    with pytest.raises(B.BlinkInputError, match="1-D"):
        B.count_blinks(np.zeros((10, 2)), fps=30)
    with pytest.raises(B.BlinkInputError, match="fps"):
        B.count_blinks(np.zeros(10), fps=0)
    with pytest.raises(B.BlinkInputError, match="infinite"):
        B.count_blinks(np.r_[np.zeros(10), np.inf], fps=30)
    with pytest.raises(B.BlinkInputError, match="min_frames"):
        B.count_blinks(np.zeros(10), fps=30, min_frames=0)
    with pytest.raises(B.BlinkInputError, match="closed_when"):
        B.blink_threshold(np.zeros(10), closed_when="up")
    with pytest.raises(B.BlinkInputError, match="at least 3"):
        B.blink_threshold([0.1, np.nan])


def test_blinks_counted_in_a_video_of_real_faces(fer_faces, tmp_path, monkeypatch):
    """Open- and closed-eyed faces chosen by MediaPipe's own eyeBlink score (no real blink video here)."""
    from mmer_utils.video.synth import sample_fer_faces

    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    X, _ = sample_fer_faces(120, split="train", seed=0)
    open_idx, closed_idx, scores = B.eye_state_faces(X, n=2)
    assert scores.loc[closed_idx, "blink"].min() > scores.loc[open_idx, "blink"].max()
    frames, truth = B.blink_test_frames(X[open_idx], X[closed_idx], fps=10, seconds=8, n_blinks=3, seed=1)
    assert len(frames) == 80 and truth.sum() == 6
    path = B.write_video(tmp_path / "blinks.mp4", frames, fps=10)
    sig = B.blink_signal(path)
    assert len(sig) == 80 and sig.attrs["fps"] == pytest.approx(10) and sig.attrs["detection_rate"] > 0.8
    assert {"blink", "ear", "blink_left", "ear_right", "found", "time"} <= set(sig.columns)
    for column, closed_when in (("blink", "above"), ("ear", "below")):
        res = B.count_blinks(sig[column], sig.attrs["fps"], closed_when=closed_when)
        assert res.count == 3, column
    half = B.blink_signal(path, every=2, max_frames=10)
    assert half["frame"].tolist() == list(range(0, 20, 2)) and half.attrs["fps"] == pytest.approx(5)
    with pytest.raises(B.BlinkInputError, match="fps"):
        B.blink_signal(frames[:5])


def test_blink_signal_rejects_missing_and_broken_videos(tmp_path):
    from mmer_utils.errors import DataNotFoundError
    from mmer_utils.video.io import VideoError

    with pytest.raises(DataNotFoundError, match="not found"):
        B.blink_signal(tmp_path / "missing.mp4")
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    with pytest.raises(VideoError):
        B.blink_signal(tmp_path / "broken.mp4")


def test_the_benchmark_is_registered():
    from mmer_utils.bench import CHAPTERS

    assert CHAPTERS["video-landmarks"] == "mmer_utils.bench.video_landmarks:run"
    from mmer_utils.bench import video_landmarks

    assert callable(video_landmarks.run)
