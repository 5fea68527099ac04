"""PortalSpider: from each seed's start pages, walk column lists and fetch report pages.

Generic list reading (pagers, 年报 columns, report links by anchor text or title) plus
the portal's list adapter (``crawler.adapters``: seed ``cms`` or detected), which adds
entries and list requests the HTML alone does not show. Report links may point at files
(PDF, DOCX…); a cover page's attachments are fetched too, once the extraction workers'
verdict (``crawler.extract.judge``) says it is a cover. Everything stays inside the
seed's domains and ``allow`` prefixes. Yields ListingItem, PageItem and FetchProblem.

May import: crawler.adapters, crawler.documents, crawler.extract (``is_cover``),
crawler.heuristics, crawler.items, crawler.middlewares, crawler.seeds,
crawler.spiders.fetching.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from urllib.parse import urljoin

import scrapy
from parsel import Selector
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler import adapters, documents, heuristics
from crawler.items import Extracted, FetchProblem, ListingItem, PageItem
from crawler.middlewares import load_fetch_state
from crawler.seeds import Seed
from crawler.spiders.fetching import (
    ARTICLE_HREF,
    COLUMN_TEXT,
    PAGER_HREF,
    PAGER_TEXT,
    RENDERING_TEXT,
    SKIP_SCHEMES,
    canonical_url,
    content_type,
    failure_kind,
    in_origin,
    is_html,
    now_iso,
    page_range,
    response_text,
)

# Cheap tests on the page text before parsing every link of a report page (most pages
# have neither a real 繁體 link nor an attachment; parsing links costs ~1.5 ms a page).
RENDERING_HINT = re.compile(
    r"""<a\b[^>]*\bhref\s*=\s*["']?(?!\s*javascript)[^"'\s>]+[^>]*>\s*(?:<[^>]*>\s*)*(?:繁體|繁体|big5)""",
    re.IGNORECASE,
)
LIST_PRIORITY = 10


