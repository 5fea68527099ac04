"""Figures quoted in section 一's prose, checked against the tables (kind ``mismatch``, M1).

Only phrasings that name one cell without doubt are read, clause by clause (a clause
ends at ，。； or a line end), and only in section 一 (the text before 二、主动公开):

- 共收到/接收/新收/受理 … 申请 … N件 → ``apply.new.total`` (the clause or its sentence
  says 共, 全年, 本年 or 全区/全市/…: a total, not one office's share);
- 办结/答复 … N件, in a sentence about 申请 → ``apply.total.total``;
- N件结转下年 / 结转下年度… N件 → ``apply.carried_out.total``; 上年结转 … N件 →
  ``apply.carried_in.total``;
- 行政复议 … N件 → ``appeal.review.total``; 行政诉讼 … N件 → the two suit totals summed,
  in a sentence about 信息公开 or 申请公开.

A clause that compares or splits (其中, 占, %, 含, 包括, 同比, 较, 比上年, 增, 减) or names
another figure (自然人, 企业) is skipped: the figure may not be the cell's. A cell that is
unknown is never contradicted.

May import: crawler.stats.values.
"""

from __future__ import annotations

import re
import unicodedata

SECTION_TWO = re.compile(r"二\s*[、.．]\s*主动公开政府信息")
SENTENCE = re.compile(r"[。；;！!？?\n]")
CLAUSE = re.compile(r"[,，]")
GROUPED = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # 2,345 → 2345 (before clauses split on ,)
SKIP = re.compile(r"其中|占|%|含|包括|同比|较|比上年|增|减|自然人|企业|平均|率")
TOTAL_WORD = re.compile(r"共|全年|本年|全[区市县省镇]")
N = r"(\d+)件"

# (row of the finding, keys summed, clause pattern, what the sentence must say)
PHRASES: list[tuple[str, tuple[str, ...], re.Pattern[str], re.Pattern[str] | None]] = [
    (
        "carried_out",
        ("apply.carried_out.total",),
        re.compile(
            rf"{N}[^\d、]{{0,6}}结转下一?年|结转下一?年度?(?:继续办理|继续处理|办理)?[^\d]{{0,4}}{N}"
        ),
        None,
    ),
    (
        "carried_in",
        ("apply.carried_in.total",),
        re.compile(rf"上一?年(?:度)?结转[^\d]{{0,12}}{N}"),
        None,
    ),
    (
        "review",
        ("appeal.review.total",),
        re.compile(rf"行政复议[^\d、]{{0,8}}{N}"),
        re.compile(r"信息公开|申请公开"),
    ),
    (
        "suit",
        ("appeal.suit_direct.total", "appeal.suit_after_review.total"),
        re.compile(rf"行政诉讼[^\d、]{{0,8}}{N}"),
        re.compile(r"信息公开|申请公开"),
    ),
    (
        "total",
        ("apply.total.total",),
        re.compile(rf"^(?!.*(?:复议|诉讼|结转)).*(?:办结|答复)[^\d]{{0,12}}{N}"),
        re.compile(r"申请"),
    ),
    (
        "new",
        ("apply.new.total",),
        re.compile(
            rf"^(?!.*(?:复议|诉讼|结转|办结|答复)).*(?:收到|接收|新收|受理)"
            rf"(?:.*申请[^\d]{{0,6}}{N}|[^\d]{{0,6}}{N}[^\d]{{0,12}}申请)"
        ),
        None,
    ),
]


def section_one(text: str) -> str:
    """The text before section 二's heading (normalised), or "" when there is none.

    >>> section_one("一、总体情况\\n全年共收到申请3件。\\n二、主动公开政府信息情况\\n...")
    '一、总体情况\\n全年共收到申请3件。\\n'
    """
    m = SECTION_TWO.search(text)  # the heading's characters are the same after NFKC
    return unicodedata.normalize("NFKC", text[: m.start()]) if m else ""


def quotes(section: str) -> list[tuple[str, tuple[str, ...], int, str]]:
    """(row, keys, figure, clause) for every reliable figure in ``section`` (section 一's
    text, as ``section_one`` returns it).

    >>> [(q[0], q[2]) for q in quotes("本年度全区共收到70件申请，办结69件，1件结转下年度继续办理。"
    ...                               "因政府信息公开引起的行政复议案件2件、行政诉讼案件7件。")]
    [('new', 70), ('total', 69), ('carried_out', 1), ('review', 2), ('suit', 7)]
    >>> quotes("共受理申请220件（含上年结转2件）。区本级收到申请5件。")
    []
    """
    found = []
    for sentence in SENTENCE.split(GROUPED.sub("", section)):
        sentence = re.sub(r"\s+", "", sentence)
        for clause in CLAUSE.split(sentence):
            if SKIP.search(clause):
                continue
            for row, names, rx, context in PHRASES:
                m = rx.search(clause)
                if not m or (context and not context.search(sentence)):
                    continue
                if row == "new" and not TOTAL_WORD.search(
                    sentence[: sentence.index(clause)] + clause
                ):
                    continue
                figure = int(next(g for g in m.groups() if g is not None))
                found.append((row, names, figure, clause[:80]))
    return found


def mismatches(cells: dict, section: str) -> list[dict]:
    """Findings (kind ``mismatch``, rule M1) where a figure quoted in ``section`` (section
    一's text) differs from its cells. ``expected`` is the table's value, ``found`` the
    figure the prose quotes.

    >>> cells = {"apply.new.total": 218, "appeal.review.total": None}
    >>> [(f["column"], f["expected"], f["found"]) for f in mismatches(cells,
    ...     "全年共收到政府信息公开申请217件。政府信息公开行政复议3件。")]
    [('new', 218, 217)]
    """
    out, seen = [], set()
    for row, names, figure, clause in quotes(section):
        if any(cells.get(n) is None for n in names):
            continue  # not in the template, or unknown: nothing to contradict
        value = sum(cells[n] for n in names)
        if value == figure or (row, figure) in seen:
            continue
        seen.add((row, figure))
        out.append(
            {
                "kind": "mismatch",
                "rule": "M1",
                "column": row,
                "cells": list(names),
                "expected": value,
                "found": figure,
                "partial": False,
                "unknown": [],
                "quote": clause,
            }
        )
    return out
