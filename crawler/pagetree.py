"""Page trees: charset decoding, the body container, and the cheap body fingerprint.

``find_body`` locates a report's body in a portal page (known CMS containers first,
else the densest block of Chinese text); ``body_fingerprint`` hashes just that region
so a re-crawl where only counters, sidebars or dates moved skips full extraction.

May import: crawler.textnorm, lxml, w3lib.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree
from lxml import html as lxml_html
from w3lib.encoding import html_to_unicode

from crawler import textnorm

_CJK = re.compile(r"[\u3400-\u9fff]")
_MOJIBAKE = re.compile(r"[\ufffd\u00c0-\u00ff]")

# Known body containers, in priority order: (attribute, token) or (tag, None).
_BODY_KEYS = (
    ("id", "zoom"),
    ("id", "zoomcon"),
    ("class", "TRS_Editor"),
    ("class", "Custom_UnionStyle"),
    ("id", "ivs_content"),
    ("class", "xxgk_content"),
    ("ucapcontent", None),
    ("class", "article-content"),
    ("class", "act_m"),
    ("article", None),
)
_BODY_XPATH = etree.XPath(
    "//*[@class][contains(@class, 'TRS_Editor') or contains(@class, 'Custom_UnionStyle')"
    " or contains(@class, 'xxgk_content') or contains(@class, 'article-content')"
    " or contains(@class, 'act_m')] | //*[@id='zoom' or @id='zoomcon' or @id='ivs_content']"
    " | //ucapcontent | //article"
)
TEXT_LEN = etree.XPath("string-length(normalize-space(string()))")
_FALLBACK_TAGS = frozenset({"div", "td", "article", "section", "ucapcontent"})
BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "tr",
        "td",
        "th",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "section",
        "article",
        "ul",
        "ol",
        "dd",
        "dt",
    ]
)
SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "select", "option"})


def decode_html(body: bytes, content_type: str = "") -> str:
    """Decode page bytes as Scrapy does: BOM, header charset, ``<meta>``, then UTF-8.

    w3lib maps gb2312/gbk to gb18030, so GBK-only characters survive.

    >>> decode_html('<meta charset="gb2312"><p>朱镕基</p>'.encode("gbk"))[-10:]
    '<p>朱镕基</p>'
    >>> decode_html("é".encode("latin-1"), "text/html; charset=latin-1")
    'é'
    """
    _, text = html_to_unicode(content_type or None, body)
    return text


def looks_mojibake(text: str) -> bool:
    """True when a page that should be Chinese is full of U+FFFD or Latin-1 letters.

    >>> looks_mojibake("政府信息公开工作年度报告" * 5)
    False
    >>> looks_mojibake("Õþ¸®ÐÅÏ¢¹«¿ª" * 5)
    True
    """
    sample = text[:20000]
    bad = len(_MOJIBAKE.findall(sample))
    return bad >= 10 and bad > len(_CJK.findall(sample)) * 0.2


_HTML_PARSER = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True)
_FAST_PARSER = etree.HTMLParser(encoding="utf-8", remove_comments=True)


def parse(page: str, fast: bool = False) -> etree._Element | None:
    """Parse decoded HTML; None for an empty or unparsable document.

    ``fast`` uses the plain lxml parser (no per-element Python classes, ~2x faster
    to walk); trafilatura needs the ``lxml.html`` tree.
    """
    if not page.strip():
        return None
    data = page.encode("utf-8", "surrogatepass")
    try:
        if fast:
            return etree.fromstring(data, _FAST_PARSER)
        return lxml_html.document_fromstring(data, parser=_HTML_PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


def iter_text(el: etree._Element) -> Iterator[str]:
    """Text of ``el`` with newlines at block boundaries, skipping scripts and styles."""
    skip = 0
    for event, node in etree.iterwalk(el, events=("start", "end")):
        tag = node.tag if isinstance(node.tag, str) else ""
        if event == "start":
            skip += tag in SKIP_TAGS
            if not skip:
                yield "\n" if tag in BLOCK_TAGS else ""
                yield node.text or ""
        else:
            skip -= tag in SKIP_TAGS
            if not skip:
                yield "\n" if tag in BLOCK_TAGS else ""
                if node is not el:
                    yield node.tail or ""


def _densest_block(tree: etree._Element) -> etree._Element | None:
    """Fallback container: the div/td/article whose own text (not nested blocks') has most CJK."""
    owner: dict[etree._Element, etree._Element | None] = {}
    scores: dict[etree._Element, int] = {}
    for node in tree.iter():
        parent = node.getparent()
        up = owner.get(parent) if parent is not None else None
        if not isinstance(node.tag, str) or node.tag in SKIP_TAGS:
            owner[node] = up
            continue
        own = node if node.tag in _FALLBACK_TAGS else up
        owner[node] = own
        for text, where in ((node.text, own), (node.tail, up)):
            if text and where is not None:  # non-ASCII characters, cheaply: 3 UTF-8 bytes each
                scores[where] = scores.get(where, 0) + (len(text.encode("utf-8")) - len(text)) // 2
    return max(scores, key=scores.__getitem__) if scores else None


def _rank(el: etree._Element) -> int:
    """Priority of a candidate container in ``_BODY_KEYS`` (lower is better)."""
    for rank, (key, token) in enumerate(_BODY_KEYS):
        if token is None:
            if el.tag == key:
                return rank
        elif token in (el.get(key) or "").split():
            return rank
    return len(_BODY_KEYS)


def find_body(tree: etree._Element) -> etree._Element | None:
    """The page's body container: known CMS selectors first, else the densest CJK block.

    Known selectors, in priority order: ``#zoom``, ``#zoomcon``, ``.TRS_Editor``,
    ``.Custom_UnionStyle``, ``#ivs_content``, ``.xxgk_content``, ``<ucapcontent>``,
    ``.article-content``, ``.act_m``, ``<article>``; one only counts when it holds 20+
    characters of text, and the first in document order wins among equals. The
    fallback scores each div/td/article/section by the CJK characters of the text it
    owns directly (nested div/td/article own theirs), so layout tables and page
    wrappers do not win merely by containing everything.
    """
    candidates = [el for el in _BODY_XPATH(tree) if _rank(el) < len(_BODY_KEYS)]
    candidates = [el for el in candidates if TEXT_LEN(el) >= 20]
    if candidates:
        return min(candidates, key=_rank)
    return _densest_block(tree)


def _container_text(el: etree._Element) -> str:
    """Text of ``el`` with newlines at block tags, scripts/styles dropped (mutates ``el``).

    C-level equivalent of ``iter_text`` for the fingerprint hot path: strip script
    and style elements, pad block elements with newlines, serialise as text.
    """
    etree.strip_elements(el, *SKIP_TAGS, with_tail=False)
    for block in el.iter(*BLOCK_TAGS):
        block.text = "\n" + (block.text or "")
        block.tail = "\n" + (block.tail or "")
    return etree.tostring(el, method="text", encoding="unicode", with_tail=False)


def fingerprint_tree(tree: etree._Element | None) -> str:
    body = find_body(tree) if tree is not None else None
    if body is None:
        return ""
    text = textnorm.to_halfwidth(textnorm.to_simplified(_container_text(body)))
    lines = textnorm.strip_furniture(textnorm.fold_whitespace(text).splitlines())
    return textnorm.content_hash("\n".join(lines)) if lines else ""


def body_fingerprint(body: bytes, content_type: str = "") -> str:
    """Cheap sha256 of the body region only, so counters, sidebars and dates do not count.

    Decode, parse with lxml, pick the container (``find_body``), take its text
    (scripts skipped, newlines at block tags), apply the cheap normalisation
    (t2s, half-width, whitespace, furniture) and hash it. "" when nothing is found.

    >>> page = '<div id="zoom"><p>一、总体情况。本年度报告正文。</p></div><span>浏览次数:%d</span>'
    >>> body_fingerprint((page % 1).encode()) == body_fingerprint((page % 2).encode())
    True
    >>> body_fingerprint(b"")
    ''
    """
    return fingerprint_tree(parse(decode_html(body, content_type), fast=True))
