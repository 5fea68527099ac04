"""Turn a fetched report page into an ``Extracted`` record; cheap body fingerprints.

Holds the trafilatura wrapper (``extract_page``), charset decoding
(``decode_html``, ``looks_mojibake``), the cheap ``body_fingerprint`` used to skip
re-extraction, and ``extract_file`` for the CLI. May import ``crawler.textnorm``,
``crawler.heuristics``, ``crawler.items``, lxml, w3lib, trafilatura and htmldate.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import trafilatura
from htmldate import find_date
from lxml import etree
from lxml import html as lxml_html
from w3lib.encoding import html_to_unicode

from crawler import heuristics, textnorm
from crawler.items import Extracted

logger = logging.getLogger(__name__)

THIN_CHARS = 200
CELL_CHARS = 300  # longer table cells are layout cells: keep their paragraphs
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
_INFO_XPATH = etree.XPath("//*[contains(text(), '索引号') or contains(text(), '索引號')]")
_LAYOUT_PARTS = etree.XPath(
    "./tbody | ./thead | ./tfoot | ./tr | ./*/tr | ./tr/td | ./tr/th | ./*/tr/td | ./*/tr/th"
)
_NESTED_P = etree.XPath("//p[.//p]")
_TEXT_LEN = etree.XPath("string-length(normalize-space(string()))")
_FALLBACK_TAGS = frozenset({"div", "td", "article", "section", "ucapcontent"})
_BLOCK_TAGS = frozenset(
    "p div br tr td th li h1 h2 h3 h4 h5 h6 table section article ul ol dd dt".split()
)
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "select", "option"})
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
_CJK = re.compile(r"[\u3400-\u9fff]")
_DATE_LABEL = re.compile(
    r"(?:发布时间|发布日期|公开日期|发文日期|日期|时间)\s*[:：]\s*"
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})"
)
_META_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_TITLE_SPLIT = re.compile(r"\s*(?:_|\||｜| - | — |——|-{2,})\s*")
_MOJIBAKE = re.compile(r"[\ufffd\u00c0-\u00ff]")
_DATE_METAS = ("pubdate", "publishdate", "firstpublishedtime", "article:published_time")
_DOCUMENT_EXT = re.compile(r"\.(?:pdf|docx?|wps|ofd|xlsx?)$", re.IGNORECASE)


class UnsupportedFormat(Exception):
    """A saved file that extraction cannot read yet (PDF, DOCX, ...)."""


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


def _parse(page: str, fast: bool = False) -> etree._Element | None:
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


def _iter_text(el: etree._Element) -> Iterator[str]:
    """Text of ``el`` with newlines at block boundaries, skipping scripts and styles."""
    skip = 0
    for event, node in etree.iterwalk(el, events=("start", "end")):
        tag = node.tag if isinstance(node.tag, str) else ""
        if event == "start":
            skip += tag in _SKIP_TAGS
            if not skip:
                yield "\n" if tag in _BLOCK_TAGS else ""
                yield node.text or ""
        else:
            skip -= tag in _SKIP_TAGS
            if not skip:
                yield "\n" if tag in _BLOCK_TAGS else ""
                if node is not el:
                    yield node.tail or ""


def _densest_block(tree: etree._Element) -> etree._Element | None:
    """Fallback container: the div/td/article whose own text (not nested blocks') has most CJK."""
    owner: dict[etree._Element, etree._Element | None] = {}
    scores: dict[etree._Element, int] = {}
    for node in tree.iter():
        parent = node.getparent()
        up = owner.get(parent) if parent is not None else None
        if not isinstance(node.tag, str) or node.tag in _SKIP_TAGS:
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
    candidates = [el for el in candidates if _TEXT_LEN(el) >= 20]
    if candidates:
        return min(candidates, key=_rank)
    return _densest_block(tree)


def _container_text(el: etree._Element) -> str:
    """Text of ``el`` with newlines at block tags, scripts/styles dropped (mutates ``el``).

    C-level equivalent of ``_iter_text`` for the fingerprint hot path: strip script
    and style elements, pad block elements with newlines, serialise as text.
    """
    etree.strip_elements(el, *_SKIP_TAGS, with_tail=False)
    for block in el.iter(*_BLOCK_TAGS):
        block.text = "\n" + (block.text or "")
        block.tail = "\n" + (block.tail or "")
    return etree.tostring(el, method="text", encoding="unicode", with_tail=False)


def _fingerprint_tree(tree: etree._Element | None) -> str:
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
    return _fingerprint_tree(_parse(decode_html(body, content_type), fast=True))


def _metas(tree: etree._Element) -> dict[str, str]:
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


def _title(tree: etree._Element, metas: dict[str, str]) -> str:
    site = metas.get("sitename", "")
    for raw in (metas.get("articletitle", ""), tree.findtext(".//title") or "", _h1(tree)):
        if raw.strip():
            return _clean_title(raw, site)
    return ""


def _h1(tree: etree._Element) -> str:
    h1 = tree.find(".//h1")
    return "".join(_iter_text(h1)) if h1 is not None else ""


def _ymd(match: re.Match[str] | None) -> str | None:
    if not match:
        return None
    y, m, d = (int(g) for g in match.groups())
    return (
        f"{y:04d}-{m:02d}-{d:02d}" if 1990 <= y <= 2100 and 1 <= m <= 12 and 1 <= d <= 31 else None
    )


def _published(tree: etree._Element, metas: dict[str, str], page: str) -> str | None:
    """PubDate-style meta, then a labelled date in the page text, then htmldate."""
    for key in _DATE_METAS:
        found = _ymd(_META_DATE.search(metas.get(key, "")))
        if found:
            return found
    visible = textnorm.to_halfwidth(_visible_text(tree))
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


def _info_table(tree: etree._Element) -> etree._Element | None:
    """The 索引号/发布机构/公开日期 info-disclosure block (table, div or list), if any."""
    for node in _INFO_XPATH(tree):
        for el in node.iterancestors("table", "div", "ul", "dl"):
            text = textnorm.to_simplified(el.text_content())
            if len(text) > 600:
                break
            if sum(label in text for label in _INFO_LABELS) >= 3:
                return el
    return None


def _info_issuer(info: etree._Element | None) -> str:
    """The value next to 发布机构 in the info-disclosure block."""
    if info is None:
        return ""
    text = textnorm.fold_whitespace(textnorm.to_simplified("".join(_iter_text(info))))
    m = re.search(
        r"发布机构\s*[:：]?\s*\n?\s*([^\n:：]{2,30}?)\s*(?:\n|$|索引号|公开日期|文号|主题分类|成文日期)",
        text,
    )
    return m.group(1).strip() if m else ""


def _join_cjk(pieces: list[str]) -> str:
    """Join cell text runs: no space between CJK/digit runs, a space between Latin words."""
    out = ""
    for piece in pieces:
        if out and re.match(r"[A-Za-z]", piece[0]) and re.match(r"[A-Za-z]", out[-1]):
            out += " "
        out += piece
    return out


def _is_data_cell(cell: etree._Element) -> bool:
    """A table cell holding a value or label, not a layout cell holding page content."""
    return cell.find(".//table") is None and _TEXT_LEN(cell) <= CELL_CHARS


def _unwrap_layout_tables(tree: etree._Element) -> None:
    """Turn layout tables (a cell holds a nested table or long text) into plain divs.

    trafilatura renders a layout cell as one table row, gluing the whole report
    into a single ``| ... |`` line; as divs its paragraphs stay lines.
    """
    layout = {
        table
        for cell in tree.iter("td", "th")
        if not _is_data_cell(cell)
        for table in cell.iterancestors("table")
    }
    for table in layout:
        for el in _LAYOUT_PARTS(table):
            el.tag = "div"
        table.tag = "div"
    for para in _NESTED_P(tree):  # Word paste: <P><SPAN><P>… nests paragraphs in libxml2
        para.tag = "div"


def _flatten_cells(tree: etree._Element) -> None:
    """Collapse each table cell's Word-paste markup (<p>/<span>/<o:p> runs) into plain text.

    trafilatura otherwise keeps only a cell's first paragraph and spills the rest
    (e.g. 结/果/维/持 one character per <p>) below the table.
    """
    for cell in tree.iter("td", "th"):
        if len(cell) and _is_data_cell(cell):
            pieces = [s.strip() for s in _iter_text(cell) if s.strip()]
            for child in list(cell):
                cell.remove(child)
            cell.text = _join_cjk(pieces)


def _attachments(tree: etree._Element, url: str) -> list[str]:
    base_el = tree.find(".//base[@href]")
    base = urljoin(url, base_el.get("href")) if base_el is not None else url
    links = (urljoin(base, a.get("href", "").strip()) for a in tree.iter("a") if a.get("href"))
    return list(dict.fromkeys(link for link in links if heuristics.is_attachment_url(link)))


def _quality(text: str, images: int) -> str:
    """ "ok", or for short text "image-only" (the body has images) or "thin"."""
    if len(text) >= THIN_CHARS:
        return "ok"
    return "image-only" if images else "thin"


def _visible_text(el: etree._Element) -> str:
    """All text under ``el`` (scripts included: challenge pages are only script)."""
    return etree.tostring(el, method="text", encoding="unicode", with_tail=False)


def _body_text(tree: etree._Element, url: str) -> str:
    """trafilatura's text (tables kept, rows as ``| a | b |`` lines), normalised."""
    raw = trafilatura.extract(
        tree,
        url=url or None,
        include_tables=True,
        fast=True,
        include_comments=False,
        include_images=False,
        include_links=False,
        with_metadata=False,
    )
    return textnorm.normalise(raw or "")


def extract_page(
    body: bytes, url: str, content_type: str = "", default_issuer: str = ""
) -> Extracted:
    """Extract title, dates, issuer, classification and normalised text from a page.

    Args:
        body: the raw response bytes (any charset; see ``decode_html``).
        url: the page URL, used to make attachment links absolute.
        content_type: the Content-Type header, if any (its charset wins).
        default_issuer: the portal's name, used when the page names no issuer.
    """
    page = decode_html(body, content_type)
    tree = _parse(page)
    if tree is None:
        return Extracted(quality="thin", problem=heuristics.is_challenge_body(body) or "empty")
    metas = _metas(tree)
    title, fp = _title(tree, metas), _fingerprint_tree(_parse(page, fast=True))
    published = _published(tree, metas, page)
    info = _info_table(tree)
    issuer = heuristics.issuer_from_title(title) or metas.get("contentsource", "")
    issuer = issuer or _info_issuer(info) or default_issuer
    attachments, container = _attachments(tree, url), find_body(tree)
    images = len(container.findall(".//img")) if container is not None else 0
    fallback = textnorm.fold_whitespace(_visible_text(tree if container is None else container))
    if info is not None and info.getparent() is not None:
        info.drop_tree()
    _unwrap_layout_tables(tree)
    _flatten_cells(tree)
    text = _body_text(tree, url)
    is_report, reason = heuristics.classify_report(title, text)
    probe = text if len(text) >= THIN_CHARS else fallback[:5000]
    problem = heuristics.is_challenge_body(body) or (
        "mojibake" if looks_mojibake(page) else heuristics.page_problem(200, probe, title)
    )
    return Extracted(
        title=title,
        issuer=issuer,
        year=heuristics.report_year(title),
        published=published,
        is_report=is_report,
        reason=reason,
        text=text,
        text_sha=textnorm.content_hash(text),
        body_fp=fp,
        quality=_quality(text, images),
        problem=problem,
        attachments=attachments,
    )


def extract_file(path: str | Path, url: str = "") -> Extracted:
    """Extract a saved page file (HTML); PDF/DOC/DOCX/WPS/OFD/XLS raise ``UnsupportedFormat``."""
    path = Path(path)
    if _DOCUMENT_EXT.search(path.name):
        raise UnsupportedFormat(f"{path}: {path.suffix} files are not supported yet")
    return extract_page(path.read_bytes(), url or path.resolve().as_uri())
