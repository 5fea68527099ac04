"""The store: the only module that runs SQL. SQLite via sqlite-utils, WAL mode.

``Store.ingest(item, run_id)`` is the crawler's one entry point into monitor/: it records
what a crawl saw (pages, list pages, fetch problems) and keeps report identity and
versions. It never decides what an event is: ``monitor.events.diff`` reads the versions a
run created and records events through ``add_event``.

May import: crawler.items (the item schema), monitor.models, monitor.store.schema.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from crawler.items import FetchProblem, ListingItem, PageItem
from monitor.models import now_iso
from monitor.store.alerts import AlertQueries
from monitor.store.reports import GONE_KINDS, ReportQueries
from monitor.store.schema import migrations

__all__ = ["Store", "StoreError", "now_iso"]

COUNTERS = (
    "listings_ok",
    "listings_failed",
    "pages",
    "unchanged",
    "reports",
    "not_reports",
    "problems",
    "gone",
)


class StoreError(RuntimeError):
    """The database cannot be opened or is not a nianbao database."""


class Store(AlertQueries, ReportQueries):
    """A nianbao database. Open it, use it, ``close()`` it (or use ``with``)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = Database(self.path)
            self.db.execute("PRAGMA busy_timeout = 30000")
            self.db.enable_wal()
            # WAL + NORMAL: a crash (not a power cut) loses nothing, and a commit per
            # ingested page costs no fsync; the DB can never be corrupted either way.
            self.db.execute("PRAGMA synchronous = NORMAL")
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
                    [
                        p["id"],
                        p["name"],
                        p["region"],
                        p.get("file"),
                        p.get("cms"),
                        json.dumps(p["start_urls"]),
                        now_iso(),
                    ],
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

    def finish_run(
        self, run_id: int, status: str, stats: dict | None = None, detail: str = ""
    ) -> None:
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
        rows = list(
            self.db.query(
                "SELECT pr.*, p.name, (SELECT COUNT(DISTINCT pg.report_id) FROM pages pg WHERE pg.last_ok_run = pr.run_id "
                "AND pg.portal_id = pr.portal_id AND pg.report_id IS NOT NULL) AS reports_seen "
                "FROM portal_runs pr LEFT JOIN portals p ON p.id = pr.portal_id WHERE run_id = ? ORDER BY portal_id",
                [run_id],
            )
        )
        for (
            row
        ) in rows:  # "reports": distinct reports seen; "report_pages": pages that were reports
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
            self._record_problem(
                FetchProblem(
                    item.portal_id, item.url, "listing", item.status, item.detail, is_listing=True
                ),
                run_id,
            )
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
            [
                run_id,
                item.portal_id,
                item.url,
                item.kind,
                item.status,
                item.detail[:500],
                now_iso(),
                item.listed_on,
                int(item.is_listing),
            ],
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
            "url": item.url,
            "portal_id": item.portal_id,
            "last_status": item.status,
            "last_fetched_at": item.fetched_at,
            "last_ok_at": item.fetched_at,
            "last_run_id": run_id,
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
            page = self.page(item.url)
            self._touch_page(item, run_id)
            self._count(run_id, item.portal_id, "unchanged")
            if page and page["report_id"]:
                self._touch_report(page["report_id"], item.url, run_id, item.fetched_at)
                self._count(run_id, item.portal_id, "reports")
            return "unchanged"
        if ex.problem:
            self._count(run_id, item.portal_id, "pages", -1)
            self._ingest_problem(
                FetchProblem(
                    item.portal_id,
                    item.url,
                    ex.problem,
                    item.status,
                    ex.reason or ex.title,
                    listed_on=item.listed_on,
                ),
                run_id,
            )
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
        same = list(
            self.db.query(
                "SELECT id FROM reports WHERE portal_id = ? AND text_sha = ? ORDER BY id LIMIT 1",
                [item.portal_id, ex.text_sha],
            )
        )
        if same:  # another rendering of a known report (繁體 page, print view, second column)
            self._touch_report(same[0]["id"], item.url, run_id, item.fetched_at)
            return same[0]["id"], False
        region = list(self.db.query("SELECT region FROM portals WHERE id = ?", [item.portal_id]))
        cur = self.db.execute(
            "INSERT INTO reports (portal_id, url, title, issuer, region, year, published, status, "
            "first_seen, last_seen, last_seen_run) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
            [
                item.portal_id,
                item.url,
                ex.title,
                ex.issuer or item.issuer_hint,
                region[0]["region"] if region else "",
                ex.year,
                ex.published,
                item.fetched_at,
                item.fetched_at,
                run_id,
            ],
        )
        self._touch_report(cur.lastrowid, item.url, run_id, item.fetched_at)
        return cur.lastrowid, True

    def _maybe_version(self, report_id: int, item: PageItem, run_id: int, created: bool) -> str:
        report = self.report(report_id)
        self._touch_report(report_id, item.url, run_id, item.fetched_at)
        if not created and report["url"] != item.url:
            return (
                "same"  # only the canonical address makes versions; renderings just count as seen
            )
        ex = item.extracted
        if report["text_sha"] == ex.text_sha:
            return "same"
        cur = self.db.execute(
            "INSERT INTO versions (report_id, run_id, url, fetched_at, status, headers, content_type, "
            "raw, raw_sha, text, text_sha, body_fp, title, issuer, year, published, quality) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                report_id,
                run_id,
                item.url,
                item.fetched_at,
                item.status,
                json.dumps(item.headers, ensure_ascii=False),
                item.content_type,
                zlib.compress(item.body, 6),
                item.raw_sha,
                ex.text,
                ex.text_sha,
                ex.body_fp,
                ex.title,
                ex.issuer or item.issuer_hint,
                ex.year,
                ex.published,
                ex.quality,
            ],
        )
        self.db.execute(
            "UPDATE reports SET current_version_id = ?, text_sha = ?, title = ?, year = COALESCE(?, year), "
            "published = COALESCE(?, published), issuer = COALESCE(NULLIF(?, ''), issuer) WHERE id = ?",
            [cur.lastrowid, ex.text_sha, ex.title, ex.year, ex.published, ex.issuer, report_id],
        )
        return "version"
