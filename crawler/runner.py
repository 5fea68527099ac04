"""Run one crawl in this process: ``python -m crawler.runner JOB.json``.

The Twisted reactor cannot be restarted, so every crawl runs in a child process of
its own; the caller (``monitor.cycle``) creates the crawl run, writes the job file,
reads the progress lines this process prints on stdout and evaluates the run after.

The job file is JSON: ``{"db", "run_id", "seeds": [seed dicts], "settings": {...},
"fetch_state": path, "log_file": path, "parent_pid": pid}``, and for a one-shot crawl
``"jobdir"``: Scrapy's ``JOBDIR`` (disk queues and seen requests; a stopped crawl resumes
from it).

This process dies with its parent (``die_with_parent``): on Linux the kernel sends it
SIGTERM when the parent goes (``prctl(PR_SET_PDEATHSIG)``); elsewhere a thread watching
``os.getppid()`` does; either way it exits within ``PARENT_GONE_GRACE`` seconds. A crawl
is never left writing after the process that judges it is gone.

May import: crawler.* (never monitor/ except through the store pipeline).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import NoReturn

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import settings as default_settings
from crawler.progress import snapshot
from crawler.scheduling import seal
from crawler.seeds import Seed
from crawler.spiders.portals import PortalSpider


def build_settings(job: dict) -> Settings:
    """Project settings, then the job's overrides, then the run's own keys."""
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.update(job.get("settings") or {}, priority="cmdline")
    settings.set("NIANBAO_DB", job["db"], priority="cmdline")
    settings.set("NIANBAO_RUN_ID", job["run_id"], priority="cmdline")
    settings.set("NIANBAO_FETCH_STATE", job.get("fetch_state"), priority="cmdline")
    if job.get("jobdir"):
        settings.set("JOBDIR", job["jobdir"], priority="cmdline")
    if job.get("log_file"):
        settings.set("LOG_FILE", job["log_file"], priority="cmdline")
    settings.set("LOG_INSTALL_ROOT_HANDLER", bool(job.get("log_file")), priority="cmdline")
    return settings


def seed_from_dict(data: dict) -> Seed:
    known = {k: v for k, v in data.items() if k in Seed.__dataclass_fields__}
    for key in ("start_urls", "allow", "allowed_domains"):
        known[key] = tuple(known.get(key) or ())
    return Seed(**known)


CLOSED_MARK = "nianbao-closed"  # in JOBDIR: Scrapy closed the crawl and saved its queue


def prepare_jobdir(job: dict) -> Path | None:
    """Make the job's ``JOBDIR`` fit to resume from, and return the path of its mark.

    Scrapy saves its queue when the crawl closes (``CLOSED_MARK`` is written then); its
    seen-request file is written unflushed as it goes. After a kill -9 or a reboot neither
    can be trusted: the queue may be lost, and requests that were queued or downloading
    are in the seen set and would never be fetched. Then the job dir starts afresh, with
    a seen set of the pages the earlier part stored (``done_urls``: one URL a line): the
    lists are read again, and only pages not stored yet are fetched.
    """
    if not job.get("jobdir"):
        return None
    jobdir = Path(job["jobdir"])
    mark = jobdir / CLOSED_MARK
    if job.get("done_urls") and jobdir.exists() and not mark.exists():
        import shutil

        from scrapy import Request
        from scrapy.dupefilters import RFPDupeFilter

        shutil.rmtree(jobdir)
        jobdir.mkdir(parents=True)
        seen = RFPDupeFilter(str(jobdir))
        with open(job["done_urls"], encoding="utf-8") as urls:
            for url in urls:
                if url.strip():
                    seen.request_seen(Request(url.strip()))
        seen.close("rebuilt")
    mark.unlink(missing_ok=True)
    return mark


def run(job: dict) -> dict:
    """Crawl the job's seeds; return the final Scrapy stats."""
    mark = prepare_jobdir(job)
    process = CrawlerProcess(build_settings(job))
    crawler = process.create_crawler(PortalSpider)
    if mark is not None:  # after the scheduler closed (queue saved), whatever the reason
        crawler.signals.connect(
            lambda reason="", **_: _closed(mark, reason, crawler.stats.get_stats()),
            signal=signals.spider_closed,
            weak=False,
        )
    process.crawl(crawler, seeds=[seed_from_dict(s) for s in job["seeds"]])
    process.start()
    return crawler.stats.get_stats() if crawler.stats else {}


