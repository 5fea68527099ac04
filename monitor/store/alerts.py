"""The SQL of alerts and the daemon, as a mixin of ``monitor.store.Store``: subscriptions,
the delivery outbox, per-portal crawl locks, the daemon heartbeat and portal status.

Nothing here decides anything (what matches, when to retry, whether a pid is alive): it
reads and writes rows. ``monitor.alerts.outbox``, ``monitor.store.locks`` and ``monitor.daemon.scheduler`` decide.

May import: monitor.models (and sqlite-utils through ``self.db``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlite_utils import Database

from monitor.models import Event, Subscription

HISTORY = 30  # portal runs looked at per portal for "consecutive failures"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def subscription_from_row(row: dict) -> Subscription:
    """A ``Subscription`` from a ``subscriptions`` row."""
    return Subscription(
        email=row["email"],
        region=row["region"],
        issuer=row["issuer"],
        year=row["year"],
        kinds=json.loads(row["kinds"] or "[]"),
        keyword=row["keyword"],
        digest=row["digest"],
        id=row["id"],
        created_at=row["created_at"],
        token=row["token"],
    )


class AlertQueries:
    """Queries for subscriptions, deliveries, locks and status (mixed into ``Store``)."""

    db: Database

    @contextmanager
    def immediate(self) -> Iterator[None]:
        """A write transaction taken up front (``BEGIN IMMEDIATE``): no lock upgrade races."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.rollback()
            raise
        self.db.commit()

    # ---- subscriptions ----------------------------------------------------------

    def add_subscription(self, sub: Subscription, backfill: bool = False) -> Subscription:
        """Store a new subscription; it starts after the newest event unless ``backfill``."""
        start = 0 if backfill else self.max_event_id()
        token = secrets.token_urlsafe(16)
        created = _now()
        cur = self.db.execute(
            "INSERT INTO subscriptions (email, token, region, issuer, year, kinds, keyword, digest, "
            "created_at, start_event_id, seen_event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                sub.email,
                token,
                sub.region,
                sub.issuer,
                sub.year,
                json.dumps(sub.kinds),
                sub.keyword,
                sub.digest,
                created,
                start,
                start,
            ],
        )
        return self.subscription(cur.lastrowid)  # type: ignore[return-value]

    def subscription(self, sub_id: int) -> Subscription | None:
        rows = list(self.db.query("SELECT * FROM subscriptions WHERE id = ?", [sub_id]))
        return subscription_from_row(rows[0]) if rows else None

    def subscription_rows(self, active_only: bool = True) -> list[dict]:
        """Subscription rows with their outbox counts (pending, sending, sent, failed)."""
        where = "WHERE s.active = 1" if active_only else ""
        return list(
            self.db.query(
                "SELECT s.*, "
                + ", ".join(
                    f"(SELECT COUNT(*) FROM deliveries d WHERE d.subscription_id = s.id "
                    f"AND d.status = '{st}') AS {st}"
                    for st in ("pending", "sending", "sent", "failed")
                )
                + f" FROM subscriptions s {where} ORDER BY s.id"
            )
        )

    def active_subscriptions(self) -> list[tuple[Subscription, int]]:
        """Active subscriptions with how far events were matched for each (``seen_event_id``)."""
        rows = self.db.query("SELECT * FROM subscriptions WHERE active = 1 ORDER BY id")
        return [(subscription_from_row(r), r["seen_event_id"]) for r in rows]

    def find_subscriptions(self, ref: str) -> list[dict]:
        """Active subscriptions by id, unsubscribe token or email address."""
        return list(
            self.db.query(
                "SELECT * FROM subscriptions WHERE active = 1 AND "
                "(CAST(id AS TEXT) = ? OR token = ? OR lower(email) = lower(?)) ORDER BY id",
                [ref, ref, ref],
            )
        )

    def deactivate_subscriptions(self, ids: Sequence[int]) -> None:
        """Unsubscribe: stop matching, and cancel what was not sent yet."""
        with self.immediate():
            self.db.execute(
                f"UPDATE subscriptions SET active = 0, unsubscribed_at = ? "
                f"WHERE id IN ({_marks(ids)})",
                [_now(), *ids],
            )
            self.db.execute(
                f"UPDATE deliveries SET status = 'cancelled' WHERE status = 'pending' "
                f"AND subscription_id IN ({_marks(ids)})",
                list(ids),
            )

    # ---- events for the outbox --------------------------------------------------

    def max_event_id(self) -> int:
        return next(iter(self.db.query("SELECT COALESCE(MAX(id), 0) AS n FROM events")))["n"]

    def events_after(self, event_id: int) -> list[Event]:
        """Events with id > ``event_id``, oldest first."""
        rows = self.db.query("SELECT * FROM events WHERE id > ? ORDER BY id", [event_id])
        return [Event.from_row(r) for r in rows]

    def events_by_id(self, ids: Sequence[int]) -> dict[int, Event]:
        out: dict[int, Event] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            for r in self.db.query(f"SELECT * FROM events WHERE id IN ({_marks(chunk)})", chunk):
                out[r["id"]] = Event.from_row(r)
        return out

    def latest_events(self, limit: int) -> list[Event]:
        rows = self.db.query("SELECT * FROM events ORDER BY id DESC LIMIT ?", [limit])
        return [Event.from_row(r) for r in rows]

    # ---- the outbox -------------------------------------------------------------

    def enqueue_deliveries(self, pairs: Sequence[tuple[int, int]], seen: dict[int, int]) -> int:
        """Insert (event_id, subscription_id) rows once each and advance ``seen_event_id``.

        One transaction: a crash leaves either both or neither. Returns rows inserted.
        """
        now = _now()
        with self.immediate():
            before = self.db.conn.total_changes
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO deliveries (event_id, subscription_id, created_at) VALUES (?, ?, ?)",
                [(e, s, now) for e, s in pairs],
            )
            inserted = self.db.conn.total_changes - before
            self.db.conn.executemany(
                "UPDATE subscriptions SET seen_event_id = MAX(seen_event_id, ?) WHERE id = ?",
                [(mark, sub_id) for sub_id, mark in seen.items()],
            )
        return inserted

    def outbox_rows(self, statuses: Sequence[str]) -> list[dict]:
        """Deliveries in ``statuses`` for active subscriptions, by subscription and id."""
        return list(
            self.db.query(
                f"SELECT d.* FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id "
                f"WHERE s.active = 1 AND d.status IN ({_marks(statuses)}) ORDER BY d.subscription_id, d.id",
                list(statuses),
            )
        )

    def claim_batch(self, ids: Sequence[int], key: str, message_id: str, now: str) -> None:
        """Record an attempt before sending: status ``sending`` with the batch key and Message-ID."""
        with self.immediate():
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                self.db.execute(
                    f"UPDATE deliveries SET status = 'sending', key = ?, message_id = ?, "
                    f"attempts = attempts + 1, last_attempt_at = ?, next_attempt_at = ? "
                    f"WHERE id IN ({_marks(chunk)})",
                    [key, message_id, now, now, *chunk],
                )

    def retry_attempt(self, key: str, now: str) -> None:
        self.db.execute(
            "UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = ? "
            "WHERE key = ? AND status = 'sending'",
            [now, key],
        )

    def mark_sent(self, key: str, now: str) -> None:
        self.db.execute(
            "UPDATE deliveries SET status = 'sent', sent_at = ?, last_error = NULL "
            "WHERE key = ? AND status = 'sending'",
            [now, key],
        )

    def mark_retry(self, key: str, error: str, next_at: str) -> None:
        self.db.execute(
            "UPDATE deliveries SET next_attempt_at = ?, last_error = ? "
            "WHERE key = ? AND status = 'sending'",
            [next_at, error[:500], key],
        )

    def mark_failed(self, key: str, error: str) -> None:
        self.db.execute(
            "UPDATE deliveries SET status = 'failed', last_error = ? "
            "WHERE key = ? AND status = 'sending'",
            [error[:500], key],
        )

    def retry_failed(self) -> int:
        """Put permanently failed deliveries back in the queue (after fixing the cause)."""
        cur = self.db.execute(
            "UPDATE deliveries SET status = 'pending', key = NULL, message_id = NULL, "
            "next_attempt_at = NULL WHERE status = 'failed'"
        )
        return cur.rowcount

    def outbox_counts(self) -> dict[str, int]:
        counts = {s: 0 for s in ("pending", "sending", "sent", "failed", "cancelled")}
        for r in self.db.query("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status"):
            counts[r["status"]] = r["n"]
        return counts

    def outbox_errors(self, limit: int = 5) -> list[dict]:
        return list(
            self.db.query(
                "SELECT key, subscription_id, status, attempts, next_attempt_at, last_error, "
                "COUNT(*) AS events FROM deliveries WHERE last_error IS NOT NULL "
                "AND status IN ('sending', 'failed') GROUP BY key ORDER BY MAX(id) DESC LIMIT ?",
                [limit],
            )
        )

    # ---- locks ------------------------------------------------------------------

    def lock_row(self, name: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM locks WHERE portal_id = ?", [name]))
        return rows[0] if rows else None

    def insert_lock(self, name: str, owner: str, pid: int, host: str) -> bool:
        """Take a free lock; False when somebody holds it."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO locks (portal_id, owner, pid, host, acquired_at) VALUES (?, ?, ?, ?, ?)",
            [name, owner, pid, host, _now()],
        )
        return cur.rowcount == 1

    def replace_lock(self, name: str, old: dict, owner: str, pid: int, host: str) -> bool:
        """Take over ``old`` (a stale holder) if it is still the holder (compare and swap)."""
        cur = self.db.execute(
            "UPDATE locks SET owner = ?, pid = ?, host = ?, acquired_at = ? "
            "WHERE portal_id = ? AND owner = ? AND pid = ? AND acquired_at = ?",
            [owner, pid, host, _now(), name, old["owner"], old["pid"], old["acquired_at"]],
        )
        return cur.rowcount == 1

    def delete_lock(self, name: str, owner: str, pid: int) -> None:
        self.db.execute(
            "DELETE FROM locks WHERE portal_id = ? AND owner = ? AND pid = ?", [name, owner, pid]
        )

    def lock_rows(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM locks ORDER BY portal_id"))

    # ---- the daemon -------------------------------------------------------------

    def daemon_beat(self, pid: int, host: str, status: str, next_runs: dict[str, str]) -> None:
        """Record (or refresh) a daemon's heartbeat and each portal's next run."""
        now = _now()
        self.db.execute(
            "INSERT INTO daemon (pid, host, started_at, heartbeat_at, status, next_runs) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(pid) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, "
            "status = excluded.status, next_runs = excluded.next_runs, stopped_at = NULL",
            [pid, host, now, now, status, json.dumps(next_runs)],
        )

    def daemon_stopped(self, pid: int) -> None:
        self.db.execute(
            "UPDATE daemon SET status = 'stopped', stopped_at = ?, next_runs = '{}' WHERE pid = ?",
            [_now(), pid],
        )

    def latest_daemon(self) -> dict | None:
        rows = list(self.db.query("SELECT * FROM daemon ORDER BY heartbeat_at DESC LIMIT 1"))
        return rows[0] if rows else None

    # ---- portal status ----------------------------------------------------------

    def portal_history(self) -> dict[str, list[dict]]:
        """Per portal (every known one), its latest runs, newest first (at most ``HISTORY``)."""
        out: dict[str, list[dict]] = {
            r["id"]: [] for r in self.db.query("SELECT id FROM portals ORDER BY id")
        }
        for portal_id in out:
            out[portal_id] = list(
                self.db.query(
                    "SELECT pr.run_id, pr.status AS portal_status, pr.detail AS portal_detail, "
                    "pr.pages, pr.reports, pr.problems, cr.started_at, cr.finished_at, cr.trigger, "
                    "cr.status AS run_status, cr.detail AS run_detail FROM portal_runs pr "
                    "JOIN crawl_runs cr ON cr.id = pr.run_id WHERE pr.portal_id = ? "
                    "ORDER BY pr.run_id DESC LIMIT ?",
                    [portal_id, HISTORY],
                )
            )
        return out

    def portal_names(self) -> dict[str, dict]:
        return {r["id"]: r for r in self.db.query("SELECT id, name, region FROM portals")}
