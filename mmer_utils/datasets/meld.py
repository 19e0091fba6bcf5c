"""MELD (Poria et al. 2019): utterances of Friends dialogues, 7 emotions, 3 sentiments.

Only the text annotations are used in the course (``{train,dev,test}_sent_emo.csv``).
Utterances keep their dialogue and position, so models can use the preceding turns
as context.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import UnreadableFileError
from ._common import dataset_dir, layout_error

SPLITS = ("train", "dev", "test")
_COLUMNS = {
    "Sr No.": "sr_no",
    "Utterance": "text",
    "Speaker": "speaker",
    "Emotion": "emotion",
    "Sentiment": "sentiment",
    "Dialogue_ID": "dialogue_id",
    "Utterance_ID": "utterance_id",
    "Season": "season",
    "Episode": "episode",
    "StartTime": "start_time",
    "EndTime": "end_time",
}


def load_meld(root: str | Path | None = None, splits=SPLITS) -> pd.DataFrame:
    """Return one row per utterance with ``split``, ``text``, ``speaker``, ``emotion``,
    ``sentiment``, ``dialogue_id``, ``utterance_id``, ``season``, ``episode``, times."""
    base = dataset_dir("meld", root)
    frames = []
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"unknown MELD split {split!r}; expected one of {SPLITS}")
        path = base / f"{split}_sent_emo.csv"
        if not path.is_file():
            raise layout_error("meld", base, f"{path.name}")
        try:
            raw = pd.read_csv(path, encoding="utf-8")
        except Exception as exc:  # noqa: BLE001
            raise UnreadableFileError(f"cannot read {path}: {exc}") from None
        if not set(_COLUMNS) <= set(raw.columns):
            raise layout_error("meld", base, f"{path.name} with columns {list(_COLUMNS)}")
        df = raw.rename(columns=_COLUMNS)[list(_COLUMNS.values())]
        df.insert(0, "split", split)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
