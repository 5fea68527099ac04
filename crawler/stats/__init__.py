"""The standard tables of an annual report as data (STATS.md): ``parse_record``.

Pure: bytes and text in, a record dict out. Modules: ``keys`` (label → key by
meaning), ``values`` (printed cell → number or unknown), ``grid`` (HTML/DOCX tables →
rows), ``flat`` (text → rows), ``tables`` (rows → cells), ``checks`` (identities
I1-I4), ``record`` (the entry point).

May import: crawler.documents (file kinds), lxml, python-docx. Never monitor/.
"""

from __future__ import annotations

from crawler.stats.record import parse_record

__all__ = ["parse_record"]
