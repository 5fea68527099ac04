"""Whether the daemon is alive, for ``/healthz`` (and ``nianbao status``'s ``daemon.running``).

The daemon writes its heartbeat (``daemon.heartbeat_at``) every ``HEARTBEAT`` seconds (30,
``monitor.daemon.scheduler``). Its heartbeat job shares the job threads with the crawls and
waits for SQLite's write lock, so a busy daemon can beat late: it counts as gone only after
``HEARTBEAT_STALE`` seconds (180, six beats) without one, the window ``nianbao status`` and
the operator's "daemon down" mail use too. ``/healthz?max_age=SECONDS`` picks another window
(e.g. 90 for a watchdog that should act sooner). A daemon on this host whose pid no longer
exists is gone at once (kill -9 leaves its row saying ``running``).

May import: monitor.store.locks, monitor.models and the standard library.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from monitor.models import parse_iso
from monitor.store.lockrows import HEARTBEAT_STALE
from monitor.store.locks import HOST, pid_alive

LATEST = (
    "SELECT pid, host, status, heartbeat_at, stopped_at FROM daemon "
    "ORDER BY heartbeat_at DESC LIMIT 1"
)


def liveness(
    row: dict, now: datetime | None = None, stale_after: float = HEARTBEAT_STALE
) -> str | None:
    """Why the daemon of this ``daemon`` row is not running, or None when it is.

    >>> now = parse_iso("2026-01-01T00:10:00Z")
    >>> row = {"pid": 1, "host": "elsewhere", "status": "running", "heartbeat_at": "2026-01-01T00:09:30Z"}
    >>> liveness(row, now) is None
    True
    >>> liveness({**row, "heartbeat_at": "2026-01-01T00:00:00Z"}, now)
    'heartbeat 10 min old'
    >>> liveness({**row, "status": "stopped", "stopped_at": "2026-01-01T00:09:00Z"}, now)
    'daemon stopped at 2026-01-01T00:09:00Z'
    """
    now = now or datetime.now(UTC)
    if row.get("status") == "stopped":
        return f"daemon stopped at {row.get('stopped_at') or row.get('heartbeat_at')}"
    age = heartbeat_age(row, now)
    if age is None:
        return "no readable heartbeat"
    if age >= stale_after:
        return f"heartbeat {age_text(age)} old"
    if row.get("host") == HOST and not pid_alive(int(row["pid"])):
        return f"daemon pid {row['pid']} is not running on this host"
    return None


def heartbeat_age(row: dict, now: datetime) -> float | None:
    """Seconds since the row's heartbeat; None when it has none (or an unreadable one)."""
    try:
        return (now - parse_iso(row["heartbeat_at"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return None


def age_text(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h``, ``2 d``.

    >>> age_text(45), age_text(725), age_text(3 * 3600 + 5), age_text(2 * 86400)
    ('45 s', '12 min', '3 h', '2 d')
    """
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600:.0f} h"
    return f"{seconds // 86400:.0f} d"


def healthz(path: Path, stale_after: float = HEARTBEAT_STALE) -> tuple[dict, int]:
    """The ``/healthz`` body and status: 200 when the database can be read and its latest
    daemon row has a fresh heartbeat (and, on this host, a live pid); 503 otherwise, with
    ``reason``. Says nothing secret: the daemon's pid and heartbeat time only."""
    body: dict = {"ok": False, "db": False, "daemon": None, "reason": None}
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error:
        return {**body, "reason": "database unreadable"}, 503
    try:
        conn.row_factory = sqlite3.Row
        found = conn.execute(LATEST).fetchone()
    except sqlite3.Error as exc:
        if "no such table" in str(exc):  # readable, but no daemon ever ran on it
            return {**body, "db": True, "reason": "no daemon running"}, 503
        return {**body, "reason": "database unreadable"}, 503
    finally:
        conn.close()
    body["db"] = True
    if found is None:
        return {**body, "reason": "no daemon running"}, 503
    row = dict(found)
    now = datetime.now(UTC)
    age = heartbeat_age(row, now)
    body["daemon"] = {
        "pid": row["pid"],
        "status": row["status"],
        "heartbeat_at": row["heartbeat_at"],
        "heartbeat_age_s": None if age is None else round(max(age, 0.0), 1),
    }
    reason = liveness(row, now, stale_after)
    body.update(ok=reason is None, reason=reason)
    return body, 200 if reason is None else 503
