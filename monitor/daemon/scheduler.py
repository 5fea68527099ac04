"""``nianbao daemon``: scheduled crawls and alert delivery with APScheduler 3.x.

Portals that share a schedule are crawled together by one job (one child process per crawl,
through ``cycle.crawl``, so the Twisted reactor never runs here). Default schedule: daily
from 1 January to 31 March, weekly (Mondays) otherwise, at 06:00 Asia/Shanghai; a seed's
``schedule`` (cron) or ``--every`` overrides it. Jobs have ``max_instances=1``, coalesce, and
hours of misfire grace; a run missed while the daemon was down runs once at start-up.
Per-portal locks in the database keep a manual ``nianbao crawl`` and the daemon apart.
Delivery is its own job, woken after each crawl.

Signals: SIGHUP re-reads the seed files (a bad file keeps the seeds in use and logs its
``file:line`` error) and reopens the log files. SIGTERM/SIGINT: no new jobs; running crawls
get what is left of ``stop_timeout`` seconds, then their process tree is terminated (killed
after a short grace) and the run is recorded ``interrupted``; one last delivery round; the
locks are released; exit 0.

A composition root: may import cycle, outbox, locks, web, store, config, alerts, seeds.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.seeds import Seed, SeedError, load_seeds
from monitor import children, cycle
from monitor.alerts import EmailChannel, outbox
from monitor.config import Config, FeedConfig
from monitor.daemon.status import status as status_doc
from monitor.models import iso, parse_iso
from monitor.store import Store, disk_full_message, is_disk_full
from monitor.store.locks import HOST, portal_locks
from monitor.web import WebServer, create_app, public_url

logger = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Shanghai")
MISFIRE_GRACE = 6 * 3600
HEARTBEAT = 30.0
KILL_GRACE = 3.0  # seconds between SIGTERM and SIGKILL for a crawl stopped at shutdown


def default_trigger() -> BaseTrigger:
    """Daily in reporting season (1 Jan – 31 Mar), weekly on Mondays otherwise; 06:00 Beijing."""
    return OrTrigger(
        [
            CronTrigger(month="1-3", hour=6, minute=0, timezone=TZ),
            CronTrigger(month="4-12", day_of_week="mon", hour=6, minute=0, timezone=TZ),
        ]
    )


def schedule_key(seed: Seed, every: float | None) -> str:
    """The schedule a seed follows: ``every:30``, ``cron:0 6 * * *`` or ``default``."""
    if every:
        return f"every:{every:g}"
    return f"cron:{seed.schedule}" if seed.schedule else "default"


def trigger_for(key: str) -> BaseTrigger:
    if key.startswith("every:"):
        return IntervalTrigger(seconds=float(key[6:]), timezone=TZ)
    if key.startswith("cron:"):
        return CronTrigger.from_crontab(key[5:], timezone=TZ)
    return default_trigger()


def first_run(key: str, last_started: datetime | None, now: datetime) -> datetime:
    """When a group first runs: now if it never ran or a run fell due while we were down
    (coalesced: one run, not one per missed slot), else its next scheduled time."""
    if last_started is None:
        return now
    if key.startswith("every:"):
        due = last_started + timedelta(seconds=float(key[6:]))
    else:
        due = trigger_for(key).get_next_fire_time(None, last_started + timedelta(seconds=1))
    return now if due is None or due <= now else due


class Daemon:
    """The running daemon: scheduler, jobs, the optional HTTP server and the stop sequence."""

    def __init__(
        self, config: Config, seed_paths: list[Path] | None = None, portals: list[str] | None = None
    ) -> None:
        self.opts = config
        self.seed_paths, self.portals = list(seed_paths or []), list(portals or [])
        self.pid = os.getpid()
        self.stopping = threading.Event()
        self.stop_deadline = 0.0  # time.monotonic() by which the daemon must have stopped
        self.cut_short = False  # crawls were stopped because the stop timeout ran out
        self.reload_lock = threading.Lock()
        self.active = 0
        self.active_cv = threading.Condition()
        self.server: WebServer | None = None
        self.base_url: str | None = None
        self.channel = EmailChannel(config.smtp)
        self.hosts = children.crawl_hosts(config.settings)  # long-lived crawl processes
        self.scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(config.workers)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE,
            },
            timezone=TZ,
        )

    # ---- jobs -------------------------------------------------------------------

    def _tracked(self, fn, *args) -> None:
        """Run a job body, counting it as active and never letting it raise."""
        with self.active_cv:
            self.active += 1
        try:
            fn(*args)
        except Exception as exc:
            if not is_disk_full(exc):
                logger.exception("Job %s failed; the daemon carries on", fn.__name__)
            else:  # no traceback: nothing is wrong with the code, and nothing was lost
                logger.error("Job %s failed: %s", fn.__name__, disk_full_message(self.opts.db, exc))
        finally:
            with self.active_cv:
                self.active -= 1
                self.active_cv.notify_all()

    def crawl_job(self, key: str, seeds: list[Seed]) -> None:
        self._tracked(self._crawl, key, seeds)

    def _crawl(self, key: str, seeds: list[Seed]) -> None:
        if self.stopping.is_set():
            return
        with Store(self.opts.db) as store, portal_locks(store, seeds, owner="daemon") as held:
            if not held.seeds:
                logger.info("Crawl of %s skipped: %s", key, held.message())
                return
            logger.info(
                "Crawling %d portal(s) [%s]: %s",
                len(held.seeds),
                key,
                ", ".join(s.id for s in held.seeds),
            )
            with self.hosts.lease() if self.hosts else nullcontext() as host:
                result = cycle.crawl(
                    self.opts,
                    held.seeds,
                    trigger="daemon",
                    timeout=self.opts.crawl_timeout,
                    host=host,
                )
            if self.cut_short and result.status not in ("ok", "partial"):
                result.status = "interrupted"
                result.detail = (
                    f"the daemon was stopped; the crawl was cut short after the "
                    f"{self.opts.stop_timeout:g} s stop timeout ({result.detail})"
                )
                store.runs.finish(result.run_id, result.status, result.stats, result.detail)
        counts = result.counts()
        logger.info(
            "Run %s %s: %d events (new %d, edited %d, removed %d, moved %d, restored %d)%s",
            result.run_id,
            result.status,
            len(result.events),
            counts["new"],
            counts["edited"],
            counts["removed"],
            counts["moved"],
            counts["restored"],
            f" — {result.detail}" if result.detail else "",
        )
        if result.events and not self.stopping.is_set():
            self.scheduler.modify_job("deliver", next_run_time=datetime.now(TZ))
        self.beat()

    def deliver_job(self) -> None:
        self._tracked(self._deliver)

    def _deliver(self) -> None:
        with Store(self.opts.db) as store:
            outbox.deliver_round(
                store,
                self.channel,
                retry_max=self.opts.retry_max,
                hint=self.hint,
                feeds=self.feed_options(),
                owner="daemon",
                operator=self.opts.operator,
            )

    def feed_options(self) -> FeedConfig:
        """The configured feeds, in their folder, linking to where the daemon serves them."""
        link = self.base_url + "/" if self.base_url else self.opts.feed.link
        return replace(self.opts.feed, directory=self.opts.feeds, link=link, base_url=self.base_url)

    def hint(self, sub) -> str:
        """The unsubscribe link where a public address is known (``--public-url``, or the
        server's own address beyond loopback), else the command to run."""
        reachable = self.opts.public_url or (
            self.opts.http and self.opts.http[0] not in ("127.0.0.1", "localhost", "::1")
        )
        if self.base_url and reachable:
            return f"{self.base_url}/unsubscribe/{sub.token}"
        return outbox.cli_hint(sub)

    def beat(self, status: str = "running") -> None:
        """Record the heartbeat and each portal's next run, for ``nianbao status``."""
        next_runs: dict[str, str] = {}
        if not self.stopping.is_set():
            for job in self.scheduler.get_jobs():
                if job.id.startswith("crawl:") and job.next_run_time:
                    for seed in job.args[1]:
                        next_runs[seed.id] = iso(job.next_run_time)
        with Store(self.opts.db) as store:
            store.daemons.beat(self.pid, HOST, status, next_runs)

    # ---- set-up and the stop sequence ---------------------------------------------

    def groups(self) -> dict[str, list[Seed]]:
        """The seeds by schedule key: one crawl job per group."""
        groups: dict[str, list[Seed]] = {}
        for seed in self.opts.seeds:
            groups.setdefault(schedule_key(seed, self.opts.every), []).append(seed)
        return groups

    def add_jobs(self) -> None:
        self.add_crawl_jobs(self.groups())
        now = datetime.now(TZ)
        deliver = min(self.opts.deliver_every, self.opts.every or self.opts.deliver_every)
        self.scheduler.add_job(
            self.deliver_job,
            IntervalTrigger(seconds=deliver, timezone=TZ),
            id="deliver",
            name="deliver",
            next_run_time=now,
        )
        self.scheduler.add_job(
            self.beat, IntervalTrigger(seconds=HEARTBEAT, timezone=TZ), id="heartbeat"
        )

    def add_crawl_jobs(self, groups: dict[str, list[Seed]]) -> None:
        now = datetime.now(TZ)
        with Store(self.opts.db) as store:
            history = store.runs.recent_by_portal()
        for key, seeds in groups.items():
            starts = [history[s.id][0].started_at if history.get(s.id) else None for s in seeds]
            last = None if None in starts else min(parse_iso(t) for t in starts)
            when = first_run(key, last, now)
            self.scheduler.add_job(
                self.crawl_job,
                trigger_for(key),
                args=[key, seeds],
                id=f"crawl:{key}",
                name=f"crawl [{key}]",
                next_run_time=when,
            )
            logger.info(
                "Schedule [%s] for %s; first run %s",
                key,
                ", ".join(s.id for s in seeds),
                when.isoformat(timespec="seconds"),
            )

    # ---- SIGHUP: reload the seeds, reopen the logs -----------------------------------

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

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; return the exit status (0 after a clean stop)."""
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        signal.signal(signal.SIGHUP, self.on_hangup)
        with Store(self.opts.db) as store:  # runs a kill -9 left behind; versions they stored
            recovered = children.recover(
                store, int(self.opts.settings.get("NIANBAO_REMOVAL_RUNS", 2))
            )
        if recovered.runs:
            logger.warning("Recovered interrupted runs: %s", recovered.runs)
        if self.opts.http:
            app = create_app(
                self.opts.db,
                self.opts.feeds,
                numbered_feeds=self.opts.numbered_feeds,
                status=status_doc,
            )
            self.server = WebServer(app, *self.opts.http)
            self.base_url = public_url(self.server.start(), self.opts.public_url)
        elif self.opts.public_url:
            self.base_url = public_url(None, self.opts.public_url)
        self.channel.public_url = self.base_url
        logger.info(
            "Daemon %s starting: %d portals, database %s, SMTP %s:%s",
            self.pid,
            len(self.opts.seeds),
            self.opts.db,
            self.opts.smtp.host,
            self.opts.smtp.port,
        )
        self.add_jobs()
        self.beat()
        self.scheduler.start()  # blocks until on_signal shuts it down
        return self.finish()

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


def run_daemon(
    config: Config, seed_paths: list[Path] | None = None, portals: list[str] | None = None
) -> int:
    """Start the daemon in this process; return its exit status.

    Args:
        config: the daemon's configuration, its seeds loaded.
        seed_paths, portals: where the seeds came from (``--seeds``, ``--portal``), read
            again on SIGHUP.
    """
    return Daemon(config, seed_paths, portals).run()
