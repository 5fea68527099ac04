"""大汉 Hanweb JCMS column lists: the embedded ``<datastore>`` and ``dataproxy.jsp`` paging.

A column page (``/col/colNNN/index.html``) embeds its first records in
``<script type="text/xml"><datastore><nextgroup><![CDATA[<a href="/module/web/jpage/
dataproxy.jsp?page=1&webid=..&columnid=..&unitid=..">]]></nextgroup><recordset><record>
<![CDATA[<li>…</li>]]></record>…</recordset></datastore></script>``; later records come
from POSTs to ``dataproxy.jsp?startrecord=&endrecord=&perpage=`` whose form carries
``col, appid, webid, path, columnid, unitid, webname, permissiontype``, answering the
same XML. May import: stdlib, crawler.adapters.base.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urljoin, urlsplit

from crawler.adapters.base import Adapter, ListPage, ListRequest

DATASTORE = re.compile(r"<datastore>(.*?)</datastore>", re.DOTALL | re.IGNORECASE)
RECORD = re.compile(r"<record>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>", re.DOTALL | re.IGNORECASE)
NEXTGROUP = re.compile(
    r"<nextgroup>\s*<!\[CDATA\[.*?href=[\"']([^\"']+)[\"']", re.DOTALL | re.IGNORECASE
)
TOTAL = re.compile(
    r"<totalrecord>\s*(\d+)\s*</totalrecord>|totalRecord\s*[:=]\s*['\"]?(\d+)", re.IGNORECASE
)
PERPAGE = re.compile(r"\bperpage\s*[:=]\s*['\"]?(\d+)", re.IGNORECASE)
FORM_DEFAULTS = {"col": "1", "appid": "1", "path": "/", "permissiontype": "0"}
FORM_KEYS = ("col", "appid", "webid", "path", "columnid", "unitid", "webname", "permissiontype")
PAGES_PER_POST = 3  # the jpage script asks for three pages of records at a time


def records(text: str) -> list[str]:
    """The ``<li>`` fragments of every ``<record>`` inside ``<datastore>`` blocks.

    >>> records('<script type="text/xml"><datastore><recordset><record><![CDATA[<li>a</li>]]>'
    ...         '</record></recordset></datastore></script>')
    ['<li>a</li>']
    """
    return [r for block in DATASTORE.findall(text) for r in RECORD.findall(block)]


def _total(text: str) -> int | None:
    m = TOTAL.search(text)
    return int(m.group(1) or m.group(2)) if m else None


def proxy_request(
    page_url: str, href: str, start: int, perpage: int, total: int | None
) -> ListRequest:
    """The POST for records ``start``… (three pages) built from a ``nextgroup`` link.

    >>> r = proxy_request("http://h/col/col5/index.html",
    ...                   "/module/web/jpage/dataproxy.jsp?page=1&webid=2&columnid=5&unitid=9", 16, 15, None)
    >>> r.url, r.method, r.formdata["columnid"], r.formdata["col"]
    ('http://h/module/web/jpage/dataproxy.jsp?startrecord=16&endrecord=60&perpage=15', 'POST', '5', '1')
    """
    parts = urlsplit(urljoin(page_url, href))
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    form = {k: query.get(k, FORM_DEFAULTS.get(k, "")) for k in FORM_KEYS}
    end = start + perpage * PAGES_PER_POST - 1
    url = f"{parts.scheme}://{parts.netloc}{parts.path}?startrecord={start}&endrecord={end}&perpage={perpage}"
    info = {
        "href": href,
        "start": start,
        "end": end,
        "perpage": perpage,
        "total": total,
        "page_url": page_url,
    }
    return ListRequest(url, "POST", form, data=True, info=info)


class HanwebAdapter(Adapter):
    """大汉 Hanweb JCMS: records embedded in ``<datastore>``, later ones POSTed from
    ``/module/web/jpage/dataproxy.jsp`` in batches of three pages until the total is read."""

    name = "hanweb"
    signs = re.compile(
        r"<datastore>|/module/web/jpage/|jpage\.js|/col/col\d+/|/art/\d{4}/\d{1,2}/\d{1,2}/art_"
    )

    def read_page(self, url: str, text: str) -> ListPage:
        found = records(text)
        href = NEXTGROUP.search(text)
        if not href:
            return ListPage(found)
        perpage = int(PERPAGE.search(text).group(1)) if PERPAGE.search(text) else 15
        total = _total(text)
        if total is not None and len(found) >= total:
            return ListPage(found)
        return ListPage(found, [proxy_request(url, href.group(1), len(found) + 1, perpage, total)])

    def read_data(self, url: str, text: str, info: dict) -> ListPage:
        found = records(text) or RECORD.findall(text)
        total = _total(text) or info.get("total")
        asked = info["end"] - info["start"] + 1
        if len(found) < asked or (total is not None and info["end"] >= total):
            return ListPage(found)
        nxt = proxy_request(info["page_url"], info["href"], info["end"] + 1, info["perpage"], total)
        return ListPage(found, [nxt])
