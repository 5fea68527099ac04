"""An event's unified diff shaped for the event page: unified rows, side-by-side rows, and
changed table rows as tables with the changed cells named by row and column.

Pure functions over text. Every string handed to a template as ``Markup`` was escaped here
or by ``monitor.alerts.highlight.highlight_pair`` (which marks changed characters with classes,
as the page's Content-Security-Policy forbids inline styles).

May import: monitor.alerts.highlight, monitor.models, markupsafe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from monitor.alerts.highlight import highlight_pair
from monitor.models import NumberChange

CELL_SPLIT = re.compile(r"\s*\|\s*")
NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?%?(?:万元|元|件|条|个|篇)?")


@dataclass
class Row:
    """One line of the diff: ``kind`` is ctx, del, ins or hunk; ``html`` is escaped."""

    kind: str
    html: Markup


@dataclass
class Pair:
    """One side-by-side row: the old line (left) and the new line (right), either may be empty."""

    left: Row | None
    right: Row | None


@dataclass
class CellChange:
    """A changed cell of a table row: its row and column names, before and after."""

    row: str
    column: str
    before: str
    after: str

    @property
    def name(self) -> str:
        """``三、(一)予以公开 · 总计 151 → 152``."""
        where = " · ".join(p for p in (self.row, self.column) if p)
        return f"{where} {self.before} → {self.after}"


@dataclass
class TableChange:
    """A changed table row shown as a table: header cells (column names, may be empty),
    old and new cells, and which cell indexes changed."""

    header: list[str]
    old: list[str]
    new: list[str]
    changed: list[int]
    cells: list[CellChange] = field(default_factory=list)


def cells(line: str) -> list[str]:
    """The cells of a pipe-separated table row.

    >>> cells("三、本年度办理结果 | (一)予以公开 |  | 149 | 151")
    ['三、本年度办理结果', '(一)予以公开', '', '149', '151']
    """
    return [c.strip() for c in CELL_SPLIT.split(line.strip().strip("|"))]


def is_header(line: str) -> bool:
    """A table line with no numeric cell (a header row).

    >>> is_header("自然人 | 法人或其他组织 | | 总计"), is_header("规章 | 0 | 0")
    (True, False)
    """
    return "|" in line and not any(NUMBER.fullmatch(c) for c in cells(line) if c)


def column_name(text_lines: list[str], row_index: int, from_right: int) -> str:
    """The name of a column, counted from the right, of the table row at ``row_index``: the
    widest header line of the table above the row (tables here align their last columns).

    >>> t = ["三、申请", "x | | 申请人情况", "自然人 | 法人 | | 总计", "商业 | 其他", "一、新收 | | 302 | 5 | 309"]
    >>> column_name(t, 4, 0), column_name(t, 4, 3)
    ('总计', '自然人')
    """
    headers = []
    i = row_index - 1
    while i >= 0 and "|" in text_lines[i]:
        if is_header(text_lines[i]):
            headers.append(cells(text_lines[i]))
        i -= 1
    if not headers:
        return ""
    widest = max(headers, key=len)
    return widest[-1 - from_right] if from_right < len(widest) else ""


def parse(diff: str) -> list[Row]:
    """The unified diff as rows, changed characters highlighted within paired -/+ lines."""
    rows: list[Row] = []
    removed: list[str] = []
    added: list[str] = []
    for line in [*diff.splitlines(), None]:
        if line is not None and line.startswith("-") and not line.startswith("--- ") and not added:
            removed.append(line[1:])
            continue
        if line is not None and line.startswith("+") and not line.startswith("+++ "):
            added.append(line[1:])
            continue
        rows += _block(removed, added)
        removed, added = [], []
        if line is None or line.startswith(("--- ", "+++ ")):
            continue
        if line.startswith("-"):
            removed.append(line[1:])
        elif line.startswith("@@"):
            rows.append(Row("hunk", escape(line)))
        else:
            rows.append(Row("ctx", escape(line[1:] if line.startswith(" ") else line)))
    return rows


def _block(removed: list[str], added: list[str]) -> list[Row]:
    old = [escape(x) for x in removed]
    new = [escape(x) for x in added]
    for i in range(min(len(removed), len(added))):
        a, b = highlight_pair(removed[i], added[i])
        old[i], new[i] = Markup(a), Markup(b)
    return [Row("del", h) for h in old] + [Row("ins", h) for h in new]


def side_by_side(rows: list[Row]) -> list[Pair]:
    """Pair each run of deleted lines with the inserted lines that follow it."""
    pairs: list[Pair] = []
    i = 0
    while i < len(rows):
        row = rows[i]
        if row.kind not in ("del", "ins"):
            pairs.append(Pair(row, row))
            i += 1
            continue
        dels, ins = [], []
        while i < len(rows) and rows[i].kind == "del":
            dels.append(rows[i])
            i += 1
        while i < len(rows) and rows[i].kind == "ins":
            ins.append(rows[i])
            i += 1
        for k in range(max(len(dels), len(ins))):
            pairs.append(Pair(dels[k] if k < len(dels) else None, ins[k] if k < len(ins) else None))
    return pairs


def table_changes(diff: str, new_text: str, numbers: list[NumberChange]) -> list[TableChange]:
    """Each changed table row (a -/+ pair of pipe-separated lines with as many cells) as a
    table, its changed cells named by row (the event's number label when it has one) and
    column (from the table's header rows in ``new_text``)."""
    lines = diff.splitlines()
    text_lines = new_text.splitlines()
    out = []
    for k in range(len(lines) - 1):
        a, b = lines[k], lines[k + 1]
        if not (a.startswith("-") and b.startswith("+")) or a.startswith("--- "):
            continue
        if "|" not in a or "|" not in b:
            continue
        old, new = cells(a[1:]), cells(b[1:])
        if len(old) != len(new) or old == new:
            continue
        out.append(_table(old, new, b[1:], text_lines, numbers))
    return out


def _table(
    old: list[str], new: list[str], line: str, text_lines: list[str], numbers: list[NumberChange]
) -> TableChange:
    changed = [i for i, (x, y) in enumerate(zip(old, new, strict=True)) if x != y]
    row_at = text_lines.index(line) if line in text_lines else -1
    header = [""] * len(new)
    for i in range(len(new)):
        header[i] = column_name(text_lines, row_at, len(new) - 1 - i) if row_at >= 0 else ""
    label = _row_label(new, changed, numbers)
    found = [CellChange(label, header[i], old[i], new[i]) for i in changed]
    return TableChange(header, old, new, changed, found)


def _row_label(new: list[str], changed: list[int], numbers: list[NumberChange]) -> str:
    """The event's label for a number of this row, else the row's text cells."""
    for n in numbers:
        if any(new[i] == n.after for i in changed) and n.label.split("、")[-1] in new:
            return n.label
    text = [c for c in new[: changed[0]] if c and not NUMBER.fullmatch(c)] if changed else []
    return " ".join(text[-2:])
