"""Routes of the family portals (``mirror.families.portals``): static pages and files, and
the dynamic list endpoints (Hanweb ``dataproxy.jsp`` POSTs, JPaaS ``build/unit`` JSON).

``static_routes(cp)`` gives path → ``Resp`` (bytes with ETag and Last-Modified);
``dynamic_routes(cp)`` gives path → ``fn(method, query, form) -> Resp``.

May import: ``mirror.families.portals``, ``mirror.templates``, ``mirror.hostile``,
``mirror.answers``, ``mirror.noise``, ``mirror.model``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import date
from urllib.parse import parse_qs

from mirror import hostile, templates
from mirror.answers import static
from mirror.families.portals import Entry, FamilyPortal
from mirror.model import Resp
from mirror.noise import Fresh

E = html.escape
Dynamic = Callable[[str, dict[str, list[str]], dict[str, list[str]]], Resp]
CTYPES = {
    "pdf": "application/pdf",
    "image-pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
HANWEB_FORM = {"webid": "88", "columnid": "8801", "unitid": "50231"}


def _fresh(pid: str) -> Fresh:
    return Fresh.fixed(date(2021, 3, 1), pid)


def _encode(cp: FamilyPortal, text: str) -> Resp:
    p = cp.portal
    ctype = f"text/html; charset={p.encoding}" if p.charset_header else "text/html"
    return static(text.encode(p.encoding, "xmlcharrefreplace"), ctype)


def shell(cp: FamilyPortal, inner: str) -> str:
    """A column page of the portal's look around ``inner`` (the list area)."""
    p, f = cp.portal, _fresh(cp.portal.id)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n'
        + templates.head(p, p.column, f)
        + "\n<body>\n"
        + templates.top(p, f, None)
        + "\n"
        + templates.crumb(p)
        + f'\n<div class="main"><h2>{E(p.column)}</h2>\n'
        + inner
        + "\n</div>\n"
        + templates.foot(p, f)
        + "\n</body>\n</html>\n"
    )


def li(entry: Entry) -> str:
    return templates.list_item(entry.article)


def _record(entry: Entry) -> str:
    return f"<record><![CDATA[{li(entry)}]]></record>"


def hanweb_column(cp: FamilyPortal) -> str:
    first = "\n".join(_record(e) for e in cp.entries[: cp.per_page])
    href = (
        f"{cp.portal.prefix}module/web/jpage/dataproxy.jsp?page=1&appid=1&webid={HANWEB_FORM['webid']}&path=/"
        f"&columnid={HANWEB_FORM['columnid']}&unitid={HANWEB_FORM['unitid']}&webname={cp.portal.name}"
        "&permissiontype=0"
    )
    return (
        f'<div id="{HANWEB_FORM["unitid"]}"><script type="text/xml"><datastore><nextgroup><![CDATA[<a href="'
        f'{href}"></a>]]></nextgroup><recordset>\n{first}\n</recordset></datastore></script>'
        f'<script language="javascript" src="{cp.portal.prefix}module/web/jpage/jpage.js"></script>'
        f"<script>$(function(){{$('#{HANWEB_FORM['unitid']}').jpage({{perPage:{cp.per_page},"
        "barPosition:'bottom',groupSize:3}});});</script></div>"
    )


def dataproxy(cp: FamilyPortal) -> Dynamic:
    """POST ``dataproxy.jsp?startrecord=&endrecord=&perpage=`` with the column's form."""

    def answer(method: str, query: dict, form: dict) -> Resp:
        if method != "POST" or any(form.get(k, [""])[0] != v for k, v in HANWEB_FORM.items()):
            return Resp(400, b"bad request", {"Content-Type": "text/plain"})
        start, end = int(query.get("startrecord", ["1"])[0]), int(query.get("endrecord", ["45"])[0])
        records = "\n".join(_record(e) for e in cp.entries[start - 1 : end])
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?><datastore><totalrecord>{len(cp.entries)}</totalrecord>'
            f"<totalpage>{-(-len(cp.entries) // cp.per_page)}</totalpage><recordset>\n{records}\n"
            "</recordset></datastore>"
        )
        return Resp(200, xml.encode(), {"Content-Type": "text/xml; charset=UTF-8"})

    return answer


