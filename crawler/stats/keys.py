"""Stable keys of the standard tables (STATS.md) and label → key matching by meaning.

Labels are matched on a few characters that carry their meaning (国家秘密, 不掌握, 逾期不补正),
not on the exact printed string: real reports shorten, reorder and mis-number them.
Where a pending label holds several candidates (a header glued to the first row label,
a group label glued to its sub-row), the match that ends last wins.

May import: the standard library only.
"""

from __future__ import annotations

import re
from functools import lru_cache

APPLY_COLUMNS = ("person", "business", "research", "nonprofit", "legal", "other_org", "total")
APPEAL_BLOCKS = ("review", "suit_direct", "suit_after_review")
APPEAL_COLUMNS = ("upheld", "corrected", "other", "pending", "total")

REFUSED = tuple(f"refused.{i}" for i in range(1, 9))
UNAVAILABLE = tuple(f"unavailable.{i}" for i in range(1, 4))
NOT_PROCESSED = tuple(f"not_processed.{i}" for i in range(1, 6))
OTHER_2021 = ("other.1", "other.2", "other.3")
RESULT_ROWS = ("granted", "partial", *REFUSED, *UNAVAILABLE, *NOT_PROCESSED)


def apply_rows(template: str) -> tuple[str, ...]:
    """Section 三's row keys, in printed order, for ``template`` ("2019" or "2021")."""
    other = OTHER_2021 if template == "2021" else ("other",)
    return ("new", "carried_in", *RESULT_ROWS, *other, "total", "carried_out")


ACTIVE_2021 = {
    "rules": ("issued", "repealed", "in_force"),
    "normative": ("issued", "repealed", "in_force"),
    "licensing": ("decisions",),
    "penalty": ("decisions",),
    "coercion": ("decisions",),
    "fees": ("amount_wan",),
}
ACTIVE_2019 = {
    "rules": ("made", "published", "total"),
    "normative": ("made", "published", "total"),
    "licensing": ("prev_items", "change", "decisions"),
    "other_services": ("prev_items", "change", "decisions"),
    "penalty": ("prev_items", "change", "decisions"),
    "coercion": ("prev_items", "change", "decisions"),
    "fees": ("prev_items", "change"),
    "procurement": ("items", "amount"),
}


def template_keys(template: str) -> list[str]:
    """Every key of ``template`` in printed order (sections 二, 三, 四).

    >>> len(template_keys("2021")), len(template_keys("2019"))
    (200, 198)
    >>> template_keys("free")
    []
    """
    if template not in ("2019", "2021"):
        return []
    active = ACTIVE_2021 if template == "2021" else ACTIVE_2019
    keys = [f"active.{row}.{col}" for row, cols in active.items() for col in cols]
    keys += [f"apply.{row}.{col}" for row in apply_rows(template) for col in APPLY_COLUMNS]
    keys += [f"appeal.{b}.{c}" for b in APPEAL_BLOCKS for c in APPEAL_COLUMNS]
    return keys


def _pattern(table: list[tuple[str, str]]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?P<k{i}>{rx})" for i, (_, rx) in enumerate(table)))


# Section 三 rows: key, meaning-bearing pattern. Sub-rows first (they are more specific).
APPLY_ROW_TABLE = [
    ("refused.1", r"国家秘密"),
    ("refused.2", r"法律行政法规禁止|法律法规禁止|禁止公开|其他法律"),
    ("refused.3", r"三安全一稳定|危及"),
    ("refused.4", r"第三方"),
    ("refused.5", r"内部事务"),
    ("refused.6", r"过程性"),
    ("refused.7", r"执法案"),
    ("refused.8", r"行政查询|查询事项"),
    ("unavailable.1", r"不掌握"),
    ("unavailable.2", r"现成信息|另行制作"),
    ("unavailable.3", r"仍不明确|补正后"),
    ("not_processed.1", r"信访|举报投诉"),
    ("not_processed.2", r"重复申请"),
    ("not_processed.3", r"出版物"),
    ("not_processed.4", r"大量反复"),
    ("not_processed.5", r"重新出具|确认或"),
    ("other.1", r"逾期不补正|不补正"),
    ("other.2", r"收费通知|缴纳费用"),
    ("new", r"本年新收|新收.{0,4}申请"),
    ("carried_in", r"上年结转"),
    ("carried_out", r"结转下年"),
    ("granted", r"予以公开"),
    ("partial", r"部分公开"),
    ("other", r"其他处理"),
    ("total", r"总计"),
]
APPLY_ROW_RX = _pattern(APPLY_ROW_TABLE)
OTHER_3_RX = re.compile(r"(?:^|\d)\W*其他\W*$")

