"""PortalSpider: from each seed's start pages, walk column lists and fetch report pages.

List pages: follow pagination (下一页, 尾页, index_N.html, ?page=N) and, from a start
page, columns whose link text names annual reports (年报 / 年度报告). Report links are
recognised by their anchor text or title attribute. Everything stays inside the seed's
domains (and ``allow`` URL prefixes). Yields ``ListingItem``, ``PageItem`` and
``FetchProblem``.

May import: crawler.heuristics, crawler.items, crawler.seeds.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler import heuristics
from crawler.items import FetchProblem, ListingItem, PageItem
from crawler.seeds import Seed

PAGER_TEXT = re.compile(r"^(下一?页|后页|尾页|末页|下页|>|>>|»|›|\d{1,3})$")
PAGER_HREF = re.compile(r"(index|list|default)_\d+\.s?html?$|[?&](page|pageNo|pageIndex|p)=\d+", re.I)
COLUMN_TEXT = re.compile(r"(年报|年度报告)")
RENDERING_TEXT = re.compile(r"^(繁體|繁体|繁體版|繁体版|big5)$", re.I)
SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "#", "data:")
HTML_TYPES = ("text/html", "application/xhtml")

EXCEPTION_KINDS = {
    "DownloadConnectionRefusedError": "refused",
    "ConnectionRefusedError": "refused",
    "CannotResolveHostError": "dns",
    "DNSLookupError": "dns",
    "DownloadTimeoutError": "timeout",
    "TimeoutError": "timeout",
    "TCPTimedOutError": "timeout",
    "DownloadCancelledError": "oversize",
    "ResponseDataLossError": "truncated",
    "ResponseFailed": "truncated",
    "ResponseNeverReceived": "refused",
    "ConnectionLost": "truncated",
    "IgnoreRequest": "robots",
}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_kind(status: int, body: bytes) -> str:
    """Name an HTTP error answer: challenge bodies first, then by status code.

    >>> status_kind(404, b""), status_kind(500, b""), status_kind(412, b"<script>$_ts=window['$_ts'];</script>")
    ('not_found', 'http_error', 'challenge')
    """
    found = heuristics.is_challenge_body(body)
    if found:
        return found
    if status in (404, 410):
        return "not_found"
    if status in (412, 521, 512):
        return "challenge"
    return "http_error"


class PortalSpider(scrapy.Spider):
    """Crawl the portals given as ``seeds`` (a list of ``Seed``)."""

    name = "portals"

    def __init__(self, seeds: list[Seed] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seeds = {s.id: s for s in seeds or []}
        self.allowed_domains = sorted({d for s in self.seeds.values() for d in s.domains})
        self.budget: Counter[str] = Counter()
        self.list_pages: Counter[str] = Counter()

    # ---- scheduling ----------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for seed in self.seeds.values():
            for url in seed.start_urls:
                request = self.listing_request(seed, url, depth=0)
                if request:
                    yield request

    def _may_request(self, seed: Seed) -> bool:
        cap = seed.max_pages or self.settings.getint("NIANBAO_MAX_PAGES_PER_PORTAL")
        if self.budget[seed.id] >= cap:
            self.crawler.stats.inc_value("nianbao/capped")
            return False
        self.budget[seed.id] += 1
        return True

    def listing_request(self, seed: Seed, url: str, depth: int) -> scrapy.Request | None:
        if self.list_pages[seed.id] >= self.settings.getint("NIANBAO_MAX_LIST_PAGES"):
            return None
        if not self._may_request(seed):
            return None
        self.list_pages[seed.id] += 1
        return scrapy.Request(
            url, callback=self.parse_listing, errback=self.listing_failed,
            meta={"portal": seed.id, "list_depth": depth, "handle_httpstatus_list": [404, 410]},
            cb_kwargs={"seed": seed, "depth": depth},
        )

    def report_request(self, seed: Seed, url: str, listed_on: str, anchor: str) -> scrapy.Request | None:
        if not self._may_request(seed):
            return None
        return scrapy.Request(
            url, callback=self.parse_report, errback=self.report_failed,
            meta={"portal": seed.id, "report": True, "listed_on": listed_on, "anchor": anchor,
                  "handle_httpstatus_list": [304]},
            cb_kwargs={"seed": seed},
        )

    def inside(self, seed: Seed, url: str) -> bool:
        """True when ``url`` belongs to the portal (its domains and ``allow`` prefixes)."""
        host = urlsplit(url).hostname or ""
        if not any(host == d or host.endswith("." + d) for d in seed.domains):
            return False
        return not seed.allow or any(url.startswith(p) for p in seed.allow)

    # ---- list pages ----------------------------------------------------------

    def links(self, response: Response, seed: Seed) -> Iterator[tuple[str, str]]:
        """(absolute URL, anchor text) for each followable link inside the portal."""
        for a in response.css("a[href]"):
            href = (a.attrib.get("href") or "").strip()
            if not href or href.lower().startswith(SKIP_SCHEMES):
                continue
            url = urljoin(response.url, href).split("#")[0]
            if not url.startswith(("http://", "https://")) or not self.inside(seed, url):
                continue
            text = " ".join(" ".join(a.css("::text").getall()).split())
            title = (a.attrib.get("title") or "").strip()
            yield url, title if len(title) > len(text) else text

    def parse_listing(self, response: Response, seed: Seed, depth: int) -> Iterator[object]:
        problem = self.listing_problem(response)
        if problem:
            yield ListingItem(seed.id, response.url, ok=False, status=response.status, detail=problem)
            return
        reports: dict[str, str] = {}
        for url, text in self.links(response, seed):
            if heuristics.is_report_title(text) and heuristics.report_year(text):
                reports.setdefault(url, text)
            else:
                hop = self.list_hop(url, text, depth)
                request = self.listing_request(seed, url, depth + hop) if hop is not None else None
                if request:
                    yield request
        yield ListingItem(seed.id, response.url, ok=True, report_links=list(reports), status=response.status)
        for url, text in reports.items():
            request = self.report_request(seed, url, response.url, text)
            if request:
                yield request

    def list_hop(self, url: str, text: str, depth: int) -> int | None:
        """0 for a pagination link (same list), 1 for a column about annual reports
        (年报 / 年度报告) within ``NIANBAO_MAX_LIST_DEPTH`` hops of a start page, else None."""
        if PAGER_TEXT.match(text) or PAGER_HREF.search(url):
            return 0
        if depth >= self.settings.getint("NIANBAO_MAX_LIST_DEPTH"):
            return None
        if COLUMN_TEXT.search(text) and not heuristics.is_attachment_url(url):
            return 1
        return None

    def listing_problem(self, response: Response) -> str | None:
        if response.status in (404, 410):
            return f"HTTP {response.status}"
        if not self.is_html(response):
            return f"not an HTML page ({self.content_type(response) or 'no Content-Type'})"
        found = heuristics.is_challenge_body(response.body)
        return f"{found} page instead of the list" if found else None

    def listing_failed(self, failure: Failure) -> Iterator[ListingItem]:
        request = failure.request
        status, kind = self.failure_kind(failure)
        self.logger.warning("List page %s failed: %s", request.url, kind)
        yield ListingItem(request.meta["portal"], request.url, ok=False, status=status,
                          detail=f"{kind}: {failure.getErrorMessage()[:200]}")

    # ---- report pages ----------------------------------------------------------

    @staticmethod
    def content_type(response: Response) -> str:
        return (response.headers.get("Content-Type") or b"").decode("latin-1").split(";")[0].strip().lower()

    def is_html(self, response: Response) -> bool:
        ctype = self.content_type(response)
        if ctype:
            return ctype.startswith(HTML_TYPES)
        return response.body.lstrip()[:1] == b"<"

    def parse_report(self, response: Response, seed: Seed) -> Iterator[object]:
        meta = response.meta
        headers = {
            k: (response.headers.get(k) or b"").decode("latin-1")
            for k in ("ETag", "Last-Modified", "Content-Type")
            if response.headers.get(k)
        }
        item = PageItem(
            portal_id=seed.id, url=response.url, status=response.status, fetched_at=now_iso(),
            body=response.body if response.status != 304 else b"",
            headers={k.lower(): v for k, v in headers.items()},
            content_type=self.content_type(response),
            raw_sha=hashlib.sha256(response.body).hexdigest() if response.status != 304 else "",
            listed_on=meta.get("listed_on"), anchor=meta.get("anchor", ""), issuer_hint=seed.name,
            parent_url=meta.get("parent_url"),
        )
        if response.status == 304:
            item.url = response.request.url
            item.unchanged = True
            yield item
            return
        if not self.is_html(response) and not heuristics.is_attachment_url(response.url):
            yield FetchProblem(seed.id, response.url, "non_html", response.status,
                               f"skipped: Content-Type {item.content_type or 'missing'}", meta.get("listed_on"))
            return
        yield item
        if self.is_html(response) and not meta.get("rendering"):
            yield from self.renderings(response, seed)

    def renderings(self, response: Response, seed: Seed) -> Iterator[scrapy.Request]:
        """Follow a report page's 繁體 link: the same report in another rendering."""
        for url, text in self.links(response, seed):
            if RENDERING_TEXT.match(text):
                request = self.report_request(seed, url, response.meta.get("listed_on"), text)
                if request:
                    request.meta["rendering"] = True
                    yield request

    def report_failed(self, failure: Failure) -> Iterator[FetchProblem]:
        request = failure.request
        status, kind = self.failure_kind(failure)
        self.crawler.stats.inc_value(f"nianbao/problem/{kind}")
        yield FetchProblem(request.meta["portal"], request.url, kind, status,
                           failure.getErrorMessage()[:300], request.meta.get("listed_on"))

    @staticmethod
    def failure_kind(failure: Failure) -> tuple[int, str]:
        if failure.check(HttpError):
            response = failure.value.response
            return response.status, status_kind(response.status, response.body)
        name = type(failure.value).__name__
        if name == "IgnoreRequest" and "robots" not in failure.getErrorMessage().lower():
            return 0, "ignored"
        return 0, EXCEPTION_KINDS.get(name, "error")
