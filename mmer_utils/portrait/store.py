"""The other candidates: a small SQLite database of portraits' scores, and percentiles against them.

Schema (version :data:`SCHEMA_VERSION`, kept in SQLite's ``user_version``)::

    candidates(id INTEGER PRIMARY KEY, name TEXT, created TEXT, inputs TEXT (JSON), models TEXT (JSON))
    scores(candidate_id -> candidates.id, kind TEXT, key TEXT, value REAL, PRIMARY KEY (candidate_id, kind, key))

``kind`` is ``trait`` (P(high) per Big Five trait) or an emotion distribution in the
shared vocabulary (``text``, ``voice``, ``face``, ``combined``); ``key`` is the trait or
emotion. Long format: a new kind of score needs no new column.

Writes are transactions (:func:`mmer_utils.sqlite.write_transaction`, ``BEGIN IMMEDIATE``: one
writer at a time, the others wait up to ``timeout`` seconds), so two reports written at the same moment never leave a candidate
without scores. A database made by a newer version of the package is refused.

>>> store = CandidateStore(":memory:")
>>> for v in (0.1, 0.2, 0.3, 0.4):
...     _ = store.add("c", {"trait": {"openness": v}})
>>> float(store.percentiles({"trait": {"openness": 0.35}})["percentile"].iloc[0])
75.0
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .. import config
from ..errors import MmerError
from ..sqlite import connect, write_transaction

#: Version of the schema written by this module.
SCHEMA_VERSION = 1

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    inputs TEXT NOT NULL DEFAULT '{}',
    models TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS scores (
    candidate_id INTEGER NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (candidate_id, kind, key)
);
CREATE INDEX IF NOT EXISTS scores_by_kind ON scores(kind, key);
"""


class StoreError(MmerError, RuntimeError):
    """The candidates' database cannot be used (newer schema, not a database, bad scores)."""


def default_store_path() -> Path:
    """``<cache>/portrait/candidates.sqlite``: the store the command line uses by default."""
    return config.cache_dir("portrait") / "candidates.sqlite"


def percentile_of(values, x: float) -> float:
    """Percentile rank of ``x`` among ``values``: % strictly below plus half the ties (NaN if empty).

    :func:`scipy.stats.percentileofscore` with ``kind="mean"``, on the finite values.

    >>> percentile_of([1, 2, 3, 4], 3.5), percentile_of([1, 2, 2, 4], 2)
    (75.0, 50.0)
    """
    from scipy.stats import percentileofscore

    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan")
    return float(percentileofscore(values, float(x), kind="mean"))


