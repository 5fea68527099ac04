"""Change events: the ``events`` table, written by the detector and read by the CLI,
the outbox and the feeds.

May import: monitor.models, monitor.store.base.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from monitor.models import Event, now_iso
from monitor.store.base import IN_JSON, Part, json_list


class Events(Part):
    """Add and read ``Event`` objects (``monitor.models``)."""

    def add(self, event: Event) -> int:
        """Record ``event``; return its id."""
        data = event.to_json()
        data.pop("label")
        data.pop("id")
        data["sections"] = json.dumps(data["sections"], ensure_ascii=False)
        data["numbers"] = json.dumps(data["numbers"], ensure_ascii=False)
        data["detected_at"] = data["detected_at"] or now_iso()
        cols = list(data)
        cur = self.db.execute(
            f"INSERT INTO events ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [data[c] for c in cols],
        )
        return cur.lastrowid

    def get(self, event_id: int) -> Event | None:
        rows = list(self.db.query("SELECT * FROM events WHERE id = ?", [event_id]))
        return Event.from_row(rows[0]) if rows else None

    def search(
        self,
        since: str | None = None,
        kind: str | None = None,
        run_id: int | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Events newest first, filtered by detection date, kind and run."""
        where, args = ["1 = 1"], []
        if since:
            where.append("detected_at >= ?")
            args.append(since)
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if run_id is not None:
            where.append("run_id = ?")
            args.append(run_id)
        sql = f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY detected_at DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [Event.from_row(r) for r in self.db.query(sql, args)]

    def max_id(self) -> int:
        return next(iter(self.db.query("SELECT COALESCE(MAX(id), 0) AS n FROM events")))["n"]

    def after(self, event_id: int) -> list[Event]:
        """Events with id > ``event_id``, oldest first."""
        rows = self.db.query("SELECT * FROM events WHERE id > ? ORDER BY id", [event_id])
        return [Event.from_row(r) for r in rows]

    def by_id(self, ids: Sequence[int]) -> dict[int, Event]:
        rows = self.db.query(f"SELECT * FROM events WHERE id IN {IN_JSON}", [json_list(ids)])
        return {r["id"]: Event.from_row(r) for r in rows}

    def latest(self, limit: int) -> list[Event]:
        """The newest ``limit`` events, newest first."""
        rows = self.db.query("SELECT * FROM events ORDER BY id DESC LIMIT ?", [limit])
        return [Event.from_row(r) for r in rows]
