"""dair-ai emotion (Saravia et al. 2018): 20,000 English tweets, 6 emotions.

Files: ``{train,validation,test}.jsonl`` or ``.jsonl.gz``, one JSON object per line
with ``text`` and ``label`` (0 sadness, 1 joy, 2 love, 3 anger, 4 fear, 5 surprise).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import UnreadableFileError
from ..labels import DAIR_EMOTION as EMOTIONS
from ._common import dataset_dir, layout_error

SPLITS = ("train", "validation", "test")


def load_dair_emotion(root: str | Path | None = None, splits=SPLITS) -> pd.DataFrame:
    """Return one row per tweet: ``split``, ``text``, ``label`` (name), ``label_id``."""
    base = dataset_dir("emotion", root)
    frames = []
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"unknown dair-ai emotion split {split!r}; expected one of {SPLITS}")
        path = next((base / f"{split}{ext}" for ext in (".jsonl.gz", ".jsonl") if (base / f"{split}{ext}").is_file()), None)
        if path is None:
            raise layout_error("emotion", base, f"{split}.jsonl.gz or {split}.jsonl")
        try:
            raw = pd.read_json(path, lines=True)
        except Exception as exc:  # noqa: BLE001
            raise UnreadableFileError(f"cannot read {path}: {exc}") from None
        if not {"text", "label"} <= set(raw.columns):
            raise layout_error("emotion", base, f"{path.name} with fields text and label")
        frames.append(pd.DataFrame({
            "split": split,
            "text": raw["text"].astype(str),
            "label": [EMOTIONS[i] for i in raw["label"]],
            "label_id": raw["label"].astype(int),
        }))
    return pd.concat(frames, ignore_index=True)
