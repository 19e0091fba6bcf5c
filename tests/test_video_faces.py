"""Images in (read_image), faces out (detect_faces, crop_face, compare_detectors)."""

import math

import cv2
import numpy as np
import pytest

from conftest import real_dataset
from mmer_utils.errors import DataNotFoundError, MmerError
from mmer_utils.video import faces as F
from mmer_utils.video.io import ImageError, ImageNotFoundError, read_image, resize_max


# --------------------------------------------------------------------------- read_image


def test_colour_array_is_copied_and_kept_bgr():
    img = np.zeros((5, 7, 3), np.uint8)
    img[..., 0] = 200  # blue
    out = read_image(img)
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8 and out[0, 0].tolist() == [200, 0, 0]
    out[0, 0] = 1
    assert img[0, 0, 0] == 200, "read_image must not return the caller's array"
    assert read_image(img, rgb=True)[0, 0].tolist() == [0, 0, 200]


@pytest.mark.parametrize("shape", [(6, 4), (6, 4, 1)])
def test_grayscale_becomes_three_equal_channels(shape):
    gray = np.arange(24, dtype=np.uint8).reshape(shape)
    out = read_image(gray)
    assert out.shape == (6, 4, 3)
    assert (out[..., 0] == gray.reshape(6, 4)).all() and (out[..., 0] == out[..., 2]).all()


def test_alpha_is_composited_or_dropped(tmp_path):
    img = np.zeros((4, 4, 4), np.uint8)
    img[..., 2] = 255          # red
    img[:2, :, 3] = 255        # top half opaque, bottom half transparent
    out = read_image(img)
    assert out[0, 0].tolist() == [0, 0, 255] and out[3, 0].tolist() == [255, 255, 255]
    assert read_image(img, alpha="drop")[3, 0].tolist() == [0, 0, 255]
    assert read_image(img, background=(0, 0, 0))[3, 0].tolist() == [0, 0, 0]
    path = tmp_path / "rgba.png"
    cv2.imwrite(str(path), img)
    assert read_image(path)[3, 0].tolist() == [255, 255, 255]


def test_16_bit_file_and_array_are_scaled_to_8_bit(tmp_path):
    img = np.full((8, 8), 65535, np.uint16)
    img[0, 0] = 0
    img[0, 1] = 32896  # 128 * 257
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), img)
    for src in (path, img):
        out = read_image(src)
        assert out.dtype == np.uint8 and out[1, 1, 0] == 255 and out[0, 0, 0] == 0 and out[0, 1, 0] == 128


def test_float_images_in_0_1_are_scaled_and_others_refused():
    assert read_image(np.full((2, 2), 1.0))[0, 0, 0] == 255
    with pytest.raises(ImageError, match="float"):
        read_image(np.full((2, 2), 200.0))
    with pytest.raises(ImageError, match="NaN"):
        read_image(np.full((2, 2), np.nan))


@pytest.mark.parametrize("bad, match", [
    (np.zeros((0, 5, 3), np.uint8), "empty"),
    (np.zeros((4, 4, 2), np.uint8), "shape"),
    (np.zeros((2, 3, 4, 5), np.uint8), "shape"),
    (np.full((2, 2), 70000, np.int32), "expected 0-255"),
    ("not an image at all", None),
])
def test_unusable_arrays_are_one_line_errors(bad, match):
    with pytest.raises(MmerError, match=match):
        read_image(bad)


