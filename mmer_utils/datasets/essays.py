"""Pennebaker & King (1999) stream-of-consciousness essays with Big Five labels.

Each essay has five binary labels (a median split of self-reported scores):
extraversion, neuroticism, agreeableness, conscientiousness, openness. They are
five separate yes/no questions, never one five-way choice.

Accepts ``essays.csv`` (the original: first column ``#AUTHID``, 8-bit text) or
``essays.csv.gz`` (UTF-8 re-exports with ``AUTHID``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import UnreadableFileError
from ._common import dataset_dir, layout_error

#: Trait codes in the file's order, with their names.
TRAITS = {
    "EXT": "extraversion",
    "NEU": "neuroticism",
    "AGR": "agreeableness",
    "CON": "conscientiousness",
    "OPN": "openness",
}


def _read(path: Path) -> pd.DataFrame:
    # The original file is 8-bit (Windows/Mac code page); re-exports are UTF-8.
    last = None
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)
        except UnicodeDecodeError as exc:
            last = exc
        except Exception as exc:  # noqa: BLE001
            raise UnreadableFileError(f"cannot read {path}: {exc}") from None
    raise UnreadableFileError(f"cannot decode {path}: {last}")


def load_essays(root: str | Path | None = None) -> pd.DataFrame:
    """Return one row per essay.

    Columns: ``author_id``, ``year`` (from the id prefix), ``text``, and one 0/1
    column per trait code (``EXT``, ``NEU``, ``AGR``, ``CON``, ``OPN``).
    """
    base = dataset_dir("essays", root)
    for name in ("essays.csv", "essays.csv.gz"):
        if (base / name).is_file():
            raw = _read(base / name)
            break
    else:
        raise layout_error("essays", base, "essays.csv or essays.csv.gz")
    raw.columns = [c.strip().lstrip("#") for c in raw.columns]
    needed = {"AUTHID", "TEXT", *(f"c{t}" for t in TRAITS)}
    if not needed <= set(raw.columns):
        raise layout_error("essays", base, f"columns {sorted(needed)}")
    df = pd.DataFrame({"author_id": raw["AUTHID"].str.strip(), "text": raw["TEXT"]})
    df.insert(1, "year", pd.to_numeric(df["author_id"].str[:4], errors="coerce").astype("Int64"))
    for code in TRAITS:
        values = raw[f"c{code}"].str.strip().str.lower()
        if not values.isin(["y", "n"]).all():
            raise layout_error("essays", base, f"c{code} values y or n")
        df[code] = (values == "y").astype(int)
    return df
