"""The user's download path end to end: fetch -> verify -> load, against a local HTTP server."""

import hashlib
import io
import zipfile

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mmer_utils import datasets
from mmer_utils.datasets import registry
from mmer_utils.datasets.__main__ import main as cli
from mmer_utils.errors import ChecksumError, DataNotFoundError, UnsafeArchiveError
from test_download import _no_retry_delay, server  # noqa: F401  (fixtures)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _meld_csv(n: int) -> bytes:
    df = pd.DataFrame({"Sr No.": range(1, n + 1), "Utterance": [f"line {i}" for i in range(n)], "Speaker": "Joey",
                       "Emotion": "joy", "Sentiment": "positive", "Dialogue_ID": 0, "Utterance_ID": range(n),
                       "Season": 1, "Episode": 1, "StartTime": "00:00:01,000", "EndTime": "00:00:02,000"})
    return df.to_csv(index=False).encode()


@pytest.fixture
def fake_meld(server, monkeypatch):
    files = {f"/meld/{s}_sent_emo.csv": _meld_csv(n) for s, n in [("train", 5), ("dev", 2), ("test", 3)]}
    server.state.files.update(files)
    remotes = tuple(registry.Remote(url=server.url(p), filename=p.rsplit("/", 1)[1], sha256=_sha(b))
                    for p, b in files.items())
    spec = registry.DATASETS["meld"]
    monkeypatch.setitem(registry.DATASETS, "meld", registry.DatasetSpec(**{**spec.__dict__, "remotes": remotes,
                                                                           "counts": {"train": 5, "dev": 2, "test": 3}}))
    return files


