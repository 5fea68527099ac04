"""Per-portal crawl locks shared by every process on one database (daemon, ``nianbao crawl``).

A lock is a row in the ``locks`` table naming its owner and pid. A lock whose pid is dead
(on this host), or that is older than ``STALE_AFTER`` seconds, is stale and is taken over.
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

from crawler.seeds import Seed
from monitor.store import Store

logger = logging.getLogger(__name__)

STALE_AFTER = 6 * 3600.0
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


def _age(row: dict) -> float:
    when = datetime.strptime(row["acquired_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (datetime.now(UTC) - when).total_seconds()


def is_stale(row: dict, stale_after: float = STALE_AFTER) -> bool:
    """A lock left by a dead process on this host, or held for longer than ``stale_after``."""
    if row["host"] == HOST and not pid_alive(row["pid"]):
        return True
    return _age(row) > stale_after


def describe(row: dict) -> str:
    """Who holds a lock, for messages: ``daemon (pid 123) since 2026-…``."""
    return f"{row['owner']} (pid {row['pid']}) since {row['acquired_at']}"


def try_lock(store: Store, name: str, owner: str, stale_after: float = STALE_AFTER) -> dict | None:
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


def _acquire(store: Store, name: str, owner: str, stale_after: float) -> dict | None:
    pid = os.getpid()
    for _ in range(3):  # the holder may release or change between our reads
        if store.insert_lock(name, owner, pid, HOST):
            return None
        row = store.lock_row(name)
        if row is None:
            continue
        if not is_stale(row, stale_after):
            return row
        if store.replace_lock(name, row, owner, pid, HOST):
            logger.warning("Took over stale lock %s from %s", name, describe(row))
            return None
    return store.lock_row(name)


def release(store: Store, name: str, owner: str) -> None:
    """Release a lock taken with ``try_lock`` (the outermost release deletes the row)."""
    with _mine_guard:
        thread, depth = _mine.get(name, (0, 0))
        if depth > 1:
            _mine[name] = (thread, depth - 1)
            return
        _mine.pop(name, None)
    store.delete_lock(name, owner, os.getpid())


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
def named_lock(store: Store, name: str, owner: str) -> Iterator[dict | None]:
    """Hold lock ``name`` for the block; yields None when held, else the holder's row."""
    holder = try_lock(store, name, owner)
    try:
        yield holder
    finally:
        if holder is None:
            release(store, name, owner)
