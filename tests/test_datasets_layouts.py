"""Every layout a real user may have, built small in a temporary data root."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mmer_utils import datasets
from mmer_utils.errors import DataLayoutError, DataNotFoundError, UnreadableFileError


def test_fer2013_csv_of_the_original_challenge(isolated_root):
    folder = isolated_root / "fer2013"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = [(3, " ".join(map(str, rng.integers(0, 256, 48 * 48))), usage)
            for usage in ["Training", "PublicTest", "PrivateTest"]]
    pd.DataFrame(rows, columns=["emotion", "pixels", "Usage"]).to_csv(folder / "fer2013.csv", index=False)
    df = datasets.load_fer2013()
    assert df.split.tolist() == ["train", "val", "test"] and set(df.label) == {"happy"}
    imgs = datasets.load_fer2013_images(df)
    assert imgs.shape == (3, 48, 48)
    assert imgs[0].ravel().tolist() == [int(v) for v in rows[0][1].split()]


def test_fer2013_folders_with_duplicate_names_and_a_corrupt_image(isolated_root):
    import cv2

    from mmer_utils.labels import FER2013

    for folder in ["train", "test"]:
        for label in FER2013:
            (isolated_root / "fer2013" / folder / label).mkdir(parents=True)
    img = np.full((48, 48), 128, np.uint8)
    cv2.imwrite(str(isolated_root / "fer2013/train/angry/Training_1.jpg"), img)
    cv2.imwrite(str(isolated_root / "fer2013/train/sad/Training_1.jpg"), img)
    cv2.imwrite(str(isolated_root / "fer2013/test/sad/PrivateTest_9.jpg"), img)
    df = datasets.load_fer2013()
    assert sorted(df.key) == ["test/sad/PrivateTest_9.jpg", "train/angry/Training_1.jpg", "train/sad/Training_1.jpg"]
    (isolated_root / "fer2013/train/angry/Training_1.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(UnreadableFileError, match="Training_1.jpg"):
        datasets.load_fer2013_images(df)
    (isolated_root / "fer2013/train/angry/Badname_2.jpg").write_bytes(b"x")
    with pytest.raises(DataLayoutError, match="Training_"):
        datasets.load_fer2013()


def test_ravdess_official_wav_layout_without_the_top_folder(isolated_root):
    for actor, name in [(1, "03-01-05-02-01-01-01"), (2, "03-01-02-01-02-02-02")]:
        folder = isolated_root / "ravdess" / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        sf.write(folder / f"{name}.wav", np.zeros(4800, np.int16), 48000)
    df = datasets.load_ravdess()
    # rows are sorted by clip id: actor 2's calm clip first
    assert df.emotion.tolist() == ["calm", "angry"] and df.actor.tolist() == [2, 1]
    assert df.format.tolist() == ["wav", "wav"] and df.sex.tolist() == ["female", "male"]
    assert df.intensity.tolist() == ["normal", "strong"] and df.statement_text[0] == "Dogs are sitting by the door"
    with pytest.raises(DataNotFoundError, match="openface_au_clipmean_speech.npz"):
        datasets.load_ravdess(with_action_units=True)
    # an actor folder holding another actor's clip is a layout error
    sf.write(isolated_root / "ravdess" / "Actor_01" / "03-01-01-01-01-01-05.wav", np.zeros(10, np.int16), 48000)
    with pytest.raises(DataLayoutError, match="actor 1"):
        datasets.load_ravdess()


def test_parse_ravdess_name_rejects_foreign_names():
    info = datasets.parse_ravdess_name("/x/Actor_12/03-01-06-02-01-02-12.wav")
    assert info == {**info, "emotion": "fearful", "intensity": "strong", "statement": 1, "repetition": 2,
                    "actor": 12, "sex": "female", "modality": "audio-only", "vocal_channel": "speech"}
    for bad in ["hello.wav", "03-01-09-01-01-01-01.wav", "03-01-01-03-01-01-01.wav", "03-01-01-01-01-01-25.wav"]:
        with pytest.raises(ValueError):
            datasets.parse_ravdess_name(bad)


def test_original_essays_csv_with_hash_authid_and_8bit_text(isolated_root):
    folder = isolated_root / "essays"
    folder.mkdir()
    text = '#AUTHID,TEXT,cEXT,cNEU,cAGR,cCON,cOPN\n1997_504851.txt,"Caf\xe9 and na\xefve thoughts",n,y,y,n,y\n2004_1.txt,"Well",y,n,n,y,n\n'
    (folder / "essays.csv").write_bytes(text.encode("cp1252"))
    df = datasets.load_essays()
    assert df.author_id.tolist() == ["1997_504851.txt", "2004_1.txt"]
    assert df.text[0] == "Café and naïve thoughts"
    assert df[["EXT", "NEU", "AGR", "CON", "OPN"]].values.tolist() == [[0, 1, 1, 0, 1], [1, 0, 0, 1, 0]]
    assert df.year.tolist() == [1997, 2004]
    (folder / "essays.csv").write_text("AUTHID,TEXT\nx,y\n")
    with pytest.raises(DataLayoutError, match="cEXT"):
        datasets.load_essays()


def test_dair_emotion_plain_jsonl(isolated_root):
    folder = isolated_root / "emotion"
    folder.mkdir()
    for split in ["train", "validation", "test"]:
        (folder / f"{split}.jsonl").write_text(json.dumps({"text": "i feel great", "label": 1}) + "\n")
    df = datasets.load_dair_emotion()
    assert df.label.tolist() == ["joy"] * 3 and df.split.tolist() == ["train", "validation", "test"]
    (folder / "test.jsonl").write_text("{broken")
    with pytest.raises(UnreadableFileError, match="test.jsonl"):
        datasets.load_dair_emotion()


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="known: fer2013"):
        datasets.get_spec("imagenet")
