"""Judging a finished crawl: each portal's health, the events, the findings, and the run's
status (``finish``), the same for a local crawl (``monitor.cycle``) and a distributed one
(``monitor.distributed``). ``CrawlResult`` is what the CLI, the daemon and the benchmarks
read back.

A crawl that died, or that the memory or time limit stopped, is judged on nothing: its
portals get no removals, but every version it stored gets its event.

May import: crawler.items, monitor.events, monitor.store, monitor.models, monitor.config.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from crawler.items import DISK_FULL, QUEUE_DAMAGED
from monitor.config import declared, env, is_on
from monitor.events import deadlines, detect, health
from monitor.events.stats import announce_findings
from monitor.models import Event
from monitor.store import Store
from monitor.store.rows import PortalRun, Problem

logger = logging.getLogger(__name__)

LOST_KINDS = ("worker_died",)  # pages no extraction worker could read: the run lost them


@dataclass
class CrawlResult:
    """What a crawl did. ``status``: ok (every portal healthy), partial (some were not),
    failed (none was, or the crawl process failed). ``exit_code`` is 0 only for ok."""

    run_id: int
    status: str
    portals: list[dict] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    log_file: str = ""
    detail: str = ""

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "ok" else 1

    def counts(self) -> dict:
        kinds = [e.kind for e in self.events]
        return {
            "portals_ok": sum(p["status"] == "ok" for p in self.portals),
            "portals_failed": sum(p["status"] != "ok" for p in self.portals),
            "pages_fetched": sum(p["pages"] for p in self.portals),
            "reports_found": sum(p["reports"] for p in self.portals),
            "new": kinds.count("new"),
            "edited": kinds.count("edited"),
            "removed": kinds.count("removed"),
            "moved": kinds.count("moved"),
            "restored": kinds.count("restored"),
            "errors": len(self.problems),
        }

    def to_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "detail": self.detail,
            **self.counts(),
            "portals": self.portals,
            "problems": [
                {k: getattr(p, k) for k in ("portal_id", "url", "kind", "status", "detail")}
                for p in self.problems
            ],
            "events": [e.to_json() for e in self.events],
            "stats": self.stats,
            "log_file": self.log_file,
        }


def portal_health(row: dict) -> tuple[str, str]:
    """Judge one portal's run from its counters: (status, detail).

    >>> portal_health({"listings_ok": 0, "listings_failed": 2, "pages": 0, "problems": 0})
    ('failed', 'no list page could be read (2 failed)')
    >>> portal_health({"listings_ok": 1, "listings_failed": 0, "pages": 1, "problems": 3})
    ('degraded', 'most report fetches failed (3 of 4)')
    >>> portal_health({"listings_ok": 1, "listings_failed": 0, "pages": 9, "problems": 1})
    ('ok', '')
    """
    if row["listings_ok"] == 0:
        return "failed", f"no list page could be read ({row['listings_failed']} failed)"
    tried = row["pages"] + row["problems"]
    if tried and row["problems"] * 2 > tried:
        return "degraded", f"most report fetches failed ({row['problems']} of {tried})"
    return "ok", ""


def finish(
    store: Store,
    run_id: int,
    code: int,
    stats: dict,
    stderr_tail: str,
    log_file: str,
    removal_runs: int,
    mass_removal: float = 0.5,
    findings: bool = True,
) -> CrawlResult:
    """Judge each portal's run, detect the events, record the findings as events
    (``findings``: ``NIANBAO_FINDINGS``), and finish the run."""
    # judged on nothing: a crawl that died, or that the memory limit or the time limit
    # stopped (it may still have shut down cleanly and exited 0, its queue saved)
    ended = code != 0 or stats.get("memory_exceeded") or stats.get("timeout")
    death = died(code, stats, stderr_tail) if ended else None
    portals = []
    with store.atomic():
        listed = store.runs.listed_links(run_id)
        lost = Counter(p.portal_id for p in store.runs.problems(run_id) if p.kind in LOST_KINDS)
        for portal_run in store.runs.portal_runs(run_id):
            row = portal_run.to_json()
            status, detail = death or _judge_health(store, portal_run, listed)
            if not death and lost[portal_run.portal_id] and status == "ok":
                n = lost[portal_run.portal_id]
                status, detail = "degraded", f"{n} page(s) lost: extraction worker died"
            store.runs.set_portal_health(run_id, portal_run.portal_id, status, detail)
            portals.append({**row, "status": status, "detail": detail})
    stopped = stats.get("finish_reason") not in (None, "", "finished")  # memusage, shutdown, ...
    healthy = {p["portal_id"]: code == 0 and not stopped and p["status"] == "ok" for p in portals}
    started = time.monotonic()
    broken = {p["portal_id"]: p["detail"] for p in portals if p["status"] == "broken"}
    events = detect.detect(
        store, run_id, healthy, removal_runs, broken=broken, mass_removal=mass_removal
    )
    stats["detect_seconds"] = round(time.monotonic() - started, 3)
    if findings:  # a kill before this leaves them to the next crawl's (keyed: once each)
        events += record_findings(store, run_id)
    if death:
        status, detail = death
        logger.error("Run %s: %s", run_id, detail)
    elif stats.get("finish_reason") == QUEUE_DAMAGED:
        status = "failed"
        detail = (
            f"the saved queue of the stopped crawl could not be read "
            f"({stats.get('queue_damaged', '')}); `nianbao crawl` crawls these portals afresh"
        )
        logger.error("Run %s: %s", run_id, detail)
    elif stats.get("finish_reason") == DISK_FULL:
        status = "failed"
        detail = f"crawl stopped early: the disk is full ({stats.get('disk_full', '')})"
        logger.error("Run %s: %s", run_id, detail)
    elif stopped:
        status, detail = "failed", f"crawl stopped early: {stats['finish_reason']}"
        logger.error("Run %s: %s", run_id, detail)
    else:
        bad = [p["portal_id"] for p in portals if p["status"] != "ok"]
        status = "ok" if not bad else "failed" if len(bad) == len(portals) else "partial"
        detail = f"portals not healthy: {', '.join(bad)}" if bad else ""
    store.runs.finish(run_id, status, stats, detail)
    return CrawlResult(
        run_id, status, portals, events, stats, store.runs.problems(run_id), log_file, detail
    )


def findings_on(settings: dict) -> bool:
    """``NIANBAO_FINDINGS`` (a bool, or its text from the environment or ``-s``).

    >>> findings_on({}), findings_on({"NIANBAO_FINDINGS": "0"}), findings_on({"NIANBAO_FINDINGS": False})
    (True, False, False)
    """
    return is_on(settings.get("NIANBAO_FINDINGS", declared("NIANBAO_FINDINGS")))


def record_findings(store: Store, run_id: int | None) -> list[Event]:
    """Events for the findings subscribers follow, once each (findings are keyed): every
    stored inconsistent/mismatch finding without an event yet (this crawl's, or those of a
    crawl killed before it got here), and the missing/late reports as of today
    (``NIANBAO_TODAY``, ``NIANBAO_GRACE_DAYS``). One transaction: a kill leaves them all
    to the next crawl."""
    grace, today = env("NIANBAO_GRACE_DAYS"), env("NIANBAO_TODAY")
    try:
        as_of = date.fromisoformat(today) if today else date.today()
        grace = int(grace) if grace else int(declared("NIANBAO_GRACE_DAYS"))  # type: ignore[arg-type]
    except ValueError:
        logger.error(
            "NIANBAO_TODAY=%r or NIANBAO_GRACE_DAYS=%r unreadable: no missing/late findings",
            today,
            grace,
        )
        as_of = None
    with store.immediate():
        events = announce_findings(store, run_id)
        if as_of is not None:
            events += [f["event"] for f in deadlines.record_deadlines(store, as_of, grace, run_id)]
    return [e for e in events if e is not None]


def _judge_health(store: Store, portal_run: PortalRun, listed: dict[str, int]) -> tuple[str, str]:
    """A portal run's health from its counters, then against its last healthy run
    (``broken``, ``monitor.events.health``)."""
    status, detail = portal_health(portal_run.to_json())
    figures = listed.get(portal_run.portal_id, 0)
    return health.judge(store, portal_run, figures, status, detail)


def died(code: int, stats: dict, stderr_tail: str = "") -> tuple[str, str]:
    """How the crawl child ended, when it did not exit 0: (run status, detail). A signal
    makes the run ``interrupted``; an exit code, a timeout or the memory limit ``failed``.

    >>> died(-9, {})
    ('interrupted', 'crawl process died: killed by SIGKILL (-9)')
    >>> died(1, {}, "Traceback ...\\nMemoryError\\n")
    ('failed', 'crawl process died: exit code 1: MemoryError')
    """
    if stats.get("memory_exceeded"):
        return "failed", stats["memory_exceeded"]
    if stats.get("timeout"):
        return "failed", f"crawl process timed out after {stats['timeout']:g} s"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return "interrupted", f"crawl process died: killed by {name} ({code})"
    last = stderr_tail.strip().splitlines()[-1:] if stderr_tail.strip() else []
    return "failed", f"crawl process died: exit code {code}" + "".join(f": {x}" for x in last)
