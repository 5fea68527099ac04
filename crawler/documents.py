"""Reports that are files: PDF (pypdf, pdfminer.six as fallback), DOCX (python-docx,
tables kept), legacy DOC/WPS through a Debian converter when one is installed.

``extract_document`` returns the same ``Extracted`` record as a page's reading step;
``crawler.extract.judge`` gives the verdict on both. Text is normalised like page text
(``textnorm.normalise``), PDF lines re-flowed into paragraphs so an edit does not shift
every later line. A file with no text layer is ``quality="image-only"`` and one nianbao
cannot read is ``"unsupported"``: both keep their title line as text, never an empty
report.

Hostile files meet caps before they are read (``Limits``, set per process by
``set_limits``): a DOCX/ZIP whose members declare or unpack to more than
``unpacked`` bytes is a ``zip_bomb``, a PDF with more than ``pdf_pages`` pages is
``too_many_pages``, and one whose streams decode past ``pdf_stream`` bytes is
``oversize``. The verdict then has that problem and no text.

May import: crawler.heuristics, crawler.textnorm, crawler.items, pypdf, pdfminer.six,
python-docx.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit

from crawler import heuristics, textnorm
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
CONVERTERS = {"doc": (("antiword", "-w", "0"), ("catdoc", "-w")), "wps": (("catdoc", "-w"),)}
PAGE_NUMBER = re.compile(
    r"^[-—–－]\s*\d+\s*[-—–－]$|^第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?$|^\d{1,3}$"
)
HEADING = re.compile(
    r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\([一二三四五六七八九十]+\)|\d{1,2}\.(?!\d))"
)
ROW_END = re.compile(r"(?:\s\d+(?:\.\d+)?){3,}$")  # a table row: ends in three or more numbers
MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Caps on one file (defaults: ``crawler.options``, ``NIANBAO_UNPACKED_MAXSIZE``,
    ``NIANBAO_PDF_MAX_PAGES``, ``NIANBAO_PDF_STREAM_MAXSIZE``)."""

    unpacked: int = 100 * MB
    pdf_pages: int = 500
    pdf_stream: int = 50 * MB


LIMITS = Limits()


def set_limits(**caps: int) -> Limits:
    """Set this process's caps (an extraction worker's initializer); 0 or None keeps one."""
    global LIMITS
    LIMITS = replace(LIMITS, **{k: v for k, v in caps.items() if v})
    return LIMITS


