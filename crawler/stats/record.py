"""One report (page, file or text) → the record of STATS.md: ``parse_record``.

The record: ``template`` ("2021", "2019", "free" or None), ``cells`` (key → number or
None when unknown; a key the template lacks is absent), ``raw`` (key → printed text),
``labels`` (key → printed row label, as matched), ``findings`` (identities I1-I4, kind
``inconsistent``; figures of section 一's prose that contradict the tables, kind
``mismatch`` rule M1: read from ``text``, or from the page when ``text`` has no section 一).

An HTML page is parsed once; a page without ``<table`` is not parsed for tables.

May import: crawler.documents, crawler.stats.*.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from crawler import documents
from crawler.stats import checks, flat, grid, keys, prose
from crawler.stats.tables import Reader
from crawler.stats.values import number

TABLE = re.compile(rb"<table", re.IGNORECASE)


def _streams(body: bytes, kind: str | None, tree, text: str) -> Iterator[Iterable]:
    """Candidate item streams, best first: the file's own tables, then the text."""
    if kind == "docx":
        yield _safe(grid.docx_items, body)
    elif tree is not None:
        yield _safe(grid.html_items, tree)
    if text:
        yield flat.text_items(text)


def _safe(reader, body) -> Iterator:
    try:
        yield from reader(body)
    except Exception:  # a broken file: fall back to its text
        return


FULL = {t: frozenset(keys.template_keys(t)) for t in ("2019", "2021")}  # every cell


def _read(streams: Iterator[Iterable]) -> Reader | None:
    """The stream that yields the most cells; the streams after a complete one are not read."""
    best: Reader | None = None
    for items in streams:
        if best is not None:
            items = list(items)
            if _value_cells(items) <= _size(best):
                continue  # it cannot yield more cells than ``best``: not worth feeding
        reader = Reader().feed(items)
        template = reader.template()
        if template and (best is None or _size(reader) > _size(best)):
            best = reader
            if FULL[template] <= reader.found.keys() | reader.appeal_cells().keys():
                break
    return best


def _size(reader: Reader) -> int:
    return len(reader.found) + len(reader.appeal_cells())


def _value_cells(items: list) -> int:
    """How many printed value cells ``items`` hold: a bound on the ``_size`` of their
    ``Reader``, as each cell is read into at most one key (the text stream of a page whose
    tables were read has no more cells than they do, and is then not fed)."""
    return sum(len(payload) for kind, payload in items if kind != "label")


def _page_section(tree) -> str:
    """Section 一 of a parsed page's own text (the tree is changed).

    ``page_text`` only adds line breaks to the plain text, and a line break never makes
    section 二's heading match, so a page whose plain text lacks the heading skips the
    line-per-block pass."""
    if tree is None or not prose.SECTION_TWO.search(grid.plain_text(tree)):
        return ""
    return prose.section_one(grid.page_text(tree))


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
    kind = documents.kind_of(url, content_type, body) if body else None
    html = kind is None and bool(body)
    tree = grid.parse_html(body) if html and TABLE.search(body) else None  # parsed once
    record = build(_read(_streams(body, kind, tree, text)), text, bool(body.strip()))
    if record["cells"]:
        section = prose.section_one(text)
        if not section and html:
            tree = tree if tree is not None else grid.parse_html(body)
            section = _page_section(tree)
        record["findings"] += prose.mismatches(record["cells"], section)
    return record
