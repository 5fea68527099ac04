"""What a page says about itself: title, publication date, issuer and attachment links.

The readers ``crawler.extract.judge`` calls on a parsed page before the text is
extracted: the title from ``<meta name="ArticleTitle">``, ``<title>`` or ``<h1>`` (without
the site-name suffix); the date from a PubDate-style ``<meta>``, a 发布时间 line or
htmldate; the issuer from the info-disclosure table (索引号 / 发布机构 / 公开日期); the
links to attached files. They read the tree and change nothing in it.

May import ``crawler.heuristics``, ``crawler.pagetree``, ``crawler.textnorm``, lxml and
htmldate.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urljoin

from htmldate import find_date
from lxml import etree

from crawler import heuristics, textnorm
from crawler.pagetree import iter_text, text_of

logger = logging.getLogger(__name__)

# Elements whose first text node holds 索引号, found from the text nodes (3x faster)
_INFO_XPATH = etree.XPath(
    "//text()[contains(., '索引号') or contains(., '索引號')][not(preceding-sibling::text())]/.."
)
_HREFS = etree.XPath("//a/@href", smart_strings=False)
_INFO_LABELS = (
    "索引号",
    "发布机构",
    "公开日期",
    "发文日期",
    "文号",
    "分类",
    "标题",
    "成文日期",
    "时效",
)
_DATE_LABEL = re.compile(
    r"(?:发布时间|发布日期|公开日期|发文日期|日期|时间)\s*[:：]\s*"
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})"
)
_META_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_TITLE_SPLIT = re.compile(r"\s*(?:_|\||｜| - | — |——|-{2,})\s*")
_DATE_METAS = ("pubdate", "publishdate", "firstpublishedtime", "article:published_time")


def metas(tree: etree._Element) -> dict[str, str]:
    """``<meta name|property=... content=...>`` as a lower-cased dict (first wins)."""
    out: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("name") or meta.get("property") or "").strip().lower()
        if key and key not in out:
            out[key] = (meta.get("content") or "").strip()
    return out


def _clean_title(raw: str, site: str) -> str:
    """Strip a site-name suffix: ``X_栏目_江苏省人民政府`` → ``X``."""
    title = textnorm.fold_whitespace(raw).replace("\n", " ")
    if site and title.endswith(site) and len(title) > len(site):
        title = title[: -len(site)].rstrip(" _-|—｜")
    parts = [p for p in _TITLE_SPLIT.split(title) if p]
    return parts[0] if parts and len(parts[0]) >= 4 else title.strip(" _-|")


def title(tree: etree._Element, metas: dict[str, str]) -> str:
    site = metas.get("sitename", "")
    for raw in (metas.get("articletitle", ""), tree.findtext(".//title") or "", _h1(tree)):
        if raw.strip():
            return _clean_title(raw, site)
    return ""


def _h1(tree: etree._Element) -> str:
    h1 = tree.find(".//h1")
    return "".join(iter_text(h1)) if h1 is not None else ""


def _ymd(match: re.Match[str] | None) -> str | None:
    if not match:
        return None
    y, m, d = (int(g) for g in match.groups())
    return (
        f"{y:04d}-{m:02d}-{d:02d}" if 1990 <= y <= 2100 and 1 <= m <= 12 and 1 <= d <= 31 else None
    )


def published(tree: etree._Element, metas: dict[str, str], page: str) -> str | None:
    """PubDate-style meta, then a labelled date in the page text, then htmldate."""
    for key in _DATE_METAS:
        found = _ymd(_META_DATE.search(metas.get(key, "")))
        if found:
            return found
    visible = textnorm.to_halfwidth(text_of(tree))  # scripts too: challenge pages
    found = _ymd(_DATE_LABEL.search(visible)) or _ymd(
        _META_DATE.search(tree.findtext(".//publishtime") or "")
    )
    return found or _htmldate(page)


def _htmldate(page: str) -> str | None:
    try:
        return find_date(page, extensive_search=False, original_date=True)
    except (ValueError, TypeError) as exc:
        logger.debug("htmldate failed: %s", exc)
        return None


def info_table(tree: etree._Element) -> etree._Element | None:
    """The 索引号/发布机构/公开日期 info-disclosure block (table, div or list), if any."""
    for node in _INFO_XPATH(tree):
        for el in node.iterancestors("table", "div", "ul", "dl"):
            text = textnorm.to_simplified(el.text_content())
            if len(text) > 600:
                break
            if sum(label in text for label in _INFO_LABELS) >= 3:
                return el
    return None


def may_have_info(html: str) -> bool:
    """False when no info-disclosure block can be in the page: no 索引 in its text, not
    even as a character reference (the block's XPath costs 1 ms a page)."""
    return "索引" in html or "&#" in html


def info_issuer(info: etree._Element | None) -> str:
    """The value next to 发布机构 in the info-disclosure block."""
    if info is None:
        return ""
    text = textnorm.fold_whitespace(textnorm.to_simplified("".join(iter_text(info))))
    m = re.search(
        r"发布机构\s*[:：]?\s*\n?\s*([^\n:：]{2,30}?)\s*(?:\n|$|索引号|公开日期|文号|主题分类|成文日期)",
        text,
    )
    return m.group(1).strip() if m else ""


def attachments(tree: etree._Element, url: str) -> list[str]:
    """Attachment links (``heuristics.is_attachment_url``), absolute, once each, in order."""
    base_el = tree.find(".//base[@href]")
    base = urljoin(url, base_el.get("href")) if base_el is not None else url
    links = (urljoin(base, href.strip()) for href in _HREFS(tree) if href)
    return list(dict.fromkeys(link for link in links if heuristics.is_attachment_url(link)))
