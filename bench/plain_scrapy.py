"""A plain Scrapy crawl of one mirror portal: the floor under a one-shot ``nianbao crawl``.

Usage: python bench/plain_scrapy.py START_URL ALLOW_PREFIX

A new Python process that imports Scrapy, follows every link under ``ALLOW_PREFIX`` from
``START_URL`` (robots.txt obeyed, 2 requests at a time per host, no delay: what the
one-shot bench gives nianbao), and does nothing with the pages: no job dir, no store, no
extraction, no conditional requests. Prints one JSON line: the requests, Scrapy's elapsed
time for them, and the process's own time from its start to the end of the crawl.
``bench/oneshot.py`` times the whole process from outside, as it times ``nianbao crawl``.
"""

from __future__ import annotations

import json
import sys
import time

STARTED = time.monotonic()

import scrapy  # noqa: E402 (after the clock starts: the imports are part of the floor)
from scrapy.crawler import CrawlerProcess  # noqa: E402


class PlainSpider(scrapy.Spider):
    name = "plain"

    def __init__(self, start: str, allow: str, **kwargs):
        super().__init__(**kwargs)
        self.start_urls, self.allow = [start], allow

    def parse(self, response):
        if "/list/" not in response.url:  # a report page: nothing to follow
            return
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href)
            if url.startswith(self.allow):
                yield scrapy.Request(url, callback=self.parse)


def main(start: str, allow: str) -> None:
    process = CrawlerProcess(
        {
            "LOG_LEVEL": "WARNING",
            "ROBOTSTXT_OBEY": True,
            "DOWNLOAD_DELAY": 0,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
            "TELNETCONSOLE_ENABLED": False,
        }
    )
    crawler = process.create_crawler(PlainSpider)
    process.crawl(crawler, start=start, allow=allow)
    process.start()
    stats = crawler.stats.get_stats()
    print(
        json.dumps(
            {
                "requests": stats.get("downloader/request_count", 0),
                "elapsed": stats.get("elapsed_time_seconds", 0),
                "process_seconds": round(time.monotonic() - STARTED, 3),
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.splitlines()[2])
    main(sys.argv[1], sys.argv[2])
