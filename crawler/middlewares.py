"""Downloader middlewares: conditional requests from the last good fetch.

May import: crawler.items (no monitor/).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

logger = logging.getLogger(__name__)


def load_fetch_state(path: str | None) -> dict[str, dict]:
    """The per-URL state written by the caller before the crawl ({} when none)."""
    if not path or not Path(path).exists():
        return {}
    return json.loads(Path(path).read_text(encoding="utf-8"))


class ConditionalRequestMiddleware:
    """Send If-None-Match / If-Modified-Since for report pages fetched before.

    A 304 answer then reaches the spider as is (``handle_httpstatus_list``) and costs
    no extraction and no write beyond "seen".
    """

    def __init__(self, state: dict[str, dict], crawler: Crawler):
        self.state = state
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        if not crawler.settings.getbool("NIANBAO_CONDITIONAL", True):
            raise NotConfigured
        return cls(load_fetch_state(crawler.settings.get("NIANBAO_FETCH_STATE")), crawler)

    def process_request(self, request: Request) -> None:
        if not request.meta.get("report"):
            return None
        prior = self.state.get(request.url)
        if not prior:
            return None
        if prior.get("etag"):
            request.headers.setdefault("If-None-Match", prior["etag"])
        if prior.get("last_modified"):
            request.headers.setdefault("If-Modified-Since", prior["last_modified"])
        if prior.get("etag") or prior.get("last_modified"):
            self.crawler.stats.inc_value("nianbao/conditional_requests")
        return None
