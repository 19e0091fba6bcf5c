"""The user's download path end to end: fetch -> verify -> load, against a local HTTP server."""

import dataclasses
import hashlib
import io
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mmer_utils import datasets
from mmer_utils.datasets import integrity, registry
from mmer_utils.video import assets
from mmer_utils.datasets.__main__ import main as cli
from mmer_utils.errors import ChecksumError, DataLayoutError, DataNotFoundError, UnreadableFileError, UnsafeArchiveError
from test_download import _no_retry_delay, server  # noqa: F401  (fixtures)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _meld_csv(n: int) -> bytes:
    df = pd.DataFrame({"Sr No.": range(1, n + 1), "Utterance": [f"line {i}" for i in range(n)], "Speaker": "Joey",
                       "Emotion": "joy", "Sentiment": "positive", "Dialogue_ID": 0, "Utterance_ID": range(n),
                       "Season": 1, "Episode": 1, "StartTime": "00:00:01,000", "EndTime": "00:00:02,000"})
    return df.to_csv(index=False).encode()


@pytest.fixture(autouse=True)
def _nltk_search_path_restored(monkeypatch):
    """A fetch of nltk_data points NLTK at the test's temporary folder (``NLTK_DATA`` and
    ``nltk.data.path``): undo it after each test, or later tests read the fake packages."""
    import os

    import nltk

    monkeypatch.setattr(nltk.data, "path", list(nltk.data.path))
    if "NLTK_DATA" in os.environ:
        monkeypatch.setenv("NLTK_DATA", os.environ["NLTK_DATA"])
    else:
        monkeypatch.delenv("NLTK_DATA", raising=False)


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


def test_model_files_and_auto_fetch(server, isolated_root, monkeypatch, capsys):
    with pytest.raises(DataNotFoundError, match="fetch yunet"):
        assets.asset_path("yunet")
    payload = b"onnx-bytes" * 100
    server.state.files["/zoo/yunet.onnx"] = payload
    monkeypatch.setitem(assets.ASSETS, "yunet", dataclasses.replace(
        assets.ASSETS["yunet"], url=server.url("/zoo/yunet.onnx"), sha256=_sha(payload)))
    with pytest.raises(DataNotFoundError):
        assets.ensure_asset("yunet")  # no automatic download outside Colab unless asked
    monkeypatch.setenv("MMER_AUTO_FETCH", "1")
    assets.ensure_asset("yunet")
    assert assets.asset_path("yunet").read_bytes() == payload
    assert "yunet" not in datasets.DATASETS  # a model file, not a data set
    with pytest.raises(ValueError, match="model file: python -m mmer_utils.video.assets fetch yunet"):
        datasets.get_spec("yunet")
    # the old command still gets it (passed on to the assets' command line); a wrong hash is refused
    assets.asset_path("yunet").unlink()
    assert cli(["fetch", "yunet", "--no-progress"]) == 0
    assert "yunet: ready at" in capsys.readouterr().out
    server.state.files["/zoo/yunet.onnx"] = payload + b"x"
    assert cli(["fetch", "yunet", "--no-progress", "--force"]) == 2
    assert "sha256" in capsys.readouterr().err


def test_list_shows_what_is_missing_and_how_to_get_it(isolated_root, capsys):
    assert cli(["list"]) == 0
    out = capsys.readouterr().out
    assert f"data root: {isolated_root}" in out
    assert "ravdess" in out and "missing" in out and "fetch ravdess" in out


# --------------------------------------------------------------------------- nltk_data, pinned files of NLTK's repository


