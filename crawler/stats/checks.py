"""Identities I1-I4 of STATS.md → findings of kind ``inconsistent``; last year's carried-out
against this year's carried-in (M2) → kind ``mismatch``.

Per column, unknown cells are left out of the sums; a finding with an unknown operand
is ``partial`` (reported apart, never a failure). A side whose operands are all unknown
has the value None. Nothing is reported when both sides are known and equal.

May import: crawler.stats.keys.
"""

from __future__ import annotations

from crawler.stats import keys

Cells = dict[str, int | float | None]


def _other_rows(cells: Cells) -> tuple[str, ...]:
    """其他处理: Σ 1-3 (2021), or the one row (2019, or a 2021 report printing one row)."""
    if "apply.other.total" in cells:
        return ("other",)
    return keys.OTHER_2021 if "apply.other.1.total" in cells else ("other",)


def _side(cells: Cells, names: list[str]) -> tuple[int | float | None, bool]:
    """(sum of the known cells or None when all are unknown, any unknown?)."""
    known = [cells[n] for n in names if cells.get(n) is not None]
    value = round(sum(known), 6) if known else None  # type: ignore[arg-type]
    return value, len(known) < len(names)


def check(rule: str, column: str, cells: Cells, left: list[str], right: list[str]) -> dict | None:
    """One identity ``Σ left = Σ right``: a finding, or None when it holds.

    ``expected`` is the sum of ``left``, ``found`` the sum of ``right`` (the printed
    total side). Keys absent from ``cells`` (not in the template) are left out.
    """
    left = [n for n in left if n in cells]
    right = [n for n in right if n in cells]
    if not left or not right:
        return None
    expected, unknown_left = _side(cells, left)
    found, unknown_right = _side(cells, right)
    partial = unknown_left or unknown_right
    if expected is None and found is None:
        return None
    if expected == found and expected is not None:
        return None
    unknown = [n for n in left + right if cells.get(n) is None]
    return {
        "kind": "inconsistent",
        "rule": rule,
        "column": column,
        "cells": left + right,
        "expected": expected,
        "found": found,
        "partial": partial,
        "unknown": unknown,
    }


def _apply(row: str, column: str) -> str:
    return f"apply.{row}.{column}"


def identities(cells: Cells) -> list[dict]:
    """Every failing or partial identity of one record's cells, I1 to I4 in order.

    >>> cells = {"appeal.review.upheld": 1, "appeal.review.corrected": 0,
    ...          "appeal.review.other": 2, "appeal.review.pending": 0, "appeal.review.total": 4}
    >>> [(f["rule"], f["column"], f["expected"], f["found"]) for f in identities(cells)]
    [('I4', 'review', 3, 4)]
    """
    findings: list[dict | None] = []
    results = [*keys.RESULT_ROWS, *_other_rows(cells)]
    for col in keys.APPLY_COLUMNS:
        left = [_apply("new", col), _apply("carried_in", col)]
        findings.append(
            check("I1", col, cells, left, [_apply("total", col), _apply("carried_out", col)])
        )
    for col in keys.APPLY_COLUMNS:
        left = [_apply(row, col) for row in results]
        findings.append(check("I2", col, cells, left, [_apply("total", col)]))
    rows = keys.apply_rows("2021" if "apply.other.1.total" in cells else "2019")
    if "apply.other.total" in cells and "apply.other.1.total" in cells:
        rows = (*rows[:-2], "other", *rows[-2:])
    for row in rows:
        parts = [_apply(row, c) for c in keys.APPLY_COLUMNS[:-1]]
        findings.append(check("I3", row, cells, parts, [_apply(row, "total")]))
    for block in keys.APPEAL_BLOCKS:
        parts = [f"appeal.{block}.{c}" for c in keys.APPEAL_COLUMNS[:-1]]
        findings.append(check("I4", block, cells, parts, [f"appeal.{block}.total"]))
    return [f for f in findings if f is not None]


def carried(last_year: Cells, this_year: Cells) -> list[dict]:
    """Rule M2 (kind ``mismatch``): this year's ``apply.carried_in`` against last year's
    ``apply.carried_out``, per column where both are known. ``expected`` is last year's
    carried-out figure, ``found`` this year's carried-in.

    >>> last = {"apply.carried_out.total": 5, "apply.carried_out.person": None}
    >>> this = {"apply.carried_in.total": 3, "apply.carried_in.person": 2}
    >>> [(f["rule"], f["column"], f["expected"], f["found"]) for f in carried(last, this)]
    [('M2', 'total', 5, 3)]
    """
    out = []
    for col in keys.APPLY_COLUMNS:
        before, now = (
            last_year.get(_apply("carried_out", col)),
            this_year.get(_apply("carried_in", col)),
        )
        if before is None or now is None or before == now:
            continue
        out.append(
            {
                "kind": "mismatch",
                "rule": "M2",
                "column": col,
                "cells": [_apply("carried_in", col), _apply("carried_out", col)],
                "expected": before,
                "found": now,
                "partial": False,
                "unknown": [],
            }
        )
    return out