class CandidateStore:
    """Candidates' scores in one SQLite file (``":memory:"`` for a throw-away store).

    >>> store = CandidateStore(":memory:")
    >>> cid = store.add("Ada", {"trait": {"openness": 0.7}, "combined": {"happy": 0.6, "sad": 0.4}})
    >>> float(store.scores("combined").loc[cid, "happy"])
    0.6
    """

    def __init__(self, path=None, *, timeout: float = 30.0):
        self.path = default_store_path() if path is None else path
        self.timeout = timeout
        self._memory = None
        if str(self.path) == ":memory:":
            self._memory = self._open()
        else:
            self.path = Path(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            self._migrate(conn)

    # -- connections
    def _open(self) -> sqlite3.Connection:
        try:
            conn = connect(self.path, timeout=self.timeout, foreign_keys=True)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the candidates' database {self.path}: {exc}") from None
        return conn

    @contextmanager
    def _connect(self):
        if self._memory is not None:
            yield self._memory
            return
        conn = self._open()
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self):
        """One write transaction: ``BEGIN IMMEDIATE`` takes the write lock at once (others wait)."""
        def busy(exc):
            return StoreError(f"the candidates' database {self.path} is busy ({exc}); try again")

        with self._connect() as conn, write_transaction(conn, busy=busy):
            yield conn

    def _migrate(self, conn) -> None:
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not an SQLite database ({exc})") from None
        if version > SCHEMA_VERSION:
            raise StoreError(f"the candidates' database {self.path} has schema version {version}; this package "
                             f"reads up to {SCHEMA_VERSION}: update mmer_utils or use another --db")
        if version == SCHEMA_VERSION:
            return
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables - {"candidates", "scores", "sqlite_sequence"}:
            raise StoreError(f"{self.path} is an SQLite database of something else (tables: {sorted(tables)}); "
                             "give a new file with --db")
        with write_transaction(conn):
            if conn.execute("PRAGMA user_version").fetchone()[0] < 1:  # another process may have done it
                # statement by statement: executescript() would commit the open transaction first
                for statement in filter(str.strip, _SCHEMA_V1.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- writing
    def add(self, name: str, scores: Mapping[str, Mapping[str, float]], *, inputs: Mapping | None = None,
            models: Mapping | None = None, created: str | None = None) -> int:
        """Store one candidate and its scores (kind -> {key: value}); return its id."""
        rows = []
        for kind, values in scores.items():
            for key, value in values.items():
                value = float(value)
                if not np.isfinite(value):
                    raise StoreError(f"score {kind}/{key} of {name!r} is {value}: only finite numbers are stored")
                rows.append((str(kind), str(key), value))
        if not rows:
            raise StoreError(f"candidate {name!r} has no scores to store")
        created = created or datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._transaction() as conn:
            cur = conn.execute("INSERT INTO candidates (name, created, inputs, models) VALUES (?, ?, ?, ?)",
                               (str(name), created, json.dumps(dict(inputs or {})), json.dumps(dict(models or {}))))
            cid = int(cur.lastrowid)
            conn.executemany("INSERT INTO scores (candidate_id, kind, key, value) VALUES (?, ?, ?, ?)",
                             [(cid, *row) for row in rows])
        return cid

    def add_portrait(self, portrait) -> int:
        """Store a :class:`~mmer_utils.portrait.report.Portrait`; return its id.

        Its inputs are those analysed: an input left out (``portrait.problems``) is stored as not given.
        """
        left_out = getattr(portrait, "problems", {}) or {}
        inputs = {k: (None if k in left_out else v) for k, v in portrait.inputs.items()}
        return self.add(portrait.name, portrait.scores(), inputs=inputs, models=portrait.models,
                        created=portrait.created)

    def remove(self, candidate_id: int) -> bool:
        """Delete one candidate and its scores; True when it existed."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM scores WHERE candidate_id = ?", (int(candidate_id),))
            cur = conn.execute("DELETE FROM candidates WHERE id = ?", (int(candidate_id),))
        return cur.rowcount > 0

    # -- reading
    def candidates(self) -> pd.DataFrame:
        """One row per candidate: id (index), name, created, inputs given."""
        with self._connect() as conn:
            rows = conn.execute("SELECT id, name, created, inputs FROM candidates ORDER BY id").fetchall()
        df = pd.DataFrame(rows, columns=["id", "name", "created", "inputs"]).set_index("id")
        df["inputs"] = [", ".join(k for k, v in json.loads(s).items() if v) for s in df["inputs"]]
        return df

    def count(self, *, exclude_id: int | None = None) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM candidates WHERE id != ?",
                                    (-1 if exclude_id is None else int(exclude_id),)).fetchone()[0])

    def kinds(self) -> list[str]:
        with self._connect() as conn:
            return [r[0] for r in conn.execute("SELECT DISTINCT kind FROM scores ORDER BY kind")]

    def scores(self, kind: str, *, exclude_id: int | None = None) -> pd.DataFrame:
        """Every candidate's scores of one kind: one row per candidate id, one column per key."""
        with self._connect() as conn:
            rows = conn.execute("SELECT candidate_id, key, value FROM scores WHERE kind = ? AND candidate_id != ?",
                                (kind, -1 if exclude_id is None else int(exclude_id))).fetchall()
        df = pd.DataFrame(rows, columns=["id", "key", "value"])
        if df.empty:
            return pd.DataFrame(dtype=float)
        wide = df.pivot(index="id", columns="key", values="value")
        wide.columns.name = None
        return wide

    def percentiles(self, scores: Mapping[str, Mapping[str, float]], *,
                    exclude_id: int | None = None) -> pd.DataFrame:
        """Percentile rank of each given score among the stored candidates' scores of the same kind and key.

        Returns one row per score: ``kind``, ``key``, ``value``, ``percentile`` (NaN when no
        other candidate has that score), ``n_others``, ``median`` of the others.
        """
        rows = []
        for kind, values in scores.items():
            others = self.scores(kind, exclude_id=exclude_id)
            for key, value in values.items():
                column = others[key].dropna().to_numpy() if key in others.columns else np.zeros(0)
                rows.append({"kind": kind, "key": key, "value": float(value),
                             "percentile": percentile_of(column, float(value)), "n_others": int(column.size),
                             "median": float(np.median(column)) if column.size else float("nan")})
        return pd.DataFrame(rows, columns=["kind", "key", "value", "percentile", "n_others", "median"])
