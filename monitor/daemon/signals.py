"""What the daemon does on a signal: SIGHUP reloads, SIGTERM/SIGINT stop it.

SIGHUP re-reads the seed files (a bad file keeps the seeds in use and logs its
``file:line`` error), reschedules the crawl jobs and reopens the log files. SIGTERM/SIGINT:
no new jobs; running crawls get what is left of ``stop_timeout`` seconds, then their
process tree is stopped; one last delivery round; exit 0.

A mixin of ``monitor.daemon.scheduler.Daemon`` (which registers the handlers in ``run``):
it uses the daemon's options, scheduler, job counts and ``groups``, ``add_crawl_jobs``,
``beat`` and ``_deliver``.

May import: monitor.children, monitor.store, crawler.seeds.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import replace

from crawler.seeds import SeedError, load_seeds
from monitor import children
from monitor.store import Store

logger = logging.getLogger(__name__)

KILL_GRACE = 3.0  # seconds between SIGTERM and SIGKILL for a crawl stopped at shutdown


class SignalHandlers:
    """SIGHUP: reload the seeds and reopen the logs; SIGTERM/SIGINT: the stop sequence."""

    def on_hangup(self, signum: int, frame: object) -> None:
        if not self.stopping.is_set():
            threading.Thread(target=self.reload, name="reload").start()

    def reload(self) -> None:
        """Re-read the seed files and reschedule; on a bad file keep the seeds in use."""
        with self.reload_lock:
            reopen_logs()
            logger.info("Received SIGHUP: reloading the seeds, reopening the logs")
            try:
                seeds = load_seeds(self.seed_paths, only=self.portals or None)
            except (SeedError, OSError) as exc:
                logger.error(
                    "Seeds not reloaded, keeping the %d portals in use: %s",
                    len(self.opts.seeds),
                    exc,
                )
                return
            old = {s.id for s in self.opts.seeds}
            self.opts = replace(self.opts, seeds=seeds)
            self.sync_crawl_jobs()
            new = {s.id for s in seeds}
            logger.info(
                "Seeds reloaded: %d portals (added: %s; removed: %s)",
                len(seeds),
                ", ".join(sorted(new - old)) or "none",
                ", ".join(sorted(old - new)) or "none",
            )
            self.beat()

    def sync_crawl_jobs(self) -> None:
        """Make the crawl jobs match the seeds: changed groups keep their next run time
        (a crawl running now finishes with the seeds it started with)."""
        groups = self.groups()
        for job in self.scheduler.get_jobs():
            key = job.id.removeprefix("crawl:")
            if job.id.startswith("crawl:") and key not in groups:
                job.remove()
            elif job.id.startswith("crawl:"):
                job.modify(args=[key, groups.pop(key)])
        self.add_crawl_jobs(groups)

    # ---- SIGTERM/SIGINT: the stop sequence --------------------------------------------

    def on_signal(self, signum: int, frame: object) -> None:
        if self.stopping.is_set():
            return
        self.stop_deadline = time.monotonic() + self.opts.stop_timeout
        self.stopping.set()
        threading.Thread(target=self._shutdown, args=(signum,), name="shutdown").start()

    def _shutdown(self, signum: int) -> None:
        logger.info(
            "Received %s: taking no new jobs, stopping within %g s",
            signal.Signals(signum).name,
            self.opts.stop_timeout,
        )
        self.scheduler.shutdown(wait=False)

    def finish(self) -> int:
        """Wait for running jobs until the stop deadline, then stop the crawls still
        running (their whole process tree); flush deliveries. Returns the exit status."""
        grace = min(KILL_GRACE, self.opts.stop_timeout / 3)  # SIGTERM → SIGKILL, in the timeout
        if not self._wait_idle(self.stop_deadline - grace - time.monotonic()):
            logger.warning(
                "Crawls still running %g s before the stop timeout: stopping them", grace
            )
            self.cut_short = True
            children.stop_children(grace)  # and their extraction workers: the whole tree of each
            if not self._wait_idle(10.0):
                logger.error("Jobs still running after the crawls were stopped: leaving them")
                self._stopped()
                return 1
        logger.info("Flushing deliveries")
        try:
            self._deliver()
        except Exception:
            logger.exception(
                "Final delivery round failed; the outbox keeps the mails for next time"
            )
        if self.server:
            self.server.stop()
        if self.hosts:
            self.hosts.close()  # idle now: they exit at the end of their input
        self._stopped()
        return 0

    def _stopped(self) -> None:
        with Store(self.opts.db) as store:
            store.daemons.stopped(self.pid)
        logger.info("Daemon %s stopped", self.pid)

    def _wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.active_cv:
            while self.active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.active_cv.wait(left)
        return True


def reopen_logs() -> None:
    """Reopen every log file the root logger writes to (after logrotate moved it)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.acquire()
            try:
                if handler.stream:
                    handler.stream.close()
                handler.stream = handler._open()
            finally:
                handler.release()
