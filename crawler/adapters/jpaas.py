"""浙江 JPaaS column lists: entries come from a JSON endpoint, not the HTML.

The column page carries ``<script src="…/AuthorizedRead/unitbuild.js" url="…/front/page/
build/unit" queryData="…">``; the list is ``GET <url>?<queryData>&paramJson={"pageNo":N,
"pageSize":15}`` answering ``{"data":{"html":"<ul>…</ul>"}}``, paged until an empty page.
May import: stdlib, crawler.adapters.base.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlencode, urljoin

from crawler.adapters.base import Adapter, ListPage, ListRequest, tag_attrs

UNITBUILD = re.compile(r"<script[^>]*unitbuild\.js[^>]*>", re.IGNORECASE | re.DOTALL)
ENDPOINT = "/api-gateway/jpaas-publish-server/front/page/build/unit"
PAGE_SIZE = 15


def query_fields(raw: str) -> dict[str, str]:
    """``queryData`` as form fields: a JSON object or a query string.

    >>> query_fields('{"webId": 3185, "pageId": "1229"}')
    {'webId': '3185', 'pageId': '1229'}
    >>> query_fields("webId=3185&pageId=1229")
    {'webId': '3185', 'pageId': '1229'}
    """
    raw = raw.strip()
    if raw.startswith("{"):
        try:
            return {k: str(v) for k, v in json.loads(raw).items() if k != "paramJson"}
        except ValueError:
            return {}
    return {k: v for k, v in parse_qsl(raw, keep_blank_values=True) if k != "paramJson"}


def unit_request(endpoint: str, fields: dict[str, str], page_no: int, size: int) -> ListRequest:
    """The GET for list page ``page_no`` of a JPaaS unit.

    >>> unit_request("http://h/api/unit", {"webId": "1"}, 2, 15).url
    'http://h/api/unit?webId=1&paramJson=%7B%22pageNo%22%3A2%2C%22pageSize%22%3A15%7D'
    """
    param = json.dumps({"pageNo": page_no, "pageSize": size}, separators=(",", ":"))
    url = endpoint + "?" + urlencode({**fields, "paramJson": param})
    return ListRequest(
        url, data=True, info={"endpoint": endpoint, "fields": fields, "page": page_no, "size": size}
    )


def unit_html(text: str) -> str | None:
    """``data.html`` of a unit answer; None when the answer is not that JSON.

    >>> unit_html('{"data": {"html": "<ul><li>x</li></ul>"}}')
    '<ul><li>x</li></ul>'
    >>> unit_html("<html>") is None
    True
    """
    try:
        data = json.loads(text)
    except ValueError:
        return None
    inner = data.get("data") if isinstance(data, dict) else None
    found = inner.get("html") if isinstance(inner, dict) else None
    return found if isinstance(found, str) else None


class JpaasAdapter(Adapter):
    """浙江 JPaaS: the list is JSON from ``…/front/page/build/unit`` (named by the
    ``unitbuild.js`` script tag), ``paramJson`` pageNo 1, 2, … until an empty page."""

    name = "jpaas"
    signs = re.compile(r"unitbuild\.js|jpaas-publish-server")

    def read_page(self, url: str, text: str) -> ListPage:
        tag = UNITBUILD.search(text)
        if not tag:
            return ListPage()
        attrs = tag_attrs(tag.group(0))
        endpoint = urljoin(url, attrs.get("url") or ENDPOINT)
        size = int(attrs["pagesize"]) if attrs.get("pagesize", "").isdigit() else PAGE_SIZE
        return ListPage(
            follow=[unit_request(endpoint, query_fields(attrs.get("querydata", "")), 1, size)]
        )

    def read_data(self, url: str, text: str, info: dict) -> ListPage:
        found = unit_html(text)
        if not found or "<a" not in found.lower():
            return ListPage()  # an empty page (or not the JSON we asked for): the list ends
        nxt = unit_request(info["endpoint"], info["fields"], info["page"] + 1, info["size"])
        return ListPage([found], [nxt])
