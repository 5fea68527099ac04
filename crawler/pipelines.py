"""Item pipelines of the crawl: Extract (in supervised worker processes).

The pipeline that stores items belongs to the consumer (``monitor.store.pipeline``), which
registers it by dotted path in the settings it hands to the crawl.

May import: crawler.items, crawler.workers, crawler.middlewares.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from scrapy.crawler import Crawler

from crawler import workers
from crawler.items import FetchProblem, PageItem
from crawler.middlewares import load_fetch_state

logger = logging.getLogger(__name__)


class ExtractPipeline:
    """Judge fetched pages and files (``crawler.extract.judge``) in a pool of worker processes.

    Extraction is CPU work (~25 ms a page): run on the reactor it caps a crawl at
    ~32 pages/s. Workers use every core while the reactor keeps fetching. A page whose
    raw bytes, body fingerprint or HTTP 304 show no change is not extracted again. The
    item's ``extracted`` is the final verdict; nothing here or later changes it.

    The workers are supervised. Each runs under the caps of ``crawler.workers`` (memory,
    time, file sizes). At most ``DEPTH`` tasks per worker are in flight: one running and
    one waiting, so a worker never idles while the reactor is busy (storing a page takes
    it a few ms) before it hands over the next; a task's wait is then at most ``DEPTH``
    times the time cap. A worker that dies (the OOM killer, a crash) breaks the pool: it is rebuilt at
    once and every page that was in flight is retried once, alone, in a fresh worker; a
    page that kills that worker too is the problem ``worker_died``. A worker that does not
    answer within the time cap (plus a grace) is killed: its page is the problem
    ``timeout``. No page is ever silently lost.
    """

    GRACE = 10.0  # seconds past the worker's own time cap before the pipeline kills it
    DEPTH = 2  # tasks in flight per worker: the one it runs and the next

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        settings = crawler.settings
        self.state = load_fetch_state(settings.get("NIANBAO_FETCH_STATE"))
        self.html_cap = settings.getint("NIANBAO_HTML_MAXSIZE")
        self.n_workers = settings.getint("NIANBAO_EXTRACT_WORKERS") or os.cpu_count() or 1
        self.timeout = settings.getfloat("NIANBAO_EXTRACT_TIMEOUT")
        self.initargs = (
            settings.getint("NIANBAO_WORKER_MEMORY_MB"),
            self.timeout,
            {
                "unpacked": settings.getint("NIANBAO_UNPACKED_MAXSIZE"),
                "pdf_pages": settings.getint("NIANBAO_PDF_MAX_PAGES"),
                "pdf_stream": settings.getint("NIANBAO_PDF_STREAM_MAXSIZE"),
            },
            os.getpid(),  # the workers' owner: they exit when this process is gone
        )
        self.pool: ProcessPoolExecutor | None = None
        self.generation = 0
        self.retry_pool: ProcessPoolExecutor | None = None
        self.slots: asyncio.Semaphore | None = None
        self.retry_lock: asyncio.Lock | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        pipeline = cls(crawler)
        return pipeline

    def _new_pool(self, n: int) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["crawler.workers", "crawler.extract", "crawler.stats"])
        pool = ProcessPoolExecutor(
            n, mp_context=context, initializer=workers.init_worker, initargs=self.initargs
        )
        with contextlib.suppress(BrokenProcessPool):  # a worker killed at birth: seen at submit
            for _ in range(n):  # start every worker now, not one per page as pages come
                pool.submit(workers.ready)
        return pool

    def open_spider(self) -> None:
        """Nothing yet: the workers start with the first page that needs extracting, so a
        crawl whose pages all answer 304 or come back byte-identical starts none."""

    def close_spider(self) -> None:
        for pool in (self.pool, self.retry_pool):
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)

    async def process_item(self, item: object) -> object:
        if not isinstance(item, PageItem) or item.unchanged:
            return item
        prior = self.state.get(item.url, {})
        if item.raw_sha and item.raw_sha == prior.get("raw_sha"):
            self.stats.inc_value("nianbao/skipped/same_bytes")
            item.unchanged = True
            return item
        if item.content_type.startswith("text/html") and len(item.body) > self.html_cap:
            return _problem(
                item,
                "oversize",
                f"HTML page of {len(item.body)} bytes is over the {self.html_cap}-byte cap",
            )
        args = (
            item.body,
            item.url,
            item.content_type,
            item.issuer_hint,
            prior.get("body_fp"),
            item.anchor,
        )
        try:
            extracted = await self.supervised(args)
        except WorkerLost as lost:
            logger.error("Extraction of %s lost: %s", item.url, lost.detail)
            self.stats.inc_value(f"nianbao/problem/{lost.kind}")
            return _problem(item, lost.kind, lost.detail)
        except Exception as exc:  # a page that breaks the extractor must not break the crawl
            logger.warning("Extraction failed for %s: %r", item.url, exc)
            return _problem(item, "error", f"extraction failed: {exc!r}"[:300])
        if extracted is None:
            self.stats.inc_value("nianbao/skipped/same_body")
            item.unchanged = True
            return item
        if extracted.problem in CAP_KINDS:
            self.stats.inc_value(f"nianbao/capped/{extracted.problem}")
        self.stats.inc_value("nianbao/extracted")
        item.extracted = extracted
        return item

    # ---- supervision ---------------------------------------------------------------

    async def supervised(self, args: tuple) -> object:
        """The worker's answer for ``args``; ``WorkerLost`` when no worker could give one."""
        if self.slots is None:
            self.slots = asyncio.Semaphore(self.n_workers * self.DEPTH)
            self.retry_lock = asyncio.Lock()
        async with self.slots:
            if self.pool is None:
                self.pool = self._new_pool(self.n_workers)
                self.stats.set_value("nianbao/worker/started", self.n_workers)
            generation = self.generation
            try:
                future = self.pool.submit(workers.extract_job, *args)
                return await self._answer(future, self.DEPTH)
            except BrokenProcessPool:
                self._rebuild(generation, "an extraction worker died")
            except TimeoutError:
                self._kill(self.pool)
                self._rebuild(generation, "an extraction worker hung")
                raise WorkerLost("timeout", self._hung()) from None
        self.stats.inc_value("nianbao/worker/retried")
        async with self.retry_lock:  # one at a time: a page that kills a worker is found
            if self.retry_pool is None:
                self.retry_pool = self._new_pool(1)
            pool = self.retry_pool
            try:
                try:
                    future = pool.submit(workers.extract_job, *args)
                except BrokenProcessPool:  # broken while idle, before this page ran
                    pool.shutdown(wait=False)
                    pool = self.retry_pool = self._new_pool(1)
                    future = pool.submit(workers.extract_job, *args)
                return await self._answer(future)
            except BrokenProcessPool:
                self.retry_pool = None
                pool.shutdown(wait=False, cancel_futures=True)
                raise WorkerLost(
                    "worker_died",
                    "the extraction worker died on this page, and again on the retry in a "
                    "fresh worker (killed: out of memory?); page not read",
                ) from None
            except TimeoutError:
                self.retry_pool = None
                self._kill(pool)
                raise WorkerLost("timeout", self._hung()) from None

    async def _answer(self, future: Future, depth: int = 1) -> object:
        """The future's result, waiting at most the time cap of the tasks it may queue
        behind (``depth`` - 1 of them) and its own, plus a grace (TimeoutError)."""
        grace = max(self.GRACE, self.timeout / 2)
        wait = depth * self.timeout + grace if self.timeout > 0 else None
        return await asyncio.wait_for(asyncio.wrap_future(future), wait)

    def _hung(self) -> str:
        return f"extraction did not finish within the {self.timeout:g} s cap: worker killed"

    def _rebuild(self, generation: int, why: str) -> None:
        """Replace a broken pool (once per break: every task of it lands here)."""
        if generation != self.generation:
            return
        old, self.generation = self.pool, self.generation + 1
        self.stats.inc_value("nianbao/worker/died")
        logger.error("%s: extraction pool rebuilt; its pages are retried once", why)
        self.pool = self._new_pool(self.n_workers)
        old.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _kill(pool: ProcessPoolExecutor) -> None:
        """SIGKILL every worker of ``pool`` (a hung C call ignores the worker's alarm)."""
        for pid in list(getattr(pool, "_processes", None) or {}):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


CAP_KINDS = ("timeout", "memory", "zip_bomb", "too_many_pages", "oversize")


class WorkerLost(Exception):
    """No worker gave an answer for a page: ``kind`` is the problem (``worker_died``,
    ``timeout``)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(kind, detail)
        self.kind, self.detail = kind, detail


def _problem(item: PageItem, kind: str, detail: str) -> FetchProblem:
    return FetchProblem(item.portal_id, item.url, kind, item.status, detail, item.listed_on)
