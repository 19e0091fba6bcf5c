"""RAVDESS speech (Livingstone & Russo 2018): 24 actors x 60 clips, 8 emotions.

File names encode everything: ``MM-VV-EE-II-SS-RR-AA`` = modality, vocal
channel, emotion, intensity, statement, repetition, actor (odd = male).
Accepts the official 48 kHz WAV files and 16 kHz FLAC re-encodes, with or without
the ``Audio_Speech_Actors_01-24/`` level. Clip-level OpenFace action units of the
matching videos (``video/openface_au_clipmean_speech.npz``) are joined on the
clip id when asked.

>>> parse_ravdess_name("03-01-06-02-01-02-12.wav")["emotion"]
'fearful'
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataNotFoundError, DataLayoutError
from ..labels import RAVDESS as EMOTIONS
from ._common import dataset_dir, layout_error

MODALITIES = {1: "audio-video", 2: "video-only", 3: "audio-only"}
VOCAL_CHANNELS = {1: "speech", 2: "song"}
INTENSITIES = {1: "normal", 2: "strong"}
STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
AU_FILE = Path("video") / "openface_au_clipmean_speech.npz"

_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


def parse_ravdess_name(name: str) -> dict:
    """Parse every field of a RAVDESS file name (with or without folder and extension)."""
    stem = Path(name).name.split(".")[0]
    match = _NAME.match(stem)
    if not match:
        raise ValueError(f"{name!r} is not a RAVDESS file name (MM-VV-EE-II-SS-RR-AA)")
    mod, voc, emo, inten, stmt, rep, actor = (int(g) for g in match.groups())
    if not (1 <= emo <= 8 and inten in INTENSITIES and stmt in STATEMENTS and 1 <= actor <= 24):
        raise ValueError(f"{name!r} has a field out of range for RAVDESS")
    return {
        "clip_id": stem,
        "modality": MODALITIES.get(mod, str(mod)),
        "vocal_channel": VOCAL_CHANNELS.get(voc, str(voc)),
        "emotion_id": emo,
        "emotion": EMOTIONS[emo - 1],
        "intensity": INTENSITIES[inten],
        "statement": stmt,
        "statement_text": STATEMENTS[stmt],
        "repetition": rep,
        "actor": actor,
        "sex": "male" if actor % 2 else "female",
    }


def load_ravdess(root: str | Path | None = None, *, with_action_units: bool = False) -> pd.DataFrame:
    """Return one row per speech clip, sorted by clip id.

    Columns: ``path``, ``clip_id`` (audio id ``03-01-...``), ``video_id`` (the
    matching audio-video id ``01-01-...``), every file-name field (see
    :func:`parse_ravdess_name`), ``format`` (wav/flac). With
    ``with_action_units=True`` the 35 clip-mean AU columns are added.
    """
    base = dataset_dir("ravdess", root)
    speech = base / "Audio_Speech_Actors_01-24"
    search = speech if speech.is_dir() else base
    files = sorted(p for p in search.glob("Actor_*/*") if p.suffix.lower() in {".wav", ".flac"})
    if not files:
        raise layout_error("ravdess", base, "Audio_Speech_Actors_01-24/Actor_XX/03-01-*.wav or .flac")
    rows = []
    for path in files:
        fields = parse_ravdess_name(path.name)
        folder_actor = int(path.parent.name.split("_")[-1])
        if folder_actor != fields["actor"]:
            raise DataLayoutError(f"{path} is in the folder of actor {folder_actor} but names actor {fields['actor']}")
        rows.append({"path": str(path), **fields, "format": path.suffix.lower().lstrip(".")})
    df = pd.DataFrame(rows)
    df["video_id"] = "01" + df["clip_id"].str[2:]
    df = df.sort_values("clip_id").reset_index(drop=True)
    if with_action_units:
        df = df.merge(load_ravdess_action_units(root), on="clip_id", how="left", validate="one_to_one")
    return df


def load_ravdess_action_units(root: str | Path | None = None) -> pd.DataFrame:
    """Return the clip-mean OpenFace action units: ``clip_id`` (audio id) + 35 AU columns.

    ``AUxx_r`` are intensities (0-5), ``AUxx_c`` presences (fraction of frames).
    """
    base = dataset_dir("ravdess", root)
    path = base / AU_FILE
    if not path.is_file():
        raise DataNotFoundError(
            f"RAVDESS action units not found at {path}: they are not part of the official audio zip; "
            "run `python -m mmer_utils.datasets fetch ravdess_au` (downloads and converts their public source)"
        )
    with np.load(path, allow_pickle=False) as npz:
        au = pd.DataFrame(npz["au"], columns=[str(c) for c in npz["au_columns"]])
        au.insert(0, "clip_id", [str(c) for c in npz["audio_id"]])
    return au
