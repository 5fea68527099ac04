"""Reports that are files: PDF (pypdf, pdfminer.six as fallback), DOCX (python-docx,
tables kept), legacy DOC/WPS through a Debian converter when one is installed.

``extract_document`` returns the same ``Extracted`` record as a page's reading step;
``crawler.extract.judge`` gives the verdict on both. Text is normalised like page text
(``textnorm.normalise``), PDF lines re-flowed into paragraphs so an edit does not shift
every later line. A file with no text layer is ``quality="image-only"`` and one nianbao
cannot read is ``"unsupported"``: both keep their title line as text, never an empty
report.

This module knows the file kinds (``kind_of``), the title and the record; the readers
are in ``crawler.filetext``, the caps in ``crawler.filecaps`` (both re-exported here).
Hostile files meet caps before they are read (``Limits``, set per process by
``set_limits``): a DOCX/ZIP whose members declare or unpack to more than
``unpacked`` bytes is a ``zip_bomb``, a PDF with more than ``pdf_pages`` pages is
``too_many_pages``, and one whose streams decode past ``pdf_stream`` bytes is
``oversize``. The verdict then has that problem and no text.

May import: crawler.heuristics, crawler.textnorm, crawler.items, crawler.filecaps,
crawler.filetext.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote, urlsplit

from crawler import heuristics, textnorm
from crawler.filecaps import (  # noqa: F401  (the caps, used as documents.* elsewhere)
    MB,
    CapExceeded,
    Limits,
    check_zip,
    set_limits,
)
from crawler.filetext import (  # noqa: F401  (the readers, re-exported)
    CONVERTERS,
    docx_text,
    legacy_text,
    pdf_text,
    read_text,
    reflow,
)
from crawler.items import Extracted

logger = logging.getLogger(__name__)

THIN_CHARS = 200
MAGIC = ((b"%PDF", "pdf"), (b"PK\x03\x04", "docx"), (b"\xd0\xcf\x11\xe0", "doc"))
CTYPES = {
    "application/pdf": "pdf",
    "application/msword": "doc",
    "application/vnd.ms-works": "wps",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/kswps": "wps",
    "application/wps-office.wps": "wps",
    "application/ofd": "ofd",
}


def kind_of(url: str, content_type: str = "", body: bytes = b"") -> str | None:
    """ "pdf", "docx", "doc", "wps", … for a file answer; None for a page.

    Magic bytes win (an HTML error page at a .pdf address is a page), then the
    Content-Type, then the file name in the URL.

    >>> kind_of("http://h/a.pdf", "application/octet-stream", b"%PDF-1.7")
    'pdf'
    >>> kind_of("http://h/a.pdf", "text/html", b"<html>") is None
    True
    >>> kind_of("http://h/down.jsp?name=%E5%B9%B4%E6%8A%A5.wps", "application/octet-stream", b"x")
    'wps'
    """
    for magic, kind in MAGIC:
        if body.startswith(magic):
            return _ole_kind(url) if kind == "doc" else kind
    if body.lstrip()[:1] == b"<" or content_type.startswith(("text/html", "application/xhtml")):
        return None
    if content_type in CTYPES:
        return CTYPES[content_type]
    return heuristics.attachment_ext(url)


def _ole_kind(url: str) -> str:
    return "wps" if re.search(r"\.wps\b", unquote(url), re.IGNORECASE) else "doc"


def is_document(url: str, content_type: str = "", body: bytes = b"") -> bool:
    return kind_of(url, content_type, body) is not None


# ---- the Extracted record -------------------------------------------------------------


def first_lines_title(lines: list[str]) -> str:
    """The report title spread over a file's first lines (issuer, then year + 报告).

    >>> first_lines_title(["淮安市人民政府", "2024 年政府信息公开工作年度报告", "本报告由…"])
    '淮安市人民政府2024 年政府信息公开工作年度报告'
    """
    for end in range(1, min(len(lines), 4) + 1):
        joined = "".join(lines[:end])
        if heuristics.is_report_title(joined):
            return joined
    return ""


def pick_title(candidates: list[str]) -> str:
    """The first candidate naming a report with a year, else one naming a report, else any."""
    clean = [" ".join(c.split()) for c in candidates if c and c.strip()]
    for ok in (
        lambda t: heuristics.is_report_title(t) and heuristics.report_year(t),
        heuristics.is_report_title,
        bool,
    ):
        found = next((t for t in clean if ok(t)), "")
        if found:
            return found
    return ""


def _file_name(url: str) -> str:
    name = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
    return heuristics.ATTACHMENT_EXT.sub("", name)


def extract_document(
    body: bytes, url: str, content_type: str = "", anchor: str = "", default_issuer: str = ""
) -> Extracted:
    """Extract title, issuer, year and normalised text from a PDF/DOCX/DOC/WPS file.

    Args:
        anchor: the text of the link that led here (list entry or attachment link),
            the title of last resort.
        default_issuer: the portal's name, used when the title names no issuer.
    """
    kind = kind_of(url, content_type, body) or "pdf"
    try:
        raw, meta_title, empty_quality = read_text(body, kind)
    except CapExceeded as exc:
        logger.info("%s: %s", url, exc.detail)
        return Extracted(
            title=anchor, problem=exc.kind, quality="unsupported", reason=exc.detail[:200]
        )
    except MemoryError:
        raise  # the extraction worker's memory cap: its caller names the problem
    except Exception as exc:
        logger.info("Cannot read %s as %s: %r", url, kind, exc)
        return Extracted(
            title=anchor,
            problem="error",
            quality="unsupported",
            reason=f"cannot read {kind}: {exc!r}"[:200],
        )
    text = textnorm.normalise(raw)
    lines = text.splitlines()
    title = pick_title([meta_title, first_lines_title(lines), anchor, _file_name(url)])
    quality = "ok" if len(text) >= THIN_CHARS else ("thin" if text.strip() else empty_quality)
    if quality in ("image-only", "unsupported"):
        text = textnorm.normalise(title)  # never an empty report: the title line stands in
    is_report, reason = heuristics.classify_report(title, text)
    issuer = heuristics.issuer_from_title(title) or default_issuer
    return Extracted(
        title=title,
        issuer=issuer,
        year=heuristics.report_year(title) or heuristics.report_year(anchor),
        published=None,
        is_report=is_report,
        reason=f"{kind}: {reason}",
        text=text,
        text_sha=textnorm.content_hash(text),
        body_fp="",
        quality=quality,
        problem=None,
        attachments=[],
    )
