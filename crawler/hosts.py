"""Many hosts at once, politely: a per-host limit that holds, and hosts given up early.

``HostDownloader`` (the ``DOWNLOADER`` setting) is Scrapy's downloader with two changes:

- its slots are keyed by host name, always (Scrapy keys by ``meta["download_slot"]`` when a
  request carries one, so a redirect to another host stays counted on the first host);
- a download takes its place in the slot when it is *scheduled*, not when its task first
  runs. On the asyncio reactor Scrapy 2.19 schedules a download as an asyncio task and
  counts it as transferring only once the task runs, so with ``DOWNLOAD_DELAY = 0`` one pass
  over a slot's queue starts every queued request at once: 8 at once on a host whose limit
  was 2 (``docs/scrapy-slot-concurrency.md``, the report for upstream).

The per-host limit is ``NIANBAO_PER_HOST``; Scrapy's ``CONCURRENT_REQUESTS_PER_DOMAIN``,
when set more explicitly (``-s``), is honoured as its other name.

``HostGiveUpMiddleware`` records a host as down for this crawl after
``NIANBAO_HOST_FAILURES`` connection-level failures in a row (refused, DNS, timeouts; the
retries of one page that times out count once, those of robots.txt each): the failing
request is not retried, and every later request for the host is dropped at once
(``HostDown``). The first one dropped reaches its errback: one problem ``host_down`` per
host, naming the failures (a dead portal's start page is that one, so the portal is
``failed`` and judged on nothing); the others are dropped silently
(``nianbao/host_down/dropped`` counts them). A dropped page is not gone, so it is never a
removal. A host that failed once gets a shorter timeout (``NIANBAO_HOST_SUSPECT_TIMEOUT``)
until it answers again, so a dead or trickling host costs one full ``DOWNLOAD_TIMEOUT`` and
a few short ones, and only its own slot. An HTTP answer, whatever its status, resets the
count.

May import: scrapy, twisted (no monitor/, no mirror/).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from time import monotonic

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro
from scrapy.utils.httpobj import urlparse_cached

logger = logging.getLogger(__name__)

# Failures that say "this host does not answer" (class names: the classes moved between
# Scrapy and Twisted versions). An HTTP error, a truncated answer or a connection closed
# without an answer (a WAF, one broken page) is the host answering.
HOST_FAILURES = frozenset(
    {
        "DownloadConnectionRefusedError",
        "ConnectionRefusedError",
        "CannotResolveHostError",
        "DNSLookupError",
        "ConnectError",
        "NoRouteError",
    }
)
# Timeouts may be one slow page rather than the host: the retries of one URL count once,
# except robots.txt, which every other request of the host waits for.
TIMEOUTS = frozenset(
    {"DownloadTimeoutError", "TimeoutError", "TCPTimedOutError", "ConnectingCancelledError"}
)
CONNECTION_FAILURES = HOST_FAILURES | TIMEOUTS


def per_host_limit(settings: BaseSettings) -> int:
    """``NIANBAO_PER_HOST``, or ``CONCURRENT_REQUESTS_PER_DOMAIN`` when that one was set at a
    higher priority (``-s CONCURRENT_REQUESTS_PER_DOMAIN=8`` on the command line).

    >>> from scrapy.settings import Settings
    >>> s = Settings({"NIANBAO_PER_HOST": 2, "CONCURRENT_REQUESTS_PER_DOMAIN": 2}, priority="project")
    >>> per_host_limit(s)
    2
    >>> s.set("CONCURRENT_REQUESTS_PER_DOMAIN", 8, priority="cmdline"); per_host_limit(s)
    8
    >>> s.set("NIANBAO_PER_HOST", 1, priority="cmdline"); per_host_limit(s)
    1
    """
    own = settings.getint("NIANBAO_PER_HOST", 2)
    scrapy_name = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", own)
    ours = settings.getpriority("NIANBAO_PER_HOST") or 0
    theirs = settings.getpriority("CONCURRENT_REQUESTS_PER_DOMAIN") or 0
    return max(1, scrapy_name if theirs > ours else own)


class HostDownloader(Downloader):
    """Scrapy's downloader with slots keyed by host and their limit counted from the moment
    a download is scheduled (see the module docstring)."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.domain_concurrency = per_host_limit(self.settings)

    def get_slot_key(self, request: Request) -> str:
        return urlparse_cached(request).hostname or ""

    def _process_queue(self, slot: Slot) -> None:
        # Scrapy 2.19's Downloader._process_queue, with one line added (marked).
        if slot.latercall:
            return
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
            # Added: the transfer counts from now, not from when the task first runs
            # (Downloader._download adds it again, a no-op, and removes it when done).
            slot.transferring.add(request)
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:
                self._process_queue(slot)
                break


