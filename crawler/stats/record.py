"""One report (page, file or text) → the record of STATS.md: ``parse_record``.

The record: ``template`` ("2021", "2019", "free" or None), ``cells`` (key → number or
None when unknown; a key the template lacks is absent), ``raw`` (key → printed text),
``labels`` (key → printed row label, as matched), ``findings`` (identities I1-I4).

May import: crawler.documents, crawler.stats.*.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from crawler import documents
from crawler.stats import checks, flat, grid, keys
from crawler.stats.tables import Reader
from crawler.stats.values import number


def _items(body: bytes, url: str, content_type: str, text: str) -> Iterator[Iterable]:
    """Candidate item streams, best first: the file's own tables, then the text."""
    kind = documents.kind_of(url, content_type, body) if body else None
    if kind == "docx":
        yield _safe(grid.docx_items, body)
    elif kind is None and body:
        yield _safe(grid.html_items, body)
    if text:
        yield flat.text_items(text)


def _safe(reader, body: bytes) -> Iterator:
    try:
        yield from reader(body)
    except Exception:  # a broken file: fall back to its text
        return


def _read(streams: Iterator[Iterable]) -> Reader | None:
    best: Reader | None = None
    for items in streams:
        reader = Reader().feed(items)
        found = {**reader.found, **reader.appeal_cells()}
        if reader.template() and (best is None or len(found) > _size(best)):
            best = reader
    return best


def _size(reader: Reader) -> int:
    return len(reader.found) + len(reader.appeal_cells())


def build(reader: Reader | None, text: str, has_body: bool = False) -> dict:
    """The record of a finished ``Reader`` (None: no standard tables)."""
    template = reader.template() if reader else None
    if reader is None or template is None:
        return {
            "template": "free" if text.strip() or has_body else None,
            "cells": {},
            "raw": {},
            "labels": {},
            "findings": [],
        }
    found = {**reader.found, **reader.appeal_cells()}
    cells, raw, labels = {}, {}, {}
    names = keys.template_keys(template)
    if template == "2021" and "apply.other.total" in found and "apply.other.1.total" not in found:
        names += [f"apply.other.{c}" for c in keys.APPLY_COLUMNS]  # one 其他处理 row printed
    for key in names:
        printed, label = found.get(key, ("", ""))
        cells[key], raw[key] = number(printed), printed
        if label:
            labels[key] = label
    return {
        "template": template,
        "cells": cells,
        "raw": raw,
        "labels": labels,
        "findings": checks.identities(cells),
    }


def parse_record(body: bytes, url: str, content_type: str, text: str) -> dict:
    """The STATS.md record of one report version.

    Args:
        body: the raw bytes as fetched (HTML page, PDF, DOCX), or b"".
        url: its address (for the file kind).
        content_type: the Content-Type header, or "".
        text: the extracted text (PDF text, flattened tables); "" when unknown.
    """
    body, text = body or b"", text or ""
    return build(_read(_items(body, url, content_type, text)), text, bool(body.strip()))