def _closed(mark: Path, reason: str, stats: dict) -> None:
    """The crawl has closed and Scrapy has saved its queue: write the job dir's mark,
    flushed to the disk with the queue (``seal``) unless the crawl finished (its caller
    removes the job dir then). A queue that could not be saved whole (``queue_damaged``
    in the stats) gets no mark: a resume then starts from what was stored."""
    if stats.get("nianbao/queue_damaged"):
        return
    if reason == "finished":
        mark.touch()
    else:
        seal(mark.parent, mark)


PR_SET_PDEATHSIG = 1
PARENT_GONE_GRACE = 2.0  # seconds Scrapy gets to shut down after the parent is gone
EXIT_PARENT_GONE = 143  # as if killed by SIGTERM


def die_with_parent(parent: int | None, poll: float = 0.2) -> None:
    """Stop when the parent process goes: SIGTERM (Scrapy's clean shutdown) from a
    parent-death signal on Linux, or from a thread polling ``os.getppid()`` elsewhere;
    the same thread ends the process ``PARENT_GONE_GRACE`` seconds later whatever the
    shutdown is doing. If ``parent`` is gone already, go now."""
    parent = parent or os.getppid()
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    watch = threading.Thread(
        target=_watch_parent, args=(parent, poll, not armed), name="parent-watch", daemon=True
    )
    watch.start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os.kill(os.getpid(), signal.SIGTERM)


def _watch_parent(parent: int, poll: float, send_sigterm: bool) -> None:
    while os.getppid() == parent:
        time.sleep(poll)
    if send_sigterm:
        os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(PARENT_GONE_GRACE)
    os._exit(EXIT_PARENT_GONE)  # each stored item is its own transaction: nothing half-written


def final_figures(stats: dict) -> dict:
    """The ``done`` line's figures from a crawl's Scrapy stats."""
    final = snapshot(stats)
    final["finish_reason"] = stats.get("finish_reason", "")
    final["elapsed"] = stats.get("elapsed_time_seconds", 0)
    final["conditional_requests"] = stats.get("nianbao/conditional_requests", 0)
    final["skipped_same_body"] = stats.get("nianbao/skipped/same_body", 0)
    final["skipped_same_bytes"] = stats.get("nianbao/skipped/same_bytes", 0)
    final["capped"] = stats.get("nianbao/capped", 0)
    final["workers_started"] = stats.get("nianbao/worker/started", 0)
    final["queued_on_disk"] = stats.get("scheduler/enqueued/disk", 0)  # the rest in memory
    if stats.get("nianbao/disk_full"):  # the store's error when a full disk stopped the crawl
        final["disk_full"] = stats["nianbao/disk_full"]
    if stats.get("nianbao/queue_damaged"):  # what went wrong with the disk queue
        final["queue_damaged"] = stats["nianbao/queue_damaged"]
    return final


def _say(message: dict) -> None:
    sys.stdout.write(json.dumps(message, ensure_ascii=False) + "\n")
    sys.stdout.flush()


# ---- one long-lived crawl process: many jobs on one reactor ----------------------------


