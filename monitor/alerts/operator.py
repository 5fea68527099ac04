"""Operator alerts (issue 13): tell the people who run nianbao, not the readers.

``notify`` looks at what the store knows and finds each topic's state:

    portal:ID        ``broken`` (the latest run), ``failing`` (``after`` failed runs in a
                     row) or ``ok``
    unread:ID        ``unread``: no list page of the portal read for ``UNREAD_DAYS`` days
    held:ID          ``held``: removals of the portal held as suspect
    outbox           ``failing``: subscriber deliveries failing
    daemon           ``stale``: a daemon that should be running stopped beating
    disk             ``low``: less than ``NIANBAO_DISK_LOW_MB`` free on the database's disk
                     (told while there is still room to record it: a full disk stops crawls)

A topic whose state changed since it was last told queues one alert per operator address
(a return to normal is told too); an unchanged state is never told twice. ``deliver``
sends what is queued the way the subscriber outbox does (``monitor.alerts.outbox``): per
address, the queued alerts are claimed as one batch with a Message-ID derived from its key
BEFORE sending, a temporary failure backs off and resends the same batch (same
Message-ID), a permanent one is kept as ``failed``. The operator's rows live in their own
tables: subscriber mail and feeds never carry them.

May import: monitor.alerts.email, monitor.config, monitor.models, monitor.store.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from itertools import groupby
from pathlib import Path

from monitor.alerts.email import DeliveryError, EmailChannel, message_id_for
from monitor.config import OperatorConfig
from monitor.models import iso, parse_iso
from monitor.store import Store
from monitor.store.lockrows import HEARTBEAT_STALE
from monitor.store.rows import OperatorMail

logger = logging.getLogger(__name__)

UNREAD_DAYS = 7
QUIET = {"ok", "none"}  # states that are news only after a bad one
LIST_READ = ("ok", "degraded", "broken")  # portal statuses of a run whose list pages were read


@dataclass
class State:
    """One topic's state now: ``state`` (a word), ``subject`` (the mail's) and ``detail``."""

    topic: str
    state: str
    subject: str = ""
    detail: str = ""


@dataclass
class OperatorRound:
    """What ``deliver`` did: mails sent, waiting for a retry, failed for good."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def _portal_states(store: Store, after: int, now: datetime) -> Iterator[State]:
    names = store.runs.names()
    held = store.reports.held_counts()
    for pid, runs in store.runs.recent_by_portal().items():
        name = f"{pid} ({names.get(pid) or pid})"
        done = [r for r in runs if r.finished_at]
        last = done[0] if done else None
        failures = next((n for n, r in enumerate(done) if r.portal_status == "ok"), len(done))
        if last is not None and last.portal_status == "broken":
            yield State(
                f"portal:{pid}",
                "broken",
                f"门户失效 / portal broken: {name}",
                last.portal_detail or "",
            )
        elif failures >= after:
            why = last.portal_detail or last.run_detail or last.portal_status or ""
            yield State(
                f"portal:{pid}",
                "failing",
                f"门户连续 {failures} 次抓取失败 / portal failing {failures} runs in a row: {name}",
                why,
            )
        elif last is not None:
            yield State(f"portal:{pid}", "ok", f"门户恢复正常 / portal healthy again: {name}")
        read = next((r for r in done if r.portal_status in LIST_READ), None)
        since = (
            parse_iso(read.started_at) if read else parse_iso(done[-1].started_at) if done else now
        )
        if done and now - since > timedelta(days=UNREAD_DAYS):
            yield State(
                f"unread:{pid}",
                "unread",
                f"门户 {UNREAD_DAYS} 天未能读取栏目页 / no list page read for {UNREAD_DAYS} days: {name}",
                f"last list read: {read.started_at if read else 'never'}",
            )
        elif done:
            yield State(
                f"unread:{pid}", "ok", f"门户栏目页又可读取 / list pages read again: {name}"
            )
        count = held.get(pid, 0)
        yield State(
            f"held:{pid}",
            "held" if count else "none",
            f"{count} 条删除被暂扣 / {count} removals held: {name}"
            if count
            else f"暂扣的删除已处理 / held removals settled: {name}",
            f"nianbao removals; nianbao removals confirm {pid}; nianbao removals dismiss {pid}"
            if count
            else "",
        )


def _outbox_state(store: Store) -> State:
    errors = store.outbox.errors(limit=3)
    if not errors:
        return State("outbox", "ok", "投递恢复正常 / outbox delivering again")
    lines = [f"{e.key}: {e.attempts} attempts, {e.status}: {e.last_error}" for e in errors]
    return State("outbox", "failing", "订阅投递失败 / outbox failing", "\n".join(lines))


def _daemon_state(store: Store, now: datetime) -> State | None:
    row = store.daemons.latest()
    if row is None or row.status == "stopped" or not row.heartbeat_at:
        return None
    age = (now - parse_iso(row.heartbeat_at)).total_seconds()
    if age > HEARTBEAT_STALE:
        return State(
            "daemon",
            "stale",
            "守护进程心跳停止 / daemon heartbeat stale",
            f"pid {row.pid} on {row.host}: last heartbeat {row.heartbeat_at} ({age:.0f} s ago)",
        )
    return State("daemon", "ok", "守护进程恢复心跳 / daemon beating again")


