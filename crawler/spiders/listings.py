"""The list-page side of ``PortalSpider``: list requests, list reading, list failures.

A mixin of ``crawler.spiders.portals.PortalSpider`` (its methods are the spider's own: a
request's callback is found by name on the spider when it goes through the disk queue).
It uses the spider's state (``list_seen``, ``list_pages``, ``adapter_names``), its
``links``, ``inside`` and ``_may_request``, and ``report_request`` from
``crawler.spiders.reports``.

May import: crawler.adapters, crawler.heuristics, crawler.items, crawler.seeds,
crawler.spiders.fetching.
"""

from __future__ import annotations

from collections.abc import Iterator

import scrapy
from parsel import Selector
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler import adapters, heuristics
from crawler.items import ListingItem
from crawler.seeds import Seed
from crawler.spiders.fetching import (
    ARTICLE_HREF,
    COLUMN_TEXT,
    PAGER_HREF,
    PAGER_TEXT,
    content_type,
    failure_kind,
    is_html,
    page_range,
    response_text,
)

LIST_PRIORITY = 10


class ListingPages:
    """List pages: what to ask for, how to read the answer, what a failure records."""

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
