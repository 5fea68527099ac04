"""The standard tables of an annual report as data (STATS.md): ``parse_record``.

Pure: bytes and text in, a record dict out. Modules: ``keys`` (label → key by
meaning), ``values`` (printed cell → number or unknown), ``grid`` (HTML/DOCX tables →
rows), ``flat`` (text → rows), ``tables`` (rows → cells), ``checks`` (identities
I1-I4), ``record`` (the entry point).

May import: crawler.documents (file kinds), lxml, python-docx. Never monitor/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.stats.record import parse_record

__all__ = ["parse_record"]


def __getattr__(name: str) -> object:
    """``parse_record`` loads ``record`` (documents, lxml, the table readers) on first use:
    ``import crawler.stats.keys`` and a crawl whose versions did not change stay light."""
    if name == "parse_record":
        from crawler.stats.record import parse_record

        globals()["parse_record"] = parse_record
        return parse_record
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
