"""Minimal reproduction: CONCURRENT_REQUESTS_PER_DOMAIN is not a limit with DOWNLOAD_DELAY = 0
on the asyncio reactor (see docs/scrapy-slot-concurrency.md).

Plain Scrapy, no project: a threaded HTTP server on 127.0.0.1 answers every request after
0.2 s and counts how many requests it is serving at once; a spider asks for 20 pages of that
one host. Run:

    python docs/scrapy-slot-repro.py                 # asyncio reactor (Scrapy's default)
    python docs/scrapy-slot-repro.py --delay 0.01    # any delay: the limit holds
    python docs/scrapy-slot-repro.py --reactor epoll # non-asyncio reactor: the limit holds
    python docs/scrapy-slot-repro.py --fixed         # the one-line fix, as a Downloader subclass

It prints the highest number of requests the server saw at once, and exits 1 when that is
above CONCURRENT_REQUESTS_PER_DOMAIN (2).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import scrapy
from scrapy.core.downloader import Downloader
from scrapy.crawler import CrawlerProcess
from scrapy.utils.defer import _schedule_coro

LIMIT = 2
PAGES = 20


class Counter:
    def __init__(self) -> None:
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


COUNTER = Counter()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        COUNTER.enter()
        try:
            time.sleep(0.2)
            body = b"<html><body>ok</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            COUNTER.leave()

    def log_message(self, *args) -> None:
        pass


class FixedDownloader(Downloader):
    """Scrapy's Downloader with the transfer slot taken when a download is scheduled."""

    def _process_queue(self, slot) -> None:
        if slot.latercall:
            return
        from time import monotonic

        from scrapy.utils.asyncio import call_later

        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            slot.transferring.add(request)  # THE FIX: count it before the task runs
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:
                self._process_queue(slot)
                break


class Pages(scrapy.Spider):
    name = "pages"

    def __init__(self, base: str, **kwargs):
        super().__init__(**kwargs)
        self.base = base

    async def start(self):
        for i in range(PAGES):
            yield scrapy.Request(f"{self.base}/p{i}.html", dont_filter=True)

    def parse(self, response):
        return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--reactor", choices=("asyncio", "epoll"), default="asyncio")
    parser.add_argument("--fixed", action="store_true")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = {
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": LIMIT,
        "DOWNLOAD_DELAY": args.delay,
        "ROBOTSTXT_OBEY": False,
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
    }
    if args.reactor == "epoll":
        settings["TWISTED_REACTOR"] = "twisted.internet.epollreactor.EPollReactor"
    if args.fixed:
        settings["DOWNLOADER"] = f"{__name__}.FixedDownloader"
    process = CrawlerProcess(settings)
    process.crawl(Pages, base=f"http://127.0.0.1:{server.server_address[1]}")
    process.start()
    server.shutdown()
    print(
        f"scrapy {scrapy.__version__}, reactor {args.reactor}, DOWNLOAD_DELAY {args.delay}, "
        f"fixed {args.fixed}: CONCURRENT_REQUESTS_PER_DOMAIN={LIMIT}, "
        f"server saw at most {COUNTER.peak} at once"
    )
    return 1 if COUNTER.peak > LIMIT else 0


if __name__ == "__main__":
    sys.exit(main())
