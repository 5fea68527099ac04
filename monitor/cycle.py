"""One crawl cycle: crawl (in a child process) → store → detect events → summary.

Supervision: the crawl child dies with this process (``crawler.runner`` asks for a
parent-death signal); its ``Popen`` handle is kept here (``stop_children``); the run
records both processes (pid, host, start-time token). ``recover(store)`` (at the start of
every crawl, and at daemon start) marks runs whose process is gone ``interrupted`` and
judges the versions they stored, so no event is lost to a crash.

After each crawl (``NIANBAO_FINDINGS``, default on), ``record_findings`` turns the findings
on the tables of the versions stored (inconsistent, mismatch: stored by the detector in
the transaction that judges them) and today's missing/late reports into events, once each.

A composition root: may import crawler.seeds, monitor.store, monitor.events,
monitor.config. Nothing imports it but the CLI and the scheduler.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from crawler.seeds import Seed
from monitor import standby
from monitor.config import Config, declared, env, is_on
from monitor.crawlhost import CrawlHost, CrawlHosts, read_message
from monitor.events import deadlines, detect, health
from monitor.events.stats import announce_findings
from monitor.models import Event
from monitor.proctree import Watchdog, terminate_tree
from monitor.store import DISK_FULL, Store, is_disk_full
from monitor.store.locks import HOST, process_alive, start_token
from monitor.store.rows import PortalRun, Problem

logger = logging.getLogger(__name__)
# the crawl's item pipeline that stores items, by dotted path: importing it here would import
# Scrapy into every command that crawls (the crawl process imports it)
STORE_PIPELINE = {"monitor.store.pipeline.StorePipeline": 800}
ProgressFn = Callable[[dict], None]


LOST_KINDS = ("worker_died",)  # pages no extraction worker could read: the run lost them
JOB_STATE = "nianbao-job.json"  # in a crawl's job dir: the portals and the runs it spans
STOP_GRACE = 30.0  # seconds an interrupted crawl child gets to save its queue (JOBDIR)


class Stopped(BaseException):
    """Raised in the crawling process on SIGTERM (the CLI installs the handler): the
    crawl child is asked to stop once, gets ``STOP_GRACE`` seconds to save its job dir,
    and the run is ``interrupted``; ``nianbao crawl --resume`` goes on from there."""


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


def _pump(stream, on_progress: ProgressFn | None, final: dict) -> None:
    for line in stream:
        read_message(line, final, on_progress)


def _run_child(
    job: dict, workdir: Path, timeout: float, on_progress: ProgressFn | None
) -> tuple[int, dict]:
    job_file = workdir / "job.json"
    job_file.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    final: dict = {}
    child, standby_err = _start_child(job_file, workdir / "child.stderr")
    final["standby"] = standby_err is not None  # started with the CLI (monitor.standby)
    try:
        _adopt(child, job)
        reader = threading.Thread(
            target=_pump, args=(child.stdout, on_progress, final), daemon=True
        )
        reader.start()
        # the memory limit covers the crawl and its extraction workers (monitor.proctree)
        limit = job["settings"].get("NIANBAO_MEMORY_LIMIT_MB", declared("NIANBAO_MEMORY_LIMIT_MB"))
        with Watchdog(child.pid, float(limit)) as watchdog:
            try:
                code = child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                terminate_tree(child.pid, grace=20)
                code = child.wait()
                final["timeout"] = timeout
            except (KeyboardInterrupt, Stopped):
                _stop_gracefully(child)
                raise
        if watchdog.tripped:
            final["memory_exceeded"] = watchdog.reason
        final["tree_peak_mb"] = round(watchdog.peak_mb)
        reader.join(timeout=5)
    finally:
        if standby_err is not None:  # what the standby wrote goes with the crawl's stderr
            _take_file(standby_err, workdir / "child.stderr")
    _disown(child)
    return code, final


def _take_file(source: Path, target: Path) -> None:
    """Move ``source`` to ``target`` (a copy across file systems); on a full disk, what
    cannot be kept is lost, never the crawl's result."""
    try:
        os.replace(source, target)
    except OSError:
        with contextlib.suppress(OSError):
            shutil.copyfile(source, target)
        with contextlib.suppress(OSError):
            source.unlink(missing_ok=True)


def _start_child(job_file: Path, stderr_file: Path) -> tuple[subprocess.Popen, Path | None]:
    """The crawl child for ``job_file``: the standby started with ``nianbao`` if there is
    one (``monitor.standby``; returned with its stderr file), else a new process."""
    waiting = standby.claim()
    if waiting is not None:
        try:
            waiting.proc.stdin.write(f"{job_file}\n")
            waiting.proc.stdin.close()
            return waiting.proc, waiting.stderr_path
        except OSError:  # it died just now: start afresh
            standby.discard(waiting)
    with open(stderr_file, "wb") as err:
        child = standby.crawl_process([str(job_file)], err)
    return child, None


