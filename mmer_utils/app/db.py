"""The app's SQLite database: one row per interview, its job state and its results summary.

Schema (version :data:`SCHEMA_VERSION`, in SQLite's ``user_version``)::

    interviews(id, token UNIQUE, name, question_id, question, mode, inputs (JSON), keep_recordings,
               state, step, message, score_id, summary (JSON), top_trait, top_emotion,
               consent, created, updated, expires)

``state`` is ``queued`` -> ``running`` -> ``done`` or ``failed``; ``step`` says what the
worker is doing; ``message`` is the one-line reason of a failure; ``score_id`` is the
candidate's id in the scores store (:class:`mmer_utils.portrait.CandidateStore`, a second
SQLite file) once the job is done; ``summary`` is the portrait's JSON summary.

The job state lives here and not in memory: a reload, a second tab or a restarted server
reads it back. Every write is one transaction (:func:`mmer_utils.sqlite.write_transaction`, the
helper the candidates' store uses too: ``BEGIN IMMEDIATE``), every connection is
opened for one call (threads of the web server and of the worker never share one), and the
file is in WAL mode so that pages are read while the worker writes.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..errors import MmerError
from ..sqlite import connect, write_transaction

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS interviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    question_id TEXT NOT NULL,
    question TEXT NOT NULL,
    mode TEXT NOT NULL,
    inputs TEXT NOT NULL DEFAULT '{}',
    keep_recordings INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    step TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    score_id INTEGER,
    summary TEXT,
    top_trait TEXT,
    top_emotion TEXT,
    consent TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    expires TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS interviews_by_state ON interviews(state, id)
"""

STATES = ("queued", "running", "done", "failed")


class AppDBError(MmerError, RuntimeError):
    """The app's database cannot be used (another program's database, a newer schema)."""


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _row(row: sqlite3.Row | None) -> dict | None:
    if row is None:
        return None
    out = dict(row)
    out["inputs"] = json.loads(out.get("inputs") or "{}")
    out["summary"] = json.loads(out["summary"]) if out.get("summary") else None
    out["keep_recordings"] = bool(out.get("keep_recordings"))
    return out


class AppDB:
    """The interviews of one app (see the module's docstring)."""

    def __init__(self, path, *, timeout: float = 30.0):
        self.path = Path(path)
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            except sqlite3.DatabaseError as exc:
                raise AppDBError(f"{self.path} is not an SQLite database ({exc}): give another --db") from None
            if version > SCHEMA_VERSION:
                raise AppDBError(f"the app's database {self.path} has schema version {version}; this package "
                                 f"reads up to {SCHEMA_VERSION}: update mmer_utils or give another --db")
            if tables - {"interviews", "sqlite_sequence"}:
                raise AppDBError(f"{self.path} is the database of something else (tables: {sorted(tables)}): "
                                 "give another --db")
            if version < SCHEMA_VERSION:
                conn.execute("PRAGMA journal_mode = WAL")
                with write_transaction(conn):
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _connect(self):
        conn = connect(self.path, timeout=self.timeout, rows=True)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self):
        def busy(exc):
            return AppDBError(f"the app's database {self.path} is busy ({exc}); try again")

        with self._connect() as conn, write_transaction(conn, busy=busy):
            yield conn

    # -- writing
    def create(self, *, token: str, name: str, question_id: str, question: str, mode: str, inputs: dict,
               keep_recordings: bool, retention_days: float, consent: str = "") -> int:
        created = now()
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO interviews (token, name, question_id, question, mode, inputs, keep_recordings, state, "
                "step, consent, created, updated, expires) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', "
                "'waiting for the worker', ?, ?, ?, ?)",
                (token, name, question_id, question, mode, json.dumps(inputs), int(bool(keep_recordings)), consent,
                 created.isoformat(), created.isoformat(), (created + timedelta(days=retention_days)).isoformat()))
            return int(cur.lastrowid)

    def set_state(self, token: str, state: str, *, step: str = "", message: str = "") -> bool:
        """Change an interview's state; False when it no longer exists (deleted meanwhile)."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        with self._transaction() as conn:
            cur = conn.execute("UPDATE interviews SET state = ?, step = ?, message = ?, updated = ? WHERE token = ?",
                               (state, step, message, now().isoformat(), token))
        return cur.rowcount > 0

    def claim(self, token: str, *, step: str = "") -> bool:
        """Move a queued interview to ``running``; False when it is not queued (another worker took it, or deleted)."""
        with self._transaction() as conn:
            cur = conn.execute("UPDATE interviews SET state = 'running', step = ?, updated = ? "
                               "WHERE token = ? AND state = 'queued'", (step, now().isoformat(), token))
        return cur.rowcount > 0

    def finish(self, token: str, *, score_id: int, summary: dict) -> bool:
        """Mark an interview done with its results; False when it was deleted meanwhile."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE interviews SET state = 'done', step = '', message = '', score_id = ?, summary = ?, "
                "top_trait = ?, top_emotion = ?, updated = ? WHERE token = ? AND state = 'running'",
                (int(score_id), json.dumps(summary, allow_nan=False), summary.get("most_visible_trait"),
                 summary.get("combined_emotion"), now().isoformat(), token))
        return cur.rowcount > 0

    def delete(self, token: str) -> dict | None:
        """Remove an interview's row; returns it (None when there was none)."""
        with self._transaction() as conn:
            row = _row(conn.execute("SELECT * FROM interviews WHERE token = ?", (token,)).fetchone())
            if row is not None:
                conn.execute("DELETE FROM interviews WHERE token = ?", (token,))
        return row

    # -- reading
    def get(self, token: str) -> dict | None:
        with self._connect() as conn:
            return _row(conn.execute("SELECT * FROM interviews WHERE token = ?", (token,)).fetchone())

    def get_id(self, interview_id: int) -> dict | None:
        with self._connect() as conn:
            return _row(conn.execute("SELECT * FROM interviews WHERE id = ?", (int(interview_id),)).fetchone())

    def queue_position(self, token: str) -> int:
        """How many queued or running interviews were submitted before this one."""
        with self._connect() as conn:
            row = conn.execute("SELECT id FROM interviews WHERE token = ?", (token,)).fetchone()
            if row is None:
                return 0
            return int(conn.execute("SELECT COUNT(*) FROM interviews WHERE state IN ('queued', 'running') "
                                    "AND id < ?", (row["id"],)).fetchone()[0])

    def unfinished(self) -> list[dict]:
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM interviews WHERE state IN ('queued', 'running') ORDER BY id")
            return [_row(r) for r in rows.fetchall()]

    def expired(self, when: datetime | None = None) -> list[str]:
        with self._connect() as conn:
            rows = conn.execute("SELECT token FROM interviews WHERE expires <= ?",
                                ((when or now()).isoformat(),)).fetchall()
        return [r["token"] for r in rows]

    def done(self, *, name: str = "", mode: str = "", trait: str = "", emotion: str = "",
             question: str = "") -> list[dict]:
        """The interviews with results, newest first, filtered (every filter is optional)."""
        sql, args = "SELECT * FROM interviews WHERE state = 'done'", []
        if name:
            sql += " AND name LIKE ? ESCAPE '\\'"
            args.append("%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        for column, value in (("mode", mode), ("top_trait", trait), ("top_emotion", emotion),
                              ("question_id", question)):
            if value:
                sql += f" AND {column} = ?"
                args.append(value)
        with self._connect() as conn:
            return [_row(r) for r in conn.execute(sql + " ORDER BY id DESC", args).fetchall()]

    def count(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM interviews").fetchone()[0])
