"""Reports and what they are made of: ``reports``, ``report_urls``, ``pages`` (fetch state
per URL) and ``versions`` (every distinct text of a report, raw bytes zlib-compressed).

Writes here are the detector's (``update``, ``merge``); ``monitor.store.ingest`` writes
what a crawl saw. Batch reads (``*_by_id``, ``pages_by_url``, ...) take many keys in one
query, so the detector never runs a query per report.

May import: monitor.store.base, monitor.store.rows.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from monitor.store.base import IN_JSON, Part, json_list
from monitor.store.rows import HeldRemoval, HistoryEntry, Page, Report, ReportSummary, Version

RUN_VERSION_COLUMNS = "id, report_id, url, text, text_sha, title, issuer, year, quality"


class Reports(Part):
    """Reports, their addresses, pages and versions."""

    # ---- one report ------------------------------------------------------------

    def get(self, report_id: int) -> Report | None:
        return self._one(Report, "SELECT * FROM reports WHERE id = ?", [report_id])

    def find(self, ref: str) -> Report | None:
        """A report by id or by any URL it was seen at."""
        if ref.isdigit():
            return self.get(int(ref))
        return self._one(
            Report,
            "SELECT r.* FROM report_urls u JOIN reports r ON r.id = u.report_id WHERE u.url = ?",
            [ref],
        )

    def summaries(self, portal_id: str | None = None) -> list[ReportSummary]:
        """Every report (or one portal's) with its number of versions."""
        where = "WHERE r.portal_id = ?" if portal_id else ""
        return self._all(
            ReportSummary,
            "SELECT r.id, r.portal_id, r.url, r.title, r.issuer, r.region, r.year, r.published, "
            "r.status, r.first_seen, r.last_seen, COUNT(v.id) AS versions FROM reports r "
            f"LEFT JOIN versions v ON v.report_id = r.id {where} GROUP BY r.id "
            "ORDER BY r.portal_id, r.year DESC, r.id",
            [portal_id] if portal_id else [],
        )

    def update(self, report_id: int, **fields: object) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE reports SET {cols} WHERE id = ?", [*fields.values(), report_id])

    def merge(self, src: int, dst: int) -> None:
        """Fold report ``src`` (just created) into ``dst``: its versions, URLs and pages."""
        for table in ("versions", "report_urls", "pages"):
            self.db.execute(f"UPDATE {table} SET report_id = ? WHERE report_id = ?", [dst, src])
        self.db.execute("DELETE FROM reports WHERE id = ?", [src])

    # ---- many reports at once (the detector) -----------------------------------

    def by_id(self, ids: Iterable[int]) -> dict[int, Report]:
        rows = self._all(Report, f"SELECT * FROM reports WHERE id IN {IN_JSON}", [json_list(ids)])
        return {r.id: r for r in rows}

    def in_portals(self, portal_ids: Iterable[str], status: str = "active") -> list[Report]:
        """Reports of these portals in ``status``, by portal and id."""
        return self._all(
            Report,
            f"SELECT * FROM reports WHERE portal_id IN {IN_JSON} AND status = ? "
            "ORDER BY portal_id, id",
            [json_list(portal_ids), status],
        )

    def move_candidates(self, report_ids: Iterable[int], run_id: int) -> dict[int, list[Report]]:
        """Per report: the other active reports of its portal, issuer and year whose address
        was not fetched successfully in ``run_id`` (a move's old self), by id."""
        rows = self.db.query(
            "SELECT n.id AS for_id, r.* FROM reports n JOIN reports r ON r.portal_id = n.portal_id "
            "AND r.status = 'active' AND r.id != n.id AND r.year IS n.year AND r.issuer IS n.issuer "
            "LEFT JOIN pages p ON p.url = r.url "
            f"WHERE n.id IN {IN_JSON} AND p.last_ok_run IS NOT ? ORDER BY n.id, r.id",
            [json_list(report_ids), run_id],
        )
        out: dict[int, list[Report]] = {}
        for r in rows:
            out.setdefault(r["for_id"], []).append(Report.from_row(r))
        return out

    # ---- pages -----------------------------------------------------------------

    def page(self, url: str) -> Page | None:
        """Fetch state of one URL (the ``pages`` row), or None."""
        return self._one(Page, "SELECT * FROM pages WHERE url = ?", [url])

    def pages_by_url(self, urls: Iterable[str]) -> dict[str, Page]:
        rows = self._all(Page, f"SELECT * FROM pages WHERE url IN {IN_JSON}", [json_list(urls)])
        return {p.url: p for p in rows}

    def seen_urls(self, run_id: int) -> dict[int, list[str]]:
        """Per report: the URLs at which it was fetched successfully in this run (listed first)."""
        rows = self.db.query(
            "SELECT report_id, url FROM pages WHERE last_ok_run = ? AND report_id IS NOT NULL "
            "ORDER BY report_id, (last_listed_run = ?) DESC, url",
            [run_id, run_id],
        )
        out: dict[int, list[str]] = {}
        for r in rows:
            out.setdefault(r["report_id"], []).append(r["url"])
        return out

    def fetch_state(self, portal_ids: list[str]) -> dict[str, dict]:
        """Per URL: validators and hashes of the last good fetch (for conditional requests
        and skipping unchanged bodies). Only URLs whose last good fetch is known."""
        rows = self.db.query(
            "SELECT p.url, p.portal_id, p.etag, p.last_modified, p.raw_sha, p.body_fp, "
            "(r.id IS NOT NULL) AS revisit FROM pages p "
            "LEFT JOIN reports r ON r.url = p.url AND r.status = 'active' "
            f"WHERE p.portal_id IN {IN_JSON} AND p.last_ok_at IS NOT NULL "
            "AND p.text_sha IS NOT NULL",
            [json_list(portal_ids)],
        )
        return {r.pop("url"): r for r in rows}

    # ---- versions --------------------------------------------------------------

    def version(self, version_id: int, raw: bool = False) -> Version | None:
        """One version; ``raw`` decompresses the fetched bytes (else ``raw`` is None)."""
        found = self._one(Version, "SELECT * FROM versions WHERE id = ?", [version_id])
        if found is not None:
            found.raw = zlib.decompress(found.raw) if raw and found.raw else None
        return found

    def versions_by_id(self, ids: Iterable[int]) -> dict[int, Version]:
        """Versions without their raw bytes."""
        rows = self._all(
            Version,
            f"SELECT {RUN_VERSION_COLUMNS} FROM versions WHERE id IN {IN_JSON}",
            [json_list(ids)],
        )
        return {v.id: v for v in rows}

    def versions_in_run(self, run_id: int) -> list[Version]:
        """The versions a run created, oldest first (without raw bytes)."""
        return self._all(
            Version,
            f"SELECT {RUN_VERSION_COLUMNS} FROM versions WHERE run_id = ? ORDER BY id",
            [run_id],
        )

    def previous_ids(self, run_id: int) -> dict[int, int]:
        """Per version created in the run: the id of its report's version before it."""
        rows = self.db.query(
            "SELECT v.id, (SELECT MAX(p.id) FROM versions p WHERE p.report_id = v.report_id "
            "AND p.id < v.id) AS prev FROM versions v WHERE v.run_id = ?",
            [run_id],
        )
        return {r["id"]: r["prev"] for r in rows if r["prev"] is not None}

    def unjudged_versions(self, run_id: int, limit: int | None = None) -> list[Version]:
        """The versions no detection has judged yet, oldest first (without raw bytes): this
        run's, and those of runs that are over (finished, failed, interrupted); never those
        of another run still going, whose own detection will judge them. ``limit``: the
        oldest that many."""
        cols = ", ".join(f"v.{c.strip()}" for c in RUN_VERSION_COLUMNS.split(","))
        return self._all(
            Version,
            f"SELECT {cols}, v.run_id FROM versions v LEFT JOIN crawl_runs r ON r.id = v.run_id "
            "WHERE v.judged_run IS NULL AND (v.run_id IS ? OR r.status IS NOT 'running') "
            "ORDER BY v.id LIMIT ?",
            [run_id, -1 if limit is None else limit],
        )

    def previous_ids_of(self, version_ids: Iterable[int]) -> dict[int, int]:
        """Per version: the id of its report's version before it (versions with none left out)."""
        rows = self.db.query(
            "SELECT v.id, (SELECT MAX(p.id) FROM versions p WHERE p.report_id = v.report_id "
            f"AND p.id < v.id) AS prev FROM versions v WHERE v.id IN {IN_JSON}",
            [json_list(version_ids)],
        )
        return {r["id"]: r["prev"] for r in rows if r["prev"] is not None}

    def mark_judged(self, version_ids: Iterable[int], run_id: int) -> None:
        """Record that the detection of ``run_id`` judged these versions (the caller holds
        the transaction that records their events)."""
        self.db.execute(
            f"UPDATE versions SET judged_run = ? WHERE id IN {IN_JSON}",
            [run_id, json_list(version_ids)],
        )

    def previous_version(self, report_id: int, before_id: int) -> Version | None:
        return self._one(
            Version,
            "SELECT id, url, text, text_sha, quality FROM versions WHERE report_id = ? AND id < ? "
            "ORDER BY id DESC LIMIT 1",
            [report_id, before_id],
        )

    def history(self, report_id: int) -> list[HistoryEntry]:
        return self._all(
            HistoryEntry,
            "SELECT id, run_id, url, fetched_at, status, text_sha, raw_sha, quality, "
            "length(text) AS chars FROM versions WHERE report_id = ? ORDER BY id",
            [report_id],
        )

    # ---- removals held as suspect (issue 13) -------------------------------------

    def hold(self, reports: Iterable[Report], run_id: int, reason: str, at: str) -> None:
        """Hold these reports' removals as ``suspect`` (kept if already held)."""
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO held_removals (report_id, portal_id, run_id, held_at, reason) "
            "VALUES (?, ?, ?, ?, ?)",
            [(r.id, r.portal_id, run_id, at, reason) for r in reports],
        )

    def held(self, portal_id: str | None = None) -> list[HeldRemoval]:
        """Held removals (of one portal, or all), with their reports' address and title."""
        where = "WHERE h.portal_id = ?" if portal_id else ""
        return self._all(
            HeldRemoval,
            "SELECT h.*, r.url, r.title, r.year FROM held_removals h JOIN reports r "
            f"ON r.id = h.report_id {where} ORDER BY h.portal_id, h.report_id",
            [portal_id] if portal_id else [],
        )

    def held_counts(self) -> dict[str, int]:
        """Per portal: how many removals are held."""
        rows = self.db.query(
            "SELECT portal_id, COUNT(*) AS n FROM held_removals GROUP BY portal_id"
        )
        return {r["portal_id"]: r["n"] for r in rows}

    def count_held_run(self, report_ids: Iterable[int]) -> None:
        """One more healthy run on which these held reports were still gone."""
        self.db.execute(
            f"UPDATE held_removals SET healthy_runs = healthy_runs + 1 WHERE report_id IN {IN_JSON}",
            [json_list(report_ids)],
        )

    def release(self, report_ids: Iterable[int]) -> int:
        """Drop these holds (confirmed, dismissed, or the report is back); returns how many."""
        cur = self.db.execute(
            f"DELETE FROM held_removals WHERE report_id IN {IN_JSON}", [json_list(report_ids)]
        )
        return cur.rowcount

    # ---- for the web pages (issue 11) --------------------------------------------

    def count_by_year(self) -> dict[int | None, int]:
        """Reports still published (not removed), per year, newest year first."""
        rows = self.db.query(
            "SELECT year, COUNT(*) AS n FROM reports WHERE status != 'removed' "
            "GROUP BY year ORDER BY year DESC"
        )
        return {r["year"]: r["n"] for r in rows}

    def coverage(self, region: str | None = None) -> list[dict]:
        """Per (portal, issuer, year): the reports found and how many are still published;
        ``region`` keeps issuers whose region contains it. Keys: portal_id, issuer, region,
        year, reports, published, report_id (the lowest)."""
        where = "WHERE instr(region, ?) > 0" if region else ""
        return list(
            self.db.query(
                "SELECT portal_id, COALESCE(NULLIF(issuer, ''), portal_id) AS issuer, region, year, "
                "COUNT(*) AS reports, SUM(status != 'removed') AS published, MIN(id) AS report_id "
                f"FROM reports {where} GROUP BY portal_id, 2, region, year "
                "ORDER BY region, 2, year",
                [region] if region else [],
            )
        )
