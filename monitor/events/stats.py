"""Versions → STATS.md records, stored one per version, and what they tell the detector.

``judge_stats`` runs in the detector's version-judging step (same transaction): it parses
every version being judged (``crawler.stats.parse_record`` on the raw bytes and text),
stores the records, and returns per version the keys whose values changed since the
previous version (for the ``edited`` event) and the new failing identities, which become
``inconsistent`` findings and events. Partial findings (an unknown operand) are stored
apart and raise no event.

May import: crawler.stats, monitor.store, monitor.models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crawler.stats import parse_record
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
    judged = Judged()
    at = now_iso()
    for source in store.stats.sources(v.id for v in versions):
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


def finding_note(finding: dict) -> str:
    """A finding in Chinese for mail and feeds, with its cells.

    >>> finding_note({"rule": "I4", "column": "review", "expected": 3, "found": 4,
    ...               "cells": ["appeal.review.upheld", "appeal.review.total"]})
    '数据不一致 I4（行政复议）：应为 3，表中为 4；单元格：appeal.review.upheld, appeal.review.total'
    """
    column = COLUMN_LABELS.get(finding["column"], finding["column"])
    return (
        f"数据不一致 {finding['rule']}（{column}）：应为 {_show(finding['expected'])}，"
        f"表中为 {_show(finding['found'])}；单元格：{', '.join(finding['cells'])}"
    )


def inconsistencies(version: Version, record: dict) -> list[dict]:
    """The findings rows of one record (partial ones included, flagged), keyed so that the
    same failure in a later version is not recorded again."""
    rows = []
    for f in record.get("findings", []):
        key = (
            f"inconsistent:{version.report_id}:{f['rule']}:{f['column']}:"
            f"{f['expected']}:{f['found']}"
        )
        rows.append(
            {
                **f,
                "key": key,
                "report_id": version.report_id,
                "version_id": version.id,
                "detail": finding_note(f),
            }
        )
    return rows


def record_findings(job, versions: list[Version], merged: dict[int, int], judged: Judged) -> None:
    """Store each record's findings once (``job`` is the detector's run: ``store``,
    ``run_id``; ``merged`` maps a report folded into another by a move to that one). They
    become events when announced (``announce_findings``), not as change events of a crawl."""
    store = job.store
    for version in versions:
        record = judged.records.get(version.id)
        rows = inconsistencies(version, record) if record else []
        report = (
            store.reports.get(merged.get(version.report_id, version.report_id)) if rows else None
        )
        for row in rows if report else []:
            row.update(
                report_id=report.id,
                issuer=report.issuer,
                region=report.region,
                year=report.year,
                detected_at=now_iso(),
                run_id=job.run_id,
            )
            store.stats.add_finding(row)


def announce_findings(store: Store, run_id: int | None = None) -> int:
    """Each stored failing (not partial) ``inconsistent`` finding without an event gets
    one (kind ``inconsistent``, 数据不一致), for subscribers; the number announced."""
    count = 0
    for finding in store.stats.unannounced():
        report = store.reports.get(finding["report_id"])
        if report is None:
            continue
        event = finding_event(
            EventKind.INCONSISTENT, report, finding, finding["version_id"], run_id
        )
        store.stats.link_event(finding["id"], store.events.add(event))
        count += 1
    return count


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
