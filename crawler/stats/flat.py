"""Text → label/values items: tables flattened one cell per line, PDF text (section
四's 15 numbers on one line), trafilatura's ``| a | b |`` table rows.

A line is split on white space; number or unknown-marker pieces are values, the rest
label text. A ``|`` row keeps its blank cells (they are unknown, not absent). Page
numbers (``- 4 -``, ``第 3 页``) are dropped.

May import: crawler.stats.values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from crawler.stats.values import clean, is_value

PAGE_NUMBER = re.compile(r"^[-—–－]\s*\d+\s*[-—–－]$|^第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?$")


def _pipe_row(line: str) -> Iterator[tuple[str, object]]:
    cells = [clean(c) for c in line.strip().strip("|").split("|")]
    split = len(cells)
    while split > 0 and is_value(cells[split - 1]):
        split -= 1
    label = "".join(dict.fromkeys(c for c in cells[:split] if c))
    if label:
        yield ("label", label)
    if any(cells[split:]):
        yield ("values", cells[split:])


GLUED = re.compile(r"^(.*[^\d.,+\-])(\d+)$")


def _unglue(pieces: list[str]) -> list[str]:
    """Split a number glued to the label before a run of values (``总计1 1 0 0``)."""
    for i, piece in enumerate(pieces[:-1]):
        if is_value(piece) or not piece[-1:].isdecimal():
            continue  # a value, or a label that does not end in a digit (\d): not glued
        m = GLUED.match(piece)
        if m and all(is_value(p) for p in pieces[i + 1 :]):
            return [*pieces[:i], m.group(1), m.group(2), *pieces[i + 1 :]]
    return pieces


def text_items(text: str) -> Iterator[tuple[str, object]]:
    """Items of a text, line by line; values on consecutive lines are one run.

    >>> list(text_items("规章 1 0 11\\n- 4 -\\n| 行政许可 | 2 |  |"))
    [('label', '规章'), ('values', ['1', '0', '11']), ('label', '行政许可'), ('values', ['2', ''])]
    """
    run: list[str] = []  # value cells not yet yielded: one cell per line, a row spans lines
    for raw in text.splitlines():
        line = raw.strip()
        if not line or PAGE_NUMBER.match(line):
            continue
        if line.startswith("|"):  # a ``|`` row's cells are its own: they end the run
            for item in _pipe_row(line):
                if run:
                    yield ("values", run)
                    run = []
                yield item
            continue
        for piece in _unglue(line.split()):
            if is_value(piece):
                run.append(piece)
                continue
            if run:
                yield ("values", run)
                run = []
            yield ("label", piece)
    if run:
        yield ("values", run)
