"""TRS WCM lists: static ``index.html``, ``index_1.html``… announced by ``createPageHTML``.

The first list page's script calls ``createPageHTML(total, current, "index", "html")``
(``current`` 0-based), often with no plain pager links at all; the adapter asks for
every later page from the first. Articles sit at ``./YYYYMM/tYYYYMMDD_NNN.html``.
May import: stdlib, crawler.adapters.base.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from crawler.adapters.base import Adapter, ListPage, ListRequest

CREATE = re.compile(
    r"createPageHTML\(\s*([\w$.]+)\s*,\s*([\w$.]+)\s*,\s*[\"']([\w-]+)[\"']\s*,\s*[\"']([\w]+)[\"']",
    re.IGNORECASE,
)
MAX_PAGES = 200


def _value(token: str, text: str) -> int | None:
    """An argument: a number, or a ``var name = N`` defined in the page."""
    if token.isdigit():
        return int(token)
    m = re.search(rf"\b{re.escape(token)}\s*=\s*['\"]?(\d+)", text)
    return int(m.group(1)) if m else None


def page_urls(url: str, text: str) -> list[str]:
    """Later list pages announced by ``createPageHTML`` on the first page (else none).

    >>> page_urls("http://h/nb/index.html", '<script>createPageHTML(3, 0, "index", "html");</script>')
    ['http://h/nb/index_1.html', 'http://h/nb/index_2.html']
    >>> page_urls("http://h/nb/index_1.html", '<script>createPageHTML(3, 1, "index", "html");</script>')
    []
    >>> page_urls("http://h/nb/", 'var countPage = 2;var currentPage = 0;createPageHTML(countPage, currentPage,"index","htm")')
    ['http://h/nb/index_1.htm']
    """
    m = CREATE.search(text)
    if not m:
        return []
    total, current = _value(m.group(1), text), _value(m.group(2), text)
    if total is None or current != 0:
        return []
    prefix, ext = m.group(3), m.group(4)
    return [urljoin(url, f"{prefix}_{n}.{ext}") for n in range(1, min(total, MAX_PAGES))]


class TrsAdapter(Adapter):
    """TRS WCM: static ``index.html``, ``index_1.html``… as announced by
    ``createPageHTML(total, current, "index", "html")`` in the first page's script."""

    name = "trs"
    signs = re.compile(
        r"createPageHTML\(|TRS_Editor|Custom_UnionStyle|/t\d{8}_\d+\.s?html?|content=\"TRS ",
        re.IGNORECASE,
    )

    def read_page(self, url: str, text: str) -> ListPage:
        return ListPage(follow=[ListRequest(u) for u in page_urls(url, text)])
