"""Item pipelines of the crawl: Extract (in worker processes).

The pipeline that stores items belongs to the consumer (``monitor.store.pipeline``), which
registers it by dotted path in the settings it hands to the crawl.

May import: crawler.items, crawler.workers, crawler.middlewares.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from scrapy.crawler import Crawler

from crawler import workers
from crawler.items import FetchProblem, PageItem
from crawler.middlewares import load_fetch_state

logger = logging.getLogger(__name__)


class ExtractPipeline:
    """Extract text and metadata from fetched pages in a pool of worker processes.

    Extraction is CPU work (~25 ms a page): run on the reactor it caps a crawl at
    ~32 pages/s. Workers use every core while the reactor keeps fetching. A page whose
    raw bytes, body fingerprint or HTTP 304 show no change is not extracted again.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        settings = crawler.settings
        self.state = load_fetch_state(settings.get("NIANBAO_FETCH_STATE"))
        self.html_cap = settings.getint("NIANBAO_HTML_MAXSIZE")
        self.n_workers = settings.getint("NIANBAO_EXTRACT_WORKERS") or os.cpu_count() or 1
        self.pool: ProcessPoolExecutor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        pipeline = cls(crawler)
        return pipeline

    def open_spider(self) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["crawler.workers"])
        self.pool = ProcessPoolExecutor(
            self.n_workers, mp_context=context, initializer=workers.warm_up
        )
        for _ in range(self.n_workers):  # start the workers now, while robots.txt and lists load
            self.pool.submit(workers.ready)

    def close_spider(self) -> None:
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def process_item(self, item: object) -> object:
        if not isinstance(item, PageItem) or item.unchanged:
            return item
        prior = self.state.get(item.url, {})
        if item.raw_sha and item.raw_sha == prior.get("raw_sha"):
            self.stats.inc_value("nianbao/skipped/same_bytes")
            item.unchanged = True
            return item
        if item.content_type.startswith("text/html") and len(item.body) > self.html_cap:
            return FetchProblem(
                item.portal_id,
                item.url,
                "oversize",
                item.status,
                f"HTML page of {len(item.body)} bytes is over the {self.html_cap}-byte cap",
                item.listed_on,
            )
        try:
            future = self.pool.submit(
                workers.extract_job,
                item.body,
                item.url,
                item.content_type,
                item.issuer_hint,
                prior.get("body_fp"),
                item.anchor,
            )
            extracted = await asyncio.wrap_future(future)
        except BrokenProcessPool:
            raise
        except Exception as exc:  # a page that breaks the extractor must not break the crawl
            logger.warning("Extraction failed for %s: %r", item.url, exc)
            return FetchProblem(
                item.portal_id,
                item.url,
                "error",
                item.status,
                f"extraction failed: {exc!r}"[:300],
                item.listed_on,
            )
        if extracted is None:
            self.stats.inc_value("nianbao/skipped/same_body")
            item.unchanged = True
            return item
        self.stats.inc_value("nianbao/extracted")
        if not extracted.problem and extracted.quality == "thin":
            extracted.problem = "thin"
            extracted.reason = f"almost no text ({len(extracted.text)} characters)"
        if extracted.issuer and item.issuer_hint.startswith(extracted.issuer):
            extracted.issuer = (
                item.issuer_hint
            )  # "江苏省" in a title is the portal's 江苏省人民政府
        item.extracted = extracted
        return item