def _stop_gracefully(child: subprocess.Popen) -> None:
    """Let an interrupted crawl child shut down as Scrapy does (its queue and seen set
    saved in the job dir): one SIGTERM (a second would make Scrapy stop uncleanly), then
    ``STOP_GRACE`` seconds, then the whole tree is stopped."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        terminate_tree(child.pid, grace=5)
        child.wait()


def _run_on_host(
    host: CrawlHost, job: dict, workdir: Path, timeout: float, on_progress: ProgressFn | None
) -> tuple[int, dict, str]:
    job_file = workdir / "job.json"
    job_file.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    limit = job["settings"].get("NIANBAO_MEMORY_LIMIT_MB", declared("NIANBAO_MEMORY_LIMIT_MB"))
    return host.run(
        job_file, timeout, float(limit), on_progress, on_start=lambda proc: _record(proc, job)
    )


def crawl_hosts(settings: dict, **options: object) -> CrawlHosts | None:
    """Long-lived crawl processes for the daemon, supervised like one-shot children
    (``stop_children`` stops them, and their extraction workers, on shutdown); None when
    ``NIANBAO_KEEP_CRAWLER`` is off (a new crawl process each time)."""
    if not is_on(settings.get("NIANBAO_KEEP_CRAWLER", declared("NIANBAO_KEEP_CRAWLER"))):
        return None
    return CrawlHosts(on_spawn=_keep, on_exit=_disown, **options)


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
        recovered = recover(store, removal_runs)
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
        with tempfile.TemporaryDirectory(prefix="nianbao-") as tmp:
            state_file = Path(tmp) / "fetch_state.json"
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
                done = Path(tmp) / "done_urls.txt"
                done.write_text(
                    "".join(f"{u}\n" for u in store.runs.fetched_urls(run_id)), encoding="utf-8"
                )
                job["done_urls"] = str(done)
            started = time.monotonic()
            if host is None:
                code, stats = _run_child(job, Path(tmp), timeout, on_progress)
                stderr_tail = (Path(tmp) / "child.stderr").read_text(errors="replace")[-2000:]
            else:
                code, stats, stderr_tail = _run_on_host(host, job, Path(tmp), timeout, on_progress)
        stats["wall_seconds"] = round(time.monotonic() - started, 2)
        if earlier:
            stats["resumed_from"] = earlier
        if jobdir is not None:
            # a full disk: the pages fetched but not stored are in the job dir's seen set,
            # and a resume would skip them (the disk may also have cut its queue short)
            if code == 0 and stats.get("finish_reason") in ("finished", DISK_FULL):
                shutil.rmtree(jobdir, ignore_errors=True)
            else:
                stats["resumable"] = True  # `nianbao crawl --resume` goes on from here
        mass = float(config.settings.get("NIANBAO_MASS_REMOVAL", declared("NIANBAO_MASS_REMOVAL")))
        findings = findings_on(config.settings)
        result = _finish(
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


def _finish(
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
    elif stats.get("finish_reason") == DISK_FULL:
        status = "failed"
        detail = f"crawl stopped early: the disk is full ({stats.get('disk_full', '')})"
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


# ---- supervision: the crawl children of this process, and runs whose process is gone ----

_children: set[subprocess.Popen] = set()
_children_guard = threading.Lock()


def _adopt(child: subprocess.Popen, job: dict) -> None:
    """Keep the crawl child's handle, and record it on its run (pid + start-time token)."""
    _keep(child)
    _record(child, job)


def _keep(child: subprocess.Popen) -> None:
    with _children_guard:
        _children.add(child)


def _record(child: subprocess.Popen, job: dict) -> None:
    with Store(job["db"]) as store:
        store.runs.set_child(job["run_id"], child.pid, start_token(child.pid))


def _disown(child: subprocess.Popen) -> None:
    with _children_guard:
        _children.discard(child)


def stop_children(grace: float = 3.0) -> list[int]:
    """Stop every running crawl child of this process (by its ``Popen`` handle) and all it
    started (its extraction workers): SIGTERM, then SIGKILL after ``grace`` seconds, all
    trees at once. Returns the children's pids."""
    with _children_guard:
        live = [c for c in _children if c.poll() is None]
    stoppers = [threading.Thread(target=terminate_tree, args=(c.pid, grace)) for c in live]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()
    return [c.pid for c in live]


@dataclass
class Recovery:
    """What ``recover`` did: the runs it marked ``interrupted`` (id → how they ended) and
    the events it recorded from the versions they had stored."""

    runs: dict[int, str] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


def recover(store: Store, removal_runs: int = 2, grace: float = 5.0) -> Recovery:
    """Mark each run whose process is gone ``interrupted`` and judge what it stored.

    A run is dead when the process that ran it is gone (on this host; its pid and start
    time). A crawl child it left behind is stopped first (SIGTERM, then SIGKILL after
    ``grace`` seconds), so no two crawls ever write at once. Its portals are judged on
    nothing: no removals, but every version it stored gets its event. Safe to call from
    several processes at once (a run is interrupted once, a version judged once).
    """
    done = Recovery()
    for run in store.runs.running():
        if process_alive(run.pid, run.pid_token, run.host):
            continue
        how = f"parent pid {run.pid} gone"
        if process_alive(run.child_pid, run.child_token, run.host):
            how += f"; its crawl child pid {run.child_pid} was {_stop_orphan(run, grace)}"
        if store.runs.interrupt(run.id, how):
            logger.warning("Run %s interrupted: %s", run.id, how)
            done.runs[run.id] = how
            done.events += detect.detect(store, run.id, {}, removal_runs)
    return done


def _stop_orphan(run, grace: float) -> str:
    """Stop a dead run's crawl child (not our child: poll its pid); say how it ended."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(run.child_pid, signum)
        except ProcessLookupError:
            return "gone"
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not process_alive(run.child_pid, run.child_token):
                return f"stopped by {signal.Signals(signum).name}"
            time.sleep(0.05)
    return "still running after SIGKILL"
