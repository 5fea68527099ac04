"""The operator's side of the store: ``operator_states`` (what the operator was last told,
per topic) and ``operator_mails`` (the operator's outbox rows).

Nothing here decides what to tell or when to retry: ``monitor.alerts.operator`` does.
Subscriber tables are never touched, so an operator alert can never reach a subscriber.

May import: monitor.store.base, monitor.store.rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.store.base import IN_JSON, Part, immediate, json_list
from monitor.store.rows import OperatorMail

STATUSES = ("pending", "sending", "sent", "failed")


class Operator(Part):
    """Operator alert states and mails."""

    def states(self) -> dict[str, tuple[str, str]]:
        """Topic → (state, since) as last told to the operator."""
        rows = self.db.query("SELECT topic, state, since FROM operator_states")
        return {r["topic"]: (r["state"], r["since"]) for r in rows}

    def change(self, topic: str, state: str, detail: str, at: str, mails: Sequence[dict]) -> None:
        """Record a topic's new state and queue its mails (``address``, ``subject``, ``body``)
        in one transaction: a state is told once, or not at all."""
        with immediate(self.db):
            self.db.execute(
                "INSERT INTO operator_states (topic, state, detail, since) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(topic) DO UPDATE SET state = excluded.state, "
                "detail = excluded.detail, since = excluded.since",
                [topic, state, detail, at],
            )
            for m in mails:
                self.db.execute(
                    "INSERT INTO operator_mails (address, topic, state, subject, body, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [m["address"], topic, state, m["subject"], m["body"], at],
                )

    def rows(self, statuses: Sequence[str]) -> list[OperatorMail]:
        """Operator mails in ``statuses``, by address and id."""
        return self._all(
            OperatorMail,
            f"SELECT * FROM operator_mails WHERE status IN {IN_JSON} ORDER BY address, id",
            [json_list(statuses)],
        )

    def claim(self, ids: Sequence[int], key: str, message_id: str, now: str) -> None:
        """Record an attempt before sending: ``sending`` with the batch key and Message-ID."""
        with immediate(self.db):
            self.db.execute(
                "UPDATE operator_mails SET status = 'sending', key = ?, message_id = ?, "
                "attempts = attempts + 1, last_attempt_at = ?, next_attempt_at = ? "
                f"WHERE id IN {IN_JSON}",
                [key, message_id, now, now, json_list(ids)],
            )

    def retry_attempt(self, key: str, now: str) -> None:
        self.db.execute(
            "UPDATE operator_mails SET attempts = attempts + 1, last_attempt_at = ? "
            "WHERE key = ? AND status = 'sending'",
            [now, key],
        )

    def mark(self, key: str, status: str, error: str | None = None, at: str | None = None) -> None:
        """Settle a batch: ``sent`` (``at`` = sent time), ``failed``, or ``sending`` again
        (a retry due at ``at``), with the last error."""
        column = "sent_at" if status == "sent" else "next_attempt_at"
        self.db.execute(
            f"UPDATE operator_mails SET status = ?, last_error = ?, {column} = COALESCE(?, {column}) "
            "WHERE key = ? AND status = 'sending'",
            [status, (error or "")[:500] or None, at, key],
        )

    def counts(self) -> dict[str, int]:
        counts = {s: 0 for s in STATUSES}
        for r in self.db.query("SELECT status, COUNT(*) AS n FROM operator_mails GROUP BY status"):
            counts[r["status"]] = r["n"]
        return counts
