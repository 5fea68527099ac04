"""The rows behind per-portal crawl locks and the daemon's heartbeat: ``locks``, ``daemon``.

Lock policy (staleness, re-entrance, who may take over) is ``monitor.store.locks``; the
daemon's liveness is judged in ``monitor.daemon.status``. Here: SQL only.

May import: monitor.models, monitor.store.base, monitor.store.rows.
"""

from __future__ import annotations

import json

from monitor.models import now_iso
from monitor.store.base import Part
from monitor.store.rows import DaemonRow, LockRow


class Locks(Part):
    """One ``locks`` row per held lock; inserts and takeovers are compare-and-swap."""

    def get(self, name: str) -> LockRow | None:
        return self._one(LockRow, "SELECT * FROM locks WHERE portal_id = ?", [name])

    def insert(self, name: str, owner: str, pid: int, host: str, token: str | None = None) -> bool:
        """Take a free lock; False when somebody holds it."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO locks (portal_id, owner, pid, host, acquired_at, token) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [name, owner, pid, host, now_iso(), token],
        )
        return cur.rowcount == 1

    def replace(
        self, name: str, old: LockRow, owner: str, pid: int, host: str, token: str | None = None
    ) -> bool:
        """Take over ``old`` (a stale holder) if it is still the holder (compare and swap)."""
        cur = self.db.execute(
            "UPDATE locks SET owner = ?, pid = ?, host = ?, acquired_at = ?, token = ? "
            "WHERE portal_id = ? AND owner = ? AND pid = ? AND acquired_at = ?",
            [owner, pid, host, now_iso(), token, name, old.owner, old.pid, old.acquired_at],
        )
        return cur.rowcount == 1

    def delete(self, name: str, owner: str, pid: int) -> None:
        self.db.execute(
            "DELETE FROM locks WHERE portal_id = ? AND owner = ? AND pid = ?", [name, owner, pid]
        )

    def all(self) -> list[LockRow]:
        return self._all(LockRow, "SELECT * FROM locks ORDER BY portal_id")


HEARTBEAT_STALE = 180.0
"""Seconds without a heartbeat before a daemon counts as gone (six beats): the one window
``nianbao status``, ``/healthz`` and the operator's mail judge a daemon by."""


class Daemons(Part):
    """One ``daemon`` row per daemon process: heartbeat, status, next runs."""

    def beat(self, pid: int, host: str, status: str, next_runs: dict[str, str]) -> None:
        """Record (or refresh) a daemon's heartbeat and each portal's next run."""
        now = now_iso()
        self.db.execute(
            "INSERT INTO daemon (pid, host, started_at, heartbeat_at, status, next_runs) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(pid) DO UPDATE SET "
            "heartbeat_at = excluded.heartbeat_at, status = excluded.status, "
            "next_runs = excluded.next_runs, stopped_at = NULL",
            [pid, host, now, now, status, json.dumps(next_runs)],
        )

    def stopped(self, pid: int) -> None:
        self.db.execute(
            "UPDATE daemon SET status = 'stopped', stopped_at = ?, next_runs = '{}' WHERE pid = ?",
            [now_iso(), pid],
        )

    def latest(self) -> DaemonRow | None:
        return self._one(DaemonRow, "SELECT * FROM daemon ORDER BY heartbeat_at DESC LIMIT 1")
