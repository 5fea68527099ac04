"""Per-portal crawl locks shared by every process on one database (daemon, ``nianbao crawl``),
and whether a process named by a lock or a run is still alive.

A lock is a row in the ``locks`` table naming the process that holds it: owner, pid, host
and a start-time token (``start_token``: the kernel's start time of the pid, so a reused
pid is not taken for the holder). A lock is taken over only when that process is gone;
a live holder keeps it however long it runs. Only a lock of another host, whose process
cannot be checked from here, is taken over after ``STALE_AFTER`` seconds.
The same table guards a delivery round (``OUTBOX_LOCK``), so two rounds never overlap.

May import: crawler.seeds (the Seed type), monitor.store.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from crawler.seeds import Seed
from monitor.models import parse_iso
from monitor.store import Store
from monitor.store.rows import LockRow

logger = logging.getLogger(__name__)

STALE_AFTER = 6 * 3600.0  # locks of another host only: no process check is possible
OUTBOX_LOCK = "~outbox"
HOST = socket.gethostname()
_mine: dict[str, tuple[int, int]] = {}  # lock name -> (thread id, depth): re-entrant per thread
_mine_guard = threading.Lock()


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host.

    >>> pid_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_token(pid: int) -> str | None:
    """The pid's start time (clock ticks after boot, ``/proc/PID/stat`` field 22): with the
    pid, it names one process; None where /proc is missing or the process is gone.

    >>> start_token(os.getpid()) is not None or not Path("/proc/self/stat").exists()
    True
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]  # a zombie has exited


def process_alive(pid: int | None, token: str | None = None, host: str | None = HOST) -> bool:
    """Whether the process named by ``pid`` (and ``token``, its start time) still runs.

    A process of another host counts as alive (it cannot be checked from here).

    >>> process_alive(os.getpid(), start_token(os.getpid()))
    True
    >>> process_alive(os.getpid(), "not-its-start-time") == (start_token(os.getpid()) is None)
    True
    """
    if pid is None:
        return False
    if host not in (None, HOST):
        return True
    if not pid_alive(pid):
        return False
    now = start_token(pid)
    if now is None:
        return not Path("/proc/self/stat").exists()  # no /proc: trust kill(pid, 0)
    return token is None or now == token


def _age(row: LockRow) -> float:
    when = parse_iso(row.acquired_at)
    return (datetime.now(UTC) - when).total_seconds()


def is_stale(row: LockRow, stale_after: float = STALE_AFTER) -> bool:
    """A lock whose holding process is gone; for another host's lock, older than ``stale_after``."""
    if row.host == HOST:
        return not process_alive(row.pid, row.token)
    return _age(row) > stale_after


def describe(row: LockRow) -> str:
    """Who holds a lock, for messages: ``daemon (pid 123) since 2026-…``."""
    return f"{row.owner} (pid {row.pid}) since {row.acquired_at}"


def try_lock(
    store: Store, name: str, owner: str, stale_after: float = STALE_AFTER
) -> LockRow | None:
    """Take lock ``name`` for this process; return None on success, else the holder's row.

    Re-entrant within one thread: a nested ``try_lock`` of a lock this thread holds succeeds.
    """
    with _mine_guard:
        thread, depth = _mine.get(name, (0, 0))
        if depth and thread == threading.get_ident():
            _mine[name] = (thread, depth + 1)
            return None
    holder = _acquire(store, name, owner, stale_after)
    if holder is None:
        with _mine_guard:
            _mine[name] = (threading.get_ident(), 1)
    return holder


def _acquire(store: Store, name: str, owner: str, stale_after: float) -> LockRow | None:
    pid = os.getpid()
    token = start_token(pid)
    for _ in range(3):  # the holder may release or change between our reads
        if store.locks.insert(name, owner, pid, HOST, token):
            return None
        row = store.locks.get(name)
        if row is None:
            continue
        if not is_stale(row, stale_after):
            return row
        if store.locks.replace(name, row, owner, pid, HOST, token):
            logger.warning("Took over stale lock %s from %s", name, describe(row))
            return None
    return store.locks.get(name)


def release(store: Store, name: str, owner: str) -> None:
    """Release a lock taken with ``try_lock`` (the outermost release deletes the row)."""
    with _mine_guard:
        thread, depth = _mine.get(name, (0, 0))
        if depth > 1:
            _mine[name] = (thread, depth - 1)
            return
        _mine.pop(name, None)
    store.locks.delete(name, owner, os.getpid())


@dataclass
class Held:
    """The seeds whose locks we hold, and the skipped ones: portal id → who holds it."""

    seeds: list[Seed]
    skipped: dict[str, str] = field(default_factory=dict)

    def message(self) -> str:
        """One line naming the skipped portals, or ''."""
        if not self.skipped:
            return ""
        return "skipped (already being crawled): " + ", ".join(
            f"{pid} by {who}" for pid, who in sorted(self.skipped.items())
        )


@contextmanager
def portal_locks(
    store: Store, seeds: Sequence[Seed], owner: str, stale_after: float = STALE_AFTER
) -> Iterator[Held]:
    """Lock each seed's portal for the block; portals locked by someone else are skipped.

    Args:
        owner: who crawls ("daemon", "cli", ...), shown to whoever is skipped.
    """
    held = Held([])
    for seed in seeds:
        holder = try_lock(store, seed.id, owner, stale_after)
        if holder is None:
            held.seeds.append(seed)
        else:
            held.skipped[seed.id] = describe(holder)
    if held.skipped:
        logger.warning("Crawl by %s: %s", owner, held.message())
    try:
        yield held
    finally:
        for seed in held.seeds:
            release(store, seed.id, owner)


@contextmanager
def named_lock(store: Store, name: str, owner: str) -> Iterator[LockRow | None]:
    """Hold lock ``name`` for the block; yields None when held, else the holder's row."""
    holder = try_lock(store, name, owner)
    try:
        yield holder
    finally:
        if holder is None:
            release(store, name, owner)
