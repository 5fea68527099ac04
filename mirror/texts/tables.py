"""Rebuild 启东's flattened standard tables (one cell per block in the page dump) as HTML tables.

The dump lists every cell of the 2019-template tables as its own paragraph. Here they
become real ``<table>``s, with the row/column spans of the template and Word-paste cell
markup (``<p><span style=…>``), and long numbers split across two runs as Word does.

>>> cell("12")
'<td><p align="center"><span style="font-family:宋体;font-size:10.5pt">12</span></p></td>'
>>> is_number("+36") and is_number("115800万元") and not is_number("规章")
True

May import: ``mirror.texts.markup``.
"""

from __future__ import annotations

import html
import re

from mirror.texts.markup import para_html

NUM = re.compile(r"^[+-]?\d+(\.\d+)?(万元)?$")
SPAN = '<span style="font-family:宋体;font-size:10.5pt">'
TABLE = (
    '<table border="1" cellspacing="0" cellpadding="0" width="100%" '
    'style="border-collapse:collapse;">'
)
SEC2, SEC3, SEC4, SEC5 = (
    "二、主动公开政府信息情况",
    "三、收到和处理政府信息公开申请情况",
    "四、政府信息公开行政复议、行政诉讼情况",
    "五、存在的主要问题及改进措施",
)


def is_number(text: str) -> bool:
    return bool(NUM.match(text))


def cell(text: str, attrs: str = "", split: bool = False) -> str:
    """One Word-paste table cell; ``split`` puts a long number in two runs."""
    text = html.escape(text, quote=False).replace("\n", "<br/>")
    if split and len(text) >= 4 and text.isdigit():
        inner = f"{SPAN}{text[:-2]}</span>{SPAN}{text[-2:]}</span>"
    else:
        inner = f"{SPAN}{text}</span>"
    return f'<td{attrs}><p align="center">{inner}</p></td>'


def tr(cells: list[str]) -> str:
    return "<tr>" + "".join(cells) + "</tr>"


def section2(blocks: list[str]) -> str:
    """第二十条 sub-tables: heading, header row, then rows of the header's width."""
    out, i = [], 0
    while i < len(blocks):
        heading, i = blocks[i], i + 1
        first_num = next(j for j in range(i, len(blocks)) if is_number(blocks[j]))
        header = blocks[i : first_num - 1]
        width = len(header)
        end = next(
            (j for j in range(first_num, len(blocks)) if blocks[j].startswith("第二十条")),
            len(blocks),
        )
        rows = [blocks[k : k + width] for k in range(first_num - 1, end, width)]
        out.append(
            TABLE
            + tr([cell(heading, f' colspan="{width}"')])
            + tr([cell(h) for h in header])
            + "".join(tr([cell(c, split=True) for c in r]) for r in rows)
            + "</table>"
        )
        i = end
    return "\n".join(out)


def _rows3(blocks: list[str]) -> list[tuple[list[str], list[str]]]:
    """Group section 三's data blocks into (labels, seven numbers) rows."""
    rows, labels, nums = [], [], []
    for b in blocks:
        if is_number(b):
            nums.append(b)
            if len(nums) == 7:
                rows.append((labels, nums))
                labels, nums = [], []
        else:
            labels.append(b)
    return rows


def section3(blocks: list[str], edit_number: bool) -> str:
    """The applicants × outcomes table of the 2019 template."""
    note, who, nat, legal, total = blocks[:5]
    kinds = blocks[5:10]
    rows = _rows3(blocks[10:])
    if edit_number:  # change: 三、(一)予以公开, total column only: 151 → 152
        labels, nums = next(r for r in rows if r[0][-1] == "(一)予以公开")
        nums[-1] = str(int(nums[-1]) + 1)
    head = (
        tr([cell(note, ' colspan="3" rowspan="3"'), cell(who, ' colspan="7"')])
        + tr([cell(nat, ' rowspan="2"'), cell(legal, ' colspan="5"'), cell(total, ' rowspan="2"')])
        + tr([cell(k) for k in kinds])
    )
    body = []
    for n, (labels, nums) in enumerate(rows):
        cells = []
        for label in labels:
            if label == "本年度办理结果":
                span = sum(1 for r in rows[n:] if not re.match(r"^[一二四]、", r[0][0]))
                cells.append(cell("三、" + label, f' rowspan="{span}"'))
            elif re.match(r"^[一二四]、", label):
                cells.append(cell(label, ' colspan="3"'))
            elif re.match(r"^[(（][一二三四五六七][)）]$", label):
                group = len(list(_group_rows(rows, n)))
                cells.append(cell(label, f' rowspan="{group}"'))
            elif re.match(r"^\d\.", label):
                cells.append(cell(label))
            elif label.startswith(("(", "（")):
                cells.append(cell(label, ' colspan="2"'))
            else:  # the group name after "(三)": same cell as the number label
                cells[-1] = cells[-1].replace(
                    "</span></p></td>", f"<br/>{html.escape(label)}</span></p></td>"
                )
        body.append(tr(cells + [cell(x) for x in nums]))
    return TABLE + head + "".join(body) + "</table>"


def _group_rows(rows, n):
    """Rows belonging to the (三)/(四)/(五) group that starts at row ``n``."""
    yield rows[n]
    for labels, _ in rows[n + 1 :]:
        if len(labels) == 1 and re.match(r"^\d\.", labels[0]):
            yield labels
        else:
            return


def section4(blocks: list[str]) -> str:
    """行政复议 (5) and 行政诉讼 (2 × 5) outcome figures."""
    fy, ss, *rest = blocks
    fy_cols, direct, after = rest[:5], rest[5], rest[6]
    ss_cols, nums = rest[7:17], rest[17:32]
    rowspan = ' rowspan="2"'
    return (
        TABLE
        + tr([cell(fy, ' colspan="5"'), cell(ss, ' colspan="10"')])
        + tr(
            [cell(c, rowspan) for c in fy_cols]
            + [cell(direct, ' colspan="5"'), cell(after, ' colspan="5"')]
        )
        + tr([cell(c) for c in ss_cols])
        + tr([cell(x) for x in nums])
        + "</table>"
    )


def qidong_body(blocks: list[str], edit_number: bool = False) -> str:
    """The whole 启东 body: prose before/after, the three table sections in between."""
    i2, i3, i4, i5 = (blocks.index(h) for h in (SEC2, SEC3, SEC4, SEC5))
    parts = [
        para_html(blocks[:i2]),
        para_html([SEC2]),
        section2(blocks[i2 + 1 : i3]),
        para_html([SEC3]),
        section3(blocks[i3 + 1 : i4], edit_number),
        para_html([SEC4]),
        section4(blocks[i4 + 1 : i5]),
        para_html(blocks[i5:]),
    ]
    return "\n".join(parts)
