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

The triggers (default schedule, ``schedule_key``, first runs) are ``monitor.daemon.triggers``;
what SIGHUP and SIGTERM/SIGINT do, and the stop sequence, ``monitor.daemon.signals``.

A composition root: may import cycle, outbox, locks, web, store, config, alerts, seeds,
monitor.daemon.triggers, monitor.daemon.signals, monitor.daemon.status.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from crawler.seeds import Seed
from monitor import children, cycle
from monitor.alerts import EmailChannel, outbox
from monitor.config import Config, FeedConfig
from monitor.daemon.signals import SignalHandlers
from monitor.daemon.status import status as status_doc
from monitor.daemon.triggers import TZ, first_run, schedule_key, trigger_for
from monitor.models import iso, parse_iso
from monitor.store import Store, disk_full_message, is_disk_full
from monitor.store.locks import HOST, portal_locks
from monitor.web import WebServer, create_app, public_url

logger = logging.getLogger(__name__)

MISFIRE_GRACE = 6 * 3600
HEARTBEAT = 30.0


class Daemon(SignalHandlers):
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

    # ---- set-up ---------------------------------------------------------------------

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
