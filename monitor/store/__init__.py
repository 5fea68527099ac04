"""The store: the only package that runs SQL. SQLite via sqlite-utils, WAL mode.

``Store`` opens the database (migrations, WAL, busy timeout), holds the transactions and
gives one part per kind of data, each in its own module. Opening marks the file as
nianbao's (``PRAGMA application_id``), refuses another application's SQLite file, and
turns a damaged file into a ``StoreError`` that names ``nianbao db check``:

    store.runs           portals, crawl runs, per-portal counters, problems   (runs.py)
    store.reports        reports, pages, versions, history                    (reports.py)
    store.events         change events                                        (events.py)
    store.subscriptions  subscriptions                                        (subscriptions.py)
    store.outbox         deliveries                                           (subscriptions.py)
    store.locks          crawl/outbox lock rows                               (lockrows.py)
    store.daemons        daemon heartbeats                                    (lockrows.py)
    store.operator       operator alert states and mails                      (operator.py)
    store.search         full-text search over versions (FTS5 trigram)        (search.py)
    store.stats          per-version STATS.md records, findings               (stats.py)
    store.evidence       digests to cite, versions to export as WARC          (evidence.py)

``Store.ingest(item, run_id)`` is the crawler's one entry point into monitor/ (ingest.py).
Rows come back as dataclasses (rows.py); lock policy is ``monitor.store.locks``.

May import: crawler.items (the item schema), monitor.models, the modules of this package.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from crawler.items import FetchProblem, ListingItem, PageItem
from monitor.models import now_iso
from monitor.store.base import immediate
from monitor.store.events import Events
from monitor.store.evidence import Evidence
from monitor.store.ingest import Ingest
from monitor.store.lockrows import Daemons, Locks
from monitor.store.operator import Operator
from monitor.store.reports import Reports
from monitor.store.runs import Runs
from monitor.store.schema import APPLICATION_ID, migrations, newer_migrations
from monitor.store.search import Search
from monitor.store.stats import Stats
from monitor.store.subscriptions import Outbox, Subscriptions

__all__ = [
    "APPLICATION_ID",
    "DiskFull",
    "Store",
    "StoreError",
    "damaged_message",
    "disk_full_message",
    "is_damage",
    "is_disk_full",
    "now_iso",
]


class StoreError(RuntimeError):
    """The database cannot be opened, is damaged, or is not a nianbao database."""


class DiskFull(StoreError):
    """The database cannot be opened: the disk holding it is full (``is_disk_full``)."""


def is_damage(exc: BaseException) -> bool:
    """Whether an SQLite error means the file is damaged (not merely busy or read-only)."""
    name = getattr(exc, "sqlite_errorname", "")
    return isinstance(exc, sqlite3.DatabaseError) and (
        name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in str(exc)
    )


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error means the disk (or the quota) holding a file is full: SQLite's
    ``SQLITE_FULL`` ("database or disk is full"), or ``ENOSPC`` / ``EDQUOT`` from a write.

    >>> is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    True
    >>> is_disk_full(sqlite3.OperationalError("database is locked"))
    False
    """
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL"
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def disk_full_message(path: Path | str, exc: BaseException) -> str:
    """The error a user sees when the disk holding the database ``path`` (or the file an
    ``OSError`` names) is full.

    SQLite rolls back the transaction that did not fit: what was stored before it stays.
    """
    where = getattr(exc, "filename", None) or path  # an OSError names the file it wrote
    return (
        f"{where}: the disk is full ({exc}). Everything stored before is kept and the "
        "database is not damaged; free some space, then run the command again."
    )


def read_only_place(path: Path) -> Path | None:
    """The database file or folder this process may not write (a read-only mount, or no
    write permission), else None. SQLite writes beside the file too (``-wal``, ``-shm``)."""
    for where in (path, path.parent):
        if where.exists() and not os.access(where, os.W_OK):
            return where
    return None


def read_only_message(path: Path, exc: BaseException) -> str:
    """The error a user sees for a database in a place nianbao cannot write."""
    return (
        f"{path}: cannot open the database ({exc}): {read_only_place(path)} is read-only. "
        "nianbao writes to the database and beside it (its -wal and -shm files), even to "
        "read it: copy it to a folder you can write, or give it one with --db."
    )


def refuse_newer(db: Database, path: Path) -> None:
    """Refuse a database that a newer nianbao has migrated (``schema.newer_migrations``),
    before writing anything to it."""
    newer = newer_migrations(db)
    if newer:
        raise StoreError(
            f"{path}: a newer nianbao has upgraded this database ({', '.join(newer)}); "
            "this version would store into it the old way: use the newer nianbao"
        )


