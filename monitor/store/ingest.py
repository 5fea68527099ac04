"""The crawler's way in: record crawled items as pages, reports, versions and problems.

``Store.ingest(item, run_id)`` calls ``Ingest.item`` in one transaction. It keeps report
identity (a URL, or the same text on another address of the portal, is the same report)
and makes a version when the canonical address shows a new text. It never decides what
an event is: ``monitor.events.detect`` reads the versions a run created.

May import: crawler.items, monitor.models, monitor.store.base, .runs, .reports, .search and
.stats.
"""

from __future__ import annotations

import json
import zlib

from sqlite_utils import Database

from crawler.items import FetchProblem, ListingItem, PageItem
from monitor.models import now_iso
from monitor.store.base import Part
from monitor.store.reports import Reports
from monitor.store.runs import GONE_KINDS, Runs
from monitor.store.stats import Stats


class Ingest(Part):
    """Writes what a crawl saw. Uses the runs part (counters, problems) and reports part."""

    def __init__(self, db: Database, runs: Runs, reports: Reports):
        super().__init__(db)
        self.runs, self.reports = runs, reports

    def item(self, item: PageItem | ListingItem | FetchProblem, run_id: int) -> str:
        """Record one crawled item (the caller holds the transaction); return what happened:
        "listing", "listing-failed", "problem", "unchanged", "not-report", "same", "version"."""
        if isinstance(item, ListingItem):
            return self._listing(item, run_id)
        if isinstance(item, FetchProblem):
            return self._problem(item, run_id)
        return self._page(item, run_id)

    def _listing(self, item: ListingItem, run_id: int) -> str:
        if not item.ok:
            self.runs.count(run_id, item.portal_id, "listings_failed")
            problem = FetchProblem(
                item.portal_id, item.url, "listing", item.status, item.detail, is_listing=True
            )
            self.runs.record_problem(problem, run_id)
            return "listing-failed"
        self.runs.count(run_id, item.portal_id, "listings_ok")
        self.runs.note_adapter(run_id, item.portal_id, item.adapter)
        for url in item.report_links:
            self.db.execute(
                "INSERT INTO pages (url, portal_id, listed_on, last_listed_run) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET listed_on = excluded.listed_on, "
                "last_listed_run = excluded.last_listed_run",
                [url, item.portal_id, item.url, run_id],
            )
        return "listing"

    def _problem(self, item: FetchProblem, run_id: int) -> str:
        self.runs.record_problem(item, run_id)
        if item.is_listing:
            self.runs.count(run_id, item.portal_id, "listings_failed")
        else:
            counter = "gone" if item.kind in GONE_KINDS else "problems"
            self.runs.count(run_id, item.portal_id, counter)
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

    def _page(self, item: PageItem, run_id: int) -> str:
        self.runs.count(run_id, item.portal_id, "pages")
        ex = item.extracted
        if item.unchanged or ex is None:
            return self._unchanged(item, run_id)
        if ex.problem:
            self.runs.count(run_id, item.portal_id, "pages", -1)
            problem = FetchProblem(
                item.portal_id,
                item.url,
                ex.problem,
                item.status,
                ex.reason or ex.title,
                listed_on=item.listed_on,
            )
            return self._problem(problem, run_id)
        fields = {"body_fp": ex.body_fp, "text_sha": ex.text_sha, "is_report": int(ex.is_report)}
        if not ex.is_report:
            self._touch_page(item, run_id, **fields)
            self.runs.count(run_id, item.portal_id, "not_reports")
            return "not-report"
        if item.rendering_of and not self._known(item):
            # A 繁體 rendering stored before the page it renders (their extractions race):
            # keep nothing of it, so the next crawl links it; only the canonical page makes
            # the report.
            self.runs.count(run_id, item.portal_id, "unchanged")
            return "rendering-first"
        report_id, created = self._report_for(item, run_id)
        self._touch_page(item, run_id, report_id=report_id, **fields)
        self.runs.count(run_id, item.portal_id, "reports")
        return self._maybe_version(report_id, item, run_id, created)

    def _unchanged(self, item: PageItem, run_id: int) -> str:
        page = self.reports.page(item.url)
        self._touch_page(item, run_id)
        self.runs.count(run_id, item.portal_id, "unchanged")
        if page and page.report_id:
            self._touch_report(page.report_id, item.url, run_id, item.fetched_at)
            self.runs.count(run_id, item.portal_id, "reports")
        return "unchanged"

    def _known(self, item: PageItem) -> bool:
        """Whether the report a rendering renders is stored (its page, or its own URL)."""
        return bool(
            list(
                self.db.query(
                    "SELECT 1 FROM report_urls WHERE url IN (?, ?) LIMIT 1",
                    [item.url, item.rendering_of],
                )
            )
        )

    def _report_for(self, item: PageItem, run_id: int) -> tuple[int, bool]:
        """Find the report this page renders, or create it. Returns (id, created)."""
        ex = item.extracted
        rows = list(self.db.query("SELECT report_id FROM report_urls WHERE url = ?", [item.url]))
        if rows:
            return rows[0]["report_id"], False
        if item.rendering_of:  # a 繁體 rendering: the report of the page that links it
            rows = list(
                self.db.query(
                    "SELECT report_id FROM report_urls WHERE url = ?", [item.rendering_of]
                )
            )
            if rows:
                self._touch_report(rows[0]["report_id"], item.url, run_id, item.fetched_at)
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
        report = self.reports.get(report_id)
        self._touch_report(report_id, item.url, run_id, item.fetched_at)
        if not created and report.url != item.url:
            return "same"  # only the canonical address makes versions; renderings just count
        ex = item.extracted
        if report.text_sha == ex.text_sha:
            return "same"
        cur = self.db.execute(
            "INSERT INTO versions (report_id, run_id, url, fetched_at, status, headers, "
            "content_type, raw, raw_sha, text, text_sha, body_fp, title, issuer, year, published, "
            "quality) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        if ex.stats is not None:  # read by the extraction worker: detection need not parse it
            Stats(self.db).save(cur.lastrowid, report_id, ex.stats, now_iso())
        self.db.execute(
            "UPDATE reports SET current_version_id = ?, text_sha = ?, title = ?, "
            "year = COALESCE(?, year), published = COALESCE(?, published), "
            "issuer = COALESCE(NULLIF(?, ''), issuer) WHERE id = ?",
            [cur.lastrowid, ex.text_sha, ex.title, ex.year, ex.published, ex.issuer, report_id],
        )
        return "version"
