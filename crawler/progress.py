"""A Scrapy extension that writes progress as JSON lines on stdout for the CLI to render.

Each line: ``{"progress": {"requests": n, "responses": n, "items": {...}}}``; the final
line is ``{"done": {...stats...}}``. Enabled by ``NIANBAO_PROGRESS``.
"""

from __future__ import annotations

import json
import sys

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

KEYS = {
    "requests": "downloader/request_count",
    "responses": "downloader/response_count",
    "reports": "nianbao/ingest/version",
    "same": "nianbao/ingest/same",
    "unchanged": "nianbao/ingest/unchanged",
    "not_reports": "nianbao/ingest/not-report",
    "problems": "nianbao/ingest/problem",
    "listings": "nianbao/ingest/listing",
    "extracted": "nianbao/extracted",
}


def snapshot(stats: dict) -> dict:
    """The figures the CLI shows, from Scrapy stats."""
    return {name: stats.get(key, 0) for name, key in KEYS.items()}


class ProgressReporter:
    def __init__(self, crawler: Crawler, interval: float):
        self.crawler = crawler
        self.interval = interval
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressReporter:
        if not crawler.settings.getbool("NIANBAO_PROGRESS"):
            raise NotConfigured
        ext = cls(crawler, crawler.settings.getfloat("NIANBAO_PROGRESS_INTERVAL", 0.5))
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def emit(self, key: str = "progress") -> None:
        stats = self.crawler.stats.get_stats()
        sys.stdout.write(json.dumps({key: snapshot(stats)}) + "\n")
        sys.stdout.flush()

    def opened(self) -> None:
        self.loop = task.LoopingCall(self.emit)
        self.loop.start(self.interval, now=False)

    def closed(self) -> None:
        if self.loop and self.loop.running:
            self.loop.stop()
