"""Versions → STATS.md records, stored one per version, and what they tell the detector.

``judge_stats`` runs in the detector's version-judging step (same transaction): it takes
the record the extraction worker read and the ingest stored with the version, or parses
the versions that have none (``crawler.stats.parse_record`` on the raw bytes and text:
versions stored without one, e.g. by an older nianbao) and stores those, and returns per
version the keys whose values changed since the previous version (for the ``edited``
event). ``record_findings`` stores the findings of the records (identities I1-I4:
``inconsistent``; section 一's prose against the tables: ``mismatch`` M1) and last year's
carried-out against this year's carried-in (``mismatch`` M2); ``announce_findings`` gives
each failing one its event. Partial findings (an unknown operand) are stored apart and
raise no event.

May import: crawler.stats, monitor.store, monitor.models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crawler.stats import checks
from monitor.events import about
from monitor.models import Event, EventKind, now_iso
from monitor.store import Store
from monitor.store.rows import Report, Version

COLUMN_LABELS = {
    "person": "自然人",
    "business": "商业企业",
    "research": "科研机构",
    "nonprofit": "社会公益组织",
    "legal": "法律服务机构",
    "other_org": "其他",
    "total": "总计",
    "review": "行政复议",
    "suit_direct": "未经复议直接起诉",
    "suit_after_review": "复议后起诉",
}


@dataclass
class Judged:
    """What the records of one detection say, by version id."""

    records: dict[int, dict] = field(default_factory=dict)
    changes: dict[int, list[tuple[str, object, object]]] = field(default_factory=dict)

    def note(self, version_id: int) -> str:
        """``数据变化: apply.new.total 217 → 218; ...`` for an edited event, or ""."""
        changes = self.changes.get(version_id)
        if not changes:
            return ""
        return "数据变化: " + "; ".join(f"{k} {_show(a)} → {_show(b)}" for k, a, b in changes)


def _show(value: object) -> str:
    return "空" if value is None else str(value)


def changed_keys(before: dict, after: dict) -> list[tuple[str, object, object]]:
    """Keys of the same template whose values differ, in the record's key order.

    >>> changed_keys({"template": "2021", "cells": {"a": 1, "b": 2}},
    ...              {"template": "2021", "cells": {"a": 1, "b": 3}})
    [('b', 2, 3)]
    """
    if before.get("template") != after.get("template") or not after.get("cells"):
        return []
    old = before.get("cells") or {}
    return [(k, old.get(k), v) for k, v in after["cells"].items() if old.get(k) != v]


def judge_stats(store: Store, versions: list[Version], prev_ids: dict[int, int]) -> Judged:
    """Parse, store and compare the records of ``versions`` (see the module docstring)."""
    from crawler.stats import parse_record  # the table readers: only when a version is new

    judged = Judged()
    at = now_iso()
    judged.records = store.stats.records(v.id for v in versions)  # the workers' records
    for source in store.stats.sources(v.id for v in versions if v.id not in judged.records):
        record = parse_record(
            source["raw"], source["url"] or "", source["content_type"] or "", source["text"] or ""
        )
        store.stats.save(source["id"], source["report_id"], record, at)
        judged.records[source["id"]] = record
    previous = store.stats.records(prev_ids.get(v.id, 0) for v in versions)
    for version in versions:
        prev = previous.get(prev_ids.get(version.id, 0))
        record = judged.records.get(version.id)
        if prev and record:
            judged.changes[version.id] = changed_keys(prev, record)
    return judged


def finding_note(finding: dict, years: tuple[int, int] | None = None) -> str:
    """A finding in Chinese for mail and feeds, with its cells (``years``: last year and
    this year, for rule M2).

    >>> finding_note({"rule": "I4", "column": "review", "expected": 3, "found": 4,
    ...               "cells": ["appeal.review.upheld", "appeal.review.total"]})
    '数据不一致 I4（行政复议）：应为 3，表中为 4；单元格：appeal.review.upheld, appeal.review.total'
    >>> finding_note({"kind": "mismatch", "rule": "M1", "column": "new", "expected": 218,
    ...               "found": 217, "cells": ["apply.new.total"], "quote": "共收到申请217件"})
    '数据不符 M1（正文）：正文“共收到申请217件”为 217，表中为 218；单元格：apply.new.total'
    """
    cells = ", ".join(finding["cells"])
    if finding.get("kind") == "mismatch" and finding["rule"] == "M1":
        return (
            f"数据不符 M1（正文）：正文“{finding.get('quote', '')}”为 {_show(finding['found'])}，"
            f"表中为 {_show(finding['expected'])}；单元格：{cells}"
        )
    column = COLUMN_LABELS.get(finding["column"], finding["column"])
    if finding.get("kind") == "mismatch":
        last, this = years or ("上年", "本年")
        return (
            f"数据不符 {finding['rule']}（{column}）：{last}年报告结转下年度 "
            f"{_show(finding['expected'])}，{this}年报告上年结转 {_show(finding['found'])}；"
            f"单元格：{this}年 {finding['cells'][0]}, {last}年 {finding['cells'][1]}"
        )
    return (
        f"数据不一致 {finding['rule']}（{column}）：应为 {_show(finding['expected'])}，"
        f"表中为 {_show(finding['found'])}；单元格：{cells}"
    )


def finding_rows(report_id: int, version_id: int, findings: list[dict], years=None) -> list[dict]:
    """The findings rows of one record (partial ones included, flagged), keyed so that the
    same failure in a later version is not recorded again."""
    return [
        {
            **f,
            "key": (
                f"{f['kind']}:{report_id}:{f['rule']}:{f['column']}:{f['expected']}:{f['found']}"
            ),
            "report_id": report_id,
            "version_id": version_id,
            "detail": finding_note(f, years),
        }
        for f in findings
    ]


def _carried(store: Store, reports: list[Report], compared: set[tuple]) -> list[dict]:
    """Rule M2 rows for each report's issuer: last year → this year, and this → next (the
    rows are on the later year's report). ``compared`` holds the detection's pairs
    (issuer, region, later year) compared so far, in this chunk or an earlier one: a
    crawl stores the records with the versions, so a pair is compared once, not once per
    chunk with a report of that issuer. A pair with a year not yet known (no report, or
    a record only parsed in a later chunk) is looked at again."""
    todo = [
        (report, last, this)
        for report in reports
        if report.issuer and report.year is not None
        for last, this in ((report.year - 1, report.year), (report.year, report.year + 1))
        if (report.issuer, report.region, this) not in compared
    ]
    cells = store.stats.issuer_cells(
        (report.issuer, year) for report, last, this in todo for year in (last, this)
    )
    rows = []
    for report, last, this in todo:
        pair = (report.issuer, report.region, this)
        near = cells.get((report.issuer, report.region), {})
        if last in near and this in near and pair not in compared:
            compared.add(pair)
            report_id, version_id, this_cells = near[this]
            found = checks.carried(near[last][2], this_cells)
            rows += finding_rows(report_id, version_id, found, (last, this))
    return rows


def record_findings(job, versions: list[Version], judged: Judged) -> None:
    """Store each record's findings once, and the M2 findings between each report and its
    issuer's reports of the year before and after. ``job`` is the detector's run:
    ``store``, ``run_id``, ``merged`` (a report folded into another by a move → that one)
    and ``compared`` (the M2 pairs compared so far). They become events when announced
    (``announce_findings``), not as change events of a crawl."""
    store = job.store
    reports: dict[int, Report] = {}
    for version in versions:
        record = judged.records.get(version.id)
        if not record or record.get("template") not in ("2019", "2021"):
            continue
        report = store.reports.get(job.merged.get(version.report_id, version.report_id))
        if report is None:
            continue
        reports[report.id] = report
        for row in finding_rows(report.id, version.id, record.get("findings", [])):
            _add(job, report, row)
    if reports:
        for row in _carried(store, list(reports.values()), job.compared):
            report = reports.get(row["report_id"]) or store.reports.get(row["report_id"])
            if report is not None:
                _add(job, report, row)


def _add(job, report: Report, row: dict) -> None:
    row.update(
        issuer=report.issuer,
        region=report.region,
        year=report.year,
        detected_at=now_iso(),
        run_id=job.run_id,
    )
    job.store.stats.add_finding(row)


def announce_findings(store: Store, run_id: int | None = None) -> list[Event]:
    """Each stored failing (not partial) ``inconsistent`` or ``mismatch`` finding without
    an event gets one (数据不一致 / 数据不符), for subscribers; the events recorded."""
    events = []
    for finding in store.stats.unannounced():
        report = store.reports.get(finding["report_id"])
        if report is None:
            continue
        event = finding_event(
            EventKind(finding["kind"]), report, finding, finding["version_id"], run_id
        )
        event.id = store.events.add(event)
        store.stats.link_event(finding["id"], event.id)
        events.append(event)
    return events


def finding_event(
    kind: EventKind, report: Report, finding: dict, version_id: int | None, run_id: int | None
) -> Event:
    """The event subscribers follow for one finding (its detail is the note)."""
    return about(
        kind,
        report,
        run_id,
        year=finding.get("year", report.year),
        new_version_id=version_id,
        note=finding["detail"],
    )
