"""The list-adapter interface: what an adapter reads from a list page and asks for next.

An adapter never fetches: it takes a page's URL and decoded text and returns a
``ListPage`` (HTML fragments holding list entries the page's own ``<a>`` links do not
show, and further list requests). The spider turns those into Scrapy requests, so
adapters stay pure and testable. May import: stdlib only.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")


@dataclass(frozen=True)
class ListRequest:
    """One more list request. ``data``: the answer is adapter data (XML/JSON) for
    ``Adapter.read_data``, with ``info`` carried along; else an ordinary list page."""

    url: str
    method: str = "GET"
    formdata: dict[str, str] | None = None
    data: bool = False
    info: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass
class ListPage:
    """What an adapter read: list-entry HTML fragments and further list requests."""

    fragments: list[str] = field(default_factory=list)
    follow: list[ListRequest] = field(default_factory=list)


class Adapter:
    """Generic lists: the page's own links (report titles), 下一页 / index_N / ?page=N pagers."""

    name = "generic"
    signs: re.Pattern[str] | None = None  # what in a page (or its URL) betrays the family

    def matches(self, url: str, text: str) -> bool:
        """True when the page looks like this family's (see ``signs``)."""
        return bool(self.signs and (self.signs.search(url) or self.signs.search(text[:300_000])))

    def read_page(self, url: str, text: str) -> ListPage:
        """Extra entries and requests from an HTML list page (generic: none)."""
        return ListPage()

    def read_data(self, url: str, text: str, info: dict) -> ListPage:
        """Entries and requests from a data answer this adapter asked for (generic: none)."""
        return ListPage()


def tag_attrs(tag: str) -> dict[str, str]:
    """Attributes of one start tag, names lower-cased, entities decoded.

    >>> tag_attrs('<script src="a.js" queryData="{&quot;x&quot;:1}" url=/u>')
    {'src': 'a.js', 'querydata': '{"x":1}', 'url': '/u'}
    """
    out: dict[str, str] = {}
    for m in _ATTR.finditer(tag):
        value = next(v for v in m.groups()[1:] if v is not None)
        out.setdefault(m.group(1).lower(), html.unescape(value))
    return out
