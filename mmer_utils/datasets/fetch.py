"""Get a data set for a real user: verified downloads, the Kaggle CLI, or a local archive.

Everything lands under the data root (``$MMER_DATA_DIR`` or ``data/``). Downloads
are hash-checked, resumable and atomic (see :mod:`mmer_utils.datasets.download`);
archives are extracted safely (no member may land outside the target folder).

>>> fetch("meld")                                         # doctest: +SKIP
PosixPath('data/meld')
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .. import config
from ..errors import ChecksumError, DataNotFoundError
from .download import download, safe_extract, verify_files
from .ravdess import AU_FILE
from .ravdess_au import convert_au_pickle
from .registry import get_spec


def fetch(name: str, root: str | Path | None = None, *, archive: str | Path | None = None,
          progress: bool = True, force: bool = False) -> Path:
    """Download (or unpack ``archive``) and check data set ``name``; return its folder.

    Parameters
    ----------
    name : str
        One of ``python -m mmer_utils.datasets list``.
    archive : path, optional
        A zip/tar the user downloaded by hand (e.g. FER2013's ``archive.zip`` from
        Kaggle); it is unpacked safely into the data set's folder.
    force : bool
        Download again even when the files are already there.
    """
    spec = get_spec(name)
    base = Path(root) if root is not None else config.data_root(must_exist=False)
    target = base / spec.folder
    if archive is not None:
        return _from_archive(spec, Path(archive), target)
    if spec.name == "fer2013":
        return _fetch_kaggle(spec, target)
    if spec.name == "ravdess_au":
        downloads = config.cache_dir("downloads") if root is None else base / ".downloads"
        return _fetch_ravdess_au(spec, target, downloads, progress=progress, force=force)
    if not spec.remotes:
        raise DataNotFoundError(f"{spec.name} cannot be downloaded automatically: {spec.how_to_get}")
    target.mkdir(parents=True, exist_ok=True)
    downloads = config.cache_dir("downloads") if root is None else base / ".downloads"
    for remote in spec.remotes:
        if remote.extract_to is None:
            dest = target / remote.filename
            if force and dest.exists():
                dest.unlink()
            download(remote.url, dest, sha256=remote.sha256, progress=progress)
            continue
        extracted = target / remote.extract_to
        if extracted.is_dir() and any(extracted.iterdir()) and not force and _extracted_ok(spec.name, target):
            continue
        downloads.mkdir(parents=True, exist_ok=True)
        zipped = download(remote.url, downloads / remote.filename, sha256=remote.sha256, progress=progress)
        safe_extract(zipped, extracted, members_root=remote.members_root)
        problems = _check_extracted(spec.name, target)
        if problems:
            raise ChecksumError(
                f"{spec.name}: {len(problems)} extracted file(s) do not match the official hashes "
                f"(first: {problems[0]}); delete {zipped} and run `{spec.fetch_command}` again"
            )
        zipped.unlink()  # the verified files are kept; the archive is no longer needed
    if spec.name == "nltk_data":
        config.setup_nltk(target.parent)  # NLTK may already be imported: point it at the new folder now
    return target


def _check_extracted(name: str, target: Path) -> list[str]:
    from .integrity import shipped_checksums

    expected = shipped_checksums(name)
    return verify_files(target, expected) if expected and name == "ravdess" else []


def _extracted_ok(name: str, target: Path) -> bool:
    return not _check_extracted(name, target)


def _from_archive(spec, archive: Path, target: Path) -> Path:
    if not archive.is_file():
        raise DataNotFoundError(f"archive {archive} not found: {spec.how_to_get}")
    # Some archives hold the data set's own folder (e.g. essays/ or fer2013/), others its content.
    with tempfile.TemporaryDirectory(dir=target.parent if target.parent.exists() else None) as tmp:
        files = safe_extract(archive, Path(tmp) / "x")
        tops = {p.relative_to(Path(tmp) / "x").parts[0] for p in files}
        source = Path(tmp) / "x"
        if len(tops) == 1 and (source / next(iter(tops))).is_dir() and not _is_content_dir(spec.name, next(iter(tops))):
            source = source / next(iter(tops))
        target.mkdir(parents=True, exist_ok=True)
        for entry in source.iterdir():
            dest = target / entry.name
            if dest.is_dir():
                shutil.rmtree(dest)
            elif dest.exists():
                dest.unlink()
            shutil.move(str(entry), str(dest))
    return target


def _is_content_dir(name: str, top: str) -> bool:
    # Top-level folders that belong to the data set's own layout (so they are kept as they are).
    return top in {"train", "test", "Audio_Speech_Actors_01-24", "video", "corpora", "tokenizers", "taggers"} or top.startswith("Actor_")


def _fetch_kaggle(spec, target: Path) -> Path:
    has_credentials = (Path.home() / ".kaggle" / "kaggle.json").is_file() or (
        "KAGGLE_USERNAME" in os.environ and "KAGGLE_KEY" in os.environ)
    kaggle = shutil.which("kaggle")
    if not (kaggle and has_credentials):
        missing = "the kaggle command (pip install kaggle)" if not kaggle else "Kaggle credentials"
        raise DataNotFoundError(f"{spec.name} needs {missing}: {spec.how_to_get}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        subprocess.run([kaggle, "datasets", "download", "-d", spec.kaggle, "-p", tmp], check=True)
        archive = next(Path(tmp).glob("*.zip"))
        return _from_archive(spec, archive, target)


def _fetch_ravdess_au(spec, target: Path, downloads: Path, *, progress: bool, force: bool) -> Path:
    """Download ``au_mfcc.pkl`` (hash-checked, resumable) and convert it to the npz the loader reads."""
    out = target.parent / AU_FILE
    if out.is_file() and not force:
        return target
    remote = spec.remotes[0]
    downloads.mkdir(parents=True, exist_ok=True)
    pickled = download(remote.url, downloads / remote.filename, sha256=remote.sha256, progress=progress)
    convert_au_pickle(pickled, out)
    pickled.unlink()  # the npz holds everything the course uses
    return target