def _zip_bytes(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def fake_nltk(server, monkeypatch):
    """NLTK's four packages as small zips with the layout of the real ones, served locally."""
    files = {
        "/nltk/corpora/stopwords.zip": _zip_bytes({"stopwords/english": "i\nme\nnot\n"}),
        "/nltk/corpora/wordnet.zip": _zip_bytes({"wordnet/lexnames": "00\tadj.all\t3\n"}),
        "/nltk/tokenizers/punkt_tab.zip": _zip_bytes({"punkt_tab/english/abbrev_types.txt": "dr\n",
                                                      "punkt_tab/README": "Punkt"}),
        "/nltk/taggers/averaged_perceptron_tagger_eng.zip": _zip_bytes(
            {"averaged_perceptron_tagger_eng/averaged_perceptron_tagger_eng.classes.json": "[]"}),
    }
    server.state.files.update(files)
    spec = registry.DATASETS["nltk_data"]
    remotes = []
    for remote in spec.remotes:  # the real names and extraction rules, the local server's bytes
        path = "/nltk/" + remote.url.split("/packages/", 1)[1]
        remotes.append(dataclasses.replace(remote, url=server.url(path), sha256=_sha(files[path])))
    monkeypatch.setitem(registry.DATASETS, "nltk_data", dataclasses.replace(spec, remotes=tuple(remotes)))
    return files


def test_nltk_data_comes_from_pinned_hash_checked_files(fake_nltk, server, isolated_root, capsys):
    assert cli(["fetch", "nltk_data", "--no-progress"]) == 0
    assert "nltk_data: OK (2 file(s) checked" in capsys.readouterr().out
    root = isolated_root / "nltk_data"
    assert (root / "corpora" / "stopwords.zip").read_bytes() == fake_nltk["/nltk/corpora/stopwords.zip"]
    assert (root / "tokenizers" / "punkt_tab" / "english" / "abbrev_types.txt").read_text() == "dr\n"
    assert (root / "taggers" / "averaged_perceptron_tagger_eng" / "averaged_perceptron_tagger_eng.classes.json").is_file()
    assert not list(root.rglob("*.part")) and not (root / "punkt_tab.zip").exists()
    n = len(server.state.requests)
    datasets.fetch("nltk_data", progress=False)  # everything there: nothing downloaded again
    assert len(server.state.requests) == n


def test_the_nltk_remotes_are_pinned_commits_of_nltks_own_repository():
    remotes = registry.get_spec("nltk_data").remotes
    assert {r.url.rsplit("/", 1)[1] for r in remotes} == {f"{p}.zip" for p in registry.NLTK_PACKAGES}
    for r in remotes:
        commit = r.url.split("/nltk/nltk_data/", 1)[1].split("/", 1)[0]
        assert r.url.startswith("https://raw.githubusercontent.com/nltk/nltk_data/") and len(commit) == 40
        assert len(r.sha256) == 64
    au = registry.get_spec("ravdess_au").remotes[0]
    assert au.sha256 == "7c450c0bc83e31b968168b280c123b740693d782c35b448141b402daa4556d5a"  # the published pickle
    assert au.url.endswith("/dd366fbcde5a8248195a47b7c0efd974f25f74c2/au_mfcc.pkl")


def test_nltk_data_with_a_tampered_package_is_refused(fake_nltk, server, isolated_root):
    server.state.files["/nltk/tokenizers/punkt_tab.zip"] = _zip_bytes({"punkt_tab/english/x": "evil"})
    with pytest.raises(ChecksumError, match="punkt_tab.zip"):
        datasets.fetch("nltk_data", progress=False)
    assert not (isolated_root / "nltk_data" / "tokenizers" / "punkt_tab").exists()


# --------------------------------------------------------------------------- RAVDESS action units from au_mfcc.pkl


def _au_pickle(n_actors: int = 2) -> tuple[bytes, dict]:
    """A pickle shaped like au_mfcc.pkl: {video name: 294 floats (35 AUs, then 259 audio values)}."""
    rng = np.random.default_rng(0)
    source = {}
    for actor in range(1, n_actors + 1):
        for emotion in (1, 5):
            source[f"01-01-{emotion:02d}-01-01-01-{actor:02d}"] = rng.random(294)
    return pickle.dumps(source, protocol=2), source


@pytest.fixture
def fake_au(server, monkeypatch):
    data, source = _au_pickle()
    server.state.files["/kang/au_mfcc.pkl"] = data
    spec = registry.DATASETS["ravdess_au"]
    remote = dataclasses.replace(spec.remotes[0], url=server.url("/kang/au_mfcc.pkl"), sha256=_sha(data))
    monkeypatch.setitem(registry.DATASETS, "ravdess_au",
                        dataclasses.replace(spec, remotes=(remote,), counts={"clips": len(source)}))
    return source


def test_fetch_ravdess_action_units_converts_the_pickle_to_the_npz(fake_au, server, isolated_root, capsys):
    assert cli(["fetch", "ravdess_action_units", "--no-progress"]) == 0
    assert "ravdess_au: OK" in capsys.readouterr().out
    au = datasets.load_ravdess_action_units()
    assert au.clip_id.tolist() == sorted(f"03-01-{e:02d}-01-01-01-{a:02d}" for a in (1, 2) for e in (1, 5))
    assert list(au.columns[1:4]) == ["AU01_r", "AU02_r", "AU04_r"] and au.shape == (4, 36)
    np.testing.assert_array_equal(au.set_index("clip_id").loc["03-01-05-01-01-01-02"].to_numpy(),
                                  fake_au["01-01-05-01-01-01-02"][:35])
    with np.load(isolated_root / "ravdess" / "video" / "openface_au_clipmean_speech.npz") as npz:
        assert npz["source_mfcc_part"].shape == (4, 259) and npz["clip_id"][0] == "01-01-01-01-01-01-01"
    assert not list(isolated_root.rglob("*.pkl")) and not list(isolated_root.rglob("*.part"))


def test_a_pickle_that_asks_for_code_is_never_run(fake_au, server, isolated_root, tmp_path):
    class Evil:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    data = pickle.dumps({"01-01-01-01-01-01-01": Evil()})
    server.state.files["/kang/au_mfcc.pkl"] = data
    spec = registry.DATASETS["ravdess_au"]
    registry.DATASETS["ravdess_au"] = dataclasses.replace(
        spec, remotes=(dataclasses.replace(spec.remotes[0], sha256=_sha(data)),))
    with pytest.raises(UnreadableFileError, match=r"asks for (builtins|io)\.open, which is not allowed"):
        datasets.fetch("ravdess_au", progress=False)
    assert not (tmp_path / "pwned").exists()
    assert not (isolated_root / "ravdess" / "video" / "openface_au_clipmean_speech.npz").exists()


def test_the_au_pickle_is_checked_before_it_is_read(fake_au, server, isolated_root):
    server.state.files["/kang/au_mfcc.pkl"] = _au_pickle(3)[0]  # not the published bytes
    with pytest.raises(ChecksumError):
        datasets.fetch("ravdess_au", progress=False)
    assert not (isolated_root / "ravdess" / "video").exists() or not any((isolated_root / "ravdess" / "video").iterdir())


# --------------------------------------------------------------------------- FER2013: archive digest, Colab upload


def _fer_archive(path, *, tamper=False):
    import cv2

    with zipfile.ZipFile(path, "w") as zf:
        for folder in ["train", "test"]:
            for i, label in enumerate(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]):
                prefix = "Training" if folder == "train" else "PrivateTest"
                value = 100 + i + (tamper and folder == "test")
                zf.writestr(f"{folder}/{label}/{prefix}_{label}.jpg",
                            cv2.imencode(".jpg", np.full((48, 48), value, np.uint8))[1].tobytes())
    return path


