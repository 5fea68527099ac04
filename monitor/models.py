"""Value objects shared by the store, the differ and the alert channels (a leaf module)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""How the store writes times: UTC to the second, ``2027-01-31T06:00:00Z``."""


def iso(when: datetime) -> str:
    """``when`` (aware) as a UTC ``YYYY-MM-DDTHH:MM:SSZ`` string.

    >>> from datetime import timedelta, timezone
    >>> iso(datetime(2027, 1, 31, 14, 0, tzinfo=timezone(timedelta(hours=8))))
    '2027-01-31T06:00:00Z'
    """
    return when.astimezone(UTC).strftime(UTC_FORMAT)


def now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ`` (how the store writes times)."""
    return iso(datetime.now(UTC))


def parse_iso(text: str) -> datetime:
    """A time the store wrote (``...Z``) back to an aware UTC datetime.

    >>> parse_iso("2027-01-31T06:00:00Z").isoformat()
    '2027-01-31T06:00:00+00:00'
    """
    return datetime.strptime(text, UTC_FORMAT).replace(tzinfo=UTC)


class EventKind(StrEnum):
    """What happened to a report. The value is what ``--json`` shows."""

    NEW = "new"
    EDITED = "edited"
    REMOVED = "removed"
    MOVED = "moved"
    RESTORED = "restored"
    INCONSISTENT = "inconsistent"  # findings on the standard tables (STATS.md)
    MISSING = "missing"
    LATE = "late"
    MISMATCH = "mismatch"  # prose or last year's figures contradict the tables

    @property
    def label(self) -> str:
        """The Chinese label users read in alerts (新增 / 修改 / 删除 / 迁移 / 恢复)."""
        return KIND_LABELS[self]


KIND_LABELS = {
    EventKind.NEW: "新增",
    EventKind.EDITED: "修改",
    EventKind.REMOVED: "删除",
    EventKind.MOVED: "迁移",
    EventKind.RESTORED: "恢复",
    EventKind.INCONSISTENT: "数据不一致",
    EventKind.MISSING: "逾期未发布",
    EventKind.LATE: "逾期发布",
    EventKind.MISMATCH: "数据不符",
}


@dataclass
class NumberChange:
    """One number that changed in an edit, e.g. label "三、(一)予以公开", 151 → 152."""

    label: str
    before: str
    after: str


@dataclass
class Event:
    """A change to a report, as recorded by the differ.

    Fields: id, kind (EventKind value), report_id, run_id, url (current), old_url
    (for moves), title, issuer, region, portal_id, year, detected_at (ISO UTC),
    old_version_id, new_version_id, diff (unified diff of the normalised text;
    empty for new), sections (changed report sections, e.g. ["三"]), numbers
    (NumberChange list).
    """

    kind: str
    report_id: int
    url: str
    title: str = ""
    issuer: str = ""
    region: str = ""
    portal_id: str = ""
    year: int | None = None
    detected_at: str = ""
    run_id: int | None = None
    old_url: str | None = None
    old_version_id: int | None = None
    new_version_id: int | None = None
    diff: str = ""
    sections: list[str] = field(default_factory=list)
    numbers: list[NumberChange] = field(default_factory=list)
    note: str = ""
    id: int | None = None

    @property
    def label(self) -> str:
        return EventKind(self.kind).label

    def to_json(self) -> dict:
        """The stable ``--json`` shape of an event."""
        data = asdict(self)
        data["label"] = self.label
        return data

    @classmethod
    def from_row(cls, row: dict) -> Event:
        numbers = json.loads(row.get("numbers") or "[]")
        return cls(
            id=row["id"],
            kind=row["kind"],
            report_id=row["report_id"],
            url=row["url"],
            title=row.get("title") or "",
            issuer=row.get("issuer") or "",
            region=row.get("region") or "",
            portal_id=row.get("portal_id") or "",
            year=row.get("year"),
            detected_at=row.get("detected_at") or "",
            run_id=row.get("run_id"),
            old_url=row.get("old_url"),
            old_version_id=row.get("old_version_id"),
            new_version_id=row.get("new_version_id"),
            diff=row.get("diff") or "",
            sections=json.loads(row.get("sections") or "[]"),
            numbers=[NumberChange(**n) for n in numbers],
            note=row.get("note") or "",
        )


@dataclass
class Subscription:
    """Who wants which events, and how (digest "daily" or "immediate").

    Filters that are None match everything; all given filters must match.
    ``kinds`` is a list of EventKind values (empty = all).
    """

    email: str
    region: str | None = None
    issuer: str | None = None
    year: int | None = None
    kinds: list[str] = field(default_factory=list)
    keyword: str | None = None
    digest: str = "daily"
    id: int | None = None
    created_at: str = ""
    token: str = ""

    def matches(self, event: Event) -> bool:
        """True when every given filter matches the event.

        >>> e = Event(kind="edited", report_id=1, url="u", issuer="启东市人民政府", region="江苏", year=2020)
        >>> Subscription("a@b.c", region="江苏", kinds=["edited"]).matches(e)
        True
        >>> Subscription("a@b.c", issuer="浙江").matches(e)
        False
        """
        if self.region and self.region not in (event.region or ""):
            return False
        if self.issuer and self.issuer not in (event.issuer or ""):
            return False
        if self.year is not None and self.year != event.year:
            return False
        if self.kinds and event.kind not in self.kinds:
            return False
        if self.keyword:
            haystack = "\n".join([event.title or "", event.issuer or "", event.diff or ""])
            if self.keyword not in haystack:
                return False
        return True
