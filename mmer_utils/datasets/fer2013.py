"""FER2013 (Goodfellow et al. 2013): 48x48 grayscale faces, 7 emotions.

Reads either layout a user can get:

* the Kaggle folder layout (``msambare/fer2013``): ``train/<emotion>/Training_*.jpg``
  and ``test/<emotion>/{PublicTest,PrivateTest}_*.jpg``; the file-name prefix
  keeps the challenge's ``Usage`` so the official splits are rebuilt exactly;
* the challenge's ``fer2013.csv`` (columns ``emotion, pixels, Usage``).

Protocol used in the course: ``Training`` to train, ``PublicTest`` to select
models (validation), ``PrivateTest`` to report, once per final model.

>>> df = load_fer2013()                                   # doctest: +SKIP
>>> df.groupby("usage").size()                            # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UnreadableFileError
from ..labels import FER2013 as EMOTIONS
from ._common import dataset_dir, layout_error

USAGES = ("Training", "PublicTest", "PrivateTest")
#: The course's protocol name for each official Usage.
SPLIT_OF_USAGE = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}


def load_fer2013(root: str | Path | None = None) -> pd.DataFrame:
    """Return one row per image.

    Columns: ``key`` (relative path, unique: two file names occur in two class
    folders), ``path`` (absolute, or None for the CSV), ``label`` (emotion name),
    ``label_id`` (0-6, FER2013 order), ``usage`` (Training/PublicTest/PrivateTest),
    ``split`` (train/val/test) and, for the CSV layout, ``pixels`` (48x48 uint8).
    """
    base = dataset_dir("fer2013", root)
    if (base / "train").is_dir() or (base / "test").is_dir():
        return _from_folders(base)
    csv = base / "fer2013.csv"
    if csv.is_file():
        return _from_csv(csv)
    raise layout_error("fer2013", base, "train/<emotion>/*.jpg and test/<emotion>/*.jpg, or fer2013.csv")


def _from_folders(base: Path) -> pd.DataFrame:
    rows = []
    for folder in ("train", "test"):
        for label_id, label in enumerate(EMOTIONS):
            class_dir = base / folder / label
            if not class_dir.is_dir():
                raise layout_error("fer2013", base, f"missing folder {folder}/{label}/")
            for path in sorted(class_dir.iterdir()):
                if path.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
                    continue
                usage = path.name.split("_", 1)[0]
                if usage not in USAGES:
                    raise layout_error("fer2013", base, f"file names start with Training_/PublicTest_/PrivateTest_, got {path.name}")
                rows.append((f"{folder}/{label}/{path.name}", str(path), label, label_id, usage))
    df = pd.DataFrame(rows, columns=["key", "path", "label", "label_id", "usage"])
    df["split"] = df["usage"].map(SPLIT_OF_USAGE)
    return df


def _from_csv(csv: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(csv)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the same user problem
        raise UnreadableFileError(f"cannot read {csv}: {exc}") from None
    if not {"emotion", "pixels", "Usage"} <= set(raw.columns):
        raise layout_error("fer2013", csv.parent, "fer2013.csv with columns emotion, pixels, Usage")
    pixels = [np.array(p.split(), dtype=np.uint8).reshape(48, 48) for p in raw["pixels"]]
    df = pd.DataFrame({
        "key": [f"fer2013.csv#{i}" for i in range(len(raw))],
        "path": None,
        "label": [EMOTIONS[i] for i in raw["emotion"]],
        "label_id": raw["emotion"].astype(int),
        "usage": raw["Usage"],
    })
    df["split"] = df["usage"].map(SPLIT_OF_USAGE)
    df["pixels"] = pixels
    return df


def load_fer2013_images(df: pd.DataFrame) -> np.ndarray:
    """Return the images of ``df`` as an (n, 48, 48) uint8 array (reads files or the CSV pixels)."""
    if "pixels" in df.columns and df["pixels"].notna().all():
        return np.stack(df["pixels"].to_list()) if len(df) else np.zeros((0, 48, 48), np.uint8)
    import cv2

    images = np.zeros((len(df), 48, 48), dtype=np.uint8)
    for i, path in enumerate(df["path"]):
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise UnreadableFileError(f"cannot decode image {path}; check the file or fetch the data set again")
        if img.shape != (48, 48):
            img = cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA)
        images[i] = img
    return images