def test_fer2013_images_are_checked_against_the_kaggle_digest(isolated_root, tmp_path, monkeypatch):
    datasets.fetch("fer2013", archive=_fer_archive(tmp_path / "archive.zip"))
    digest, n = integrity.tree_digest(isolated_root / "fer2013")
    assert n == 14 and digest != registry.FER2013_IMAGES_DIGEST
    report = datasets.verify("fer2013", counts=False)
    assert not report.ok and "differ from Kaggle's msambare/fer2013" in report.problems[0]
    monkeypatch.setattr(integrity, "FER2013_IMAGES_DIGEST", digest)  # as if these were Kaggle's images
    assert datasets.verify("fer2013", counts=False).ok
    datasets.fetch("fer2013", archive=_fer_archive(tmp_path / "other.zip", tamper=True))
    assert not datasets.verify("fer2013", counts=False).ok


def test_colab_upload_of_an_archive_or_a_kaggle_token(isolated_root, tmp_path, monkeypatch, capsys):
    from mmer_utils.datasets import colab

    assert colab.upload_fer2013() is None  # outside Colab: nothing happens, one line says what to run
    assert "not in Colab" in capsys.readouterr().out
    with pytest.raises(DataNotFoundError, match="nothing was uploaded"):
        colab.use_uploaded({})
    folder = colab.use_uploaded({"archive.zip": _fer_archive(tmp_path / "archive.zip").read_bytes()})
    assert folder == isolated_root / "fer2013" and len(datasets.load_fer2013()) == 14
    assert "fer2013:" in capsys.readouterr().out  # the verify report is shown
    with pytest.raises(DataLayoutError, match="not a Kaggle API token"):
        colab.use_uploaded({"kaggle.json": b'{"user": "x"}'}, kaggle_dir=tmp_path / "k")
    fetched = []
    monkeypatch.setattr(colab, "_ensure_kaggle_cli", lambda: None)
    monkeypatch.setattr(colab, "fetch", lambda name, root=None, **kw: fetched.append(name) or isolated_root / name)
    colab.use_uploaded({"kaggle.json": b'{"username": "me", "key": "k"}'}, kaggle_dir=tmp_path / "k")
    token = tmp_path / "k" / "kaggle.json"
    assert fetched == ["fer2013"] and oct(token.stat().st_mode & 0o777) == "0o600"
    assert colab.upload_fer2013() == isolated_root / "fer2013"  # already there: nothing asked


def test_available_says_in_one_line_what_is_missing_and_fetches_in_colab(fake_meld, isolated_root, monkeypatch, capsys):
    from mmer_utils import config

    assert datasets.available("essays") is False
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and out.startswith("skipping the sections that need essays") and "WCPR 2013" in out
    assert datasets.available("meld", quiet=True) is False and capsys.readouterr().out == ""
    monkeypatch.setattr(config, "in_colab", lambda: True)  # in Colab a public data set is fetched first
    assert datasets.available("meld") is True
    assert len(datasets.load_meld()) == 10
    assert datasets.available("essays", quiet=True) is False  # ... but the essays never are


def test_a_folder_without_checksums_says_it_was_not_hash_checked(tmp_path):
    from mmer_utils.datasets.integrity import VerifyReport

    line = VerifyReport("ravdess_au", tmp_path, checksum_source="nothing").summary()
    assert "not hash-checked" in line and "0 file(s)" not in line
    assert "3 file(s) checked against MANIFEST.sha256" in VerifyReport("x", tmp_path, "MANIFEST.sha256", 3).summary()
