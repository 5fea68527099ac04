"""The verdict on one fetched page or file: ``judge``.

``judge`` is the one place that decides what a fetched page or file is (a report or
not and why, quality, problem, text, metadata, attachments). The crawl's extraction
workers (``crawler.workers.extract_job``), ``nianbao extract`` and the spider's
cover-page decision all read its verdict, so they cannot disagree. It holds the page
reader (trafilatura with tables kept, layout tables and Word-paste cells rewritten
first); the page's title, dates, issuer and attachment links are read by
``crawler.pagemeta`` (``<meta>``, the info-disclosure table and 发布时间 lines); files go
to ``crawler.documents``, page decoding, the body container and the fingerprint to
``crawler.pagetree`` (each page is parsed once).

May import ``crawler.documents``, ``crawler.pagemeta``, ``crawler.pagetree``,
``crawler.textnorm``, ``crawler.heuristics``, ``crawler.items``, lxml and trafilatura.
"""

from __future__ import annotations

import string

import trafilatura
from lxml import etree

from crawler import documents, heuristics, pagemeta, textnorm
from crawler.items import Extracted
from crawler.pagetree import (  # re-exported: the extraction API
    ParsedPage,
    body_fingerprint,
    decode_html,
    find_body,
    looks_mojibake,
    read_page,
    text_of,
    text_runs,
)

__all__ = [
    "Extracted",
    "ParsedPage",
    "body_fingerprint",
    "decode_html",
    "extract_page",
    "find_body",
    "is_cover",
    "judge",
    "looks_mojibake",
    "read_page",
]

THIN_CHARS = documents.THIN_CHARS
COVER_CHARS = 300  # a page whose body container holds less is a cover or image-only
COVER_REASON = "cover page"
_LAYOUT_PARTS = etree.XPath(
    "./tbody | ./thead | ./tfoot | ./tr | ./*/tr | ./tr/td | ./tr/th | ./*/tr/td | ./*/tr/th"
)
_NESTED_P = etree.XPath("//p[.//p]")
_LATIN = frozenset(string.ascii_letters)
CELL_CHARS = 300  # longer table cells are layout cells: keep their paragraphs
_LAYOUT_CELLS = etree.XPath(
    " | ".join(
        f"//{tag}[.//table or string-length(normalize-space(string())) > {CELL_CHARS}]"
        for tag in ("td", "th")
    )
)


def _join_cjk(pieces: list[str]) -> str:
    """Join cell text runs: no space between CJK/digit runs, a space between Latin words."""
    out = pieces[:1]
    for before, piece in zip(pieces, pieces[1:]):
        if piece[0] in _LATIN and before[-1] in _LATIN:
            out.append(" ")
        out.append(piece)
    return "".join(out)


def _layout_cells(tree: etree._Element) -> set[etree._Element]:
    """The layout cells: table cells holding a nested table or long text (page content),
    not a value or a label. One XPath over the page (a call per cell cost 2 ms a page)."""
    return set(_LAYOUT_CELLS(tree))


def _unwrap_layout_tables(tree: etree._Element, layout_cells: set[etree._Element]) -> None:
    """Turn layout tables (a cell holds a nested table or long text) into plain divs.

    trafilatura renders a layout cell as one table row, gluing the whole report
    into a single ``| ... |`` line; as divs its paragraphs stay lines.
    """
    layout = {table for cell in layout_cells for table in cell.iterancestors("table")}
    for table in layout:
        for el in _LAYOUT_PARTS(table):
            el.tag = "div"
        table.tag = "div"
    for para in _NESTED_P(tree):  # Word paste: <P><SPAN><P>… nests paragraphs in libxml2
        para.tag = "div"


