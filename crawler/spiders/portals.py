"""PortalSpider: from each seed's start pages, walk column lists and fetch report pages.

Generic list reading (pagers, 年报 columns, report links by anchor text or title) plus
the portal's list adapter (``crawler.adapters``: seed ``cms`` or detected), which adds
entries and list requests the HTML alone does not show. Report links may point at files
(PDF, DOCX…); a cover page's attachments are fetched too, once the extraction workers'
verdict (``crawler.extract.judge``) says it is a cover. Everything stays inside the
seed's domains and ``allow`` prefixes. Yields ListingItem, PageItem and FetchProblem.

This module holds the spider's state, its start and revisit, and link reading; the list
pages are ``crawler.spiders.listings`` and the report pages and files
``crawler.spiders.reports`` (mixins: their methods are the spider's own, so Scrapy finds
a callback by name on the spider when a request goes through the disk queue).

May import: crawler.middlewares, crawler.seeds, crawler.spiders.fetching,
crawler.spiders.listings, crawler.spiders.reports.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from urllib.parse import urljoin

import scrapy
from parsel import Selector
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response

from crawler.middlewares import load_fetch_state
from crawler.seeds import Seed
from crawler.spiders.fetching import SKIP_SCHEMES, canonical_url, in_origin
from crawler.spiders.listings import ListingPages
from crawler.spiders.reports import ReportPages


class PortalSpider(ListingPages, ReportPages, scrapy.Spider):
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

    def inside(self, seed: Seed, url: str) -> bool:
        """True when ``url`` belongs to the portal: its origin (scheme, host and port),
        domains and ``allow`` prefixes (``fetching.in_origin``). Links, redirects and meta
        refreshes obey this one rule (redirects: ``crawler.middlewares.OriginMiddleware``)."""
        return in_origin(url, seed.start_urls, seed.domains, seed.allow)

    # ---- links ---------------------------------------------------------------

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
