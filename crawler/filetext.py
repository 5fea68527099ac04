"""The text of a report file: PDF (pypdf, pdfminer.six as fallback; hard-wrapped lines
re-flowed into paragraphs), DOCX (python-docx, tables kept as ``| a | b |`` rows), legacy
DOC/WPS through antiword or catdoc when one is installed.

``read_text`` picks the reader for a file kind; ``crawler.documents`` turns what it reads
into the ``Extracted`` record. The caps of ``crawler.filecaps`` apply before and while a
file is read (``CapExceeded``). The readers are imported on first use: they are heavy.

May import: crawler.filecaps, pypdf, pdfminer.six, python-docx.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import tempfile

from crawler import filecaps
from crawler.filecaps import CapExceeded, check_pages, check_zip

logger = logging.getLogger(__name__)

CONVERTERS = {"doc": (("antiword", "-w", "0"), ("catdoc", "-w")), "wps": (("catdoc", "-w"),)}
PAGE_NUMBER = re.compile(
    r"^[-—–－]\s*\d+\s*[-—–－]$|^第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?$|^\d{1,3}$"
)
HEADING = re.compile(
    r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\([一二三四五六七八九十]+\)|\d{1,2}\.(?!\d))"
)
ROW_END = re.compile(r"(?:\s\d+(?:\.\d+)?){3,}$")  # a table row: ends in three or more numbers


def pdf_text(body: bytes) -> tuple[str, str, int]:
    """(raw text, metadata Title, page count) of a PDF; pdfminer.six when pypdf fails.

    Over ``LIMITS.pdf_pages`` pages: ``CapExceeded("too_many_pages")``; a stream decoding
    past ``LIMITS.pdf_stream`` bytes: ``CapExceeded("oversize")`` (pypdf's own limits,
    lowered to ours; pdfminer is then not tried).
    """
    import pypdf
    from pypdf.errors import LimitReachedError

    cap = filecaps.LIMITS.pdf_stream
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
            check_pages(len(reader.pages))
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

    text = extract_text(io.BytesIO(body), maxpages=filecaps.LIMITS.pdf_pages + 1)
    check_pages(text.count("\f") + 1)
    return text, "", text.count("\f") + 1


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