class CapExceeded(Exception):
    """A file over one of the caps; ``kind`` names the cap (the problem's kind)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(kind, detail)
        self.kind, self.detail = kind, detail

    def __str__(self) -> str:
        return self.detail


def check_zip(body: bytes, cap: int | None = None) -> None:
    """Raise ``CapExceeded("zip_bomb")`` when a ZIP's members declare, or really unpack
    to, more than ``cap`` bytes in all. Members are streamed with a counter, never read
    whole, so a member that lies about its size stops at the cap too.

    >>> import io, zipfile
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    ...     z.writestr("word/document.xml", b"<w/>" * 1000)
    >>> check_zip(buf.getvalue(), cap=10_000)
    >>> check_zip(buf.getvalue(), cap=1_000)
    Traceback (most recent call last):
    crawler.documents.CapExceeded: 1 members declare 4000 bytes unpacked: over the 1000-byte cap
    """
    cap = cap or LIMITS.unpacked
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except zipfile.BadZipFile:
        return  # not a ZIP after all: the reader says what it is
    with archive:
        infos = archive.infolist()
        declared = sum(info.file_size for info in infos)
        if declared > cap:
            raise CapExceeded(
                "zip_bomb",
                f"{len(infos)} members declare {declared} bytes unpacked: over the {cap}-byte cap",
            )
        unpacked = 0
        for info in infos:
            with archive.open(info) as member:
                while chunk := member.read(MB):
                    unpacked += len(chunk)
                    if unpacked > cap:
                        raise CapExceeded(
                            "zip_bomb",
                            f"members unpack to more than {cap} bytes (declared {declared})",
                        )


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


# ---- text from files ----------------------------------------------------------------


def pdf_text(body: bytes) -> tuple[str, str, int]:
    """(raw text, metadata Title, page count) of a PDF; pdfminer.six when pypdf fails.

    Over ``LIMITS.pdf_pages`` pages: ``CapExceeded("too_many_pages")``; a stream decoding
    past ``LIMITS.pdf_stream`` bytes: ``CapExceeded("oversize")`` (pypdf's own limits,
    lowered to ours; pdfminer is then not tried).
    """
    import pypdf
    from pypdf.errors import LimitReachedError

    cap = LIMITS.pdf_stream
    limits = {
        "maximum_declared_stream_length": cap,
        "array_based_stream_maximum_output_length": cap,
        "zlib_maximum_output_length": cap,
        "lzw_maximum_output_length": cap,
        "run_length_maximum_output_length": cap,
        "stream_decoding_work_maximum_length": 4 * cap,
    }
    try:
        with pypdf.apply_configuration(**limits):
            reader = pypdf.PdfReader(io.BytesIO(body))
            if reader.is_encrypted:
                reader.decrypt("")
            _check_pages(len(reader.pages))
            title = str((reader.metadata or {}).get("/Title") or "")
            pages = [page.extract_text() or "" for page in reader.pages]
        return "\n".join(pages), title, len(pages)
    except CapExceeded:
        raise
    except LimitReachedError as exc:
        raise CapExceeded("oversize", f"a PDF stream is over the {cap}-byte cap: {exc}") from None
    except Exception as exc:
        logger.info("pypdf failed (%r), trying pdfminer", exc)
    from pdfminer.high_level import extract_text

    text = extract_text(io.BytesIO(body), maxpages=LIMITS.pdf_pages + 1)
    _check_pages(text.count("\f") + 1)
    return text, "", text.count("\f") + 1


def _check_pages(count: int) -> None:
    if count > LIMITS.pdf_pages:
        raise CapExceeded(
            "too_many_pages", f"PDF of {count} pages: over the {LIMITS.pdf_pages}-page cap"
        )


def reflow(raw: str) -> list[str]:
    """Join a PDF's hard-wrapped lines into paragraphs; drop page numbers.

    A line well short of the page's full line length ends its paragraph, and so do a
    table row (ending in numbers) and the line before a heading (一、 / （一） / 1.).

    >>> reflow("- 1 -\\n" + "甲" * 30 + "\\n" + "乙" * 30 + "\\n丙。\\n一、总体情况\\n规章 0 0 0")
    ['甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙乙丙。', '一、总体情况', '规章 0 0 0']
    """
    lines = [" ".join(line.split()) for line in raw.splitlines()]
    lines = [line for line in lines if not PAGE_NUMBER.match(line)]
    widths = sorted(len(line) for line in lines if len(line) >= 10)
    full = widths[int(len(widths) * 0.9)] if widths else 0
    out, buf = [], ""
    for line in lines:
        if buf and (not line or HEADING.match(line)):
            out.append(buf)
            buf = ""
        buf = _join(buf, line)
        if buf and (len(line) < full * 0.8 or ROW_END.search(line)):
            out.append(buf)
            buf = ""
    return out + ([buf] if buf else [])


def _join(left: str, right: str) -> str:
    if (
        left
        and right
        and left[-1].isascii()
        and right[0].isascii()
        and left[-1].isalpha()
        and right[0].isalpha()
    ):
        return left + " " + right
    return left + right


def docx_text(body: bytes) -> tuple[str, str]:
    """(text, core-properties title) of a DOCX: paragraphs and tables in body order,
    table rows as ``| a | b |`` lines (merged cells once)."""
    from docx import Document
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    doc = Document(io.BytesIO(body))
    out = []
    for block in doc.element.body.iterchildren():
        if block.tag == qn("w:p"):
            out.append(Paragraph(block, doc).text)
        elif block.tag == qn("w:tbl"):
            out += [_row_line(row) for row in Table(block, doc).rows]
    return "\n".join(out), doc.core_properties.title or ""


def _row_line(row) -> str:
    cells, seen = [], set()
    for cell in row.cells:
        if id(cell._tc) not in seen:
            seen.add(id(cell._tc))
            cells.append("".join(cell.text.split()))
    return "| " + " | ".join(cells) + " |"


def legacy_text(body: bytes, kind: str) -> str | None:
    """Text of a .doc/.wps through antiword or catdoc when installed, else None."""
    for command in CONVERTERS.get(kind, ()):
        if not shutil.which(command[0]):
            continue
        with tempfile.NamedTemporaryFile(suffix="." + kind) as f:
            f.write(body)
            f.flush()
            done = subprocess.run([*command, f.name], check=False, capture_output=True, timeout=60)
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.decode("utf-8", "replace")
    return None


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


def read_text(body: bytes, kind: str) -> tuple[str, str, str]:
    """(text, metadata title, quality when the text cannot be had) of a file of ``kind``."""
    if kind == "pdf":
        raw, title, _ = pdf_text(body)
        return "\n".join(reflow(raw)), title, "image-only"
    if kind == "docx":
        check_zip(body)
        raw, title = docx_text(body)
        return raw, title, "thin"
    raw = legacy_text(body, kind) if kind in CONVERTERS else None
    return raw or "", "", "unsupported"


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
