"""Who wants which events, and the delivery outbox: ``subscriptions`` and ``deliveries``.

Nothing here decides anything (what matches, when to retry): it reads and writes rows.
``monitor.alerts.outbox`` decides.

May import: monitor.models, monitor.store.base, monitor.store.rows, monitor.store.events.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence

from sqlite_utils import Database

from monitor.models import Subscription, now_iso
from monitor.store.base import IN_JSON, Part, immediate, json_list, marks
from monitor.store.events import Events
from monitor.store.rows import ChannelRow, Delivery, DeliveryError, SubscriptionRow

STATUSES = ("pending", "sending", "sent", "failed")


def subscription_from_row(row: SubscriptionRow) -> Subscription:
    """A ``Subscription`` from a ``subscriptions`` row."""
    return Subscription(
        email=row.email,
        region=row.region,
        issuer=row.issuer,
        year=row.year,
        kinds=json.loads(row.kinds or "[]"),
        keyword=row.keyword,
        digest=row.digest,
        id=row.id,
        created_at=row.created_at,
        token=row.token,
    )


class Subscriptions(Part):
    """Subscriptions; a new one starts after the newest event (needs the events part)."""

    def __init__(self, db: Database, events: Events):
        super().__init__(db)
        self.events = events

    def add(
        self,
        sub: Subscription,
        backfill: bool = False,
        *,
        channel: str = "email",
        target: str | None = None,
        secret: str | None = None,
    ) -> Subscription:
        """Store a new subscription; it starts after the newest event unless ``backfill``.

        Args:
            channel: email (to ``sub.email``), webhook or apprise (to ``target``, a URL
                template whose secrets are ``${NAME}`` placeholders).
            secret: the webhook's signing key.
        """
        start = 0 if backfill else self.events.max_id()
        cur = self.db.execute(
            "INSERT INTO subscriptions (email, token, region, issuer, year, kinds, keyword, digest, "
            "created_at, start_event_id, seen_event_id, channel, target, secret) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                sub.email,
                secrets.token_urlsafe(16),
                sub.region,
                sub.issuer,
                sub.year,
                json.dumps(sub.kinds),
                sub.keyword,
                sub.digest,
                now_iso(),
                start,
                start,
                channel,
                target,
                secret,
            ],
        )
        return self.get(cur.lastrowid)  # type: ignore[return-value]

    def channel(self, sub_id: int) -> ChannelRow | None:
        """Where a subscription delivers (with the webhook's signing key: never show it)."""
        return self._one(
            ChannelRow,
            "SELECT id, email, channel, target, secret FROM subscriptions WHERE id = ?",
            [sub_id],
        )

    def get(self, sub_id: int) -> Subscription | None:
        row = self._one(SubscriptionRow, "SELECT * FROM subscriptions WHERE id = ?", [sub_id])
        return subscription_from_row(row) if row else None

    def with_counts(self, active_only: bool = True) -> list[SubscriptionRow]:
        """Subscription rows with their outbox counts (pending, sending, sent, failed)."""
        where = "WHERE s.active = 1" if active_only else ""
        counts = ", ".join(
            f"(SELECT COUNT(*) FROM deliveries d WHERE d.subscription_id = s.id "
            f"AND d.status = '{st}') AS {st}"
            for st in STATUSES
        )
        return self._all(
            SubscriptionRow, f"SELECT s.*, {counts} FROM subscriptions s {where} ORDER BY s.id"
        )

    def active(self) -> list[tuple[Subscription, int]]:
        """Active subscriptions with how far events were matched for each (``seen_event_id``)."""
        rows = self._all(
            SubscriptionRow, "SELECT * FROM subscriptions WHERE active = 1 ORDER BY id"
        )
        return [(subscription_from_row(r), r.seen_event_id) for r in rows]

    def find(self, ref: str) -> list[SubscriptionRow]:
        """Active subscriptions by id, unsubscribe token, email address or channel URL."""
        return self._all(
            SubscriptionRow,
            "SELECT * FROM subscriptions WHERE active = 1 AND "
            "(CAST(id AS TEXT) = ? OR token = ? OR lower(email) = lower(?) OR target = ?) "
            "ORDER BY id",
            [ref, ref, ref, ref],
        )

    def deactivate(self, ids: Sequence[int]) -> None:
        """Unsubscribe: stop matching, and cancel what was not sent yet."""
        with immediate(self.db):
            self.db.execute(
                f"UPDATE subscriptions SET active = 0, unsubscribed_at = ? WHERE id IN ({marks(ids)})",
                [now_iso(), *ids],
            )
            self.db.execute(
                f"UPDATE deliveries SET status = 'cancelled' WHERE status = 'pending' "
                f"AND subscription_id IN ({marks(ids)})",
                list(ids),
            )


class Outbox(Part):
    """The ``deliveries`` rows: queued, claimed by a batch, sent, retried, failed."""

    def enqueue(self, pairs: Sequence[tuple[int, int]], seen: dict[int, int]) -> int:
        """Insert (event_id, subscription_id) rows once each and advance ``seen_event_id``.

        One transaction: a crash leaves either both or neither. Returns rows inserted.
        """
        now = now_iso()
        with immediate(self.db):
            before = self.db.conn.total_changes
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO deliveries (event_id, subscription_id, created_at) "
                "VALUES (?, ?, ?)",
                [(e, s, now) for e, s in pairs],
            )
            inserted = self.db.conn.total_changes - before
            self.db.conn.executemany(
                "UPDATE subscriptions SET seen_event_id = MAX(seen_event_id, ?) WHERE id = ?",
                [(mark, sub_id) for sub_id, mark in seen.items()],
            )
        return inserted

    def rows(self, statuses: Sequence[str]) -> list[Delivery]:
        """Deliveries in ``statuses`` for active subscriptions, by subscription and id."""
        return self._all(
            Delivery,
            "SELECT d.* FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id "
            f"WHERE s.active = 1 AND d.status IN ({marks(statuses)}) "
            "ORDER BY d.subscription_id, d.id",
            list(statuses),
        )

    def claim(self, ids: Sequence[int], key: str, message_id: str, now: str) -> None:
        """Record an attempt before sending: status ``sending`` with the batch key and Message-ID."""
        with immediate(self.db):
            self.db.execute(
                "UPDATE deliveries SET status = 'sending', key = ?, message_id = ?, "
                "attempts = attempts + 1, last_attempt_at = ?, next_attempt_at = ? "
                f"WHERE id IN {IN_JSON}",
                [key, message_id, now, now, json_list(ids)],
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

    def counts(self) -> dict[str, int]:
        counts = {s: 0 for s in (*STATUSES, "cancelled")}
        for r in self.db.query("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status"):
            counts[r["status"]] = r["n"]
        return counts

    def errors(self, limit: int = 5) -> list[DeliveryError]:
        """The latest batches whose last attempt failed."""
        return self._all(
            DeliveryError,
            "SELECT key, subscription_id, status, attempts, next_attempt_at, last_error, "
            "COUNT(*) AS events FROM deliveries WHERE last_error IS NOT NULL "
            "AND status IN ('sending', 'failed') GROUP BY key ORDER BY MAX(id) DESC LIMIT ?",
            [limit],
        )