def test_missing_empty_and_garbage_files(tmp_path):
    with pytest.raises(ImageNotFoundError, match="not found"):
        read_image(tmp_path / "nope.jpg")
    with pytest.raises(DataNotFoundError):  # also a DataNotFoundError, like every missing file
        read_image(tmp_path / "nope.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        read_image(tmp_path / "empty.jpg")
    (tmp_path / "garbage.jpg").write_bytes(b"\xff\xd8 this is not a jpeg" * 20)
    with pytest.raises(ImageError, match="cannot decode"):
        read_image(tmp_path / "garbage.jpg")
    with pytest.raises(ImageError, match="folder"):
        read_image(tmp_path)


def test_tiny_image_is_read_and_gives_no_face():
    tiny = read_image(np.full((1, 1), 7, np.uint8))
    assert tiny.shape == (1, 1, 3)
    assert F.detect_faces(tiny, detector="haar") == []


def test_resize_max_keeps_small_images_and_reports_the_scale():
    img = np.zeros((1000, 2000, 3), np.uint8)
    small, scale = resize_max(img, 500)
    assert small.shape == (250, 500, 3) and scale == 0.25
    same, one = resize_max(small, 640)
    assert same is small and one == 1.0


# --------------------------------------------------------------------------- detectors


def test_unknown_detector_is_refused():
    with pytest.raises(F.FaceError, match="unknown face detector"):
        F.detect_faces(np.zeros((100, 100, 3), np.uint8), detector="mtcnn")


def test_yunet_without_its_model_file_says_how_to_fetch_it(isolated_root):
    with pytest.raises(DataNotFoundError, match="fetch yunet"):
        F.detect_faces(np.zeros((100, 100, 3), np.uint8), detector="yunet")


@pytest.fixture(scope="module")
def fer_faces():
    real_dataset("fer2013")
    from mmer_utils.video.synth import sample_fer_faces

    faces, labels = sample_fer_faces(6, seed=3)
    return faces


@pytest.fixture(scope="module")
def photo(fer_faces):
    from mmer_utils.video.synth import make_face_photo

    return make_face_photo(fer_faces[:3], seed=1)


@pytest.mark.parametrize("detector", F.DETECTORS)
def test_each_detector_finds_real_fer_faces_on_a_photo(detector, fer_faces):
    """Single faces on a background: each detector finds most of them, where they are."""
    real_dataset("yunet" if detector == "yunet" else "fer2013")
    from mmer_utils.video.synth import make_face_photo

    found = 0
    for k, face in enumerate(fer_faces):
        img, [truth] = make_face_photo(face[None], seed=k)
        faces = F.detect_faces(img, detector=detector)
        assert len(faces) <= 1, f"{detector}: {len(faces)} faces on a photo of one"
        found += bool(faces) and F._iou(faces[0].box, truth) > 0.4
    assert found >= 4, f"{detector} found {found} of {len(fer_faces)} faces"


@pytest.mark.parametrize("detector", F.DETECTORS)
def test_no_face_gives_an_empty_list(detector):
    from mmer_utils.video.synth import background

    if detector == "yunet":
        real_dataset("yunet")
    assert F.detect_faces(background((640, 480), seed=5), detector=detector) == []


def test_several_faces_per_image_with_yunet_landmarks(photo):
    real_dataset("yunet")
    img, truth = photo
    faces = F.detect_faces(img)
    assert len(faces) == 3
    assert F._match(faces, truth, 0.4) == 3
    for f in faces:
        assert 0 <= f.score <= 1 and f.landmarks.shape == (5, 2)
        (rx, ry), (lx, ly) = f.landmarks[:2]
        assert rx < lx, "the person's right eye is on the image's left"
        assert f.y < ry < f.y + f.h / 1.5


def test_huge_image_is_detected_downscaled_with_boxes_in_original_coordinates(photo):
    real_dataset("yunet")
    img, truth = photo
    huge = cv2.resize(img, None, fx=5, fy=5, interpolation=cv2.INTER_LINEAR)  # 3200 x 2400
    small = F.detect_faces(img)
    big = F.detect_faces(huge)  # max_side=640: detected on a 640x480 copy
    assert len(big) == len(small) == 3
    for a, b in zip(small, big):
        assert np.allclose(np.array(b.box), 5 * np.array(a.box), atol=12)
        assert np.allclose(b.landmarks, 5 * a.landmarks, atol=12)
    assert all(b.x + b.w <= huge.shape[1] and b.y + b.h <= huge.shape[0] for b in big)


def test_min_size_and_score_threshold_filter(photo):
    real_dataset("yunet")
    img, _ = photo
    assert F.detect_faces(img, min_size=400) == []
    assert F.detect_faces(img, score_threshold=0.999) == []


def test_detectors_are_built_once():
    a = F.get_detector("haar")
    assert F.get_detector("haar") is a
    assert F.get_detector("hog") is F.get_detector("hog")


# --------------------------------------------------------------------------- crops


def test_crop_is_48x48_gray_and_a_face_at_the_border_is_not_stretched():
    img = np.zeros((100, 100, 3), np.uint8)
    img[:, 50:] = 255
    crop = F.crop_face(img, F.Face(0, 40, 40, 40), margin=0.0)
    assert crop.shape == (48, 48) and crop.dtype == np.uint8 and crop.max() == 0
    # box half outside the image on the right: the missing part repeats the last column (white)
    crop = F.crop_face(img, F.Face(80, 40, 40, 40), margin=0.0)
    assert crop[:, -1].min() == 255 and crop.shape == (48, 48)


def test_crop_without_margin_is_the_box_resized():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (200, 200), dtype=np.uint8)
    crop = F.crop_face(img, F.Face(20, 30, 96, 96), margin=0.0)
    expected = cv2.resize(img[30:126, 20:116], (48, 48), interpolation=cv2.INTER_AREA)
    assert np.abs(crop.astype(int) - expected).mean() < 1.0


