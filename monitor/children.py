"""The crawl children of this process: start one for a job (the standby started with the
CLI, ``monitor.standby``, or a new process), read its progress, hold it to the memory and
time limits (``monitor.proctree``), and stop it gracefully when the crawl is interrupted;
or run the job on one of the daemon's long-lived crawl processes (``monitor.crawlhost``).

Supervision: the crawl child dies with this process (``crawler.runner`` asks for a
parent-death signal); its ``Popen`` handle is kept here (``stop_children``); the run
records both processes (pid, host, start-time token). ``recover(store)`` (at the start of
every crawl, and at daemon start) marks runs whose process is gone ``interrupted`` and
judges the versions they stored, so no event is lost to a crash.

May import: monitor.crawlhost, monitor.standby, monitor.proctree, monitor.events,
monitor.store, monitor.models, monitor.config.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from monitor import standby
from monitor.config import declared, is_on
from monitor.crawlhost import CrawlHost, CrawlHosts, ProgressFn, read_message
from monitor.events import detect
from monitor.models import Event
from monitor.proctree import Watchdog, terminate_tree
from monitor.store import Store
from monitor.store.locks import process_alive, start_token

logger = logging.getLogger(__name__)

STOP_GRACE = 30.0  # seconds an interrupted crawl child gets to save its queue (JOBDIR)


class Stopped(BaseException):
    """Raised in the crawling process on SIGTERM or SIGHUP (the CLI installs the handler): the
    crawl child is asked to stop once, gets ``STOP_GRACE`` seconds to save its job dir,
    and the run is ``interrupted``; ``nianbao crawl --resume`` goes on from there."""


def _pump(stream, on_progress: ProgressFn | None, final: dict) -> None:
    for line in stream:
        read_message(line, final, on_progress)


def run_child(
    job: dict, workdir: Path, timeout: float, on_progress: ProgressFn | None
) -> tuple[int, dict]:
    """Run ``job`` in a crawl child (its files in ``workdir``): its exit code and its final
    figures (the ``done`` line, plus ``timeout``, ``memory_exceeded``, ``tree_peak_mb`` and
    whether the standby ran it). Interrupted (``Stopped``, Ctrl-C), the child gets one
    SIGTERM and ``STOP_GRACE`` seconds to save its queue before this re-raises."""
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


def run_on_host(
    host: CrawlHost, job: dict, workdir: Path, timeout: float, on_progress: ProgressFn | None
) -> tuple[int, dict, str]:
    """Run ``job`` on the daemon's long-lived crawl process ``host``: exit code, final
    figures and the tail of its stderr, as ``run_child`` gives for a child of its own."""
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
