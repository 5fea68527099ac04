"""Pure text diffing for reports (the event logic that uses it is ``monitor.events.detect``).

Diffs are computed on normalised text, one paragraph or table row per line: a
unified diff by line, the report sections (一 … 六) the changed lines sit in, and the
numbers that changed as ``label: before → after``.

May import: monitor.models.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from monitor.models import NumberChange

SECTION_RE = re.compile(r"^\s*([一二三四五六])[、.．]")
NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
CELL_SPLIT = re.compile(r"\s*\|\s*")


@dataclass
class TextDiff:
    """The difference between two normalised texts."""

    diff: str = ""
    sections: list[str] = field(default_factory=list)
    numbers: list[NumberChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.diff)


def section_of_lines(lines: list[str]) -> list[str]:
    """For each line, the report section (一 … 六) it belongs to ("" before the first).

    A heading is a line that starts with the next section's numeral and is not a table
    row: table 三's own rows (一、本年新收…, 三、本年度办理结果) do not restart sections.

    >>> section_of_lines(["前言", "一、总体情况", "正文", "三、收到和处理政府信息公开申请情况",
    ...                   "一、本年新收政府信息公开申请数量 | 5", "| 总计 | 5 |"])
    ['', '一', '一', '三', '三', '三']
    """
    order = "一二三四五六"
    current, out = "", []
    for line in lines:
        match = SECTION_RE.match(line)
        if (
            match
            and "|" not in line
            and order.index(match.group(1)) > (order.index(current) if current else -1)
        ):
            current = match.group(1)
        out.append(current)
    return out


def row_label(line: str, before: str) -> str:
    """A short label for a number inside ``line``: the nearest text cell to its left in a
    table row, or the words just before the number in prose.

    >>> row_label("三、本年度办理结果 | (一)予以公开 |  | 149 | 151", "三、本年度办理结果 | (一)予以公开 |  | 149 | ")
    '(一)予以公开'
    >>> row_label("属于予以公开151件", "属于予以公开")
    '属于予以公开'
    """
    if "|" in line:
        for cell in reversed(CELL_SPLIT.split(before)):
            cell = cell.strip()
            if cell and not NUMBER_RE.fullmatch(cell):
                return cell[:30]
    words = re.sub(r"[\s|]+", "", before)
    return words[-12:]


def number_changes(old: str, new: str, section: str) -> list[NumberChange]:
    """Numbers that changed between two versions of one line, when the rest is the same.

    >>> [(n.label, n.before, n.after) for n in number_changes("| (一)予以公开 | 151 |", "| (一)予以公开 | 152 |", "三")]
    [('三、(一)予以公开', '151', '152')]
    """
    if NUMBER_RE.sub("#", old) != NUMBER_RE.sub("#", new):
        return []
    out = []
    for a, b in zip(NUMBER_RE.finditer(old), NUMBER_RE.finditer(new), strict=True):
        if a.group() != b.group():
            label = row_label(new, new[: b.start()])
            out.append(
                NumberChange(f"{section}、{label}" if section else label, a.group(), b.group())
            )
    return out


def diff_text(old: str, new: str, context: int = 1) -> TextDiff:
    """Unified diff of two normalised texts, with changed sections and numbers.

    >>> d = diff_text("一、总体情况\\n甲\\n三、申请\\n| 予以公开 | 151 |", "一、总体情况\\n甲\\n三、申请\\n| 予以公开 | 152 |")
    >>> d.sections, [(n.label, n.before, n.after) for n in d.numbers]
    (['三'], [('三、予以公开', '151', '152')])
    """
    if old == new:
        return TextDiff()
    a, b = old.splitlines(), new.splitlines()
    sec_a, sec_b = section_of_lines(a), section_of_lines(b)
    sections: set[str] = set()
    numbers: list[NumberChange] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        sections.update(s for s in sec_a[i1:i2] + sec_b[j1:j2] if s)
        if tag == "replace" and i2 - i1 == j2 - j1:
            for k in range(i2 - i1):
                numbers.extend(number_changes(a[i1 + k], b[j1 + k], sec_b[j1 + k]))
    diff = "\n".join(difflib.unified_diff(a, b, "before", "after", lineterm="", n=context))
    order = "一二三四五六"
    return TextDiff(diff, sorted(sections, key=order.index), numbers)


def similarity(old: str, new: str) -> float:
    """How alike two normalised texts are, by lines (1.0 = same lines).

    >>> similarity("a\\nb\\nc\\nd", "a\\nb\\nc\\nx")
    0.75
    """
    a, b = old.splitlines(), new.splitlines()
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