class Server:
    """``python -m crawler.runner --serve PARENT_PID``: run crawl jobs one after another in
    this process, on one asyncio reactor, so a daemon round does not pay for a new Python,
    Scrapy's imports and a reactor each time.

    Protocol: each stdin line is the path of a job file (the one-shot format); the jobs'
    progress lines and then ``{"done": {...}, "run_id": N}`` go to stdout. End of stdin:
    exit 0. SIGTERM: the running crawl shuts down as Scrapy's does (its ``done`` line says
    ``shutdown``), then the process exits. The process dies with its parent like a one-shot
    crawl; a crawl that crashes or hangs takes this process with it, and the parent
    (``monitor.crawlhost``) starts another for the next job.
    """

    def __init__(self) -> None:
        self.loop = None
        self.runner = None
        self.stopping = False

    def run(self, parent: int | None) -> int:
        from scrapy.utils.reactor import install_reactor

        die_with_parent(parent)
        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
        from scrapy.utils.log import configure_logging
        from twisted.internet import reactor

        configure_logging({"LOG_INSTALL_ROOT_HANDLER": False})  # once: observers, warnings
        self.loop = asyncio.get_event_loop()
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        reactor.callWhenRunning(
            threading.Thread(target=self._read_jobs, name="jobs", daemon=True).start
        )
        reactor.run(installSignalHandlers=False)
        return 0

    def _read_jobs(self) -> None:
        from twisted.internet import reactor

        for line in sys.stdin:
            if self.stopping:
                break
            if not line.strip():
                continue
            try:
                job = json.loads(Path(line.strip()).read_text(encoding="utf-8"))
                stats = asyncio.run_coroutine_threadsafe(self._crawl(job), self.loop).result()
            except BaseException:  # a crawl that cannot run: this process is done for
                logging.getLogger(__name__).exception("crawl job %s failed", line.strip())
                sys.stderr.flush()
                os._exit(1)  # the parent sees the exit code and starts a fresh process
            _say({"done": final_figures(stats), "run_id": job.get("run_id")})
            if self.stopping:  # SIGTERM during that crawl: it has shut down; so do we
                break
        reactor.callFromThread(reactor.stop)

    async def _crawl(self, job: dict) -> dict:
        from scrapy.crawler import AsyncCrawlerRunner
        from scrapy.utils.log import get_scrapy_root_handler, install_scrapy_root_handler

        settings = build_settings(job)
        if settings.getbool("LOG_INSTALL_ROOT_HANDLER"):
            install_scrapy_root_handler(settings)  # the job's log file, as one-shot crawls do
        self.runner = AsyncCrawlerRunner(settings)
        crawler = self.runner.create_crawler(PortalSpider)
        try:
            await self.runner.crawl(crawler, seeds=[seed_from_dict(s) for s in job["seeds"]])
        finally:
            self.runner = None
            handler = get_scrapy_root_handler()  # closed now: the next job may have none
            if handler is not None:
                logging.root.removeHandler(handler)
                handler.close()
        return crawler.stats.get_stats() if crawler.stats else {}

    def _on_term(self, signum: int, frame: object) -> None:
        self.stopping = True
        self.loop.call_soon_threadsafe(self._stop)

    def _stop(self) -> None:
        from twisted.internet import reactor

        if self.runner is not None:  # the reader thread stops the reactor after its line
            self.loop.create_task(self.runner.stop())
        else:
            reactor.stop()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"] and len(argv) <= 2:
        return Server().run(int(argv[1]) if len(argv) == 2 else None)
    if argv[:1] == ["--standby"] and len(argv) >= 2:
        return standby(int(argv[1]), argv[2:])
    if len(argv) != 1:
        sys.stderr.write(
            "usage: python -m crawler.runner JOB.json | --serve [PARENT_PID]"
            " | --standby PARENT_PID [MODULE ...]\n"
        )
        return 2
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    die_with_parent(job.get("parent_pid"))
    return run_job(job)


def run_job(job: dict) -> NoReturn:
    """One crawl, its ``done`` line, and out: ``os._exit`` once the logs and stdout are
    flushed. Scrapy has closed everything by then (the store, the job dir's queue, the
    extraction workers); what is left is the interpreter's teardown of Scrapy, Twisted and
    OpenSSL, 0.2-0.5 s of a one-shot crawl's time for nothing."""
    if not job.get("log_file"):
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    _say({"done": final_figures(run(job))})
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)


def standby(parent: int, warm: list[str]) -> int:
    """``--standby PARENT_PID [MODULE ...]``: a one-shot crawl process started before its
    job exists (``monitor.standby``). It imports what a crawl needs (this module's imports,
    the components the project settings name, and ``MODULE ...``), then reads one job
    path from stdin and runs it as ``python -m crawler.runner JOB.json`` would; end of
    stdin first: exit 0. It dies with ``parent`` like any crawl process."""
    die_with_parent(parent)
    warm_imports(warm)
    line = sys.stdin.readline().strip()
    if not line:
        return 0
    return run_job(json.loads(Path(line).read_text(encoding="utf-8")))


def warm_imports(extra: list[str]) -> None:
    """Import the classes a crawl's settings name (Scrapy imports them as it builds the
    crawler: the HTTP download handler and OpenSSL, middlewares, extensions, pipelines)
    and ``extra`` modules. A name that does not import is left for the crawl to report."""
    from importlib import import_module

    from scrapy.utils.misc import load_object

    settings = build_settings({"db": "", "run_id": 0})
    paths = [settings.get(name) for name in ("DOWNLOADER", "SCHEDULER", "DUPEFILTER_CLASS")]
    paths += [settings.getwithbase("DOWNLOAD_HANDLERS").get(s) for s in ("http", "https")]
    for name in ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "EXTENSIONS", "ITEM_PIPELINES"):
        paths += [path for path, order in settings.getwithbase(name).items() if order is not None]
    for path in paths:
        if isinstance(path, str):
            with contextlib.suppress(Exception):
                load_object(path)
    for module in extra:
        with contextlib.suppress(Exception):
            import_module(module)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