class PortalSpider(scrapy.Spider):
    """Crawl the portals given as ``seeds`` (a list of ``Seed``)."""

    name = "portals"

    def __init__(self, seeds: list[Seed] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seeds = {s.id: s for s in seeds or []}
        self.allowed_domains = sorted({d for s in self.seeds.values() for d in s.domains})
        self.budget: Counter[str] = Counter()
        self.list_pages: Counter[str] = Counter()
        self.adapter_names: dict[str, str] = {}
        self.requested: set[str] = set()
        self.list_seen: set[str] = set()
        self.revisited = False
        # report page URL -> its attachment links, until the page's verdict says cover or not
        self.awaiting_verdict: dict[str, list[tuple[str, str, Seed]]] = {}

    # ---- scheduling ----------------------------------------------------------

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs) -> PortalSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.revisit_known, signal=signals.spider_idle)
        crawler.signals.connect(spider.verdict_reached, signal=signals.item_scraped)
        for signal in (signals.item_dropped, signals.item_error):
            crawler.signals.connect(spider.verdict_lost, signal=signal)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for seed in self.seeds.values():
            for url in seed.start_urls:
                request = self.listing_request(seed, url, depth=0)
                if request:
                    yield request

    def revisit_known(self) -> None:
        """When the lists are done, fetch known reports no list linked (silent edits of
        unlisted reports, real removals); listed ones were fetched with their anchor."""
        if self.revisited or self.settings.getbool("NIANBAO_LIST_ONLY"):
            return
        self.revisited = True
        scheduled = 0
        for url, prior in self.fetch_state.items():
            seed = self.seeds.get(prior.get("portal_id"))
            if seed and prior.get("revisit") and url not in self.requested:
                request = self.report_request(seed, url, None, "")
                if request:
                    self.crawler.engine.crawl(request)
                    scheduled += 1
        if scheduled:
            self.logger.info("Revisiting %d known reports no list linked", scheduled)
            raise DontCloseSpider

    @functools.cached_property
    def fetch_state(self) -> dict[str, dict]:
        return load_fetch_state(self.settings.get("NIANBAO_FETCH_STATE"))

    def _may_request(self, seed: Seed) -> bool:
        cap = seed.max_pages or self.settings.getint("NIANBAO_MAX_PAGES_PER_PORTAL")
        if self.budget[seed.id] >= cap:
            self.crawler.stats.inc_value("nianbao/capped")
            return False
        self.budget[seed.id] += 1
        return True

    def listing_request(
        self,
        seed: Seed,
        url: str,
        depth: int,
        order: adapters.ListRequest | None = None,
        adapter: str = "generic",
    ) -> scrapy.Request | None:
        """A list page request; ``order`` (from an adapter) may make it a POST or a data request.

        List pages go before report pages (``priority``): pagination is a chain (each page
        names the next), so fetching the next list page at once keeps the queue of
        reports full instead of waiting behind them. A list URL already asked for this
        crawl (every page links 首页 and 尾页) costs nothing from the list budget.
        """
        key = (
            url
            if order is None or order.method != "POST"
            else f"{url} {sorted((order.formdata or {}).items())}"
        )
        if key in self.list_seen or self.list_pages[seed.id] >= self.settings.getint(
            "NIANBAO_MAX_LIST_PAGES"
        ):
            return None
        if not self._may_request(seed):
            return None
        self.list_seen.add(key)
        self.list_pages[seed.id] += 1
        meta = {"portal": seed.id, "list_depth": depth, "handle_httpstatus_list": [404, 410]}
        common = {"errback": self.listing_failed, "meta": meta, "priority": LIST_PRIORITY}
        kwargs = {"seed": seed, "depth": depth}
        if order is None or not order.data:
            return scrapy.Request(url, callback=self.parse_listing, cb_kwargs=kwargs, **common)
        kwargs.update(adapter=adapter, info=order.info)
        if order.method == "POST":
            return scrapy.FormRequest(
                url,
                formdata=order.formdata or {},
                callback=self.parse_list_data,
                cb_kwargs=kwargs,
                **common,
            )
        return scrapy.Request(url, callback=self.parse_list_data, cb_kwargs=kwargs, **common)

    def report_request(
        self,
        seed: Seed,
        url: str,
        listed_on: str | None,
        anchor: str,
        parent_url: str | None = None,
    ) -> scrapy.Request | None:
        if (
            self.settings.getbool("NIANBAO_LIST_ONLY")
            or url in self.requested
            or not self._may_request(seed)
        ):
            return None
        self.requested.add(url)
        return scrapy.Request(
            url,
            callback=self.parse_report,
            errback=self.report_failed,
            meta={
                "portal": seed.id,
                "report": True,
                "listed_on": listed_on,
                "anchor": anchor,
                "parent_url": parent_url,
                "handle_httpstatus_list": [304],
            },
            cb_kwargs={"seed": seed},
        )

    def inside(self, seed: Seed, url: str) -> bool:
        """True when ``url`` belongs to the portal: its origin (scheme, host and port),
        domains and ``allow`` prefixes (``fetching.in_origin``). Links, redirects and meta
        refreshes obey this one rule (redirects: ``crawler.middlewares.OriginMiddleware``)."""
        return in_origin(url, seed.start_urls, seed.domains, seed.allow)

    # ---- list pages ----------------------------------------------------------

    def links(
        self, response: Response, seed: Seed, sources: Iterable[Selector] | None = None
    ) -> Iterator[tuple[str, str]]:
        """(absolute URL, anchor text) for each followable link inside the portal.

        Reads the parsed tree with lxml, as ``css("a[href]")`` and ``::text`` would (the
        same anchors, in document order, the same text nodes): a selector per anchor cost
        more than the rest of a list page's reading."""
        roots = [response.selector.root] if sources is None else [s.root for s in sources]
        for root in roots:
            for a in root.iter("a"):
                href = (a.get("href") or "").strip()
                if not href or href.lower().startswith(SKIP_SCHEMES):
                    continue
                url = canonical_url(urljoin(response.url, href))
                if not url.startswith(("http://", "https://")) or not self.inside(seed, url):
                    continue
                text = " ".join(" ".join(a.itertext()).split())
                title = (a.get("title") or "").strip()
                yield url, title if len(title) > len(text) else text

    def adapter_for(self, seed: Seed, response: Response) -> adapters.Adapter:
        """The list adapter for this page: the seed's ``cms``, else detected (logged once)."""
        adapter, how = adapters.choose(seed.cms, response.url, response_text(response))
        if self.adapter_names.get(seed.id) != adapter.name:
            self.adapter_names[seed.id] = adapter.name
            self.crawler.stats.set_value(f"nianbao/adapter/{seed.id}", adapter.name)
            self.logger.info("Portal %s: list adapter %s (%s)", seed.id, adapter.name, how)
        return adapter

    def parse_listing(self, response: Response, seed: Seed, depth: int) -> Iterator[object]:
        problem = self.listing_problem(response)
        if problem:
            yield ListingItem(
                seed.id, response.url, ok=False, status=response.status, detail=problem
            )
            return
        adapter = self.adapter_for(seed, response)
        page = adapter.read_page(response.url, response_text(response))
        yield from self.read_list(response, seed, depth, adapter.name, page, own_links=True)

    def parse_list_data(
        self, response: Response, seed: Seed, depth: int, adapter: str, info: dict
    ) -> Iterator[object]:
        """An adapter's data answer (dataproxy.jsp XML, JPaaS JSON)."""
        found = heuristics.is_challenge_body(response.body)
        if found or response.status in (404, 410):
            detail = f"{found} page instead of the list" if found else f"HTTP {response.status}"
            yield ListingItem(
                seed.id, response.url, ok=False, status=response.status, detail=detail
            )
            return
        page = adapters.ADAPTERS[adapter]().read_data(response.url, response_text(response), info)
        yield from self.read_list(response, seed, depth, adapter, page, own_links=False)

    def read_list(
        self,
        response: Response,
        seed: Seed,
        depth: int,
        adapter: str,
        page: adapters.ListPage,
        own_links: bool,
    ) -> Iterator[object]:
        """Report links from the page's own links (if HTML) and the adapter's fragments."""
        self.crawler.stats.inc_value(f"nianbao/list_pages/{adapter}")
        reports: dict[str, str] = {}
        if own_links:
            pagers = []
            for url, text in self.links(response, seed):
                if heuristics.is_report_title(text) and heuristics.report_year(text):
                    reports.setdefault(url, text)
                    continue
                hop = self.list_hop(url, text, depth)
                if hop == 0:
                    pagers.append(url)
                request = self.listing_request(seed, url, depth + hop) if hop is not None else None
                if request:
                    yield request
            for url in page_range(pagers, self.settings.getint("NIANBAO_MAX_LIST_PAGES")):
                request = self.listing_request(seed, url, depth)
                if request:
                    yield request
        fragments = [Selector(text=f) for f in page.fragments]
        for url, text in self.links(response, seed, fragments):
            if heuristics.is_report_title(text) and heuristics.report_year(text):
                reports.setdefault(url, text)
        for order in page.follow:
            inside = self.inside(seed, order.url)
            request = (
                self.listing_request(seed, order.url, depth, order, adapter) if inside else None
            )
            if request:
                yield request
        yield ListingItem(
            seed.id,
            response.url,
            ok=True,
            report_links=list(reports),
            status=response.status,
            adapter=adapter,
            anchors=list(reports.values()),
        )
        for url, text in reports.items():
            request = self.report_request(seed, url, response.url, text)
            if request:
                yield request

    def list_hop(self, url: str, text: str, depth: int) -> int | None:
        """0 for a pagination link (same list), 1 for a column about annual reports
        (年报 / 年度报告, not an article address) within ``NIANBAO_MAX_LIST_DEPTH`` hops of a
        start page, else None."""
        if PAGER_TEXT.match(text) or PAGER_HREF.search(url):
            return 0
        if depth >= self.settings.getint("NIANBAO_MAX_LIST_DEPTH"):
            return None
        if (
            COLUMN_TEXT.search(text)
            and not heuristics.is_attachment_url(url)
            and not ARTICLE_HREF.search(url)
        ):
            return 1
        return None

    def listing_problem(self, response: Response) -> str | None:
        if response.status in (404, 410):
            return f"HTTP {response.status}"
        if not is_html(response):
            return f"not an HTML page ({content_type(response) or 'no Content-Type'})"
        found = heuristics.is_challenge_body(response.body)
        return f"{found} page instead of the list" if found else None

    def listing_failed(self, failure: Failure) -> Iterator[ListingItem]:
        request = failure.request
        status, kind = failure_kind(failure)
        self.logger.warning("List page %s failed: %s", request.url, kind)
        yield ListingItem(
            request.meta["portal"],
            request.url,
            ok=False,
            status=status,
            detail=f"{kind}: {failure.getErrorMessage()[:200]}",
        )

    # ---- report pages and files ------------------------------------------------

    def parse_report(self, response: Response, seed: Seed) -> Iterator[object]:
        meta = response.meta
        headers = {
            k: (response.headers.get(k) or b"").decode("latin-1")
            for k in ("ETag", "Last-Modified", "Content-Type")
            if response.headers.get(k)
        }
        fresh = response.status != 304
        item = PageItem(
            portal_id=seed.id,
            url=response.url if fresh else response.request.url,
            status=response.status,
            fetched_at=now_iso(),
            body=response.body if fresh else b"",
            headers={k.lower(): v for k, v in headers.items()},
            content_type=content_type(response),
            raw_sha=hashlib.sha256(response.body).hexdigest() if fresh else "",
            listed_on=meta.get("listed_on"),
            anchor=meta.get("anchor") or "",
            issuer_hint=seed.name,
            parent_url=meta.get("parent_url"),
            rendering_of=meta.get("rendering_of"),
            unchanged=not fresh,
        )
        if not fresh:
            yield item
            return
        html = is_html(response)
        if not html and not documents.is_document(response.url, item.content_type, response.body):
            yield FetchProblem(
                seed.id,
                response.url,
                "non_html",
                response.status,
                f"skipped: Content-Type {item.content_type or 'missing'}",
                meta.get("listed_on"),
            )
            return
        page = response_text(response) if html else ""
        if html and not meta.get("parent_url") and heuristics.ATTACHMENT_HINT.search(page):
            self.hold_attachments(response, seed)
        yield item
        if html and not meta.get("rendering") and RENDERING_HINT.search(page):
            yield from self.renderings(response, seed)

    def renderings(self, response: Response, seed: Seed) -> Iterator[scrapy.Request]:
        """Follow a report page's 繁體 link: the same report in another rendering."""
        for url, text in self.links(response, seed):
            if RENDERING_TEXT.match(text):
                request = self.report_request(seed, url, response.meta.get("listed_on"), text)
                if request:
                    request.meta["rendering"] = True
                    request.meta["rendering_of"] = response.url
                    yield request

    def hold_attachments(self, response: Response, seed: Seed) -> None:
        """Note a report page's attachment links (PDF, DOCX…) until its verdict is known.

        Only cheap link discovery happens here, on the reactor (parsel, as for every
        link). Whether the page defers to its files is the extraction workers' verdict
        (``crawler.extract.judge``): ``verdict_reached`` fetches them for a cover page
        (``NIANBAO_ATTACHMENTS = "thin"``), or always (``"all"``).
        """
        if self.settings.get("NIANBAO_ATTACHMENTS", "thin") == "none":
            return
        found = [(u, t) for u, t in self.links(response, seed) if heuristics.is_attachment_url(u)]
        title = " ".join(
            (
                response.css("meta[name=ArticleTitle]::attr(content)").get()
                or response.css("title::text").get()
                or ""
            ).split()
        )
        held = [
            (url, text if heuristics.is_report_title(text) else title, seed)
            for url, text in dict(found).items()
        ]
        if held:
            self.awaiting_verdict[response.url] = held

    def verdict_reached(self, item: object) -> None:
        """Fetch the attachments of a page judged a cover (``item_scraped``: after extraction).

        A page whose bytes or body did not change has no new verdict: it was a cover
        when its attachments were fetched from it before (they are in the fetch state).
        """
        held = self.awaiting_verdict.pop(getattr(item, "url", ""), None)
        if not held or not isinstance(item, PageItem):
            return
        if item.extracted is not None:
            wanted = is_cover(item.extracted)
        else:
            wanted = any(url in self.fetch_state for url, _, _ in held)
        if not wanted and self.settings.get("NIANBAO_ATTACHMENTS", "thin") != "all":
            return
        for url, anchor, seed in held:
            request = self.report_request(seed, url, item.listed_on, anchor, item.url)
            if request:
                self.crawler.stats.inc_value("nianbao/attachments")
                self.crawler.engine.crawl(request)

    def verdict_lost(self, item: object, **_) -> None:
        """A dropped or failed item gets no verdict: forget its attachments."""
        self.awaiting_verdict.pop(getattr(item, "url", ""), None)

    def report_failed(self, failure: Failure) -> Iterator[FetchProblem]:
        request = failure.request
        status, kind = failure_kind(failure)
        self.crawler.stats.inc_value(f"nianbao/problem/{kind}")
        # a refused redirect is the problem of the page that redirected (its detail names the target)
        url = request.meta["redirect_urls"][0] if kind == "off_site" else request.url
        yield FetchProblem(
            request.meta["portal"],
            url,
            kind,
            status,
            failure.getErrorMessage()[:300],
            request.meta.get("listed_on"),
        )


def is_cover(extracted: Extracted) -> bool:
    """``crawler.extract.is_cover``, imported at the first verdict: the extraction stack
    (trafilatura, lxml, htmldate) belongs to the workers, and a crawl whose pages all
    answer 304 never loads it in the reactor process."""
    from crawler.extract import is_cover as verdict_is_cover

    return verdict_is_cover(extracted)
