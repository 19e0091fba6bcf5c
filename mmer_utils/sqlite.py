"""SQLite the way the package's two databases use it: one connection per call, one writer at a time.

The candidates' scores (:class:`mmer_utils.portrait.CandidateStore`) and the web app's
interviews (:class:`mmer_utils.app.db.AppDB`) are small SQLite files written by several
threads or processes at once. Both open a fresh connection for each call (threads never
share one), in autocommit mode (``isolation_level=None``: this module says where a
transaction begins and ends, not the ``sqlite3`` module), and write inside
:func:`write_transaction`: ``BEGIN IMMEDIATE`` takes the write lock at once (another writer
waits up to the connection's ``timeout``), and the block is committed whole or rolled back
whole, also on Ctrl+C.

>>> conn = connect(":memory:")
>>> with write_transaction(conn):
...     _ = conn.execute("CREATE TABLE t (x INTEGER)")
...     _ = conn.execute("INSERT INTO t VALUES (1)")
>>> try:
...     with write_transaction(conn):
...         _ = conn.execute("INSERT INTO t VALUES (2)")
...         raise KeyboardInterrupt
... except KeyboardInterrupt:
...     pass
>>> conn.execute("SELECT COUNT(*) FROM t").fetchone()[0]   # the second insert was rolled back
1
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Callable, Iterator


def connect(path, *, timeout: float = 30.0, rows: bool = False, foreign_keys: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode; ``rows=True`` returns rows as :class:`sqlite3.Row` (by column name)."""
    conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
    if rows:
        conn.row_factory = sqlite3.Row
    if foreign_keys:
        conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection, *,
                      busy: Callable[[sqlite3.OperationalError], Exception] | None = None) -> Iterator[sqlite3.Connection]:
    """One write transaction on ``conn``: ``BEGIN IMMEDIATE``, then ``COMMIT``, or ``ROLLBACK`` on any exception.

    ``busy``: makes the exception raised when the write lock is not obtained within the
    connection's timeout (e.g. a one-line "the database is busy; try again"); by default the
    :class:`sqlite3.OperationalError` itself.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if busy is None:
            raise
        raise busy(exc) from None
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
