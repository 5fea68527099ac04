"""The item pipeline that hands crawled items to the store: monitor/'s door into a crawl.

The crawl runs in a child process (``crawler.runner``); ``monitor.cycle`` registers this
pipeline by dotted path (``monitor.cycle.STORE_PIPELINE``) in the settings it passes, so ``crawler/``
never imports ``monitor/``.

A full disk under the database (``is_disk_full``) stops the crawl: SQLite rolled back the
item that did not fit, every later one would fail the same way, and each page fetched
meanwhile would be fetched for nothing. The spider closes with the reason ``disk_full``
(``monitor.cycle`` then discards the crawl's job dir: a resume would skip the pages
fetched but not stored), and the items still on their way are dropped, one line in the
log for all of them.

May import: monitor.store, crawler.items, scrapy.
"""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.defer import deferred_from_coro

from crawler.items import DISK_FULL
from monitor.store import Store, is_disk_full

logger = logging.getLogger(__name__)


class StorePipeline:
    """Hand every item to ``Store.ingest`` for the current crawl run."""

    def __init__(self, crawler: Crawler, db_path: str, run_id: int):
        self.crawler = crawler
        self.db_path = db_path
        self.run_id = run_id
        self.store: Store | None = None
        self.closing = None  # the close the full disk asked for

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        db_path = crawler.settings.get("NIANBAO_DB")
        run_id = crawler.settings.getint("NIANBAO_RUN_ID")
        if not db_path or not run_id:
            raise NotConfigured("StorePipeline needs NIANBAO_DB and NIANBAO_RUN_ID")
        return cls(crawler, db_path, run_id)

    def open_spider(self) -> None:
        self.store = Store(self.db_path)

    def close_spider(self) -> None:
        if self.store:
            self.store.close()

    def process_item(self, item: object) -> object:
        if self.closing is None:
            try:
                outcome = self.store.ingest(item, self.run_id)
            except Exception as exc:
                if not is_disk_full(exc):
                    raise
                self._stop(exc)
            else:
                self.crawler.stats.inc_value(f"nianbao/ingest/{outcome}")
                return item
        self.crawler.stats.inc_value("nianbao/ingest/disk_full")
        raise DropItem("not stored: the disk is full", log_level="DEBUG")

    def _stop(self, exc: BaseException) -> None:
        logger.error(
            "%s: the disk is full (%s): the crawl stops; what it stored is kept",
            self.db_path,
            exc,
        )
        self.crawler.stats.set_value("nianbao/disk_full", str(exc))
        engine = self.crawler.engine
        self.closing = deferred_from_coro(engine.close_spider_async(reason=DISK_FULL))
