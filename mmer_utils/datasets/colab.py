"""FER2013 in Colab: upload ``kaggle.json`` or Kaggle's ``archive.zip`` from the notebook.

FER2013 has no public download: Kaggle asks for an account. In Colab, a student uploads
either their API token (``kaggle.json``, from kaggle.com -> Settings -> API -> Create New
Token), after which the Kaggle command line downloads ``msambare/fer2013``, or the
``archive.zip`` they downloaded from https://www.kaggle.com/datasets/msambare/fer2013.
Either way the archive is unpacked safely (:func:`mmer_utils.datasets.download.safe_extract`)
and the 35,887 images are checked against the package's digest of the Kaggle release
(:func:`mmer_utils.datasets.verify`).

Outside Colab :func:`upload_fer2013` does nothing and says what to run instead.

>>> upload_fer2013()                                      # doctest: +SKIP
Upload kaggle.json (your Kaggle API token) or archive.zip (FER2013 from Kaggle) ...
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import config
from ..atomic import atomic_write_bytes
from ..errors import DataLayoutError, DataNotFoundError
from .fetch import fetch
from .integrity import verify
from .registry import get_spec

__all__ = ["upload_fer2013", "use_uploaded"]


def upload_fer2013(root: str | Path | None = None) -> Path | None:
    """In Colab: ask for ``kaggle.json`` or ``archive.zip``, then install FER2013; return its folder.

    Does nothing when FER2013 is already there (returns its folder) or outside Colab
    (prints the command to use instead and returns None).
    """
    spec = get_spec("fer2013")
    base = Path(root) if root is not None else config.data_root(must_exist=False)
    if (base / spec.folder).is_dir():
        print(f"fer2013 is already at {base / spec.folder}")
        return base / spec.folder
    if not config.in_colab():
        print(f"not in Colab: get FER2013 with {spec.how_to_get}")
        return None
    from google.colab import files  # only importable in Colab

    print("Upload kaggle.json (your Kaggle API token) or archive.zip (FER2013 from Kaggle)")
    return use_uploaded(files.upload(), root)


def use_uploaded(uploaded: dict[str, bytes], root: str | Path | None = None, *,
                 kaggle_dir: str | Path | None = None) -> Path:
    """Install FER2013 from what was uploaded: ``{file name: bytes}`` as ``google.colab.files.upload`` returns.

    ``*.json`` is taken as a Kaggle token (checked, written to ``~/.kaggle/kaggle.json`` with mode
    600; the Kaggle command line is installed from PyPI when missing) and FER2013 is then fetched
    with it; a zip/tar is unpacked as ``fetch fer2013 --archive``. The result is verified.

    Raises
    ------
    DataNotFoundError
        Nothing usable was uploaded.
    DataLayoutError
        A JSON file that is not a Kaggle token.
    """
    if not uploaded:
        raise DataNotFoundError("nothing was uploaded: choose kaggle.json or archive.zip")
    archives = {n: b for n, b in uploaded.items() if not n.lower().endswith(".json")}
    tokens = {n: b for n, b in uploaded.items() if n.lower().endswith(".json")}
    if archives:
        name, data = next(iter(archives.items()))
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / Path(name).name
            archive.write_bytes(data)
            folder = fetch("fer2013", root, archive=archive)
    elif tokens:
        name, data = next(iter(tokens.items()))
        _install_kaggle_token(name, data, Path(kaggle_dir) if kaggle_dir else Path.home() / ".kaggle")
        _ensure_kaggle_cli()
        folder = fetch("fer2013", root)
    else:  # pragma: no cover - every name is either .json or not
        raise DataNotFoundError("nothing usable was uploaded: choose kaggle.json or archive.zip")
    report = verify("fer2013", root)
    print(report.summary())
    return folder


def _install_kaggle_token(name: str, data: bytes, folder: Path) -> Path:
    try:
        token = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DataLayoutError(f"{name} is not JSON: upload the kaggle.json that Kaggle gives you "
                              "(kaggle.com -> Settings -> API -> Create New Token)") from None
    if not (isinstance(token, dict) and {"username", "key"} <= set(token)):
        raise DataLayoutError(f"{name} has no 'username' and 'key': it is not a Kaggle API token")
    path = atomic_write_bytes(folder / "kaggle.json", data)
    os.chmod(path, 0o600)  # the Kaggle client refuses a token that others can read
    return path


def _ensure_kaggle_cli() -> None:
    if shutil.which("kaggle") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "kaggle"], check=True)
