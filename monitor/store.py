"""The store: the only module that runs SQL. SQLite via sqlite-utils, WAL mode.

``Store.ingest(item, run_id)`` is the crawler's one entry point into monitor/: it records
what a crawl saw (pages, list pages, fetch problems) and keeps report identity and
versions. It never decides what an event is: ``monitor.differ`` reads the versions a
run created and records events through ``add_event``.

May import: crawler.items (the item schema), monitor.models, monitor.schema.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from crawler.items import FetchProblem, ListingItem, PageItem
from monitor.models import Event
from monitor.schema import migrations
from monitor.store_alerts import AlertQueries

COUNTERS = ("listings_ok", "listings_failed", "pages", "unchanged", "reports", "not_reports", "problems", "gone")
GONE_KINDS = ("not_found", "soft404")  # the page is gone: evidence for removal, not a portal failure


def now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StoreError(RuntimeError):
    """The database cannot be opened or is not a nianbao database."""


class Store(AlertQueries):
    """A nianbao database. Open it, use it, ``close()`` it (or use ``with``)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = Database(self.path)
            self.db.execute("PRAGMA busy_timeout = 30000")
            self.db.enable_wal()
            migrations.apply(self.db)
        except Exception as exc:  # sqlite3.DatabaseError, OSError
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with self.db.atomic():
            yield

    # ---- runs ---------------------------------------------------------------

    def upsert_portals(self, portals: list[dict]) -> None:
        """Record the portals a crawl covers (from the seeds)."""
        with self.atomic():
            for p in portals:
                self.db.execute(
                    "INSERT INTO portals (id, name, region, file, cms, start_urls, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name=excluded.name, "
                    "region=excluded.region, file=excluded.file, cms=excluded.cms, "
                    "start_urls=excluded.start_urls, updated_at=excluded.updated_at",
                    [p["id"], p["name"], p["region"], p.get("file"), p.get("cms"),
                     json.dumps(p["start_urls"]), now_iso()],
                )

    def begin_run(self, portals: list[dict], trigger: str = "cli", pid: int | None = None) -> int:
        """Create a crawl run over ``portals`` (seed dicts) and return its id."""
        self.upsert_portals(portals)
        with self.atomic():
            cur = self.db.execute(
                "INSERT INTO crawl_runs (started_at, status, trigger, portals, pid) VALUES (?, 'running', ?, ?, ?)",
                [now_iso(), trigger, json.dumps([p["id"] for p in portals]), pid],
            )
            run_id = cur.lastrowid
            for p in portals:
                self.db.execute(
                    "INSERT INTO portal_runs (run_id, portal_id) VALUES (?, ?)", [run_id, p["id"]]
                )
        return run_id

    def finish_run(self, run_id: int, status: str, stats: dict | None = None, detail: str = "") -> None:
        with self.atomic():
            self.db.execute(
                "UPDATE crawl_runs SET finished_at = ?, status = ?, stats = ?, detail = ? WHERE id = ?",
                [now_iso(), status, json.dumps(stats or {}, ensure_ascii=False), detail, run_id],
            )

    def set_portal_health(self, run_id: int, portal_id: str, status: str, detail: str = "") -> None:
        self.db.execute(
            "UPDATE portal_runs SET status = ?, detail = ? WHERE run_id = ? AND portal_id = ?",
            [status, detail, run_id, portal_id],
        )

    def run(self, run_id: int) -> dict | None:
        rows = list(self.db.query("SELECT * FROM crawl_runs WHERE id = ?", [run_id]))
        return rows[0] if rows else None

    def portal_runs(self, run_id: int) -> list[dict]:
        rows = list(self.db.query(
            "SELECT pr.*, p.name, (SELECT COUNT(DISTINCT pg.report_id) FROM pages pg WHERE pg.last_ok_run = pr.run_id "
            "AND pg.portal_id = pr.portal_id AND pg.report_id IS NOT NULL) AS reports_seen "
            "FROM portal_runs pr LEFT JOIN portals p ON p.id = pr.portal_id WHERE run_id = ? ORDER BY portal_id",
            [run_id]))
        for row in rows:  # "reports": distinct reports seen; "report_pages": pages that were reports
            row["report_pages"], row["reports"] = row["reports"], row.pop("reports_seen")
        return rows

    def problems(self, run_id: int) -> list[dict]:
        return list(self.db.query("SELECT * FROM problems WHERE run_id = ? ORDER BY id", [run_id]))

    def _count(self, run_id: int, portal_id: str, counter: str, n: int = 1) -> None:
        assert counter in COUNTERS
        self.db.execute(
            f"UPDATE portal_runs SET {counter} = {counter} + ? WHERE run_id = ? AND portal_id = ?",
            [n, run_id, portal_id],
        )

    # ---- ingest: the crawler's entry point ----------------------------------

    def ingest(self, item: PageItem | ListingItem | FetchProblem, run_id: int) -> str:
        """Record one crawled item atomically; return what happened (for stats).

        Returns one of: "listing", "listing-failed", "problem", "unchanged",
        "not-report", "same", "version".
        """
        with self.atomic():
            if isinstance(item, ListingItem):
                return self._ingest_listing(item, run_id)
            if isinstance(item, FetchProblem):
                return self._ingest_problem(item, run_id)
            return self._ingest_page(item, run_id)

    def _ingest_listing(self, item: ListingItem, run_id: int) -> str:
        if not item.ok:
            self._count(run_id, item.portal_id, "listings_failed")
            self._record_problem(FetchProblem(
                item.portal_id, item.url, "listing", item.status, item.detail, is_listing=True), run_id)
            return "listing-failed"
        self._count(run_id, item.portal_id, "listings_ok")
        for url in item.report_links:
            self.db.execute(
                "INSERT INTO pages (url, portal_id, listed_on, last_listed_run) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET listed_on = excluded.listed_on, "
                "last_listed_run = excluded.last_listed_run",
                [url, item.portal_id, item.url, run_id],
            )
        return "listing"

    def _record_problem(self, item: FetchProblem, run_id: int) -> None:
        self.db.execute(
            "INSERT INTO problems (run_id, portal_id, url, kind, status, detail, at, listed_on, is_listing) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, item.portal_id, item.url, item.kind, item.status, item.detail[:500], now_iso(),
             item.listed_on, int(item.is_listing)],
        )

    def _ingest_problem(self, item: FetchProblem, run_id: int) -> str:
        self._record_problem(item, run_id)
        if item.is_listing:
            self._count(run_id, item.portal_id, "listings_failed")
        else:
            self._count(run_id, item.portal_id, "gone" if item.kind in GONE_KINDS else "problems")
        self.db.execute(
            "UPDATE pages SET last_status = ?, last_fetched_at = ?, last_run_id = ? WHERE url = ?",
            [item.status, now_iso(), run_id, item.url],
        )
        return "problem"

    def _touch_page(self, item: PageItem, run_id: int, **fields: object) -> None:
        base = {
            "url": item.url, "portal_id": item.portal_id, "last_status": item.status,
            "last_fetched_at": item.fetched_at, "last_ok_at": item.fetched_at, "last_run_id": run_id,
            "last_ok_run": run_id,
        }
        if item.headers.get("etag"):
            base["etag"] = item.headers["etag"]
        if item.headers.get("last-modified"):
            base["last_modified"] = item.headers["last-modified"]
        if item.raw_sha:
            base["raw_sha"] = item.raw_sha
        base.update(fields)
        cols = list(base)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "url")
        self.db.execute(
            f"INSERT INTO pages ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT(url) DO UPDATE SET {updates}",
            [base[c] for c in cols],
        )

    def _page(self, url: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM pages WHERE url = ?", [url]))
        return rows[0] if rows else None

    def _touch_report(self, report_id: int, url: str, run_id: int, at: str) -> None:
        self.db.execute(
            "UPDATE reports SET last_seen = ?, last_seen_run = ?, gone_runs = 0 WHERE id = ?",
            [at, run_id, report_id],
        )
        self.db.execute(
            "INSERT INTO report_urls (url, report_id, first_seen, last_seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET last_seen = excluded.last_seen",
            [url, report_id, at, at],
        )

    def _ingest_page(self, item: PageItem, run_id: int) -> str:
        self._count(run_id, item.portal_id, "pages")
        ex = item.extracted
        if item.unchanged or ex is None:
            page = self._page(item.url)
            self._touch_page(item, run_id)
            self._count(run_id, item.portal_id, "unchanged")
            if page and page["report_id"]:
                self._touch_report(page["report_id"], item.url, run_id, item.fetched_at)
                self._count(run_id, item.portal_id, "reports")
            return "unchanged"
        if ex.problem:
            self._count(run_id, item.portal_id, "pages", -1)
            self._ingest_problem(FetchProblem(
                item.portal_id, item.url, ex.problem, item.status, ex.reason or ex.title,
                listed_on=item.listed_on), run_id)
            return "problem"
        fields = {"body_fp": ex.body_fp, "text_sha": ex.text_sha, "is_report": int(ex.is_report)}
        if not ex.is_report:
            self._touch_page(item, run_id, **fields)
            self._count(run_id, item.portal_id, "not_reports")
            return "not-report"
        report_id, created = self._report_for(item, run_id)
        self._touch_page(item, run_id, report_id=report_id, **fields)
        self._count(run_id, item.portal_id, "reports")
        return self._maybe_version(report_id, item, run_id, created)

    def _report_for(self, item: PageItem, run_id: int) -> tuple[int, bool]:
        """Find the report this page renders, or create it. Returns (id, created)."""
        ex = item.extracted
        rows = list(self.db.query("SELECT report_id FROM report_urls WHERE url = ?", [item.url]))
        if rows:
            return rows[0]["report_id"], False
        same = list(self.db.query(
            "SELECT id FROM reports WHERE portal_id = ? AND text_sha = ? ORDER BY id LIMIT 1",
            [item.portal_id, ex.text_sha]))
        if same:  # another rendering of a known report (繁體 page, print view, second column)
            self._touch_report(same[0]["id"], item.url, run_id, item.fetched_at)
            return same[0]["id"], False
        region = list(self.db.query("SELECT region FROM portals WHERE id = ?", [item.portal_id]))
        cur = self.db.execute(
            "INSERT INTO reports (portal_id, url, title, issuer, region, year, published, status, "
            "first_seen, last_seen, last_seen_run) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
            [item.portal_id, item.url, ex.title, ex.issuer or item.issuer_hint,
             region[0]["region"] if region else "", ex.year, ex.published,
             item.fetched_at, item.fetched_at, run_id],
        )
        self._touch_report(cur.lastrowid, item.url, run_id, item.fetched_at)
        return cur.lastrowid, True

    def _maybe_version(self, report_id: int, item: PageItem, run_id: int, created: bool) -> str:
        report = self.report(report_id)
        self._touch_report(report_id, item.url, run_id, item.fetched_at)
        if not created and report["url"] != item.url:
            return "same"  # only the canonical address makes versions; renderings just count as seen
        ex = item.extracted
        if report["text_sha"] == ex.text_sha:
            return "same"
        cur = self.db.execute(
            "INSERT INTO versions (report_id, run_id, url, fetched_at, status, headers, content_type, "
            "raw, raw_sha, text, text_sha, body_fp, title, issuer, year, published, quality) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [report_id, run_id, item.url, item.fetched_at, item.status,
             json.dumps(item.headers, ensure_ascii=False), item.content_type,
             zlib.compress(item.body, 6), item.raw_sha, ex.text, ex.text_sha, ex.body_fp,
             ex.title, ex.issuer or item.issuer_hint, ex.year, ex.published, ex.quality],
        )
        self.db.execute(
            "UPDATE reports SET current_version_id = ?, text_sha = ?, title = ?, year = COALESCE(?, year), "
            "published = COALESCE(?, published), issuer = COALESCE(NULLIF(?, ''), issuer) WHERE id = ?",
            [cur.lastrowid, ex.text_sha, ex.title, ex.year, ex.published, ex.issuer, report_id],
        )
        return "version"

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
        return self._page(url)

    def gone_urls(self, run_id: int) -> set[str]:
        """URLs found gone (404/410/soft 404) in this run."""
        marks = ", ".join("?" * len(GONE_KINDS))
        rows = self.db.query(
            f"SELECT url FROM problems WHERE run_id = ? AND kind IN ({marks})", [run_id, *GONE_KINDS])
        return {r["url"] for r in rows}

    def portal_reports(self, portal_id: str, status: str = "active") -> list[dict]:
        return list(self.db.query(
            "SELECT * FROM reports WHERE portal_id = ? AND status = ? ORDER BY id", [portal_id, status]))

    def seen_urls(self, report_id: int, run_id: int) -> list[str]:
        """The URLs at which a report was fetched successfully in this run."""
        return [r["url"] for r in self.db.query(
            "SELECT url FROM pages WHERE report_id = ? AND last_ok_run = ? "
            "ORDER BY (last_listed_run = ?) DESC, url", [report_id, run_id, run_id])]

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
        return list(self.db.query(
            "SELECT id, report_id, url, text, text_sha, title, issuer, year FROM versions "
            "WHERE run_id = ? ORDER BY id", [run_id]))

    def previous_version(self, report_id: int, before_id: int) -> dict | None:
        rows = list(self.db.query(
            "SELECT id, url, text, text_sha FROM versions WHERE report_id = ? AND id < ? "
            "ORDER BY id DESC LIMIT 1", [report_id, before_id]))
        return rows[0] if rows else None

    def history(self, report_id: int) -> list[dict]:
        return list(self.db.query(
            "SELECT id, run_id, url, fetched_at, status, text_sha, raw_sha, quality, length(text) AS chars "
            "FROM versions WHERE report_id = ? ORDER BY id", [report_id]))

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

    def events(self, since: str | None = None, kind: str | None = None,
               run_id: int | None = None, limit: int | None = None) -> list[Event]:
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
        return list(self.db.query(
            "SELECT r.id, r.portal_id, r.url, r.title, r.issuer, r.region, r.year, r.published, "
            "r.status, r.first_seen, r.last_seen, COUNT(v.id) AS versions FROM reports r "
            f"LEFT JOIN versions v ON v.report_id = r.id {where} GROUP BY r.id ORDER BY r.portal_id, r.year DESC, r.id",
            [portal_id] if portal_id else []))
