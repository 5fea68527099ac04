"""The coverage grid: issuers × years, each cell one state (pure; the rows come from
``monitor.store.views.Views.coverage_cells``).

States, by the deadline rule of ``monitor.events.deadlines`` (year Y's report is due on
31 January of Y+1; ``missing`` only after ``grace`` more days):

    on_time       按时发布    a live report, published by the deadline (or, with no
                              published date, first seen by the deadline plus grace)
    late          逾期发布    published after the deadline (or, with no published date,
                              first seen after deadline plus grace, in a year after the
                              issuer's first: nianbao was watching, and it was not there)
    missing       逾期未发布  no report, the deadline plus grace has passed, and the issuer
                              published an earlier year's report (so one was expected)
    removed       已删除      every report of the cell was removed from the portal
    unknown       未知        not due yet, a year before the issuer's first report, or the
                              issuer's first report with no published date seen late

A cell with a live report whose current version fails an identity check (an open
``inconsistent`` finding) keeps its state and carries ``inconsistent: true`` (数据不一致),
shown as a mark next to the state. Reports first seen after ``as_of`` count as not seen.
"""

from __future__ import annotations

from datetime import date, timedelta

from monitor.events.deadlines import due

STATES = {
    "on_time": "按时发布",
    "late": "逾期发布",
    "missing": "逾期未发布",
    "removed": "已删除",
    "unknown": "未知",
}
INCONSISTENT = "数据不一致"
LEGEND = [
    ("on_time", "在次年1月31日前发布"),
    ("late", "在次年1月31日后发布"),
    ("missing", "期限（含宽限期）已过，仍未找到"),
    ("inconsistent", "数据不一致：统计表合计与分项不符（与发布状态一并显示）"),
    ("removed", "曾发布，后从网站删除"),
    ("unknown", "尚未到期，或没有证据"),
]
MAX_YEARS = 12
"""Columns shown when no year range is given: the most recent ones."""
MAX_SPAN = 40
"""Columns at most, whatever ``?from=`` and ``?to=`` ask (a grid of a million years is not
a page)."""


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def last_due_year(as_of: date, grace: int) -> int:
    """The newest year whose report is due (deadline plus grace passed) on ``as_of``.

    >>> last_due_year(date(2025, 2, 16), 15), last_due_year(date(2025, 2, 15), 15)
    (2024, 2023)
    """
    return as_of.year - 1 if as_of > due(as_of.year - 1) + timedelta(grace) else as_of.year - 2


def cell_state(
    row: dict | None,
    year: int,
    first_year: int | None,
    as_of: date,
    grace: int,
    last_due: int | None = None,
) -> str:
    """The state of one cell: ``row`` is its ``coverage_cells`` row (None: no report).

    >>> row = {"live": 1, "published": "2024-03-01", "first_seen": "2024-03-02"}
    >>> cell_state(row, 2023, 2020, date(2025, 1, 1), 15)
    'late'
    >>> cell_state(None, 2023, 2020, date(2025, 1, 1), 15), cell_state(None, 2024, 2020, date(2025, 3, 1), 15)
    ('missing', 'missing')
    >>> cell_state(None, 2024, 2020, date(2025, 2, 1), 15), cell_state(None, 2019, 2020, date(2025, 2, 1), 15)
    ('unknown', 'unknown')
    """
    if row is None:
        last_due = last_due_year(as_of, grace) if last_due is None else last_due
        if first_year is not None and first_year < year <= last_due:
            return "missing"
        return "unknown"
    if not row["live"]:
        return "removed"
    published = _day(row["published"])
    if published is not None:
        return "late" if published > due(year) else "on_time"
    seen = _day(row["first_seen"])
    if seen is not None and seen <= due(year) + timedelta(grace):
        return "on_time"
    return "late" if first_year is not None and year > first_year else "unknown"


def grid(
    rows: list[dict],
    as_of: date,
    grace: int,
    year_from: int | None = None,
    year_to: int | None = None,
) -> dict:
    """The grid: ``years`` (newest first) and ``issuers``, each with its cells by year
    (``state``, ``label``, ``inconsistent``, ``reports``, ``report_id``, ``found``)."""
    lines: dict[tuple, dict] = {}
    for row in rows:
        seen = _day(row["first_seen"])
        if seen is not None and seen > as_of:
            continue  # not seen yet on as_of
        key = (row["region"], row["issuer"], row["portal_id"])
        line = lines.setdefault(key, {"rows": {}})
        line["rows"][row["year"]] = row
    seen_years = {y for line in lines.values() for y in line["rows"]}
    last_due = last_due_year(as_of, grace)
    years = _years(seen_years, last_due, year_from, year_to)
    issuers = []
    for (region, issuer, portal_id), line in lines.items():
        first = min(line["rows"])  # the issuer's first report year, as in deadlines
        cells = {}
        for year in years:
            row = line["rows"].get(year)
            state = cell_state(row, year, first, as_of, grace, last_due)
            bad = bool(row and row["live"] and row["inconsistent"])
            cells[str(year)] = {
                "state": state,
                "label": STATES[state] + (f"·{INCONSISTENT}" if bad else ""),
                "inconsistent": bad,
                "found": row is not None,
                "reports": row["reports"] if row else 0,
                "report_id": row["report_id"] if row else None,
            }
        issuers.append({"portal_id": portal_id, "issuer": issuer, "region": region, "cells": cells})
    return {"years": years, "issuers": issuers}


def _years(seen: set[int], last_due: int, year_from: int | None, year_to: int | None) -> list[int]:
    if not seen and year_from is None:
        return []
    top = year_to if year_to is not None else max([*seen, last_due])
    bottom = year_from if year_from is not None else max(min(seen or {top}), top - MAX_YEARS + 1)
    return list(range(top, max(bottom, top - MAX_SPAN + 1) - 1, -1))


def counts(data: dict) -> dict[str, int]:
    """How many cells are in each state (and inconsistent), for the page's summary."""
    out = dict.fromkeys([*STATES, "inconsistent"], 0)
    for line in data["issuers"]:
        for cell in line["cells"].values():
            out[cell["state"]] += 1
            out["inconsistent"] += cell["inconsistent"]
    return out
