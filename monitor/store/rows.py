"""Typed rows: what the store reads back, one dataclass per kind of row.

Field names are the column names (and, where a command prints rows with ``--json``, the
JSON keys: ``row.to_json()`` is ``dataclasses.asdict``). ``Event`` and ``Subscription``
live in ``monitor.models``; these are the store's own rows.

May import: nothing of nianbao (a leaf).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any, Self


class Row:
    """Base of the row dataclasses: build from a ``sqlite-utils`` row dict, dump to JSON."""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Self:
        """The dataclass of ``row``; columns it does not name are ignored."""
        return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in row})  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass
class Run(Row):
    """A ``crawl_runs`` row: one crawl. ``portals`` and ``stats`` are JSON text; ``pid`` and
    ``child_pid`` (with ``host`` and start-time tokens) name the processes that run it."""

    id: int
    started_at: str
    finished_at: str | None = None
    status: str = "running"
    trigger: str | None = None
    portals: str | None = None
    stats: str | None = None
    pid: int | None = None
    detail: str | None = None
    host: str | None = None
    pid_token: str | None = None
    child_pid: int | None = None
    child_token: str | None = None

    def summary(self) -> dict[str, Any]:
        """A line of ``nianbao runs``: id, started, finished, status, trigger, portals, detail."""
        return {
            "id": self.id,
            "started": self.started_at,
            "finished": self.finished_at,
            "status": self.status,
            "trigger": self.trigger,
            "portals": json.loads(self.portals or "[]"),
            "detail": self.detail or "",
        }


@dataclass
class PortalRun(Row):
    """A portal's part of a run: its counters, health, name, and ``reports`` = distinct
    reports seen (``report_pages`` = pages that were reports)."""

    run_id: int
    portal_id: str
    listings_ok: int = 0
    listings_failed: int = 0
    pages: int = 0
    unchanged: int = 0
    reports: int = 0
    not_reports: int = 0
    problems: int = 0
    status: str | None = None
    detail: str | None = None
    gone: int = 0
    name: str | None = None
    report_pages: int = 0
    adapter: str | None = None
    listed: int | None = None
    found: int | None = None


@dataclass
class PortalRecentRun(Row):
    """One of a portal's latest runs, for ``nianbao status`` and the scheduler."""

    run_id: int
    portal_status: str | None
    portal_detail: str | None
    pages: int
    reports: int
    problems: int
    started_at: str
    finished_at: str | None
    trigger: str | None
    run_status: str
    run_detail: str | None


@dataclass
class Problem(Row):
    """A ``problems`` row: a fetch that gave no content (error, challenge, soft 404...)."""

    id: int
    run_id: int | None
    portal_id: str | None
    url: str | None
    kind: str
    status: int | None
    detail: str | None
    at: str
    listed_on: str | None = None
    is_listing: int | None = None


@dataclass
class Report(Row):
    """A ``reports`` row; ``url`` is the canonical address."""

    id: int
    portal_id: str
    url: str
    title: str | None = None
    issuer: str | None = None
    region: str | None = None
    year: int | None = None
    published: str | None = None
    status: str = "active"
    first_seen: str | None = None
    last_seen: str | None = None
    last_seen_run: int | None = None
    current_version_id: int | None = None
    text_sha: str | None = None
    gone_runs: int = 0
    removed_at: str | None = None


@dataclass
class ReportSummary(Row):
    """A line of ``nianbao reports``: a report with its number of versions."""

    id: int
    portal_id: str
    url: str
    title: str | None
    issuer: str | None
    region: str | None
    year: int | None
    published: str | None
    status: str
    first_seen: str | None
    last_seen: str | None
    versions: int


@dataclass
class Page(Row):
    """A ``pages`` row: fetch state of one URL (validators, hashes, last runs)."""

    url: str
    portal_id: str
    report_id: int | None = None
    is_report: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    raw_sha: str | None = None
    body_fp: str | None = None
    text_sha: str | None = None
    last_status: int | None = None
    last_fetched_at: str | None = None
    last_ok_at: str | None = None
    last_run_id: int | None = None
    listed_on: str | None = None
    last_listed_run: int | None = None
    last_ok_run: int | None = None