def test_alignment_levels_the_eyes():
    face = F.Face(100, 100, 80, 80, 1.0, np.array([[120.0, 125], [160, 145], [140, 150], [125, 170], [155, 175]]))
    assert math.isclose(F.eye_angle(face), math.degrees(math.atan2(20, 40)))
    matrix, side = F.crop_matrix(face, margin=0.2, align=True)
    eyes = np.c_[face.landmarks[:2], np.ones(2)] @ matrix.T
    assert abs(eyes[0, 1] - eyes[1, 1]) < 1e-6 and eyes[0, 0] < eyes[1, 0]
    assert np.allclose(np.c_[[face.center], [1]] @ matrix.T, side / 2)
    with pytest.raises(F.FaceError, match="landmarks"):
        F.crop_face(np.zeros((300, 300), np.uint8), F.Face(100, 100, 80, 80), align=True)


def test_aligned_crop_of_a_tilted_real_face_matches_the_upright_one(fer_faces):
    real_dataset("yunet")
    from mmer_utils.video.synth import make_face_photo

    img, _ = make_face_photo(fer_faces[0][None], seed=0, jitter=0)
    upright = F.detect_faces(img)
    center = upright[0].center
    tilted = cv2.warpAffine(img, cv2.getRotationMatrix2D(center, 20, 1.0), (img.shape[1], img.shape[0]),
                            borderMode=cv2.BORDER_REPLICATE)
    faces = F.detect_faces(tilted)
    # turned 20 degrees counter-clockwise on screen: the eye line now rises to the right
    # (YuNet's landmarks see part of the turn, not always all of it)
    assert len(faces) == 1 and F.eye_angle(faces[0]) < F.eye_angle(upright[0]) - 5
    aligned = F.crop_face(tilted, faces[0], margin=0.1, align=True).astype(int)
    plain = F.crop_face(tilted, faces[0], margin=0.1).astype(int)
    reference = F.crop_face(img, upright[0], margin=0.1).astype(int)
    assert np.abs(aligned - reference).mean() < np.abs(plain - reference).mean()


def test_compare_detectors_table(photo):
    real_dataset("yunet")
    img, truth = photo
    table = F.compare_detectors([img, img], truth=[truth, truth])
    assert list(table.detector) == list(F.DETECTORS)
    assert {"detection_rate", "recall", "false_positives", "ms_per_image", "faces_found"} <= set(table.columns)
    assert table.set_index("detector").loc["yunet", "recall"] == 1.0
    assert ((table.recall >= 0) & (table.recall <= 1) & (table.ms_per_image > 0)).all()
    plain = F.compare_detectors([img, np.zeros((200, 200, 3), np.uint8)], ["haar"])
    assert plain.detection_rate.iloc[0] <= 0.5


def test_hog_demo_draws_its_panels(photo, fer_faces):
    import matplotlib

    matplotlib.use("Agg")
    axes = F.hog_detector_demo(photo[0], template_faces=fer_faces[:3])
    assert len(axes) == 4 and "face" in axes[0].get_title()
