"""What one fetched page offers discovery (pure): its links, whether anchors, script-built
menus (JSON or ``var menu = [...]`` in a ``<script>``) or ``data-url`` attributes
(``page_links``); what a link's text names (``kind_of``); whether a candidate is a 年报
column (``is_column``); the site's name (``site_name``).

May import: the standard library and lxml.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urljoin

import lxml.html
from lxml import etree

COLUMN = re.compile(r"年报|年度报告")
LOOK_ALIKE = re.compile(r"统计|年鉴|决算|预算|企业|财务|审计|工作动态|社会责任|质量")
YEAR = re.compile(r"(?:19|20)\d\d")
MENU = re.compile(r"政府信息公开|信息公开|政务公开|法定主动公开|主动公开|公开指南|公开目录")
NOT_MENU = re.compile(r"工作动态|预算|决算")
DEPTS = re.compile(r"部门|区县|县区|县\(市、?区\)|乡镇")
ORG = re.compile(r"(?:委员会|局|办公室|办|厅|委|院|中心|署|政府|街道|镇|乡|管委会)$")
TITLE_CUT = re.compile(r"[_|｜\-—–]+")
SITE_NOISE = re.compile(r"门户网站|官方网站|网站|首页|欢迎您?访问")
REGION_END = re.compile(r"^(.+?(?:自治区|自治州|自治县|省|市|区|县|州|盟|旗))")
SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "#", "data:")
MENU_KEYS = ("name", "title", "text", "label", "menuName", "chnlName", "columnName")
URL_KEYS = ("url", "href", "link", "path", "linkUrl", "chnlUrl", "columnUrl")
_NAME_KEY = "|".join(MENU_KEYS)
_URL_KEY = "|".join(URL_KEYS)
PAIR = re.compile(
    rf"""["']?(?:{_NAME_KEY})["']?\s*:\s*["']([^"']{{1,40}})["'][^{{}}\[\]]{{0,200}}?"""
    rf"""["']?(?:{_URL_KEY})["']?\s*:\s*["']([^"'\s]+)["']"""
)
SCRIPT_ANCHOR = re.compile(r"""<a\s[^>]*?href\s*=\s*["']([^"']+)["'][^>]*>(.{1,60}?)</a>""", re.S)


@dataclass(frozen=True)
class Link:
    url: str
    text: str
    via: str = "a"  # "a", "script" or "data-url"


@dataclass
class Page:
    """One fetched page: its final URL, status and decoded text."""

    url: str
    status: int
    text: str


def _clean(text: str) -> str:
    return re.sub(r"\s+", "", text or "")[:80]


def _usable(href: str) -> bool:
    href = href.strip()
    return bool(href) and not href.lower().startswith(SKIP_SCHEMES)


def _json_links(data: object, out: list[tuple[str, str]]) -> None:
    """Menu entries (name, url) anywhere in parsed JSON: dicts with a name and a URL key."""
    if isinstance(data, dict):
        name = next((data[k] for k in MENU_KEYS if isinstance(data.get(k), str)), None)
        url = next((data[k] for k in URL_KEYS if isinstance(data.get(k), str)), None)
        if name and url:
            out.append((url, name))
        for value in data.values():
            _json_links(value, out)
    elif isinstance(data, list):
        for value in data:
            _json_links(value, out)


def script_links(script: str) -> list[tuple[str, str]]:
    """(url, text) pairs of a menu built by a script: JSON values, JS object literals with
    a name key then a URL key, and ``<a>`` markup inside strings.

    >>> script_links('var menu = [{"name": "政务公开", "url": "/zwgk/", "children": [{"name": "年报", "url": "/nb/"}]}];')
    [('/zwgk/', '政务公开'), ('/nb/', '年报')]
    >>> script_links("nav.push({title:'信息公开年报', link:'/xxgk/nb.html'})")
    [('/xxgk/nb.html', '信息公开年报')]
    """
    found: list[tuple[str, str]] = []
    for match in re.finditer(r"[\[{]", script):
        try:
            data, _end = json.JSONDecoder().raw_decode(script, match.start())
        except ValueError:
            continue
        _json_links(data, found)
        if found:
            return list(dict.fromkeys(found))
    found = [(url, name) for name, url in PAIR.findall(script)]
    found += [(url, re.sub(r"<[^>]+>", "", text)) for url, text in SCRIPT_ANCHOR.findall(script)]
    return list(dict.fromkeys(found))


def _parse(page: Page) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.document_fromstring(page.text)
    except (etree.ParserError, ValueError):
        return None


def page_links(page: Page) -> list[Link]:
    """Every link ``page`` offers, absolute, in page order: anchors (text or title),
    script-built menus and ``data-url``/``data-href`` attributes."""
    root = _parse(page)
    if root is None:
        return []
    raw: list[tuple[str, str, str]] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag == "a" and el.get("href"):
            raw.append((el.get("href"), el.text_content() or el.get("title") or "", "a"))
        elif el.tag == "script" and el.text:
            raw += [(u, t, "script") for u, t in script_links(el.text)]
        for attr in ("data-url", "data-href", "data-link"):
            if el.get(attr):
                raw.append((el.get(attr), el.text_content() or el.get("title") or "", "data-url"))
    links, seen = [], set()
    for href, text, via in raw:
        if not _usable(href):
            continue
        url = urljoin(page.url, href.strip()).split("#")[0]
        key = (url, _clean(text))
        if key not in seen and _clean(text):
            seen.add(key)
            links.append(Link(url, _clean(text), via))
    return links


def kind_of(text: str) -> str | None:
    """What a link's text names: "column" (a 年报 column, not one report and not a
    look-alike), "depts" (a department list), "menu" (政府信息公开 and its sub-menus),
    "org" (an issuing body, followed only from a department list), or None.

    >>> [kind_of(t) for t in ("政府信息公开年报", "2023年政府信息公开工作年度报告", "统计年报")]
    ['column', None, None]
    >>> [kind_of(t) for t in ("法定主动公开内容", "政府信息公开指南", "部门信息公开", "市统计局", "工作动态")]
    ['menu', 'menu', 'depts', 'org', None]
    """
    if len(text) > 30:
        return None
    if COLUMN.search(text):
        return None if YEAR.search(text) or LOOK_ALIKE.search(text) or len(text) > 16 else "column"
    if NOT_MENU.search(text):
        return None
    if DEPTS.search(text) and len(text) <= 12:
        return "depts"
    if MENU.search(text) and len(text) <= 12:
        return "menu"
    if ORG.search(text) and 3 <= len(text) <= 24:
        return "org"
    return None


def _meta(root: lxml.html.HtmlElement, name: str) -> str:
    values = root.xpath(f'//meta[@name="{name}"]/@content')
    return _clean(values[0]) if values else ""


def is_column(page: Page) -> bool:
    """Whether a fetched candidate is a 年报 column: its ColumnName, title or heading
    names 年报 / 年度报告, or it lists reports (a link text with a year and 年报)."""
    root = _parse(page)
    if root is None:
        return False
    names = [_meta(root, "ColumnName"), _clean(root.findtext(".//title") or "")]
    names += [_clean(h.text_content()) for h in root.xpath("//h1|//h2|//h3")]
    if any(COLUMN.search(n) and not LOOK_ALIKE.search(n) for n in names if n):
        return True
    return any(COLUMN.search(k.text) and YEAR.search(k.text) for k in page_links(page))


def site_name(page: Page) -> str:
    """The site's name from its ``SiteName`` meta or its title (the 政府 part first).

    >>> site_name(Page("http://x/", 200, "<title>首页-北京市人民政府门户网站</title>"))
    '北京市人民政府'
    """
    root = _parse(page)
    if root is None:
        return ""
    if _meta(root, "SiteName"):
        return _meta(root, "SiteName")
    parts = [
        SITE_NOISE.sub("", p) for p in TITLE_CUT.split(_clean(root.findtext(".//title") or ""))
    ]
    parts = [p for p in parts if p]
    return next((p for p in parts if "政府" in p), parts[-1] if parts else "")
