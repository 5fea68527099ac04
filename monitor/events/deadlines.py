"""Missing and late reports: the report for year Y is due by 31 January of Y+1.

Every issuer nianbao has seen publish a report is expected to publish one each later
year. When year Y's report is not found by the deadline plus ``grace`` days, it is
``missing``; when it then appears after the deadline, it is ``late`` (with the published
date and the date nianbao first saw it). A report published on time but found late is not
late. ``deadline_findings`` is pure: what is missing or late as of a day.

May import: monitor.store, monitor.models, monitor.events.stats.
"""

from __future__ import annotations

from datetime import date, timedelta

from monitor.events.stats import finding_event
from monitor.models import EventKind, now_iso
from monitor.store import Store


def due(year: int) -> date:
    """The deadline of year ``year``'s report: ``due(2024) == date(2025, 1, 31)``."""
    return date(year + 1, 1, 31)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def deadline_findings(reports: list[dict], as_of: date, grace: int) -> list[dict]:
    """Missing and late findings as of ``as_of``, from every (issuer, year) report row
    (``report_id, issuer, region, year, published, first_seen``).

    >>> rows = [{"report_id": 1, "issuer": "A", "region": "R", "year": 2023,
    ...          "published": "2024-01-20", "first_seen": "2024-01-21"}]
    >>> [(f["kind"], f["year"]) for f in deadline_findings(rows, date(2025, 2, 20), 15)]
    [('missing', 2024)]
    >>> deadline_findings(rows, date(2025, 2, 10), 15)
    []
    """
    by_issuer: dict[str, dict[int, dict]] = {}
    for row in reports:
        seen = _day(row["first_seen"])
        if seen is None or seen <= as_of:
            by_issuer.setdefault(row["issuer"], {}).setdefault(row["year"], row)
    out = []
    for issuer, years in sorted(by_issuer.items()):
        first = min(years)
        last_due = (
            as_of.year - 1 if as_of > due(as_of.year - 1) + timedelta(grace) else as_of.year - 2
        )
        for year in range(first + 1, last_due + 1):
            if year not in years:
                latest = years[max(y for y in years if y < year)]
                out.append(_finding("missing", issuer, latest, year, None, grace))
        for year, row in sorted(years.items()):
            if year > first and _is_late(row, year, grace):
                out.append(_finding("late", issuer, row, year, row, grace))
    return out


def _is_late(row: dict, year: int, grace: int) -> bool:
    published, seen = _day(row["published"]), _day(row["first_seen"])
    if published is not None:
        return published > due(year)
    return seen is not None and seen > due(year) + timedelta(grace)


def _finding(
    kind: str, issuer: str, anchor: dict, year: int, report: dict | None, grace: int
) -> dict:
    if kind == "missing":
        detail = f"逾期未发布：{issuer} {year}年年报（应于{due(year)}前发布，宽限{grace}天）"
    else:
        detail = (
            f"逾期发布：{issuer} {year}年年报，发布日期 {report['published'] or '不详'}，"
            f"首次发现 {(report['first_seen'] or '')[:10]}（应于{due(year)}前发布）"
        )
    return {
        "key": f"{kind}:{issuer}:{year}",
        "kind": kind,
        "report_id": anchor["report_id"],
        "issuer": issuer,
        "region": anchor["region"],
        "year": year,
        "rule": "deadline",
        "cells": [],
        "expected": str(due(year)),
        "found": (report["published"] or (report["first_seen"] or "")[:10]) if report else None,
        "partial": False,
        "detail": detail,
    }


def record_deadlines(
    store: Store, as_of: date, grace: int, run_id: int | None = None
) -> list[dict]:
    """Store today's missing/late findings once each, each with its event; return the new
    (with ``event``: the Event recorded, or None when its report is gone)."""
    new = []
    known = store.stats.finding_keys(("missing", "late"))  # most are, after the first crawl
    for finding in deadline_findings(store.stats.issuer_years(), as_of, grace):
        if finding["key"] in known:
            continue
        finding.update(detected_at=now_iso(), run_id=run_id)
        finding_id = store.stats.add_finding(finding)
        if finding_id is None:
            continue
        report = store.reports.get(finding["report_id"])
        event = None
        if report is not None:
            kind = EventKind.MISSING if finding["kind"] == "missing" else EventKind.LATE
            event = finding_event(kind, report, finding, None, run_id)
            event.id = store.events.add(event)
            store.stats.link_event(finding_id, event.id)
        new.append({**finding, "id": finding_id, "event": event})
    return new