def jpaas_column(cp: FamilyPortal) -> str:
    query = json.dumps(
        {
            "webId": "3185",
            "pageId": "1229999",
            "parseType": "bulidstatic",
            "pageType": "column",
            "tagId": "当前栏目list",
            "tplSetId": "fc259c381af3496d85e61997ea7771cb",
        },
        ensure_ascii=False,
    )
    return (
        f'<div id="jp-list"></div><script type="text/javascript" src="{cp.portal.prefix}js/AuthorizedRead/'
        f'unitbuild.js" url="{cp.portal.prefix}api-gateway/jpaas-publish-server/front/page/build/unit" '
        f'queryData="{E(query)}" pageSize="{cp.per_page}"></script>'
    )


def unit(cp: FamilyPortal) -> Dynamic:
    """GET ``build/unit?…&paramJson={"pageNo":N,"pageSize":15}`` → ``{"data":{"html":…}}``."""

    def answer(method: str, query: dict, form: dict) -> Resp:
        try:
            param = json.loads(query["paramJson"][0])
            page, size = int(param["pageNo"]), int(param["pageSize"])
        except (KeyError, ValueError, TypeError):
            return Resp(400, b'{"result":false}', {"Content-Type": "application/json"})
        chunk = cp.entries[(page - 1) * size : page * size]
        inner = "<ul>" + "".join(li(e) for e in chunk) + "</ul>" if chunk else ""
        body = json.dumps(
            {"result": True, "data": {"html": inner, "pageNo": page}}, ensure_ascii=False
        )
        return Resp(200, body.encode(), {"Content-Type": "application/json;charset=UTF-8"})

    return answer


def trs_list(cp: FamilyPortal, page: int, pages: int) -> str:
    chunk = cp.entries[page * cp.per_page : (page + 1) * cp.per_page]
    return (
        '<div class="xxgk_nb_list"><ul>\n' + "\n".join(li(e) for e in chunk) + "\n</ul>"
        f'<div class="page"><script>createPageHTML({pages}, {page}, "index", "html");</script></div></div>'
    )


def list_routes(cp: FamilyPortal) -> dict[str, Resp]:
    p = cp.portal
    if cp.mechanism == "hanweb-datastore":
        return {p.list_path: _encode(cp, shell(cp, hanweb_column(cp)))}
    if cp.mechanism == "jpaas-json":
        return {p.list_path: _encode(cp, shell(cp, jpaas_column(cp)))}
    if cp.mechanism == "trs-createpage":
        pages = -(-len(cp.entries) // cp.per_page)
        return {
            templates.list_href(p, n): _encode(cp, shell(cp, trs_list(cp, n, pages)))
            for n in range(pages)
        }
    return {
        p.list_path: _encode(cp, shell(cp, "<ul>" + "".join(li(e) for e in cp.entries) + "</ul>"))
    }


def entry_routes(cp: FamilyPortal, entry: Entry) -> dict[str, Resp]:
    a = entry.article
    if entry.kind in CTYPES:
        return {a.path: static(entry.file, CTYPES[entry.kind])}
    if entry.kind == "guard-412":
        return {a.path: hostile.challenge_412()}
    if entry.kind == "guard-521":
        return {a.path: hostile.jsl_521()}
    routes = {
        a.path: _encode(cp, templates.article_page(cp.portal, a, _fresh(cp.portal.id), a.body))
    }
    if entry.attachment:
        path, _text, data = entry.attachment
        routes[path] = static(data, CTYPES["docx"] if path.endswith(".docx") else CTYPES["pdf"])
    return routes


def static_routes(cp: FamilyPortal) -> dict[str, Resp]:
    routes = list_routes(cp)
    for entry in cp.entries:
        routes.update(entry_routes(cp, entry))
    return routes


def dynamic_routes(cp: FamilyPortal) -> dict[str, Dynamic]:
    prefix = cp.portal.prefix
    if cp.mechanism == "hanweb-datastore":
        return {f"{prefix}module/web/jpage/dataproxy.jsp": dataproxy(cp)}
    if cp.mechanism == "jpaas-json":
        return {f"{prefix}api-gateway/jpaas-publish-server/front/page/build/unit": unit(cp)}
    return {}


def parse_form(data: str) -> dict[str, list[str]]:
    return parse_qs(data, keep_blank_values=True)