def test_fetch_meld_then_verify_and_load(fake_meld, server, isolated_root, capsys):
    assert cli(["fetch", "meld", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "meld: OK (3 file(s) checked against the package's checksums" in out
    df = datasets.load_meld()
    assert df.split.value_counts().to_dict() == {"train": 5, "test": 3, "dev": 2}
    n = len(server.state.requests)
    datasets.fetch("meld", progress=False)  # already there and verified: no new request
    assert len(server.state.requests) == n
    # a file changed on disk is caught by verify
    (isolated_root / "meld" / "dev_sent_emo.csv").write_bytes(_meld_csv(3))
    assert cli(["verify", "meld"]) == 1
    assert "sha256 mismatch: dev_sent_emo.csv" in capsys.readouterr().out


def test_fetch_with_a_corrupted_server_file_leaves_nothing(fake_meld, server, isolated_root):
    server.state.files["/meld/test_sent_emo.csv"] = _meld_csv(4)  # not the published bytes
    with pytest.raises(ChecksumError, match="test_sent_emo.csv"):
        datasets.fetch("meld", progress=False)
    assert not (isolated_root / "meld" / "test_sent_emo.csv").exists()
    assert not list((isolated_root / "meld").glob("*.part"))


def _ravdess_zip(tamper: bool = False):
    wavs = {}
    for actor, name in [(1, "03-01-05-02-01-01-01"), (2, "03-01-02-01-02-02-02")]:
        buf = io.BytesIO()
        sf.write(buf, (np.random.default_rng(actor).normal(0, 0.1, 4800) * 32767).astype(np.int16), 48000,
                 format="WAV", subtype="PCM_16")
        wavs[f"Actor_{actor:02d}/{name}.wav"] = buf.getvalue()
    expected = {f"Audio_Speech_Actors_01-24/{k}": _sha(v) for k, v in wavs.items()}
    if tamper:
        wavs["Actor_02/03-01-02-01-02-02-02.wav"] += b"\0"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in wavs.items():
            zf.writestr(k, v)
    return buf.getvalue(), expected


@pytest.fixture
def fake_ravdess(server, monkeypatch):
    def install(tamper=False):
        archive, expected = _ravdess_zip(tamper)
        server.state.files["/zenodo/Audio_Speech_Actors_01-24.zip"] = archive
        spec = registry.DATASETS["ravdess"]
        remote = registry.Remote(url=server.url("/zenodo/Audio_Speech_Actors_01-24.zip"),
                                 filename="Audio_Speech_Actors_01-24.zip", extract_to="Audio_Speech_Actors_01-24")
        monkeypatch.setitem(registry.DATASETS, "ravdess", registry.DatasetSpec(
            **{**spec.__dict__, "remotes": (remote,), "counts": {"clips": 2, "actors": 2}}))
        monkeypatch.setattr("mmer_utils.datasets.integrity.shipped_checksums",
                            lambda name: expected if name == "ravdess" else {})
    return install


def test_fetch_ravdess_zip_checks_every_extracted_wav(fake_ravdess, isolated_root):
    fake_ravdess()
    path = datasets.fetch("ravdess", progress=False)
    df = datasets.load_ravdess()
    assert len(df) == 2 and set(df.format) == {"wav"} and df.path.str.startswith(str(path)).all()
    assert datasets.verify("ravdess").ok
    assert not list((isolated_root / ".downloads").glob("*"))  # the verified archive is not kept


def test_fetch_ravdess_with_a_tampered_member_fails_loudly(fake_ravdess, isolated_root):
    fake_ravdess(tamper=True)
    with pytest.raises(ChecksumError, match="do not match the official hashes"):
        datasets.fetch("ravdess", progress=False)


def test_datasets_without_a_public_source_say_how_to_get_them(isolated_root, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(DataNotFoundError, match="kaggle.com/datasets/msambare/fer2013"):
        datasets.fetch("fer2013")
    with pytest.raises(DataNotFoundError, match="WCPR"):
        datasets.fetch("essays")


def test_manual_archives_are_unpacked_safely(isolated_root, tmp_path):
    archive = tmp_path / "essays.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("essays/essays.csv", "#AUTHID,TEXT,cEXT,cNEU,cAGR,cCON,cOPN\n2000_1.txt,hello,y,n,y,n,y\n")
    datasets.fetch("essays", archive=archive)
    assert datasets.load_essays().author_id.tolist() == ["2000_1.txt"]
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../evil.txt", "x")
    with pytest.raises(UnsafeArchiveError):
        datasets.fetch("fer2013", archive=evil)
    assert not (isolated_root / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_fer2013_kaggle_archive_layout(isolated_root, tmp_path):
    import cv2

    ok, jpg = cv2.imencode(".jpg", np.full((48, 48), 100, np.uint8))
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for folder in ["train", "test"]:
            for label in ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]:
                prefix = "Training" if folder == "train" else "PrivateTest"
                zf.writestr(f"{folder}/{label}/{prefix}_{label}.jpg", jpg.tobytes())
    datasets.fetch("fer2013", archive=archive)
    df = datasets.load_fer2013()
    assert df.usage.value_counts().to_dict() == {"Training": 7, "PrivateTest": 7}


def test_model_files_and_auto_fetch(server, isolated_root, monkeypatch):
    with pytest.raises(DataNotFoundError, match="fetch yunet"):
        datasets.model_path("yunet")
    payload = b"onnx-bytes" * 100
    server.state.files["/zoo/yunet.onnx"] = payload
    spec = registry.DATASETS["yunet"]
    remote = registry.Remote(url=server.url("/zoo/yunet.onnx"), filename="face_detection_yunet_2023mar.onnx",
                             sha256=_sha(payload))
    monkeypatch.setitem(registry.DATASETS, "yunet", registry.DatasetSpec(**{**spec.__dict__, "remotes": (remote,)}))
    with pytest.raises(DataNotFoundError):
        datasets.ensure("yunet")  # no automatic download outside Colab unless asked
    monkeypatch.setenv("MMER_AUTO_FETCH", "1")
    datasets.ensure("yunet")
    assert datasets.model_path("yunet").read_bytes() == payload


def test_list_shows_what_is_missing_and_how_to_get_it(isolated_root, capsys):
    assert cli(["list"]) == 0
    out = capsys.readouterr().out
    assert f"data root: {isolated_root}" in out
    assert "ravdess" in out and "missing" in out and "fetch ravdess" in out
