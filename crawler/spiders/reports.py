"""The report side of ``PortalSpider``: report pages and files, renderings, attachments.

A mixin of ``crawler.spiders.portals.PortalSpider`` (its methods are the spider's own: a
request's callback is found by name on the spider when it goes through the disk queue).
It uses the spider's state (``requested``, ``awaiting_verdict``, ``fetch_state``) and its
``links`` and ``_may_request``; ``verdict_reached`` and ``verdict_lost`` are connected
to the item signals in ``PortalSpider.from_crawler``.

May import: crawler.documents, crawler.extract (``is_cover``, at the first verdict),
crawler.heuristics, crawler.items, crawler.seeds, crawler.spiders.fetching.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler import documents, heuristics
from crawler.items import Extracted, FetchProblem, PageItem
from crawler.seeds import Seed
from crawler.spiders.fetching import (
    RENDERING_TEXT,
    content_type,
    failure_kind,
    is_html,
    now_iso,
    response_text,
)

# Cheap tests on the page text before parsing every link of a report page (most pages
# have neither a real 繁體 link nor an attachment; parsing links costs ~1.5 ms a page).
RENDERING_HINT = re.compile(
    r"""<a\b[^>]*\bhref\s*=\s*["']?(?!\s*javascript)[^"'\s>]+[^>]*>\s*(?:<[^>]*>\s*)*(?:繁體|繁体|big5)""",
    re.IGNORECASE,
)


class ReportPages:
    """Report pages and files: the request, the PageItem, and the files a cover defers to."""

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