def damaged_message(path: Path | str, exc: BaseException) -> str:
    """The error a user sees for a damaged (or unreadable) database file.

    (The file's header is never read with ``open()``: closing any other descriptor of a
    database file drops the SQLite locks this process holds on it.)
    """
    if is_disk_full(exc):
        return disk_full_message(path, exc)
    if not is_damage(exc):
        return f"{path}: cannot open the database: {exc}"
    if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
        return (
            f"{path}: not an SQLite database file (or its first page is damaged); nianbao "
            "leaves it untouched. Give nianbao a file of its own with --db, or run "
            f"`nianbao db check --db {path}`."
        )
    return (
        f"{path}: the database file is damaged ({exc}). Run `nianbao db check --db {path}` "
        "to see what is wrong; restore a copy taken with `nianbao backup`."
    )


def refuse_foreign(db: Database, path: Path) -> None:
    """Raise ``StoreError`` when ``db`` is another application's SQLite file.

    nianbao's files carry ``APPLICATION_ID``; an empty file, or one without the mark but
    with nianbao's migrations (made before the mark existed), is ours too.
    """
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    if app_id == APPLICATION_ID:
        return
    tables = [t for t in db.table_names() if not t.startswith("sqlite_")]
    if app_id == 0 and (not tables or is_legacy(db, tables)):
        return
    what = f"application_id {app_id:#x}" if app_id else f"tables {', '.join(tables[:5])}"
    raise StoreError(
        f"{path}: not a nianbao database (another application's SQLite file: {what}); "
        "nianbao leaves it untouched. Give nianbao a file of its own with --db."
    )


def is_legacy(db: Database, tables: list[str]) -> bool:
    """An unmarked nianbao file: its migrations table records nianbao's migrations (or
    none yet: another process is creating the file right now)."""
    if migrations.migrations_table not in tables:
        return False
    sql = f"SELECT DISTINCT migration_set FROM [{migrations.migrations_table}]"
    sets = {row[0] for row in db.execute(sql)}
    return not sets or migrations.name in sets


def mark(db: Database) -> None:
    """Mark the file as nianbao's (``PRAGMA application_id``), once."""
    if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")


class Store:
    """A nianbao database. Open it, use its parts, ``close()`` it (or use ``with``)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.db = self._open()
        self.runs = Runs(self.db)
        self.reports = Reports(self.db)
        self.events = Events(self.db)
        self.subscriptions = Subscriptions(self.db, self.events)
        self.outbox = Outbox(self.db)
        self.locks = Locks(self.db)
        self.daemons = Daemons(self.db)
        self.operator = Operator(self.db)
        self.search = Search(self.db)
        self.stats = Stats(self.db)
        self.evidence = Evidence(self.db)
        self._ingest = Ingest(self.db, self.runs, self.reports)

    def _open(self) -> Database:
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # no sqlite-utils plugins: a plugin's prepare_connection hook would change every
            # connection of the store, and finding them reads every installed package's entry
            # points (~0.1 s in each process that opens a store: the CLI and its crawl process)
            db = Database(self.path, execute_plugins=False)
            db.execute("PRAGMA busy_timeout = 30000")
            refuse_foreign(db, self.path)
            refuse_newer(db, self.path)
            db.enable_wal()
            # WAL + NORMAL: a crash (not a power cut) loses nothing, and a commit per
            # ingested page costs no fsync; the DB can never be corrupted either way.
            db.execute("PRAGMA synchronous = NORMAL")
            migrations.apply(db)
            mark(db)
        except StoreError:
            raise
        except sqlite3.DatabaseError as exc:
            if read_only_place(self.path) and not is_damage(exc):
                raise StoreError(read_only_message(self.path, exc)) from None
            error = DiskFull if is_disk_full(exc) else StoreError
            raise error(damaged_message(self.path, exc)) from None
        except Exception as exc:  # OSError
            if is_disk_full(exc):
                raise DiskFull(disk_full_message(self.path, exc)) from None
            if read_only_place(self.path):
                raise StoreError(read_only_message(self.path, exc)) from None
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from None
        return db

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """A transaction (a savepoint when nested)."""
        with self.db.atomic():
            yield

    @contextmanager
    def immediate(self) -> Iterator[None]:
        """A write transaction taken up front (``BEGIN IMMEDIATE``): no lock upgrade races."""
        with immediate(self.db):
            yield

    def ingest(self, item: PageItem | ListingItem | FetchProblem, run_id: int) -> str:
        """Record one crawled item atomically; return what happened (for stats).

        Returns one of: "listing", "listing-failed", "problem", "unchanged",
        "not-report", "same", "version".
        """
        with self.atomic():
            return self._ingest.item(item, run_id)
