"""Read-only summaries for the web side (issue 11): the coverage grid's cells, each portal's
last run and health (``nianbao status`` and the overview), and the figures ``/metrics`` exports. Each is one grouped query (or a few), never a query per
portal or per cell, so they stay fast with 1,000 portals and 100,000 events.

The web layer builds ``Views(store.db)`` itself; it writes nothing.

May import: monitor.models, monitor.store.base, monitor.store.runs (HISTORY).
"""

from __future__ import annotations

from monitor.models import Event
from monitor.store.base import Part
from monitor.store.runs import HISTORY

RUN_KEYS = (
    "run_id",
    "portal_status",
    "portal_detail",
    "started_at",
    "finished_at",
    "trigger",
    "run_status",
    "run_detail",
)
"""A portal's run as ``Views.recent_runs`` gives it (``portal_runs`` with its ``crawl_runs``)."""

OPEN_INCONSISTENT = (
    "SELECT version_id FROM findings WHERE kind = 'inconsistent' AND partial = 0 "
    "AND version_id IS NOT NULL"
)
"""Versions with a failing (not partial) identity check: a report whose current version is
one of them has an open ``inconsistent`` finding."""


class Views(Part):
    """Grouped reads for the coverage grid and the metrics."""

    def coverage_cells(self, region: str | None = None) -> list[dict]:
        """One row per (portal, issuer, region, year) with reports.

        Keys: portal_id, issuer (the portal id when unknown), region, year, reports (all,
        removed too), live (not removed), report_id (the lowest live one, else the lowest),
        published (the earliest published date of the live ones), first_seen (the earliest,
        of the live ones; of all when every one is removed), inconsistent (live reports
        whose current version has an open inconsistent finding). ``region`` keeps issuers
        whose region contains it.
        """
        where = "WHERE year IS NOT NULL" + (" AND instr(region, ?) > 0" if region else "")
        sql = (
            "SELECT portal_id, COALESCE(NULLIF(issuer, ''), portal_id) AS issuer, "
            "COALESCE(region, '') AS region, year, COUNT(*) AS reports, "
            "SUM(status != 'removed') AS live, "
            "COALESCE(MIN(CASE WHEN status != 'removed' THEN id END), MIN(id)) AS report_id, "
            "MIN(CASE WHEN status != 'removed' THEN published END) AS published, "
            "COALESCE(MIN(CASE WHEN status != 'removed' THEN first_seen END), MIN(first_seen)) "
            "AS first_seen, "
            f"SUM(status != 'removed' AND current_version_id IN ({OPEN_INCONSISTENT})) "
            "AS inconsistent "
            f"FROM reports {where} GROUP BY portal_id, 2, 3, year ORDER BY 3, 2, portal_id, year"
        )
        return list(self.db.query(sql, [region] if region else []))

    def report_events(self, report_id: int) -> list[Event]:
        """One report's events, newest first (not every event, filtered in Python)."""
        rows = self.db.query(
            "SELECT * FROM events WHERE report_id = ? ORDER BY detected_at DESC, id DESC",
            [report_id],
        )
        return [Event.from_row(r) for r in rows]

    # ---- nianbao status, the overview --------------------------------------------

    def recent_runs(self, history: int = HISTORY) -> dict[str, list[dict]]:
        """Per known portal (by id), its latest ``history`` runs, newest first: what its
        health is judged from. Each a dict of ``RUN_KEYS``.

        The portal rows are read in the primary key's order (newest run first, no sort,
        no join: the crawl runs, a few hundred rows, are read once into a dict) and the
        read stops as soon as every portal has ``history`` runs, so the cost follows the
        portals and the history, not every run ever recorded."""
        crawl = {
            r[0]: r[1:]
            for r in self.db.execute(
                "SELECT id, started_at, finished_at, trigger, status, detail FROM crawl_runs"
            )
        }
        out: dict[str, list[dict]] = {
            r[0]: [] for r in self.db.execute("SELECT id FROM portals ORDER BY id")
        }
        waiting = len(out)
        cursor = self.db.execute(
            "SELECT portal_id, run_id, status, detail FROM portal_runs ORDER BY run_id DESC"
        )
        try:
            while waiting:
                batch = cursor.fetchmany(2000)
                if not batch:
                    break
                for portal_id, run_id, status, detail in batch:
                    runs = out.get(portal_id)
                    if runs is not None and len(runs) < history and run_id in crawl:
                        runs.append(dict(zip(RUN_KEYS, (run_id, status, detail, *crawl[run_id]))))
                        waiting -= len(runs) == history
        finally:
            cursor.close()
        return out

    def version(self, counter: str) -> int:
        """A number that changes whenever what a reader reads changes (migration m013's
        triggers): ``runs`` for ``recent_runs`` (runs started, finished or judged,
        portals added or removed), ``coverage`` for ``coverage_cells`` (reports added,
        removed or changed in a column the grid shows, findings)."""
        row = self.db.execute("SELECT n FROM change_counts WHERE name = ?", [counter]).fetchone()
        return row[0] if row else -1

    # ---- /metrics -----------------------------------------------------------------

    def metric_figures(self) -> dict:
        """Everything ``/metrics`` exports, read now.

        Keys: runs ({status: n}), pages (report pages fetched, all runs), events ({kind:
        n}), outbox ({"subscribers": pending deliveries, "operator": pending operator
        mails}), last_success ({portal_id: finished_at of its last ok or degraded run}),
        findings ({kind: open findings}: inconsistent on a current version, missing with
        still no report for the issuer and year, late ones all), heartbeat (the newest
        heartbeat of a daemon not stopped, or None).
        """
        one = self._one_value
        return {
            "runs": self._pairs("SELECT status, COUNT(*) FROM crawl_runs GROUP BY status"),
            "pages": one("SELECT COALESCE(SUM(pages), 0) FROM portal_runs") or 0,
            "events": self._pairs("SELECT kind, COUNT(*) FROM events GROUP BY kind"),
            "outbox": {
                "subscribers": one("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'"),
                "operator": one("SELECT COUNT(*) FROM operator_mails WHERE status = 'pending'"),
            },
            "last_success": self._pairs(
                "SELECT pr.portal_id, MAX(cr.finished_at) FROM portal_runs pr "
                "JOIN crawl_runs cr ON cr.id = pr.run_id "
                "WHERE pr.status IN ('ok', 'degraded') AND cr.finished_at IS NOT NULL "
                "GROUP BY pr.portal_id"
            ),
            "findings": self._pairs(
                "SELECT f.kind, COUNT(*) FROM findings f "
                "LEFT JOIN reports r ON r.id = f.report_id WHERE "
                "(f.kind = 'inconsistent' AND f.partial = 0 "
                " AND f.version_id = r.current_version_id) "
                "OR (f.kind = 'missing' AND (f.issuer, f.year) NOT IN "
                "    (SELECT issuer, year FROM reports WHERE year IS NOT NULL "
                "     AND issuer IS NOT NULL)) "
                "OR f.kind NOT IN ('inconsistent', 'missing') "
                "GROUP BY f.kind"
            ),
            "heartbeat": one("SELECT MAX(heartbeat_at) FROM daemon WHERE stopped_at IS NULL"),
        }

    def _pairs(self, sql: str) -> dict:
        return {row[0]: row[1] for row in self.db.execute(sql).fetchall()}

    def _one_value(self, sql: str) -> object:
        row = self.db.execute(sql).fetchone()
        return row[0] if row else None
