"""Loaders on the real data under $MMER_DATA_DIR, checked against the counts the sources publish."""

import numpy as np
import pytest

from conftest import real_dataset
from mmer_utils import datasets, labels
from mmer_utils.datasets import integrity, registry
from mmer_utils.video import assets

pytestmark = pytest.mark.data

FER_COUNTS = {  # label: (Training, PublicTest, PrivateTest), from the FER2013 README
    "angry": (3995, 467, 491), "disgust": (436, 56, 55), "fear": (4097, 496, 528), "happy": (7215, 895, 879),
    "sad": (4830, 653, 594), "surprise": (3171, 415, 416), "neutral": (4965, 607, 626),
}


def test_fer2013_official_splits_and_per_class_counts():
    real_dataset("fer2013")
    df = datasets.load_fer2013()
    assert len(df) == 35887 and df["key"].is_unique
    assert df.usage.value_counts().to_dict() == {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
    counts = df.groupby(["label", "usage"]).size()
    for label, (tr, pub, priv) in FER_COUNTS.items():
        assert (counts[label, "Training"], counts[label, "PublicTest"], counts[label, "PrivateTest"]) == (tr, pub, priv)
    # two file names occur in two class folders: the key keeps them apart
    names = df.key.str.split("/").str[-1]
    assert names.duplicated().sum() == 2
    assert set(df.split) == {"train", "val", "test"}
    imgs = datasets.load_fer2013_images(df.sample(20, random_state=0))
    assert imgs.shape == (20, 48, 48) and imgs.dtype == np.uint8 and imgs.std() > 10


def test_ravdess_every_field_and_the_action_units():
    real_dataset("ravdess")
    df = datasets.load_ravdess(with_action_units=True)
    assert len(df) == 1440 and df.actor.nunique() == 24
    assert (df.groupby("actor").size() == 60).all()
    per_emotion = df.emotion.value_counts().to_dict()
    assert per_emotion == {e: (96 if e == "neutral" else 192) for e in labels.RAVDESS}
    assert set(df.sex[df.actor % 2 == 1]) == {"male"} and set(df.sex[df.actor % 2 == 0]) == {"female"}
    assert set(df.intensity[df.emotion == "neutral"]) == {"normal"}
    assert set(df.statement) == {1, 2} and set(df.repetition) == {1, 2}
    au_cols = [c for c in df.columns if c.startswith("AU")]
    assert len(au_cols) == 35 and not df[au_cols].isna().any().any()
    assert (df.video_id.str[:2] == "01").all() and (df.clip_id.str[:2] == "03").all()


def test_essays_near_complete_copy():
    real_dataset("essays")
    df = datasets.load_essays()
    assert len(df) == 2465 and df.author_id.is_unique
    assert {c: int(df[c].sum()) for c in datasets.TRAITS} == {"EXT": 1276, "NEU": 1232, "AGR": 1308, "CON": 1253, "OPN": 1270}
    assert df.year.value_counts().to_dict()[2000] == 474
    assert df.text.str.len().min() > 0


def test_meld_splits_and_emotions():
    real_dataset("meld")
    df = datasets.load_meld()
    assert df.split.value_counts().to_dict() == {"train": 9989, "test": 2610, "dev": 1109}
    train = df[df.split == "train"].emotion.value_counts().to_dict()
    assert train == {"neutral": 4710, "joy": 1743, "surprise": 1205, "anger": 1109, "sadness": 683, "disgust": 271, "fear": 268}
    assert df.groupby("split").dialogue_id.nunique().to_dict() == {"dev": 114, "test": 280, "train": 1038}
    assert set(df.emotion) == set(labels.MELD)


def test_dair_emotion_splits_and_labels():
    real_dataset("emotion")
    df = datasets.load_dair_emotion()
    assert df.split.value_counts().to_dict() == {"train": 16000, "validation": 2000, "test": 2000}
    test = df[df.split == "test"].label.value_counts().to_dict()
    assert test == {"joy": 695, "sadness": 581, "anger": 275, "fear": 224, "love": 159, "surprise": 66}


@pytest.mark.parametrize("name", ["fer2013", "ravdess", "essays", "meld", "emotion"])
def test_verify_against_the_manifest_and_counts(name):
    real_dataset(name)
    report = datasets.verify(name)
    assert report.ok, report.summary()
    assert report.checksum_source == "MANIFEST.sha256" and report.checked > 0


def test_nltk_is_pointed_at_the_offline_data():
    real_dataset("nltk_data")
    from mmer_utils import config

    path = config.setup_nltk()
    import nltk
    from nltk.corpus import stopwords

    assert str(path) in nltk.data.path
    assert len(stopwords.words("english")) == 179
    assert nltk.pos_tag(["dogs", "run"])[0][1].startswith("NN")


def test_model_files_are_found():
    real_dataset("yunet")
    assert assets.asset_path("yunet").stat().st_size == 232589
    assert assets.asset_path("face_landmarker").suffix == ".task"


def test_the_fer2013_digest_is_that_of_the_kaggle_images():
    base = real_dataset("fer2013")
    assert integrity.tree_digest(base) == (registry.FER2013_IMAGES_DIGEST, 35887)


def test_the_pinned_nltk_files_are_those_of_the_offline_copy():
    base = real_dataset("nltk_data")
    pinned = integrity.shipped_checksums("nltk_data")
    assert "corpora/stopwords.zip" in pinned  # the one package whose official bytes the offline copy holds
    assert datasets.download.sha256sum(base / "corpora" / "stopwords.zip") == pinned["corpora/stopwords.zip"]


def test_the_action_units_convert_back_to_the_offline_npz(tmp_path):
    """The offline npz, written as the source's pickle (dict of video name -> 294 floats), converts back."""
    import pickle

    from mmer_utils.datasets.ravdess_au import convert_au_pickle

    base = real_dataset("ravdess")
    with np.load(base / "video" / "openface_au_clipmean_speech.npz") as npz:
        original = {k: npz[k] for k in npz.files}
    source = {f"{c}": np.concatenate([a, m]) for c, a, m in
              zip(original["clip_id"], original["au"], original["source_mfcc_part"])}
    (tmp_path / "au_mfcc.pkl").write_bytes(pickle.dumps(source))
    convert_au_pickle(tmp_path / "au_mfcc.pkl", tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as npz:
        for key, value in original.items():
            np.testing.assert_array_equal(npz[key], value, err_msg=key)