def _disk_state(store: Store, low_mb: int) -> State:
    folder = Path(store.path).resolve().parent
    usage = shutil.disk_usage(folder)
    free_mb = usage.free / 2**20
    if free_mb >= low_mb:
        return State("disk", "ok", f"磁盘空间恢复 / disk space back: {folder}")
    return State(
        "disk",
        "low",
        f"磁盘空间不足 / disk nearly full: {free_mb:.0f} MB free for {store.path}",
        f"{free_mb:.0f} MB free of {usage.total / 2**20:.0f} MB on the disk holding "
        f"{store.path} (NIANBAO_DISK_LOW_MB: {low_mb}). A full disk stops a crawl until "
        "space is freed: free some, or move the database (nianbao backup) to a larger disk.",
    )


def observe(store: Store, opts: OperatorConfig, now: datetime) -> list[State]:
    """Every topic's state now."""
    states = list(_portal_states(store, opts.after, now))
    states.append(_outbox_state(store))
    states.append(_disk_state(store, opts.disk_low_mb))
    daemon = _daemon_state(store, now)
    return states + ([daemon] if daemon else [])


def notify(store: Store, opts: OperatorConfig, now: datetime) -> int:
    """Queue one alert per address for each topic whose state changed; return how many
    topics were told. Nothing is recorded without an operator address, so one set later
    hears of what is wrong then."""
    if not opts.emails:
        return 0
    told = store.operator.states()
    changed = 0
    for s in observe(store, opts, now):
        before = told.get(s.topic, (None, ""))[0]
        if s.state == before or (before is None and s.state in QUIET):
            if before is None:
                store.operator.change(s.topic, s.state, s.detail, iso(now), [])
            continue
        body = f"{s.subject}\n\n{s.detail}".strip() + "\n"
        mails = [{"address": a, "subject": s.subject, "body": body} for a in opts.emails]
        store.operator.change(s.topic, s.state, s.detail, iso(now), mails)
        logger.info("Operator alert %s: %s → %s", s.topic, before, s.state)
        changed += 1
    return changed


def build_message(rows: list[OperatorMail], sender: str, message_id: str) -> EmailMessage:
    """One plain-text mail to one operator address carrying ``rows`` (its queued alerts)."""
    msg = EmailMessage()
    first = rows[0].subject
    more = f" (+{len(rows) - 1})" if len(rows) > 1 else ""
    msg["Subject"] = f"[nianbao 运维 / operator] {first}{more}"
    msg["From"] = sender
    msg["To"] = rows[0].address
    msg["Date"] = format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    parts = [f"{r.created_at}  {r.body}" for r in rows]
    footer = "\n-- \nnianbao: operator alerts go to NIANBAO_OPERATOR_EMAIL only.\n"
    msg.set_content("\n".join(parts) + footer, charset="utf-8")
    return msg


class _Delivery:
    """One pass over the operator's outbox (as ``monitor.alerts.outbox._Round``)."""

    def __init__(self, store: Store, channel: EmailChannel, now: datetime, retry_max: float):
        self.store, self.channel, self.now, self.retry_max = store, channel, now, retry_max
        self.result = OperatorRound()

    def run(self) -> None:
        rows = self.store.operator.rows(["pending", "sending"])
        for _address, group in groupby(rows, key=lambda r: r.address):
            if not self.address(list(group)):
                return  # the server is down: the other addresses wait too

    def address(self, rows: list[OperatorMail]) -> bool:
        for key, batch in groupby([r for r in rows if r.status == "sending"], key=lambda r: r.key):
            batch = list(batch)
            if batch[0].next_attempt_at and batch[0].next_attempt_at > iso(self.now):
                return True  # backing off
            self.store.operator.retry_attempt(key, iso(self.now))
            if not self.send(key, batch):
                return False
        pending = [r for r in rows if r.status == "pending"]
        if not pending:
            return True
        key = f"operator-{pending[0].id}"
        message_id = message_id_for(key, self.channel.smtp.sender)
        self.store.operator.claim([r.id for r in pending], key, message_id, iso(self.now))
        return self.send(key, pending, message_id)

    def send(self, key: str, rows: list[OperatorMail], message_id: str | None = None) -> bool:
        message_id = (
            message_id or rows[0].message_id or message_id_for(key, self.channel.smtp.sender)
        )
        try:
            self.channel.send(build_message(rows, self.channel.smtp.sender, message_id))
        except (DeliveryError, OSError) as exc:
            retryable = getattr(exc, "retryable", True)
            self.result.errors.append(f"{key}: {exc}")
            if not retryable:
                self.store.operator.mark(key, "failed", str(exc))
                self.result.failed += 1
                return True
            attempts = (rows[0].attempts or 0) + 1
            delay = min(self.retry_max, 5.0 * 2 ** max(0, attempts - 1))
            self.store.operator.mark(
                key, "sending", str(exc), iso(self.now + timedelta(seconds=delay))
            )
            self.result.retrying += 1
            return False
        self.store.operator.mark(key, "sent", at=iso(self.now))
        self.result.sent += 1
        return True


def deliver(store: Store, channel: EmailChannel, now: datetime, retry_max: float) -> OperatorRound:
    """Send the operator's queued alerts (one mail per address and round); see the module
    docstring. The caller holds the outbox lock and the channel's session."""
    job = _Delivery(store, channel, now, retry_max)
    job.run()
    return job.result
