"""Read-side queries of the store (a mixin of ``monitor.store.Store``): fetch state for the
next crawl, what the detector needs after one, and reports, versions and events.

Only store modules run SQL. May import: monitor.models.
"""

from __future__ import annotations

import json
import zlib

from sqlite_utils import Database

from monitor.models import Event, now_iso

GONE_KINDS = (
    "not_found",
    "soft404",
)  # the page is gone: evidence for removal, not a portal failure


class ReportQueries:
    """Queries over pages, reports, versions and events. Needs ``self.db``."""

    db: Database

    # ---- what the crawler is told before a crawl -----------------------------

    def fetch_state(self, portal_ids: list[str]) -> dict[str, dict]:
        """Per URL: validators and hashes of the last good fetch (for conditional requests
        and skipping unchanged bodies). Only URLs whose last good fetch is known."""
        marks = ", ".join("?" * len(portal_ids))
        rows = self.db.query(
            f"SELECT p.url, p.portal_id, p.etag, p.last_modified, p.raw_sha, p.body_fp, "
            f"(r.id IS NOT NULL) AS revisit FROM pages p "
            f"LEFT JOIN reports r ON r.url = p.url AND r.status = 'active' "
            f"WHERE p.portal_id IN ({marks}) AND p.last_ok_at IS NOT NULL AND p.text_sha IS NOT NULL",
            portal_ids,
        )
        return {r.pop("url"): r for r in rows}

    # ---- what the differ needs after a crawl ---------------------------------

    def page(self, url: str) -> dict | None:
        """Fetch state of one URL (the ``pages`` row), or None."""
        rows = list(self.db.query("SELECT * FROM pages WHERE url = ?", [url]))
        return rows[0] if rows else None

    def gone_urls(self, run_id: int) -> set[str]:
        """URLs found gone (404/410/soft 404) in this run."""
        marks = ", ".join("?" * len(GONE_KINDS))
        rows = self.db.query(
            f"SELECT url FROM problems WHERE run_id = ? AND kind IN ({marks})",
            [run_id, *GONE_KINDS],
        )
        return {r["url"] for r in rows}

    def move_candidates(self, report: dict) -> list[dict]:
        """Other active reports of the same portal, issuer and year (a move's old self)."""
        return list(
            self.db.query(
                "SELECT * FROM reports WHERE portal_id = ? AND status = 'active' AND id != ? "
                "AND year IS ? AND issuer IS ? ORDER BY id",
                [report["portal_id"], report["id"], report["year"], report["issuer"]],
            )
        )

    def portal_reports(self, portal_id: str, status: str = "active") -> list[dict]:
        return list(
            self.db.query(
                "SELECT * FROM reports WHERE portal_id = ? AND status = ? ORDER BY id",
                [portal_id, status],
            )
        )

    def seen_urls(self, report_id: int, run_id: int) -> list[str]:
        """The URLs at which a report was fetched successfully in this run."""
        return [
            r["url"]
            for r in self.db.query(
                "SELECT url FROM pages WHERE report_id = ? AND last_ok_run = ? "
                "ORDER BY (last_listed_run = ?) DESC, url",
                [report_id, run_id, run_id],
            )
        ]

    def set_report(self, report_id: int, **fields: object) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE reports SET {cols} WHERE id = ?", [*fields.values(), report_id])

    def merge_report(self, src: int, dst: int) -> None:
        """Fold report ``src`` (just created) into ``dst``: its versions, URLs and pages."""
        for table in ("versions", "report_urls", "pages"):
            self.db.execute(f"UPDATE {table} SET report_id = ? WHERE report_id = ?", [dst, src])
        self.db.execute("DELETE FROM reports WHERE id = ?", [src])

    # ---- versions, reports, events ------------------------------------------

    def report(self, report_id: int) -> dict | None:
        rows = list(self.db.query("SELECT * FROM reports WHERE id = ?", [report_id]))
        return rows[0] if rows else None

    def find_report(self, ref: str) -> dict | None:
        """A report by id or by any URL it was seen at."""
        if ref.isdigit():
            return self.report(int(ref))
        rows = list(self.db.query("SELECT report_id FROM report_urls WHERE url = ?", [ref]))
        return self.report(rows[0]["report_id"]) if rows else None

    def version(self, version_id: int, raw: bool = False) -> dict | None:
        rows = list(self.db.query("SELECT * FROM versions WHERE id = ?", [version_id]))
        if not rows:
            return None
        row = rows[0]
        row["raw"] = zlib.decompress(row["raw"]) if raw and row["raw"] else None
        return row

    def versions_in_run(self, run_id: int) -> list[dict]:
        return list(
            self.db.query(
                "SELECT id, report_id, url, text, text_sha, title, issuer, year, quality FROM versions "
                "WHERE run_id = ? ORDER BY id",
                [run_id],
            )
        )

    def previous_version(self, report_id: int, before_id: int) -> dict | None:
        rows = list(
            self.db.query(
                "SELECT id, url, text, text_sha, quality FROM versions WHERE report_id = ? AND id < ? "
                "ORDER BY id DESC LIMIT 1",
                [report_id, before_id],
            )
        )
        return rows[0] if rows else None

    def history(self, report_id: int) -> list[dict]:
        return list(
            self.db.query(
                "SELECT id, run_id, url, fetched_at, status, text_sha, raw_sha, quality, length(text) AS chars "
                "FROM versions WHERE report_id = ? ORDER BY id",
                [report_id],
            )
        )

    def add_event(self, event: Event) -> int:
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

    def events(
        self,
        since: str | None = None,
        kind: str | None = None,
        run_id: int | None = None,
        limit: int | None = None,
    ) -> list[Event]:
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

    def event(self, event_id: int) -> Event | None:
        rows = list(self.db.query("SELECT * FROM events WHERE id = ?", [event_id]))
        return Event.from_row(rows[0]) if rows else None

    def reports(self, portal_id: str | None = None) -> list[dict]:
        where = "WHERE r.portal_id = ?" if portal_id else ""
        return list(
            self.db.query(
                "SELECT r.id, r.portal_id, r.url, r.title, r.issuer, r.region, r.year, r.published, "
                "r.status, r.first_seen, r.last_seen, COUNT(v.id) AS versions FROM reports r "
                f"LEFT JOIN versions v ON v.report_id = r.id {where} GROUP BY r.id ORDER BY r.portal_id, r.year DESC, r.id",
                [portal_id] if portal_id else [],
            )
        )
