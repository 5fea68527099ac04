"""The database for each web request: a read-only connection, migrations checked once.

Opening a ``Store`` applies migrations, marks the file and turns on WAL: a few writes and
queries that a page view should not pay each time. ``Databases.read()`` instead opens a
read-only connection per request (``mode=ro``, a few tens of microseconds) and compares
the file's identity and schema (device, inode and ``PRAGMA schema_version``) with the ones
last checked. Only when they differ (the first request, a file replaced by a backup
restore, a schema migrated by a newer nianbao) is a full ``Store`` opened once, under a
lock, to refuse a foreign file and apply migrations; then the new signature is kept. An
SQLite error while serving (``forget()``) drops the kept signature, so the next request
checks again.

Pages that write (unsubscribe) use ``write()``: a full ``Store``.

A request's reads have a deadline (``query_seconds``, ``NIANBAO_WEB_QUERY_SECONDS``): SQLite
calls a progress handler every ``PROGRESS_STEPS`` steps of its virtual machine, and past the
deadline the handler stops the statement (``sqlite3.OperationalError: interrupted``,
``interrupted()``), which the app answers with a 503 naming the cause. Without it, a query
that reads every text (a rare two-character search over a million versions) would hold one
of the server's few threads for minutes, and a handful of them the whole site.

May import: monitor.store and the standard library (and sqlite-utils).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from sqlite_utils import Database

from monitor.store import Store, StoreError, damaged_message

BUSY_MS = 30000
PROGRESS_STEPS = 20_000
"""SQLite virtual-machine steps between two looks at a request's deadline (~1 ms of work)."""


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite stopping a statement at the request's deadline."""
    return isinstance(exc, sqlite3.OperationalError) and str(exc) == "interrupted"


class ReadStore(Store):
    """A ``Store`` over a read-only connection it was given: no migrations, no writes."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self._conn = conn
        super().__init__(path)

    def _open(self) -> Database:
        return Database(self._conn, execute_plugins=False)  # as Store: no plugins


class Databases:
    """Opens the database at ``path`` for web requests (one object per app)."""

    def __init__(self, path: Path | str, query_seconds: float = 0.0):
        self.path = Path(path)
        self.query_seconds = query_seconds
        """Seconds of SQL a request may run before it is stopped (0: no limit)."""
        self.checked: tuple | None = None
        """(device, inode, schema_version) of the file as last checked and migrated."""
        self.checks = 0
        """How many full checks (``Store`` opens) ran: one per process unless the file
        changed under it."""
        self._lock = threading.Lock()

    def read(self) -> Store:
        """A read-only store for one request; ``StoreError`` when the file cannot be used."""
        conn = self._connect()
        try:
            if self._signature(conn) != self.checked:
                conn.close()
                self._check()
                conn = self._connect()
            self._limit(conn)
            return ReadStore(self.path, conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            self.forget()
            raise StoreError(damaged_message(self.path, exc)) from None
        except BaseException:
            conn.close()
            raise

    def data_signature(self) -> tuple:
        """Changes whenever a transaction commits: size and mtime of the file and of its
        write-ahead log (every commit appends to the log; a checkpoint rewrites the file)."""
        out = []
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                stat = os.stat(path)
                out += [stat.st_ino, stat.st_size, stat.st_mtime_ns]
            except OSError:
                out.append(None)
        return tuple(out)

    def write(self) -> Store:
        """A full store, for the few requests that write."""
        return Store(self.path)

    def forget(self) -> None:
        """Check the file again on the next request (after an SQLite error)."""
        self.checked = None

    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no such database file")
        try:
            return sqlite3.connect(
                f"{self.path.as_uri()}?mode=ro", uri=True, timeout=BUSY_MS / 1000
            )
        except sqlite3.Error as exc:
            raise StoreError(damaged_message(self.path, exc)) from None

    def _limit(self, conn: sqlite3.Connection) -> None:
        """Stop the connection's statements once the request has run ``query_seconds``."""
        if self.query_seconds > 0:
            deadline = time.monotonic() + self.query_seconds
            conn.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)

    def _signature(self, conn: sqlite3.Connection) -> tuple:
        stat = os.stat(self.path)
        version = conn.execute("PRAGMA schema_version").fetchone()[0]
        return stat.st_dev, stat.st_ino, version

    def _check(self) -> None:
        """Open a full ``Store`` (refuse a foreign file, apply migrations) and keep the
        signature it leaves."""
        with self._lock:
            Store(self.path).close()
            self.checks += 1
            conn = self._connect()
            try:
                self.checked = self._signature(conn)
            finally:
                conn.close()
