"""The item pipeline that hands crawled items to the store: monitor/'s door into a crawl.

The crawl runs in a child process (``crawler.runner``); ``monitor.cycle`` registers this
pipeline by dotted path (``monitor.cycle.STORE_PIPELINE``) in the settings it passes, so ``crawler/``
never imports ``monitor/``.

May import: monitor.store, scrapy.
"""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from monitor.store import Store


class StorePipeline:
    """Hand every item to ``Store.ingest`` for the current crawl run."""

    def __init__(self, crawler: Crawler, db_path: str, run_id: int):
        self.crawler = crawler
        self.db_path = db_path
        self.run_id = run_id
        self.store: Store | None = None

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
        outcome = self.store.ingest(item, self.run_id)
        self.crawler.stats.inc_value(f"nianbao/ingest/{outcome}")
        return item
