"""Find a portal's annual-report columns from its home page (``nianbao seeds discover``).

``walk`` is a bounded breadth-first walk from the home page over a ``fetch`` callable
(``crawler.discover.fetch.Fetcher``: one polite request at a time): it follows 政府信息公开
/ 政务公开 / 法定主动公开内容 / 指南 menus, 部门 lists and departments, and keeps the
candidates ``crawler.discover.pages.is_column`` accepts. ``seed_entry`` turns a column
found into a ``[[portal]]`` table (``toml_table`` writes it). Everything here but the
fetcher is pure.

* ``pages``  what one fetched page offers: links (anchors, script-built menus,
  ``data-url``), what a link's text names, the site's name
* ``fetch``  the polite HTTP side: robots.txt (Protego), delay, size cap, User-Agent

May import: the standard library, crawler.discover.*, crawler.adapters.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from crawler.adapters import detect
from crawler.discover.pages import REGION_END, Page, is_column, kind_of, page_links, site_name


@dataclass
class Column:
    """An annual-report column found: where, named how, reached through which menus."""

    url: str
    unit: str  # the issuing body: the site, or a department
    trail: list[str]  # link texts from the home page to the column
    cms: str
    unit_page: str = ""  # the department page, for department columns


@dataclass
class Walk:
    """What a walk did: the columns and every page tried (url → what happened)."""

    columns: list[Column] = field(default_factory=list)
    tried: dict[str, str] = field(default_factory=dict)
    site: str = ""


def region_of(name: str) -> str:
    """The region in an issuer's name.

    >>> region_of("北京市人民政府"), region_of("新疆维吾尔自治区人民政府"), region_of("东川市教育局")
    ('北京市', '新疆维吾尔自治区', '东川市')
    """
    stem = re.sub(r"人民政府.*$|政府.*$", "", name)
    match = REGION_END.match(stem)
    return match.group(1) if match else (stem or name)


def slug(text: str) -> str:
    """``text`` as an id slug (lowercase a-z, 0-9, '-')."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def portal_id(home: str) -> str:
    """A stable id from the home page's host (without ``www.`` and ``.gov.cn``) and its
    first directory, if any.

    >>> portal_id("https://www.beijing.gov.cn/"), portal_id("http://127.0.0.1:8080/dsc1/index.html")
    ('beijing', '127-0-0-1-dsc1')
    """
    parts = urlsplit(home)
    host = (parts.hostname or "").lower().removeprefix("www.")
    host = re.sub(r"\.gov\.cn$|\.gov$", "", host)
    first = next((s for s in parts.path.split("/") if s and "." not in s), "")
    return slug(f"{host}-{first}" if first else host) or "portal"


def _unit_slug(column: Column, home: str) -> str:
    col, base = urlsplit(column.url), urlsplit(home)
    if col.hostname and col.hostname != base.hostname:
        return slug(col.hostname.split(".")[0])
    dirs = [s for s in urlsplit(column.unit_page).path.split("/") if s and "." not in s]
    if dirs and slug(dirs[-1]) and len(slug(dirs[-1])) <= 20:
        return slug(dirs[-1])
    return hashlib.sha1(column.url.encode()).hexdigest()[:6]


def seed_entry(column: Column, home: str, site: str, when: str, taken: set[str]) -> dict:
    """A ``[[portal]]`` table (as a dict) for ``column``; ``taken`` ids are avoided."""
    base = portal_id(home)
    pid = base if not column.unit_page else f"{base}-{_unit_slug(column, home)}"
    if pid in taken:
        pid = f"{base}-{hashlib.sha1(column.url.encode()).hexdigest()[:6]}"
    taken.add(pid)
    name = column.unit or site or urlsplit(home).hostname or ""
    return {
        "id": pid,
        "name": name,
        "region": region_of(site or name),
        "start_urls": [column.url],
        "cms": column.cms,
        "allowed_domains": [urlsplit(column.url).hostname or ""],
        "confirmed": False,
        "source": f"nianbao seeds discover {home} ({when})",
        "note": "reached by: " + " > ".join(column.trail),
    }


def same_site(url: str, home: str) -> bool:
    """``url`` is on the home page's site: same port, and its host or a subdomain of it
    (without ``www.``)."""
    a, b = urlsplit(url), urlsplit(home)
    if a.scheme not in ("http", "https") or a.port != b.port:
        return False
    host, root = (a.hostname or ""), (b.hostname or "").removeprefix("www.")
    return host == root or host.endswith("." + root) or host == b.hostname


def walk(
    home: str, fetch: Callable[[str], Page | str], max_pages: int = 60, max_depth: int = 5
) -> Walk:
    """Breadth-first from ``home``: follow menu, department-list and department links,
    verify each 年报 candidate, and return the columns found (at most ``max_pages``
    fetches; ``fetch`` returns a ``Page`` or a reason string)."""
    result = Walk()
    queue: deque[tuple[str, int, str, list[str], str]] = deque([(home, 0, "", [], "")])
    queued = {home}
    while queue and len(result.tried) < max_pages:
        url, depth, kind, trail, unit_page = queue.popleft()
        got = fetch(url)
        if isinstance(got, str):
            result.tried[url] = got
            continue
        if got.status != 200:
            result.tried[url] = f"HTTP {got.status}"
            continue
        result.tried[url] = kind or "home"
        if depth == 0:
            result.site = site_name(got)
        if kind == "column":
            if is_column(got):
                owner = _owner(trail, unit_page)
                result.columns.append(Column(url, owner, trail, detect(url, got.text), unit_page))
            else:
                result.tried[url] = "column? (no 年报 heading or report links)"
            continue
        for link in page_links(got):
            link_kind = kind_of(link.text)
            if link_kind == "org" and kind != "depts":
                continue
            if link_kind is None or link.url in queued or not same_site(link.url, home):
                continue
            if link_kind != "column" and depth + 1 >= max_depth:
                continue
            queued.add(link.url)
            dept_page = link.url if link_kind == "org" else unit_page
            item = (link.url, depth + 1, link_kind, [*trail, link.text], dept_page)
            if link_kind == "column":
                queue.appendleft(item)
            else:
                queue.append(item)
    result.columns = _dedupe(result.columns)
    return result


def _owner(trail: list[str], unit_page: str) -> str:
    """The department's name for a column under a department page, else "" (the site)."""
    if not unit_page:
        return ""
    orgs = [t for t in trail if kind_of(t) == "org"]
    return orgs[-1] if orgs else ""


def _dedupe(columns: list[Column]) -> list[Column]:
    seen, out = set(), []
    for column in columns:
        if column.url not in seen:
            seen.add(column.url)
            out.append(column)
    return out


def toml_table(entry: dict) -> str:
    """``entry`` as a ``[[portal]]`` table (JSON strings and lists are valid TOML values).

    >>> print(toml_table({"id": "x", "start_urls": ["http://a/"], "confirmed": False}), end="")
    [[portal]]
    id = "x"
    start_urls = ["http://a/"]
    confirmed = false
    """
    lines = ["[[portal]]"]
    for key, value in entry.items():
        text = json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")  # TOML forbids DEL
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a home page to discover from, or None.

    >>> url_problem("https://www.beijing.gov.cn/"), url_problem("www.beijing.gov.cn")
    (None, 'not an http(s) URL')
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError as exc:
        return f"malformed URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL"
    return None