def _flatten_cells(tree: etree._Element, layout_cells: set[etree._Element]) -> None:
    """Collapse each table cell's Word-paste markup (<p>/<span>/<o:p> runs) into plain text.

    trafilatura otherwise keeps only a cell's first paragraph and spills the rest
    (e.g. 结/果/维/持 one character per <p>) below the table. ``layout_cells``: from
    ``_layout_cells`` before the layout tables were unwrapped (unwrapping changes no
    remaining cell's verdict: a cell is a layout cell through text its ancestors share).
    """
    for cell in tree.iter("td", "th"):
        if len(cell) and cell not in layout_cells:
            pieces = [piece for piece in map(str.strip, text_runs(cell)) if piece]
            del cell[:]  # children and their tails, without a Python proxy for each
            cell.text = _join_cjk(pieces)


def _quality(text: str, images: int) -> str:
    """ "ok", or for short text "image-only" (the body has images) or "thin"."""
    if len(text) >= THIN_CHARS:
        return "ok"
    return "image-only" if images else "thin"


def _body_text(tree: etree._Element, url: str) -> str:
    """trafilatura's text, normalised."""
    return textnorm.normalise(trafilatura_text(tree, url))


def trafilatura_text(tree: etree._Element, url: str) -> str:
    """trafilatura's text of the page (tables kept, rows as ``| a | b |`` lines)."""
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
    return raw or ""


def judge(
    body: bytes,
    url: str,
    content_type: str = "",
    *,
    anchor: str = "",
    issuer_hint: str = "",
    parsed: ParsedPage | None = None,
) -> Extracted:
    """The final verdict on a fetched page or file (PDF, DOCX, DOC, WPS).

    Pages: read once (``read_page``), extracted, then a page whose body container is
    nearly empty is a cover (it has attachments: not a report) or an image-only report.
    Files: ``crawler.documents``. Both: almost no text is the problem "thin", and an
    issuer that only starts the portal's name becomes the portal's name.

    Args:
        body: the raw response bytes (any charset; see ``decode_html``).
        url: the address, used for attachment links and a file's name.
        content_type: the Content-Type header, if any (its charset wins).
        anchor: the text of the link that led here (a file's title of last resort).
        issuer_hint: the portal's name, used when the page or file names no issuer.
        parsed: the page already read by ``read_page`` (the worker's fingerprint check).

    >>> cover = '<title>某县2022年政府信息公开工作年度报告</title><div id="zoom">详见附件：'
    >>> link = '<a href="nb.pdf">某县2022年政府信息公开工作年度报告.pdf</a></div>'
    >>> ex = judge((cover + link).encode(), "http://h/a")
    >>> is_cover(ex), ex.attachments
    (True, ['http://h/nb.pdf'])
    >>> judge(('<div id="zoom"><p>' + "一、总体情况。" * 5 + "</p></div>").encode(), "http://h/b").problem
    'thin'
    """
    if parsed is None and documents.is_document(url, content_type, body):
        ex = documents.extract_document(body, url, content_type, anchor, issuer_hint)
    else:
        page = parsed or read_page(body, content_type)
        stats = page.stats  # before _read rewrites the tree
        ex = _settle_page(_read(page, body, url, issuer_hint), stats)
    return _clean(_settle(ex, issuer_hint))


def is_cover(ex: Extracted) -> bool:
    """True when the verdict says a cover page: the report is in its attachments."""
    return not ex.is_report and ex.reason.startswith(COVER_REASON)


def _settle_page(ex: Extracted, stats: tuple[int, int]) -> Extracted:
    """Decide what a page whose body container holds little text is.

    trafilatura falls back to the page chrome when the body is nearly empty, so the
    container's own size (``ParsedPage.stats``) decides. With attachments the page is a
    cover: the report is in the files (fetched and versioned on their own), so the page
    is not a report. With images and no attachments it is an image-only report: it
    keeps its title line as text (never an empty report, so never an edit from or to
    nothing).
    """
    chars, images = stats
    if chars >= COVER_CHARS or ex.problem not in (None, "empty"):
        return ex
    if ex.attachments:  # "详见附件" and a link may be too short for text: still a cover
        ex.problem = None
        ex.is_report, ex.quality = False, "ok"
        ex.reason = f"{COVER_REASON}: the report is in its attachment(s) ({len(ex.attachments)})"
    elif images and not ex.problem:
        ex.quality, ex.text = "image-only", textnorm.normalise(ex.title)
        ex.text_sha = textnorm.content_hash(ex.text)
    return ex


