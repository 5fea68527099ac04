"""One crawl cycle: crawl (in a child process) → store → detect events → summary.

``crawl`` opens the run, hands the crawl process its job (seeds, settings, the fetch state
of the pages already stored, the job dir for ``--resume``), waits for it
(``monitor.children``: the process, its progress, its limits, supervision and ``recover``),
and has the run judged (``monitor.judging``: health, events, findings, the run's status).

After each crawl (``NIANBAO_FINDINGS``, default on), ``record_findings`` turns the findings
on the tables of the versions stored (inconsistent, mismatch: stored by the detector in
the transaction that judges them) and today's missing/late reports into events, once each.

A composition root: may import crawler.seeds, crawler.items, crawler.scratch,
monitor.children, monitor.judging, monitor.crawlhost, monitor.store, monitor.config. Nothing imports it but the CLI, the
daemon and ``monitor.distributed``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

from crawler.items import DISK_FULL, QUEUE_DAMAGED
from crawler.scratch import scratch, sweep
from crawler.seeds import Seed
from monitor import children, judging
from monitor.config import Config, declared
from monitor.crawlhost import CrawlHost, ProgressFn
from monitor.judging import CrawlResult
from monitor.store import Store, is_disk_full
from monitor.store.locks import HOST, start_token

logger = logging.getLogger(__name__)
# the crawl's item pipeline that stores items, by dotted path: importing it here would import
# Scrapy into every command that crawls (the crawl process imports it)
STORE_PIPELINE = {"monitor.store.pipeline.StorePipeline": 800}
JOB_STATE = "nianbao-job.json"  # in a crawl's job dir: the portals and the runs it spans


class NothingToResume(ValueError):
    """``crawl(resume=True)`` for portals with no interrupted crawl to resume."""


def job_dir(db: str | Path, seeds: list[Seed]) -> Path:
    """Where a one-shot crawl of ``seeds`` keeps Scrapy's disk queues and seen-request
    set (``JOBDIR``) and its own state: ``jobs/<db stem>/portals-<hash of the portal ids>``
    next to the database. Removed when the crawl finishes; kept for ``--resume`` when not."""
    ids = "\n".join(sorted(s.id for s in seeds))
    digest = hashlib.sha256(ids.encode("utf-8")).hexdigest()[:16]
    db = Path(db).resolve()
    return db.parent / "jobs" / db.stem / f"portals-{digest}"


def resume_state(db: str | Path, seeds: list[Seed]) -> dict | None:
    """The state of an unfinished crawl of exactly ``seeds`` (``{"portals", "runs"}``:
    the runs it spans, oldest first), or None when there is nothing to resume."""
    try:
        state = json.loads((job_dir(db, seeds) / JOB_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not state.get("runs"):
        return None
    if sorted(state.get("portals") or []) != sorted(s.id for s in seeds):
        return None
    return state


def _write_state(jobdir: Path, state: dict) -> None:
    jobdir.mkdir(parents=True, exist_ok=True)
    tmp = jobdir / (JOB_STATE + ".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, jobdir / JOB_STATE)  # a kill leaves the old state or the new one


def crawl(
    config: Config,
    seeds: list[Seed],
    trigger: str = "cli",
    on_progress: ProgressFn | None = None,
    timeout: float = 4 * 3600,
    host: CrawlHost | None = None,
    resume: bool = False,
) -> CrawlResult:
    """Crawl ``seeds`` once into ``config.db``, detect events, and judge each portal.

    A crawl in a child of its own keeps Scrapy's scheduler queue and seen-request set on
    disk (``JOBDIR`` in ``job_dir``): bounded memory, and a crawl stopped before its end
    (SIGTERM, Ctrl-C, a kill, a reboot) can be resumed: ``resume`` goes on with the same
    job dir (``NothingToResume`` if there is none), in a new run that adopts what the
    runs it continues saw (``Runs.adopt``), so it is judged as one whole crawl.

    With ``host`` (the daemon's), the crawl runs in that long-lived crawl process
    (``monitor.crawlhost``) instead of a new child of its own, without a job dir; it is
    judged the same way.
    """
    jobdir = job_dir(config.db, seeds) if host is None else None
    earlier: list[int] = []
    if resume:
        state = resume_state(config.db, seeds) if jobdir else None
        if state is None:
            raise NothingToResume("no interrupted crawl of these portals to resume")
        earlier = [int(r) for r in state["runs"]]
    store = Store(config.db)
    run_id = 0
    try:
        removal_runs = int(config.settings.get("NIANBAO_REMOVAL_RUNS", 2))
        recovered = children.recover(store, removal_runs)
        sweep()  # the scratch folders of crawls that were killed (crawler.scratch)
        portals = [s.to_dict() for s in seeds]
        if jobdir is not None and not resume and jobdir.exists():
            logger.warning("Discarding the unfinished crawl in %s (not resumed)", jobdir)
            shutil.rmtree(jobdir, ignore_errors=True)
        run_id = store.runs.begin(
            portals, trigger, pid=os.getpid(), host=HOST, pid_token=start_token(os.getpid())
        )
        if jobdir is not None:
            store.runs.adopt(earlier, run_id)
            _write_state(jobdir, {"portals": [s.id for s in seeds], "runs": [*earlier, run_id]})
        log_dir = Path(config.db).resolve().parent / "logs" / Path(config.db).stem  # per database
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = str(log_dir / f"run-{run_id}.log")
        with scratch() as tmp:
            state_file = tmp / "fetch_state.json"
            state_file.write_text(
                json.dumps(store.reports.fetch_state([s.id for s in seeds])), encoding="utf-8"
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
                "parent_pid": os.getpid(),
            }
            if jobdir is not None:
                job["jobdir"] = str(jobdir / "scrapy")
            if earlier:  # after a kill -9 the runner rebuilds the seen set from these
                done = tmp / "done_urls.txt"
                done.write_text(
                    "".join(f"{u}\n" for u in store.runs.fetched_urls(run_id)), encoding="utf-8"
                )
                job["done_urls"] = str(done)
            started = time.monotonic()
            if host is None:
                code, stats = children.run_child(job, tmp, timeout, on_progress)
                stderr_tail = (tmp / "child.stderr").read_text(errors="replace")[-2000:]
            else:
                code, stats, stderr_tail = children.run_on_host(
                    host, job, tmp, timeout, on_progress
                )
        stats["wall_seconds"] = round(time.monotonic() - started, 2)
        if earlier:
            stats["resumed_from"] = earlier
        if jobdir is not None:
            # a full disk: the pages fetched but not stored are in the job dir's seen set,
            # and a resume would skip them (the disk may also have cut its queue short);
            # a queue that cannot be read: nothing to resume from
            ends = ("finished", DISK_FULL, QUEUE_DAMAGED)
            if code == 0 and stats.get("finish_reason") in ends:
                shutil.rmtree(jobdir, ignore_errors=True)
            else:
                stats["resumable"] = True  # `nianbao crawl --resume` goes on from here
        mass = float(config.settings.get("NIANBAO_MASS_REMOVAL", declared("NIANBAO_MASS_REMOVAL")))
        findings = judging.findings_on(config.settings)
        result = judging.finish(
            store, run_id, code, stats, stderr_tail, log_file, removal_runs, mass, findings
        )
        result.events[:0] = recovered.events
        return result
    except BaseException as exc:
        if run_id:
            interrupt(store, run_id, exc)
        if jobdir is not None and is_disk_full(exc):  # nothing worth resuming; its space back
            shutil.rmtree(jobdir, ignore_errors=True)
        raise
    finally:
        store.close()


def interrupt(store: Store, run_id: int, exc: BaseException) -> None:
    """Mark run ``run_id`` interrupted by ``exc`` (unless it has ended); the next run's
    detection judges what it stored. On a full disk this small write still fits, most
    often: SQLite's WAL reuses the frames of the transaction that did not; if it does
    not, ``recover`` marks the run when its process is gone."""
    why = f"the disk is full ({exc})" if is_disk_full(exc) else f"{type(exc).__name__}: {exc}"
    try:
        marked = store.runs.interrupt(run_id, f"crawl stopped: {why}")
    except Exception as error:
        if not is_disk_full(error):
            raise
        marked = False
    if marked:
        logger.error("Run %s stopped: %s; the next run judges what it stored", run_id, why)
