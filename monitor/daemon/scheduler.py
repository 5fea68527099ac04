"""``nianbao daemon``: scheduled crawls and alert delivery with APScheduler 3.x.

Portals that share a schedule are crawled together by one job (one child process per crawl,
through ``cycle.crawl``, so the Twisted reactor never runs here). Default schedule: daily
from 1 January to 31 March, weekly (Mondays) otherwise, at 06:00 Asia/Shanghai; a seed's
``schedule`` (cron) or ``--every`` overrides it. Jobs have ``max_instances=1``, coalesce, and
hours of misfire grace; a run missed while the daemon was down runs once at start-up.
Per-portal locks in the database keep a manual ``nianbao crawl`` and the daemon apart.
Delivery is its own job, woken after each crawl. SIGTERM/SIGINT: no new jobs, running
crawls get ``stop_timeout`` seconds (then their child is terminated and the run is recorded
as failed), one last delivery round, exit 0.

A composition root: may import cycle, outbox, locks, feedserver, store, config, alerts, seeds.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.seeds import Seed
from monitor import cycle
from monitor.alerts import EmailChannel, outbox
from monitor.config import Config, SmtpConfig
from monitor.daemon.feedserver import FeedServer
from monitor.store import Store
from monitor.store.locks import HOST, portal_locks

logger = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Shanghai")
MISFIRE_GRACE = 6 * 3600
HEARTBEAT = 30.0
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``30s``, ``10m``, ``1h``, ``2d`` (or plain seconds) → seconds.

    >>> parse_duration("30s"), parse_duration("10m"), parse_duration("1.5h"), parse_duration("2")
    (30.0, 600.0, 5400.0, 2.0)
    """
    match = DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r}: expected a duration like 30s, 10m or 1h")
    return float(match.group(1)) * UNITS[match.group(2)]


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


@dataclass
class DaemonOptions:
    """Everything ``nianbao daemon`` was told."""

    db: Path
    seeds: list[Seed]
    every: float | None = None
    settings: dict = field(default_factory=dict)
    smtp: SmtpConfig = field(default_factory=SmtpConfig.from_env)
    http: tuple[str, int] | None = None
    retry_max: float = outbox.RETRY_MAX
    crawl_timeout: float = 2 * 3600.0
    stop_timeout: float = 60.0
    deliver_every: float = 60.0
    workers: int = 4
    feed_dir: Path | None = None

    @property
    def feeds(self) -> Path:
        return self.feed_dir or Path(self.db).resolve().parent / "feeds"


class Daemon:
    """The running daemon: scheduler, jobs, the optional HTTP server and the stop sequence."""

    def __init__(self, opts: DaemonOptions) -> None:
        self.opts = opts
        self.pid = os.getpid()
        self.stopping = threading.Event()
        self.active = 0
        self.active_cv = threading.Condition()
        self.server: FeedServer | None = None
        self.base_url: str | None = None
        self.channel = EmailChannel(opts.smtp)
        self.scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(opts.workers)},
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
        except Exception:
            logger.exception("Job %s failed; the daemon carries on", fn.__name__)
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
            config = Config(db=self.opts.db, settings=self.opts.settings, smtp=self.opts.smtp)
            result = cycle.crawl(
                config, held.seeds, trigger="daemon", timeout=self.opts.crawl_timeout
            )
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
            )

    def feed_options(self) -> outbox.FeedOptions:
        link = self.base_url or "https://github.com/nianbao/nianbao"
        return outbox.FeedOptions(self.opts.feeds, link=link + "/", base_url=self.base_url)

    def hint(self, sub) -> str:
        """A link where the daemon serves HTTP beyond loopback, else the command to run."""
        if (
            self.base_url
            and self.opts.http
            and self.opts.http[0] not in ("127.0.0.1", "localhost", "::1")
        ):
            return f"{self.base_url}/unsubscribe/{sub.token}"
        return outbox.cli_hint(sub)

    def beat(self, status: str = "running") -> None:
        """Record the heartbeat and each portal's next run, for ``nianbao status``."""
        next_runs: dict[str, str] = {}
        if not self.stopping.is_set():
            for job in self.scheduler.get_jobs():
                if job.id.startswith("crawl:") and job.next_run_time:
                    for seed in job.args[1]:
                        next_runs[seed.id] = outbox.iso(job.next_run_time)
        with Store(self.opts.db) as store:
            store.daemon_beat(self.pid, HOST, status, next_runs)

    # ---- set-up and the stop sequence ---------------------------------------------

    def add_jobs(self) -> None:
        groups: dict[str, list[Seed]] = {}
        for seed in self.opts.seeds:
            groups.setdefault(schedule_key(seed, self.opts.every), []).append(seed)
        now = datetime.now(TZ)
        with Store(self.opts.db) as store:
            history = store.portal_history()
        for key, seeds in groups.items():
            starts = [
                history.get(s.id, [{}])[0].get("started_at") if history.get(s.id) else None
                for s in seeds
            ]
            last = (
                None
                if None in starts
                else min(datetime.fromisoformat(t.replace("Z", "+00:00")) for t in starts)
            )
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

    def on_signal(self, signum: int, frame: object) -> None:
        if self.stopping.is_set():
            return
        logger.info(
            "Received %s: taking no new jobs, stopping within %.0f s",
            signal.Signals(signum).name,
            self.opts.stop_timeout,
        )
        self.stopping.set()
        threading.Thread(
            target=self.scheduler.shutdown, kwargs={"wait": False}, name="shutdown"
        ).start()

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; return the exit status (0 after a clean stop)."""
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        if self.opts.http:
            self.server = FeedServer(self.opts.feeds, self.opts.db, *self.opts.http)
            self.base_url = self.server.start()
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
        self.finish()
        return 0

    def finish(self) -> None:
        """Wait for running jobs (bounded), stop crawls that overrun, flush deliveries."""
        if not self._wait_idle(self.opts.stop_timeout):
            logger.warning(
                "Crawls still running after %.0f s: stopping them", self.opts.stop_timeout
            )
            stop_children()
            self._wait_idle(30.0)
        logger.info("Flushing deliveries")
        try:
            self._deliver()
        except Exception:
            logger.exception(
                "Final delivery round failed; the outbox keeps the mails for next time"
            )
        if self.server:
            self.server.stop()
        with Store(self.opts.db) as store:
            store.daemon_stopped(self.pid)
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


def stop_children(pattern: str = "crawler.runner") -> list[int]:
    """SIGTERM this process's crawl children (found in /proc); returns their pids."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (
                (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and pattern in cmdline:
            pids.append(int(stat.parent.name))
            os.kill(pids[-1], signal.SIGTERM)
    return pids


def run_daemon(opts: DaemonOptions) -> int:
    """Start the daemon in this process; return its exit status."""
    return Daemon(opts).run()
