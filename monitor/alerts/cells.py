"""Changed table cells named by row and column: ``三、(一)予以公开 · 总计 151 → 152``.

An edited event stores its changed numbers as the differ saw them in the text (``numbers``:
a row label, before, after) and, when both versions have a STATS.md record, the detector
also knows which cells changed (the records in ``version_stats``). ``name_numbers`` turns
those cell changes into numbers named by the stats key's row and column, keeps the text's
numbers that no cell explains (prose), and drops the ``数据变化: key a → b`` note the
detector wrote, which says the same in keys. Every channel renders the result.

May import: the standard library and ``monitor.models``. Pure: the caller loads the records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from monitor.events.stats import changed_keys
from monitor.models import Event, NumberChange

SECTION = {"active": "二", "apply": "三", "appeal": "四"}
STATS_NOTE = "数据变化: "
"""How ``monitor.events.stats.Judged.note`` starts the note of an edited event."""

ACTIVE_ROWS = {
    "rules": "规章",
    "normative": "规范性文件",
    "licensing": "行政许可",
    "other_services": "其他对外管理服务事项",
    "penalty": "行政处罚",
    "coercion": "行政强制",
    "fees": "行政事业性收费",
    "procurement": "政府集中采购",
}
ACTIVE_COLUMNS = {
    "issued": "本年制发件数",
    "repealed": "本年废止件数",
    "in_force": "现行有效件数",
    "made": "本年新制作数量",
    "published": "本年新公开数量",
    "total": "对外公开总数量",
    "decisions": "处理决定数量",
    "prev_items": "上一年项目数量",
    "change": "本年增/减",
    "amount_wan": "本年收费金额（万元）",
    "items": "采购项目数量",
    "amount": "采购总金额",
}
APPLY_ROWS = {
    "new": "一、本年新收申请",
    "carried_in": "二、上年结转申请",
    "granted": "(一)予以公开",
    "partial": "(二)部分公开",
    "refused.1": "(三)不予公开 1.属于国家秘密",
    "refused.2": "(三)不予公开 2.其他法律行政法规禁止公开",
    "refused.3": "(三)不予公开 3.危及“三安全一稳定”",
    "refused.4": "(三)不予公开 4.保护第三方合法权益",
    "refused.5": "(三)不予公开 5.属于三类内部事务信息",
    "refused.6": "(三)不予公开 6.属于四类过程性信息",
    "refused.7": "(三)不予公开 7.属于行政执法案卷",
    "refused.8": "(三)不予公开 8.属于行政查询事项",
    "unavailable.1": "(四)无法提供 1.本机关不掌握相关政府信息",
    "unavailable.2": "(四)无法提供 2.没有现成信息需要另行制作",
    "unavailable.3": "(四)无法提供 3.补正后申请内容仍不明确",
    "not_processed.1": "(五)不予处理 1.信访举报投诉类申请",
    "not_processed.2": "(五)不予处理 2.重复申请",
    "not_processed.3": "(五)不予处理 3.要求提供公开出版物",
    "not_processed.4": "(五)不予处理 4.无正当理由大量反复申请",
    "not_processed.5": "(五)不予处理 5.要求行政机关确认或重新出具已获取信息",
    "other": "(六)其他处理",
    "other.1": "(六)其他处理 1.逾期不补正",
    "other.2": "(六)其他处理 2.逾期未缴费",
    "other.3": "(六)其他处理 3.其他",
    "total": "(七)总计",
    "carried_out": "四、结转下年度继续办理",
}
APPLY_COLUMNS = {
    "person": "自然人",
    "business": "商业企业",
    "research": "科研机构",
    "nonprofit": "社会公益组织",
    "legal": "法律服务机构",
    "other_org": "其他",
    "total": "总计",
}
APPEAL_BLOCKS = {
    "review": "行政复议",
    "suit_direct": "行政诉讼（未经复议直接起诉）",
    "suit_after_review": "行政诉讼（复议后起诉）",
}
APPEAL_COLUMNS = {
    "upheld": "结果维持",
    "corrected": "结果纠正",
    "other": "其他结果",
    "pending": "尚未审结",
    "total": "总计",
}
TABLES = {
    "active": (ACTIVE_ROWS, ACTIVE_COLUMNS),
    "apply": (APPLY_ROWS, APPLY_COLUMNS),
    "appeal": (APPEAL_BLOCKS, APPEAL_COLUMNS),
}


def cell_name(key: str, template: str | None = None) -> str:
    """The printed name of a STATS.md cell: section, row · column (the key when unknown).

    >>> cell_name("apply.granted.total"), cell_name("apply.refused.1.person")
    ('三、(一)予以公开 · 总计', '三、(三)不予公开 1.属于国家秘密 · 自然人')
    >>> cell_name("active.normative.in_force", "2021"), cell_name("active.licensing.decisions", "2021")
    ('二、行政规范性文件 · 现行有效件数', '二、行政许可 · 本年处理决定数量')
    >>> cell_name("appeal.review.upheld"), cell_name("x.y")
    ('四、行政复议 · 结果维持', 'x.y')
    """
    section, _, rest = key.partition(".")
    row, _, column = rest.rpartition(".")
    if section not in TABLES or not row:
        return key
    rows, columns = TABLES[section]
    if row not in rows or column not in columns:
        return key
    row_name, column_name = rows[row], columns[column]
    if template == "2021" and section == "active":
        if row == "normative":
            row_name = "行政规范性文件"
        if column == "decisions":
            column_name = "本年处理决定数量"
    return f"{SECTION[section]}、{row_name} · {column_name}"


def show(value: object) -> str:
    """A cell value as printed in an alert: ``空`` when unknown, ints without ``.0``.

    >>> show(None), show(151), show(18651.06), show(3.0)
    ('空', '151', '18651.06', '3')
    """
    if value is None:
        return "空"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def name_numbers(event: Event, records: Mapping[int, Mapping]) -> Event:
    """``event`` with its changed numbers named by cell when both versions have records.

    Args:
        records: STATS.md records by version id (``store.stats.records``); versions without
            one are simply absent.

    >>> e = Event("edited", 1, "u", old_version_id=1, new_version_id=2,
    ...           numbers=[NumberChange("三、(一)予以公开", "151", "152"), NumberChange("一、共", "3", "4")],
    ...           note="数据变化: apply.granted.total 151 → 152")
    >>> recs = {1: {"template": "2021", "cells": {"apply.granted.total": 151}},
    ...         2: {"template": "2021", "cells": {"apply.granted.total": 152}}}
    >>> named = name_numbers(e, recs)
    >>> [(n.label, n.before, n.after) for n in named.numbers], named.note
    ([('三、(一)予以公开 · 总计', '151', '152'), ('一、共', '3', '4')], '')
    """
    before = records.get(event.old_version_id or 0)
    after = records.get(event.new_version_id or 0)
    if not before or not after:
        return event
    changes = changed_keys(before, after)
    if not changes:
        return event
    template = after.get("template")
    named = [NumberChange(cell_name(k, template), show(a), show(b)) for k, a, b in changes]
    unexplained = [(n.before, n.after) for n in named]
    rest = []
    for number in event.numbers:
        pair = (number.before, number.after)
        if pair in unexplained:
            unexplained.remove(pair)  # this text number is one of the named cells
        else:
            rest.append(number)
    note = "" if event.note.startswith(STATS_NOTE) else event.note
    return replace(event, numbers=named + rest, note=note)


def name_all(events: Sequence[Event], records: Mapping[int, Mapping]) -> list[Event]:
    """``name_numbers`` for each event."""
    return [name_numbers(e, records) for e in events]


def version_ids(events: Sequence[Event]) -> set[int]:
    """The versions whose records ``name_all`` needs (edited events' old and new versions)."""
    return {
        v
        for e in events
        if e.numbers or e.note.startswith(STATS_NOTE)
        for v in (e.old_version_id, e.new_version_id)
        if v
    }


def stats_tables(record: Mapping) -> list[dict]:
    """A statistics record's three tables as rows of printed labels and values, for pages
    and terminals: ``[{"section", "title", "head", "rows": [(label, [value, ...])]}]``
    (``None``: unknown). ``[]`` for a report without the standard tables.

    >>> t = stats_tables({"template": "2021", "cells": {"appeal.review.total": 3}})
    >>> [x["section"] for x in t], t[2]["rows"][0]
    (['二', '三', '四'], ('行政复议', [None, None, None, None, 3]))
    """
    template = record.get("template")
    if template not in ("2019", "2021"):
        return []
    from crawler.stats import keys

    cells = record.get("cells") or {}
    active = keys.ACTIVE_2021 if template == "2021" else keys.ACTIVE_2019
    columns = list(dict.fromkeys(c for cols in active.values() for c in cols))
    return [
        {
            "section": "二",
            "title": "主动公开政府信息情况",
            "head": [ACTIVE_COLUMNS[c] for c in columns],
            "rows": [
                (
                    ACTIVE_ROWS[row],
                    [cells.get(f"active.{row}.{c}") if c in cols else "" for c in columns],
                )
                for row, cols in active.items()
            ],
        },
        {
            "section": "三",
            "title": "收到和处理政府信息公开申请情况",
            "head": list(APPLY_COLUMNS.values()),
            "rows": [
                (APPLY_ROWS[row], [cells.get(f"apply.{row}.{c}") for c in APPLY_COLUMNS])
                for row in keys.apply_rows(template)
            ],
        },
        {
            "section": "四",
            "title": "政府信息公开行政复议、行政诉讼情况",
            "head": list(APPEAL_COLUMNS.values()),
            "rows": [
                (APPEAL_BLOCKS[b], [cells.get(f"appeal.{b}.{c}") for c in APPEAL_COLUMNS])
                for b in keys.APPEAL_BLOCKS
            ],
        },
    ]
