"""Crawl runs and what they saw per portal: ``portals``, ``crawl_runs``, ``portal_runs``
and ``problems`` (fetches that gave no content).

May import: monitor.store.base, monitor.store.rows, monitor.models.
"""

from __future__ import annotations

import json

from crawler.items import FetchProblem
from monitor.models import now_iso
from monitor.store.base import Part
from monitor.store.rows import PortalRecentRun, PortalRun, Problem, Run

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
GONE_KINDS = ("not_found", "soft404")  # the page is gone: evidence for removal, not a failure
HISTORY = 30  # portal runs looked at per portal for "consecutive failures"


class Runs(Part):
    """Portals, crawl runs, per-portal counters and health, fetch problems."""

    def upsert_portals(self, portals: list[dict]) -> None:
        """Record the portals a crawl covers (seed dicts)."""
        with self.db.atomic():
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

    def begin(
        self,
        portals: list[dict],
        trigger: str = "cli",
        pid: int | None = None,
        host: str | None = None,
        pid_token: str | None = None,
    ) -> int:
        """Create a crawl run over ``portals`` (seed dicts) and return its id.

        Args:
            pid, host, pid_token: the process that runs the crawl (``recover`` checks it).
        """
        self.upsert_portals(portals)
        with self.db.atomic():
            cur = self.db.execute(
                "INSERT INTO crawl_runs (started_at, status, trigger, portals, pid, host, "
                "pid_token) VALUES (?, 'running', ?, ?, ?, ?, ?)",
                [now_iso(), trigger, json.dumps([p["id"] for p in portals]), pid, host, pid_token],
            )
            run_id = cur.lastrowid
            for p in portals:
                self.db.execute(
                    "INSERT INTO portal_runs (run_id, portal_id) VALUES (?, ?)", [run_id, p["id"]]
                )
        return run_id

    def finish(self, run_id: int, status: str, stats: dict | None = None, detail: str = "") -> None:
        with self.db.atomic():
            self.db.execute(
                "UPDATE crawl_runs SET finished_at = ?, status = ?, stats = ?, detail = ? WHERE id = ?",
                [now_iso(), status, json.dumps(stats or {}, ensure_ascii=False), detail, run_id],
            )

    def adopt(self, earlier: list[int], run_id: int) -> None:
        """Make ``run_id`` the continuation of the ``earlier`` runs it resumes (``nianbao
        crawl --resume``): what they saw of the run's portals counts as seen by this run
        (pages fetched and listed, reports seen), their problems are copied to it and their
        counters added to its own, so it is judged as one whole crawl; a report the earlier
        part fetched is never missing from it. The earlier runs keep their own rows and
        counters (their pages' ``last_*_run`` now name this run)."""
        if not earlier:
            return
        marks = ", ".join("?" * len(earlier))
        portals = self.portal_ids(run_id)
        in_portals = ", ".join("?" * len(portals))
        with self.db.atomic():
            for column in ("last_ok_run", "last_listed_run", "last_run_id"):
                self.db.execute(
                    f"UPDATE pages SET {column} = ? WHERE {column} IN ({marks}) "
                    f"AND portal_id IN ({in_portals})",
                    [run_id, *earlier, *portals],
                )
            self.db.execute(
                f"UPDATE reports SET last_seen_run = ? WHERE last_seen_run IN ({marks}) "
                f"AND portal_id IN ({in_portals})",
                [run_id, *earlier, *portals],
            )
            self.db.execute(
                "INSERT INTO problems (run_id, portal_id, url, kind, status, detail, at, "
                "listed_on, is_listing) SELECT ?, portal_id, url, kind, status, detail, at, "
                f"listed_on, is_listing FROM problems WHERE run_id IN ({marks}) "
                f"AND portal_id IN ({in_portals}) ORDER BY id",
                [run_id, *earlier, *portals],
            )
            sums = ", ".join(
                f"{c} = {c} + (SELECT COALESCE(SUM(e.{c}), 0) FROM portal_runs e WHERE "
                f"e.portal_id = portal_runs.portal_id AND e.run_id IN ({marks}))"
                for c in COUNTERS
            )
            self.db.execute(
                f"UPDATE portal_runs SET {sums}, adapter = COALESCE(adapter, (SELECT e.adapter "
                f"FROM portal_runs e WHERE e.portal_id = portal_runs.portal_id AND e.run_id IN "
                f"({marks}) AND e.adapter IS NOT NULL ORDER BY e.run_id DESC LIMIT 1)) "
                "WHERE run_id = ?",
                [*(x for _ in COUNTERS for x in earlier), *earlier, run_id],
            )

    def fetched_urls(self, run_id: int) -> list[str]:
        """The pages fetched in this run (stored, or answered with a problem)."""
        rows = self.db.query("SELECT url FROM pages WHERE last_run_id = ? ORDER BY url", [run_id])
        return [r["url"] for r in rows]

    def set_child(self, run_id: int, pid: int, token: str | None) -> None:
        """Record the run's crawl child process (pid and start-time token)."""
        self.db.execute(
            "UPDATE crawl_runs SET child_pid = ?, child_token = ? WHERE id = ?",
            [pid, token, run_id],
        )

    def running(self) -> list[Run]:
        """Runs still marked ``running``, oldest first."""
        return self._all(Run, "SELECT * FROM crawl_runs WHERE status = 'running' ORDER BY id")

    def interrupt(self, run_id: int, detail: str) -> bool:
        """Mark a running run ``interrupted`` (its process is gone), each unjudged portal too;
        False when it was no longer running."""
        with self.db.atomic():
            cur = self.db.execute(
                "UPDATE crawl_runs SET finished_at = ?, status = 'interrupted', detail = ? "
                "WHERE id = ? AND status = 'running'",
                [now_iso(), detail, run_id],
            )
            self.db.execute(
                "UPDATE portal_runs SET status = 'interrupted', detail = ? "
                "WHERE run_id = ? AND status IS NULL",
                [detail, run_id],
            )
        return cur.rowcount == 1

    def latest(self, limit: int = 20) -> list[Run]:
        """The latest runs, newest first."""
        return self._all(Run, "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT ?", [limit])

    def set_portal_health(self, run_id: int, portal_id: str, status: str, detail: str = "") -> None:
        self.db.execute(
            "UPDATE portal_runs SET status = ?, detail = ? WHERE run_id = ? AND portal_id = ?",
            [status, detail, run_id, portal_id],
        )

    def count(self, run_id: int, portal_id: str, counter: str, n: int = 1) -> None:
        """Add ``n`` to one of a portal run's ``COUNTERS``."""
        assert counter in COUNTERS
        self.db.execute(
            f"UPDATE portal_runs SET {counter} = {counter} + ? WHERE run_id = ? AND portal_id = ?",
            [n, run_id, portal_id],
        )

    def get(self, run_id: int) -> Run | None:
        return self._one(Run, "SELECT * FROM crawl_runs WHERE id = ?", [run_id])

    def portal_ids(self, run_id: int) -> list[str]:
        """The portals a run covers, sorted."""
        rows = self.db.query(
            "SELECT portal_id FROM portal_runs WHERE run_id = ? ORDER BY portal_id", [run_id]
        )
        return [r["portal_id"] for r in rows]

    def portal_runs(self, run_id: int) -> list[PortalRun]:
        """Each portal's part of a run, with the distinct reports it saw."""
        rows = self.db.query(
            "SELECT pr.*, p.name, pr.reports AS report_pages, (SELECT COUNT(DISTINCT pg.report_id) "
            "FROM pages pg WHERE pg.last_ok_run = pr.run_id AND pg.portal_id = pr.portal_id "
            "AND pg.report_id IS NOT NULL) AS reports_seen FROM portal_runs pr "
            "LEFT JOIN portals p ON p.id = pr.portal_id WHERE run_id = ? ORDER BY portal_id",
            [run_id],
        )
        return [PortalRun.from_row({**r, "reports": r["reports_seen"]}) for r in rows]

    def record_problem(self, item: FetchProblem, run_id: int) -> None:
        self.db.execute(
            "INSERT INTO problems (run_id, portal_id, url, kind, status, detail, at, listed_on, "
            "is_listing) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

    def problems(self, run_id: int) -> list[Problem]:
        return self._all(Problem, "SELECT * FROM problems WHERE run_id = ? ORDER BY id", [run_id])

    def gone_urls(self, run_id: int) -> set[str]:
        """URLs found gone (404/410/soft 404) in this run."""
        rows = self.db.query(
            f"SELECT url FROM problems WHERE run_id = ? AND kind IN ({', '.join('?' * len(GONE_KINDS))})",
            [run_id, *GONE_KINDS],
        )
        return {r["url"] for r in rows}

    def recent_by_portal(self) -> dict[str, list[PortalRecentRun]]:
        """Per portal (every known one), its latest runs, newest first (at most ``HISTORY``)."""
        out: dict[str, list[PortalRecentRun]] = {
            r["id"]: [] for r in self.db.query("SELECT id FROM portals ORDER BY id")
        }
        rows = self.db.query(
            "SELECT * FROM (SELECT pr.portal_id, pr.run_id, pr.status AS portal_status, "
            "pr.detail AS portal_detail, pr.pages, pr.reports, pr.problems, cr.started_at, "
            "cr.finished_at, cr.trigger, cr.status AS run_status, cr.detail AS run_detail, "
            "ROW_NUMBER() OVER (PARTITION BY pr.portal_id ORDER BY pr.run_id DESC) AS n "
            "FROM portal_runs pr JOIN crawl_runs cr ON cr.id = pr.run_id) "
            "WHERE n <= ? ORDER BY portal_id, run_id DESC",
            [HISTORY],
        )
        for r in rows:
            if r["portal_id"] in out:
                out[r["portal_id"]].append(PortalRecentRun.from_row(r))
        return out

    # ---- what a portal yields, for its health (issue 13) -----------------------

    def note_adapter(self, run_id: int, portal_id: str, adapter: str) -> None:
        """Record the list adapter that read a portal's list page (a specific one wins
        over ``generic``)."""
        if adapter:
            self.db.execute(
                "UPDATE portal_runs SET adapter = ? WHERE run_id = ? AND portal_id = ? "
                "AND (adapter IS NULL OR adapter = 'generic')",
                [adapter, run_id, portal_id],
            )

    def set_figures(self, run_id: int, portal_id: str, listed: int, found: int) -> None:
        """Store what the run yielded: report links listed, distinct reports fetched."""
        self.db.execute(
            "UPDATE portal_runs SET listed = ?, found = ? WHERE run_id = ? AND portal_id = ?",
            [listed, found, run_id, portal_id],
        )

    def listed_links(self, run_id: int) -> dict[str, int]:
        """Per portal: report links its list pages gave in this run."""
        rows = self.db.query(
            "SELECT portal_id, COUNT(*) AS n FROM pages WHERE last_listed_run = ? GROUP BY portal_id",
            [run_id],
        )
        return {r["portal_id"]: r["n"] for r in rows}

    def last_healthy(self, portal_id: str, before_run: int) -> PortalRun | None:
        """The portal's latest ``ok`` run before ``before_run`` (``found`` falls back to the
        report pages counted, for runs stored before the figures were)."""
        rows = self.db.query(
            "SELECT *, COALESCE(found, reports) AS found FROM portal_runs WHERE portal_id = ? "
            "AND run_id < ? AND status = 'ok' ORDER BY run_id DESC LIMIT 1",
            [portal_id, before_run],
        )
        return next((PortalRun.from_row(r) for r in rows), None)

    def landings(self, run_id: int, portal_id: str) -> tuple[int, list[str]]:
        """For report links that may all redirect to one page: (listed links that answered at
        their own address, non-list addresses that answered but were not listed)."""
        answered = self.db.query(
            "SELECT COUNT(*) AS n FROM pages p WHERE p.portal_id = ? AND p.last_listed_run = ? "
            "AND (p.last_ok_run = ? OR EXISTS (SELECT 1 FROM problems q WHERE q.run_id = ? "
            "AND q.url = p.url))",
            [portal_id, run_id, run_id, run_id],
        )
        others = self.db.query(
            "SELECT url FROM pages WHERE portal_id = ? AND last_ok_run = ? AND "
            "(last_listed_run IS NOT ? OR last_listed_run IS NULL) UNION SELECT url FROM problems "
            "WHERE run_id = ? AND portal_id = ? AND NOT COALESCE(is_listing, 0) AND url NOT IN "
            "(SELECT url FROM pages WHERE last_listed_run = ?)",
            [portal_id, run_id, run_id, run_id, portal_id, run_id],
        )
        return next(iter(answered))["n"], sorted(r["url"] for r in others)

    def names(self) -> dict[str, str]:
        """Portal id → name."""
        return {r["id"]: r["name"] for r in self.db.query("SELECT id, name FROM portals")}

    # ---- for the web pages (issue 11) --------------------------------------------

    def portal(self, portal_id: str) -> dict | None:
        """One ``portals`` row (id, name, region, file, cms, start_urls as a list), or None."""
        rows = list(self.db.query("SELECT * FROM portals WHERE id = ?", [portal_id]))
        if not rows:
            return None
        return {**rows[0], "start_urls": json.loads(rows[0]["start_urls"] or "[]")}

    def portal_problems(self, portal_id: str, limit: int = 50, offset: int = 0) -> list[Problem]:
        """A portal's fetch problems, newest first."""
        return self._all(
            Problem,
            "SELECT * FROM problems WHERE portal_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            [portal_id, limit, offset],
        )