ACTIVE_ROW_TABLE = [
    ("rules", r"规章"),
    ("normative", r"规范性文件"),
    ("licensing", r"行政许可"),
    ("other_services", r"对外管理服务|其他对外管理"),
    ("penalty", r"行政处罚"),
    ("coercion", r"行政强制"),
    ("fees", r"事业性收费|行政收费"),
    ("procurement", r"集中采购|政府采购"),
]
ACTIVE_ROW_RX = _pattern(ACTIVE_ROW_TABLE)

ACTIVE_COL_TABLE = [
    ("prev_items", r"上一?年.{0,2}项目"),
    ("items", r"采购项目|项目数量"),
    ("amount", r"采购总?金额|总金额"),
    ("amount_wan", r"收费金额"),
    ("made", r"新?制作"),
    ("published", r"新公开"),
    ("total", r"公开总数|总数量"),
    ("issued", r"制发"),
    ("repealed", r"废止"),
    ("in_force", r"现行有效|有效件"),
    ("change", r"增\s*/?\s*减"),
    ("decisions", r"处理决定|决定数"),
]
ACTIVE_COL_RX = _pattern(ACTIVE_COL_TABLE)


def _last(rx: re.Pattern[str], table: list[tuple[str, str]], label: str) -> str | None:
    """The key whose pattern matches ``label`` last (rightmost end), or None."""
    best: tuple[int, str] | None = None
    for m in rx.finditer(label):
        key = table[int(m.lastgroup[1:])][0]
        if best is None or m.end() >= best[0]:
            best = (m.end(), key)
    return best[1] if best else None


@lru_cache(maxsize=4096)  # the same printed labels come back report after report
def apply_row(label: str, previous: str | None = None) -> str | None:
    """Section 三's row key for a printed label (``previous`` = the row above).

    >>> apply_row("（三）不予公开1.属于国家秘密")
    'refused.1'
    >>> apply_row("7.属于行政执法案类")
    'refused.7'
    >>> apply_row("3.其他", previous="other.2"), apply_row("(六)其他处理3.其他", "other.2")
    ('other.3', 'other.3')
    >>> apply_row("四、结转下年度继续办理"), apply_row("（七）总计")
    ('carried_out', 'total')
    """
    if previous in ("other.1", "other.2") and OTHER_3_RX.search(label):
        return "other.3"
    return _last(APPLY_ROW_RX, APPLY_ROW_TABLE, label)


@lru_cache(maxsize=4096)
def active_row(label: str) -> str | None:
    """Section 二's row key: ``active_row("行政事业性收费") == "fees"``."""
    return _last(ACTIVE_ROW_RX, ACTIVE_ROW_TABLE, label)


def active_columns(label: str) -> list[str]:
    """Section 二's column keys named in a header, in printed order.

    >>> active_columns("信息内容本年新制作数量本年新公开数量对外公开总数量")
    ['made', 'published', 'total']
    >>> active_columns("信息内容上一年项目数量本年增/减处理决定数量")
    ['prev_items', 'change', 'decisions']
    """
    return list(_active_columns(label))


@lru_cache(maxsize=4096)
def _active_columns(label: str) -> tuple[str, ...]:
    return tuple(ACTIVE_COL_TABLE[int(m.lastgroup[1:])][0] for m in ACTIVE_COL_RX.finditer(label))
