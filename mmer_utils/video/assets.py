"""Pretrained model files of the video chapter: the YuNet face detector and MediaPipe's face landmarker.

They are models, not data sets: no loader, no split, no counts. Each is one file with a
pinned URL and SHA-256, downloaded (verified, resumable, atomic; see
:func:`mmer_utils.datasets.download.download`) to ``<data root>/models/<folder>/``.

==================  =========================================================
name                file
==================  =========================================================
``yunet``           ``models/face_detection_yunet/face_detection_yunet_2023mar.onnx``
``face_landmarker`` ``models/mediapipe_face_landmarker/face_landmarker.task``
==================  =========================================================

Command line: ``python -m mmer_utils.video.assets list | fetch NAME`` (``python -m
mmer_utils.datasets fetch yunet`` is passed on here).

>>> sorted(ASSETS)
['face_landmarker', 'yunet']
>>> asset_path("yunet")                                   # doctest: +SKIP
PosixPath('data/models/face_detection_yunet/face_detection_yunet_2023mar.onnx')
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import cli, config
from ..datasets.download import download
from ..errors import DataNotFoundError

__all__ = ["ASSETS", "Asset", "asset_path", "ensure_asset", "fetch_asset", "get_asset", "main"]

_ZOO_COMMIT = "82b38c8f98e7b52aa171400f3e4c722352d0669f"


@dataclass(frozen=True)
class Asset:
    """One model file: where it lives under the data root, where it comes from, its SHA-256."""

    name: str
    folder: str
    filename: str
    url: str
    sha256: str
    title: str
    licence: str
    citation: str

    @property
    def fetch_command(self) -> str:
        return f"python -m mmer_utils.video.assets fetch {self.name}"

    @property
    def how_to_get(self) -> str:
        return f"`{self.fetch_command}`"


ASSETS: dict[str, Asset] = {a.name: a for a in (
    Asset(
        name="yunet",
        folder="models/face_detection_yunet",
        filename="face_detection_yunet_2023mar.onnx",
        url=f"https://github.com/opencv/opencv_zoo/raw/{_ZOO_COMMIT}/models/face_detection_yunet/"
            "face_detection_yunet_2023mar.onnx",
        sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
        title="YuNet face detector (OpenCV Zoo, ONNX, 0.2 MB)",
        licence="MIT (OpenCV Zoo) / Apache-2.0 (libfacedetection.train)",
        citation="Wu, Peng & Yu 2023, YuNet, Machine Intelligence Research 20(5)",
    ),
    Asset(
        name="face_landmarker",
        folder="models/mediapipe_face_landmarker",
        filename="face_landmarker.task",
        url="https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/"
            "face_landmarker.task",
        sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
        title="MediaPipe FaceLandmarker: 478 landmarks + 52 blendshapes per face (3.8 MB)",
        licence="Apache-2.0 (MediaPipe)",
        citation="Google MediaPipe Face Landmarker, float16 v1",
    ),
)}


def get_asset(name: str) -> Asset:
    """The :class:`Asset` called ``name`` (``-`` and ``_`` alike); a ValueError lists the known names."""
    key = name.lower().replace("-", "_")
    if key not in ASSETS:
        raise ValueError(f"unknown model asset {name!r}; known: {', '.join(ASSETS)}")
    return ASSETS[key]


def _file(asset: Asset, root) -> Path:
    base = Path(root).expanduser() if root is not None else config.data_root(must_exist=False)
    return base / asset.folder / asset.filename


def asset_path(name: str, root: str | Path | None = None) -> Path:
    """Return the file of model ``name`` under the data root.

    Raises a one-line :class:`~mmer_utils.errors.DataNotFoundError` with the fetch command
    when it is missing.
    """
    asset = get_asset(name)
    path = _file(asset, root)
    if not path.is_file():
        raise DataNotFoundError(f"{asset.name} model not found at {path}: run `{asset.fetch_command}`")
    return path


def fetch_asset(name: str, root: str | Path | None = None, *, progress: bool = True, force: bool = False) -> Path:
    """Download model ``name`` (hash-checked, resumable); return its file. Nothing is fetched when it is there."""
    asset = get_asset(name)
    dest = _file(asset, root)
    if force and dest.exists():
        dest.unlink()
    return download(asset.url, dest, sha256=asset.sha256, progress=progress)


def ensure_asset(name: str, root: str | Path | None = None) -> Path:
    """Return the file of model ``name``; in Colab (or with ``$MMER_AUTO_FETCH=1``) it is downloaded
    first when missing, elsewhere a missing file raises the one-line error of :func:`asset_path`."""
    asset = get_asset(name)
    if not _file(asset, root).is_file() and (config.in_colab() or os.environ.get("MMER_AUTO_FETCH") == "1"):
        return fetch_asset(asset.name, root)
    return asset_path(asset.name, root)


def main(argv=None) -> int:
    """``python -m mmer_utils.video.assets list | fetch NAME [--force] [--no-progress]``."""
    parser, _, _ = cli.fetch_parser("python -m mmer_utils.video.assets",
                                    "List and download the pretrained model files of the video chapter.",
                                    list_help="every model file, and whether it is here",
                                    fetch_help="download and check a model file")
    args = parser.parse_args(argv)

    def body() -> int:
        if args.command == "list":
            for asset in ASSETS.values():
                mark = "present" if _file(asset, args.root).is_file() else "missing"
                print(f"  {asset.name:<16} {mark:<8} {asset.title}")
            return 0
        path = fetch_asset(args.name, args.root, progress=not args.no_progress, force=args.force)
        print(f"{get_asset(args.name).name}: ready at {path} (sha256 checked)")
        return 0

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main())
