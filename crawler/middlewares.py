"""Downloader middlewares: conditional requests from the last good fetch, anti-bot
challenges (recorded, never retried), Retry-After, a User-Agent with a contact, and
redirects kept inside the portal's origin (a refused one is the problem ``off_site``).

May import: crawler.heuristics, crawler.items (no monitor/).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response

from crawler import heuristics

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
            return
        prior = self.state.get(request.url)
        if not prior:
            return
        if prior.get("etag"):
            request.headers.setdefault("If-None-Match", prior["etag"])
        if prior.get("last_modified"):
            request.headers.setdefault("If-Modified-Since", prior["last_modified"])
        if prior.get("etag") or prior.get("last_modified"):
            self.crawler.stats.inc_value("nianbao/conditional_requests")
        return


class ChallengeSkipped(IgnoreRequest):
    """A request not sent because its host answers anti-bot challenges this crawl."""


class ChallengeMiddleware:
    """Anti-bot challenges (瑞数 412 / 200 ``$_ts`` stubs, 加速乐 521/512 ``__jsluid``
    cookie scripts, WAF block pages) are recorded, never retried, never content.

    A challenge answer gets ``dont_retry`` (no retry storm: it is a channel block, not an
    outage) and counts in ``nianbao/challenge/<kind>``. After
    ``NIANBAO_CHALLENGE_LIMIT`` challenges in a row from one host, its remaining requests are
    dropped as ``ChallengeSkipped`` (recorded as challenge problems).
    """

    CHALLENGE_STATUSES = (412, 512, 521)

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.limit = crawler.settings.getint("NIANBAO_CHALLENGE_LIMIT", 20)
        self.hosts: Counter[str] = Counter()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ChallengeMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        host = urlsplit(request.url).hostname or ""
        if self.limit and self.hosts[host] >= self.limit:
            self.crawler.stats.inc_value("nianbao/challenge/skipped")
            raise ChallengeSkipped(
                f"{host} answered {self.hosts[host]} challenges: not asked again this crawl"
            )

    def process_response(self, request: Request, response: Response) -> Response:
        kind = heuristics.is_challenge_body(response.body) if len(response.body) < 200_000 else None
        if (
            kind is None
            and response.status in self.CHALLENGE_STATUSES
            and len(response.body) < 4000
        ):
            kind = "challenge"
        if kind:
            request.meta["dont_retry"] = True
            self.hosts[urlsplit(request.url).hostname or ""] += 1
            self.crawler.stats.inc_value(f"nianbao/challenge/{kind}")
            logger.info(
                "%s answered %s (HTTP %s): recorded, not retried",
                request.url,
                kind,
                response.status,
            )
        elif response.status < 400:
            self.hosts.pop(urlsplit(request.url).hostname or "", None)
        return response


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date).

    >>> retry_after_seconds("120"), retry_after_seconds(None), retry_after_seconds("soon")
    (120.0, None, None)
    >>> retry_after_seconds("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0)
    60.0
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


class RetryAfterMiddleware:
    """Honour ``Retry-After`` on 429/503: the retry waits that long (through the
    download slot's delay), up to ``NIANBAO_RETRY_AFTER_MAX`` seconds; a longer wait is
    not retried in this crawl at all (the portal asked for a pause)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.cap = crawler.settings.getfloat("NIANBAO_RETRY_AFTER_MAX", 60.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in (429, 503):
            return response
        wait = retry_after_seconds((response.headers.get("Retry-After") or b"").decode("latin-1"))
        if wait is None:
            return response
        if wait > self.cap:
            request.meta["dont_retry"] = True
            self.crawler.stats.inc_value("nianbao/retry_after/too_long")
            return response
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(downloader.get_slot_key(request))
        if slot is not None:
            slot.delay = max(slot.delay, wait)
        self.crawler.stats.inc_value("nianbao/retry_after/honoured")
        logger.info("%s: HTTP %s, Retry-After %.0f s honoured", request.url, response.status, wait)
        return response


class OffSite(IgnoreRequest):
    """A redirect (3xx or meta refresh) to an address outside the portal: not fetched."""


class OriginMiddleware:
    """Redirects obey the portal's rule for links (the spider's ``inside``: scheme, host
    and port, domains, ``allow`` prefixes). A 3xx or meta refresh leading out is not
    fetched; it fails as ``OffSite`` (the spider records the problem ``off_site`` with its
    target). Runs before Scrapy's offsite middleware, which knows hosts but not ports.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OriginMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        hops = request.meta.get("redirect_urls")
        spider = self.crawler.spider
        if not hops or not hasattr(spider, "inside"):
            return
        seed = getattr(spider, "seeds", {}).get(request.meta.get("portal"))
        if seed is None or spider.inside(seed, request.url):
            return
        self.crawler.stats.inc_value("nianbao/off_site")
        logger.warning("Not following %s -> %s: outside portal %s", hops[-1], request.url, seed.id)
        raise OffSite(f"redirect to {request.url} leaves the portal (from {hops[-1]})")


class PoliteUserAgentMiddleware:
    """User-Agent naming nianbao with a contact: ``USER_AGENT`` with ``{contact}`` filled
    from ``NIANBAO_CONTACT`` (replaces Scrapy's UserAgentMiddleware)."""

    def __init__(self, user_agent: str):
        self.user_agent = user_agent

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PoliteUserAgentMiddleware:
        template = crawler.settings.get("USER_AGENT") or "nianbao (+{contact})"
        return cls(template.replace("{contact}", crawler.settings.get("NIANBAO_CONTACT") or ""))

    def process_request(self, request: Request) -> None:
        request.headers.setdefault(b"User-Agent", self.user_agent)