@dataclass
class Version(Row):
    """A ``versions`` row. Queries that need less leave the other fields None; ``raw``
    is the decompressed body only when asked for."""

    id: int
    report_id: int | None = None
    run_id: int | None = None
    url: str | None = None
    fetched_at: str | None = None
    status: int | None = None
    headers: str | None = None
    content_type: str | None = None
    raw: bytes | None = None
    raw_sha: str | None = None
    text: str = ""
    text_sha: str = ""
    body_fp: str | None = None
    title: str | None = None
    issuer: str | None = None
    year: int | None = None
    published: str | None = None
    quality: str | None = None


@dataclass
class HistoryEntry(Row):
    """A line of ``nianbao history``: one version, without its text."""

    id: int
    run_id: int | None
    url: str
    fetched_at: str
    status: int | None
    text_sha: str
    raw_sha: str | None
    quality: str | None
    chars: int


@dataclass
class SubscriptionRow(Row):
    """A ``subscriptions`` row, with its outbox counts when asked for. ``kinds`` is JSON."""

    id: int
    email: str
    token: str
    region: str | None = None
    issuer: str | None = None
    year: int | None = None
    kinds: str = "[]"
    keyword: str | None = None
    digest: str = "daily"
    active: int = 1
    created_at: str = ""
    unsubscribed_at: str | None = None
    start_event_id: int = 0
    seen_event_id: int = 0
    pending: int | None = None
    sending: int | None = None
    sent: int | None = None
    failed: int | None = None
    channel: str = "email"
    target: str | None = None


@dataclass
class ChannelRow(Row):
    """Where one subscription delivers: ``channel`` (email, webhook, apprise), ``target``
    (the URL template with ``${NAME}`` placeholders; NULL for email) and, for webhooks, the
    signing ``secret``. Never shown: ``SubscriptionRow`` has no secret."""

    id: int
    email: str
    channel: str = "email"
    target: str | None = None
    secret: str | None = None


@dataclass
class Delivery(Row):
    """A ``deliveries`` row: one event for one subscription, in the outbox."""

    id: int
    event_id: int
    subscription_id: int
    status: str = "pending"
    attempts: int = 0
    created_at: str = ""
    next_attempt_at: str | None = None
    last_attempt_at: str | None = None
    sent_at: str | None = None
    last_error: str | None = None
    key: str | None = None
    message_id: str | None = None


@dataclass
class DeliveryError(Row):
    """A batch whose last attempt failed (``nianbao status``): ``events`` in the batch."""

    key: str | None
    subscription_id: int
    status: str
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    events: int


@dataclass
class LockRow(Row):
    """A ``locks`` row: who holds a portal's crawl lock (or ``~outbox``) since when;
    ``token`` is the holder's start-time token (``monitor.store.locks.start_token``)."""

    portal_id: str
    owner: str
    pid: int
    host: str | None
    acquired_at: str
    token: str | None = None


@dataclass
class DaemonRow(Row):
    """A ``daemon`` row: a daemon's heartbeat and each portal's next run (JSON)."""

    pid: int
    host: str | None
    started_at: str
    heartbeat_at: str | None
    stopped_at: str | None
    status: str | None
    next_runs: str = "{}"


@dataclass
class HeldRemoval(Row):
    """A ``held_removals`` row with its report: a removal held as ``suspect``, and why."""

    report_id: int
    portal_id: str
    run_id: int
    held_at: str
    reason: str
    healthy_runs: int = 0
    url: str | None = None
    title: str | None = None
    year: int | None = None


@dataclass
class OperatorMail(Row):
    """An ``operator_mails`` row: one operator alert for one address, in the operator's outbox."""

    id: int
    address: str
    topic: str
    state: str
    subject: str
    body: str
    status: str = "pending"
    attempts: int = 0
    created_at: str = ""
    next_attempt_at: str | None = None
    last_attempt_at: str | None = None
    sent_at: str | None = None
    last_error: str | None = None
    key: str | None = None
    message_id: str | None = None
