"""Rows of label and value cells → the keys of STATS.md (section 二, 三, 四).

Both readers (``grid`` for HTML/DOCX tables, ``flat`` for text) turn a report into one
stream of items: ``("label", text)`` or ``("values", [printed cell, ...])``. ``Reader``
walks it once, keeping which section it is in, the label text since the last values,
and section 二's column header; it assigns each run of values to keys.

May import: crawler.stats.keys, crawler.stats.values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from crawler.stats import keys
from crawler.stats.values import clean

Item = tuple[str, object]

SECTION_MARKS = [
    ("active", re.compile(r"主动公开政府信息(?:情况)?$|第二十条第?\(?[一1]\)?项")),
    ("apply", re.compile(r"收到和处理政府信息公开申请|勾稽关系|申请人情况")),
    ("appeal", re.compile(r"行政复议[、,]?行政诉讼情况|^行政复议行政诉讼|^行政复议$")),
    ("end", re.compile(r"^五[、.]|存在的主要问题")),
]


@lru_cache(maxsize=4096)  # the same printed labels come back report after report
def _marks(label: str) -> tuple[str, ...]:
    """The sections whose heading ``label`` matches (``SECTION_MARKS``), in that order."""
    return tuple(section for section, rx in SECTION_MARKS if rx.search(label))


@dataclass
class Reader:
    """One pass over a report's items; ``found`` maps key → (printed value, printed label)."""

    found: dict[str, tuple[str, str]] = field(default_factory=dict)
    columns_seen: set[str] = field(default_factory=set)
    section: str | None = None
    pieces: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    last_row: str | None = None
    appeal: list[str] = field(default_factory=list)

    def feed(self, items: Iterable[Item]) -> Reader:
        for kind, payload in items:
            if kind == "label":
                self._label(clean(str(payload)))
            else:
                self._values([str(v) for v in payload])  # type: ignore[union-attr]
        return self

    def _label(self, text: str) -> None:
        if not text:
            return
        for section in _marks(text):
            if self._may_enter(section):
                self.section, self.pieces, self.header = section, [], []
                if section != "end":
                    self.pieces = [text]
                return
        self.pieces.append(text)

    @property
    def pending(self) -> str:
        return "".join(self.pieces)

    def _printed(self, match, key: str) -> str:
        """The row's printed label: the shortest tail of the pending pieces naming ``key``."""
        for start in range(len(self.pieces) - 1, -1, -1):
            tail = "".join(self.pieces[start:])
            if match(tail) == key:
                return tail
        return self.pending

    def _may_enter(self, section: str) -> bool:
        order = ["active", "apply", "appeal", "end"]
        if section == "end":
            return self.section is not None
        return self.section is None or order.index(section) > order.index(self.section)

    def _values(self, cells: list[str]) -> None:
        if self.section == "active":
            self._active(cells)
        elif self.section == "apply":
            self._apply(cells)
        elif self.section == "appeal":
            self.appeal.extend(cells)
        self.pieces = []

    def _active(self, cells: list[str]) -> None:
        columns = keys.active_columns(self.pending)
        if columns:
            self.header = columns
            self.columns_seen.update(columns)
        row = keys.active_row(self.pending)
        if row is None:
            return
        label = self._printed(keys.active_row, row)
        for column, cell in zip(self.header, cells, strict=False):
            self.found.setdefault(f"active.{row}.{column}", (cell, label))

    def _apply(self, cells: list[str]) -> None:
        row = keys.apply_row(self.pending, self.last_row)
        if row is None:
            return
        label = self._printed(lambda text: keys.apply_row(text, self.last_row), row)
        self.last_row = row
        for column, cell in zip(keys.APPLY_COLUMNS, cells[-7:] if len(cells) > 7 else cells):
            self.found.setdefault(f"apply.{row}.{column}", (cell, label))

    def appeal_cells(self) -> dict[str, tuple[str, str]]:
        """Section 四's 15 cells in printed order: review, suit_direct, suit_after_review."""
        names = [f"appeal.{b}.{c}" for b in keys.APPEAL_BLOCKS for c in keys.APPEAL_COLUMNS]
        return {name: (cell, "") for name, cell in zip(names, self.appeal[:15])}

    def template(self) -> str | None:
        """ "2021" or "2019" from the labels seen; None when no standard table was found."""
        if self.columns_seen & {"issued", "repealed", "in_force", "amount_wan"}:
            return "2021"
        if self.columns_seen & {"made", "published", "prev_items", "items"}:
            return "2019"
        if any(k.startswith("apply.other.") and k[12:13].isdigit() for k in self.found):
            return "2021"
        if any(k.startswith("apply.") for k in self.found):
            return "2019"
        return None
