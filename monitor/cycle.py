"""One crawl cycle: crawl (in a child process) → store → detect events → summary.

A composition root: may import crawler.seeds, monitor.store, monitor.events.diff,
monitor.config. Nothing imports it but the CLI and the scheduler.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crawler.seeds import Seed
from monitor.config import Config
from monitor.events import detect
from monitor.models import Event
from monitor.store import Store
from monitor.store.pipeline import STORE_PIPELINE

logger = logging.getLogger(__name__)
ProgressFn = Callable[[dict], None]


@dataclass
class CrawlResult:
    """What a crawl did. ``status``: ok (every portal healthy), partial (some were not),
    failed (none was, or the crawl process failed). ``exit_code`` is 0 only for ok."""

    run_id: int
    status: str
    portals: list[dict] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    problems: list[dict] = field(default_factory=list)
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
                {k: p[k] for k in ("portal_id", "url", "kind", "status", "detail")}
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


def _pump(stream, on_progress: ProgressFn | None, final: dict) -> None:
    for line in stream:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if "done" in message:
            final.update(message["done"])
        elif on_progress and "progress" in message:
            on_progress(message["progress"])


def _run_child(
    job: dict, workdir: Path, timeout: float, on_progress: ProgressFn | None
) -> tuple[int, dict]:
    job_file = workdir / "job.json"
    job_file.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    final: dict = {}
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(workdir / "child.stderr", "wb") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "crawler.runner", str(job_file)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )
        reader = threading.Thread(
            target=_pump, args=(child.stdout, on_progress, final), daemon=True
        )
        reader.start()
        try:
            code = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            code = -9
            final["timeout"] = timeout
        reader.join(timeout=5)
    return code, final


def crawl(
    config: Config,
    seeds: list[Seed],
    trigger: str = "cli",
    on_progress: ProgressFn | None = None,
    timeout: float = 4 * 3600,
) -> CrawlResult:
    """Crawl ``seeds`` once into ``config.db``, detect events, and judge each portal."""
    store = Store(config.db)
    try:
        portals = [s.to_dict() for s in seeds]
        run_id = store.begin_run(portals, trigger=trigger, pid=os.getpid())
        log_dir = Path(config.db).resolve().parent / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = str(log_dir / f"run-{run_id}.log")
        with tempfile.TemporaryDirectory(prefix="nianbao-") as tmp:
            state_file = Path(tmp) / "fetch_state.json"
            state_file.write_text(
                json.dumps(store.fetch_state([s.id for s in seeds])), encoding="utf-8"
            )
            pipelines = dict(config.settings.get("ITEM_PIPELINES") or {})
            pipelines.update(STORE_PIPELINE)
            pipelines.setdefault("crawler.pipelines.ExtractPipeline", 300)
            settings = dict(config.settings, NIANBAO_PROGRESS=True, ITEM_PIPELINES=pipelines)
            job = {
                "db": str(config.db),
                "run_id": run_id,
                "seeds": portals,
                "settings": settings,
                "fetch_state": str(state_file),
                "log_file": log_file,
            }
            started = time.monotonic()
            code, stats = _run_child(job, Path(tmp), timeout, on_progress)
            stderr_tail = (Path(tmp) / "child.stderr").read_text(errors="replace")[-2000:]
        stats["wall_seconds"] = round(time.monotonic() - started, 2)
        removal_runs = int(config.settings.get("NIANBAO_REMOVAL_RUNS", 2))
        return _finish(store, run_id, code, stats, stderr_tail, log_file, removal_runs)
    finally:
        store.close()


def _finish(
    store: Store,
    run_id: int,
    code: int,
    stats: dict,
    stderr_tail: str,
    log_file: str,
    removal_runs: int,
) -> CrawlResult:
    portals = []
    with store.atomic():
        for row in store.portal_runs(run_id):
            status, detail = portal_health(row)
            store.set_portal_health(run_id, row["portal_id"], status, detail)
            portals.append({**row, "status": status, "detail": detail})
    stopped = stats.get("finish_reason") not in (None, "", "finished")  # memusage, shutdown, ...
    healthy = {p["portal_id"]: code == 0 and not stopped and p["status"] == "ok" for p in portals}
    started = time.monotonic()
    events = detect.detect(store, run_id, healthy, removal_runs)
    stats["detect_seconds"] = round(time.monotonic() - started, 3)
    if code != 0:
        status = "failed"
        detail = f"crawl process exited with {code}" + (
            f": {stderr_tail.strip().splitlines()[-1]}" if stderr_tail.strip() else ""
        )
        logger.error("Run %s: %s", run_id, detail)
    elif stopped:
        status, detail = "failed", f"crawl stopped early: {stats['finish_reason']}"
        logger.error("Run %s: %s", run_id, detail)
    else:
        bad = [p["portal_id"] for p in portals if p["status"] != "ok"]
        status = "ok" if not bad else "failed" if len(bad) == len(portals) else "partial"
        detail = f"portals not healthy: {', '.join(bad)}" if bad else ""
    store.finish_run(run_id, status, stats, detail)
    return CrawlResult(
        run_id, status, portals, events, stats, store.problems(run_id), log_file, detail
    )
