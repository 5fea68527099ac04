"""Caps on a report file, met before it is read: hostile files (zip bombs, PDFs of
thousands of pages, streams that decode to gigabytes) stop here, not in the reader.

``Limits`` holds the caps, ``set_limits`` sets this process's (an extraction worker's
initializer; ``LIMITS`` is read at call time, so read it as ``filecaps.LIMITS``).
A DOCX/ZIP whose members declare or unpack to more than ``unpacked`` bytes is a
``zip_bomb`` (``check_zip``), a PDF with more than ``pdf_pages`` pages is
``too_many_pages`` (``check_pages``); ``crawler.filetext`` lowers pypdf's own limits to
``pdf_stream`` (``oversize``). Each raises ``CapExceeded``, whose ``kind`` is the problem.

May import: the standard library only.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, replace

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
    crawler.filecaps.CapExceeded: 1 members declare 4000 bytes unpacked: over the 1000-byte cap
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


def check_pages(count: int) -> None:
    """Raise ``CapExceeded("too_many_pages")`` for a PDF over ``LIMITS.pdf_pages`` pages."""
    if count > LIMITS.pdf_pages:
        raise CapExceeded(
            "too_many_pages", f"PDF of {count} pages: over the {LIMITS.pdf_pages}-page cap"
        )