class HostDown(IgnoreRequest):
    """A request not sent: its host was recorded as down for this crawl."""


class HostGiveUpMiddleware:
    """Give up on a host after ``NIANBAO_HOST_FAILURES`` connection failures in a row.

    Sits above RetryMiddleware (550), so it sees a failure first and can mark it
    ``dont_retry`` once the host is down.
    """

    def __init__(self, crawler: Crawler, limit: int, suspect_timeout: float):
        self.crawler = crawler
        self.limit = limit
        self.suspect_timeout = suspect_timeout
        self.failures: Counter[str] = Counter()
        self.kinds: defaultdict[str, list[str]] = defaultdict(list)
        self.timed_out: defaultdict[str, set[str]] = defaultdict(set)  # URLs, this streak
        self.down: dict[str, str] = {}  # host -> why
        self.reported: set[str] = set()  # down hosts whose first dropped request was recorded

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostGiveUpMiddleware:
        limit = crawler.settings.getint("NIANBAO_HOST_FAILURES", 3)
        if limit <= 0:
            raise NotConfigured
        return cls(crawler, limit, crawler.settings.getfloat("NIANBAO_HOST_SUSPECT_TIMEOUT", 10.0))

    @staticmethod
    def host(request: Request) -> str:
        return urlparse_cached(request).hostname or ""

    def process_request(self, request: Request) -> None:
        host = self.host(request)
        if host in self.down:
            self.crawler.stats.inc_value("nianbao/host_down/dropped")
            if host in self.reported:
                request.errback = None  # dropped silently: the host's problem is recorded
            self.reported.add(host)
            raise HostDown(f"host {host} down for this crawl: {self.down[host]}")
        if self.failures[host] and self.suspect_timeout > 0:
            current = request.meta.get("download_timeout") or self.suspect_timeout
            request.meta["download_timeout"] = min(float(current), self.suspect_timeout)

    def process_response(self, request: Request, response: Response) -> Response:
        host = self.host(request)
        if self.failures[host] or host in self.timed_out:
            self.failures.pop(host, None)
            self.kinds.pop(host, None)
            self.timed_out.pop(host, None)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        name = type(exception).__name__
        if name not in CONNECTION_FAILURES:
            return None
        host = self.host(request)
        if host in self.down:
            request.meta["dont_retry"] = True
            return None
        if name in TIMEOUTS and urlparse_cached(request).path != "/robots.txt":
            if request.url in self.timed_out[host]:
                return None  # a retry of a page that timed out already: counted once
            self.timed_out[host].add(request.url)
        self.failures[host] += 1
        self.kinds[host].append(name)
        if self.failures[host] >= self.limit:
            kinds = ", ".join(f"{k} ×{n}" for k, n in Counter(self.kinds[host]).items())
            self.down[host] = f"{self.failures[host]} connection failures in a row ({kinds})"
            request.meta["dont_retry"] = True
            self.crawler.stats.inc_value("nianbao/host_down")
            self.crawler.stats.set_value(f"nianbao/host_down/{host}", self.down[host])
            logger.warning("Host %s recorded as down for this crawl: %s", host, self.down[host])
        return None