def _settle(ex: Extracted, issuer_hint: str) -> Extracted:
    """Last rules for pages and files alike: "thin" text is a problem; a short issuer
    ("江苏省" in a title) that starts the portal's name (江苏省人民政府) becomes it."""
    if not ex.problem and ex.quality == "thin":
        ex.problem = "thin"
        ex.reason = f"almost no text ({len(ex.text)} characters)"
    if ex.issuer and issuer_hint.startswith(ex.issuer):
        ex.issuer = issuer_hint
    return ex


def _clean(ex: Extracted) -> Extracted:
    """Remove control characters and escape sequences from every string of the verdict
    (``textnorm.strip_controls``): stored text, titles and metadata are then safe in XML,
    mail and terminals by construction. The hash follows the cleaned text.

    >>> ex = _clean(Extracted(title="年报\x1b]0;x\x07\x01", text="a\x02b", text_sha="?"))
    >>> ex.title, ex.text, ex.text_sha == textnorm.content_hash("ab")
    ('年报', 'ab', True)
    """
    strip = textnorm.strip_controls
    text = strip(ex.text)
    if text != ex.text:
        ex.text, ex.text_sha = text, textnorm.content_hash(text)
    ex.title, ex.issuer, ex.reason = strip(ex.title), strip(ex.issuer), strip(ex.reason)
    ex.published = strip(ex.published) if ex.published else ex.published
    ex.attachments = [strip(u) for u in ex.attachments]
    return ex


def extract_page(
    body: bytes, url: str, content_type: str = "", default_issuer: str = ""
) -> Extracted:
    """What ``judge`` reads from a page before its verdict (no cover, image-only or thin
    rules): title, dates, issuer, attachments and normalised text. Use ``judge`` for the
    verdict; this is the reading step alone, for tests of the text."""
    return _read(read_page(body, content_type), body, url, default_issuer)


def _read(page: ParsedPage, body: bytes, url: str, default_issuer: str) -> Extracted:
    """Extract title, dates, issuer, classification and normalised text from a read page
    (rewrites ``page.tree``)."""
    tree = page.tree
    if tree is None:
        return Extracted(quality="thin", problem=heuristics.is_challenge_body(body) or "empty")
    metas = pagemeta.metas(tree)
    title = pagemeta.title(tree, metas)
    published = pagemeta.published(tree, metas, page.html)
    info = pagemeta.info_table(tree) if pagemeta.may_have_info(page.html) else None
    issuer = heuristics.issuer_from_title(title) or metas.get("contentsource", "")
    issuer = issuer or pagemeta.info_issuer(info) or default_issuer
    attachments, container = pagemeta.attachments(tree, url), page.body
    images = len(container.findall(".//img")) if container is not None else 0
    fallback = text_of(tree if container is None else container)  # before the rewrite
    if info is not None and info.getparent() is not None:
        info.drop_tree()
    layout_cells = _layout_cells(tree)
    _unwrap_layout_tables(tree, layout_cells)
    _flatten_cells(tree, layout_cells)
    text = _body_text(tree, url)
    is_report, reason = heuristics.classify_report(title, text)
    probe = text if len(text) >= THIN_CHARS else textnorm.fold_whitespace(fallback)[:5000]
    problem = heuristics.is_challenge_body(body) or (
        "mojibake" if looks_mojibake(page.html) else heuristics.page_problem(200, probe, title)
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
        body_fp=page.fingerprint,
        quality=_quality(text, images),
        problem=problem,
        attachments=attachments,
    )
