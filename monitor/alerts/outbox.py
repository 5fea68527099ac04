"""The transactional outbox: match events to subscriptions, send each (event, subscription)
exactly once, and keep the feeds current.

How a round works (``deliver_round``):
1. ``enqueue_new`` matches every event newer than a subscription's ``seen_event_id`` and
   inserts one ``deliveries`` row per match (UNIQUE(event_id, subscription_id)).
2. Per subscription, batches left in ``sending`` (a crash, or a retryable failure whose
   back-off has passed) are resent with the SAME key, hence the same Message-ID.
3. Pending rows then form new batches: one digest per subscription and round (at most
   ``MAX_DIGEST`` events per mail), or one mail per event for ``immediate``. A batch is
   claimed (status ``sending``, key, Message-ID) in the database BEFORE it is sent.
4. Sent → ``sent``. Retryable failure → back off (exponential, capped by ``retry_max``)
   and the batch waits, unchanged. Permanent failure → ``failed`` (kept; ``nianbao
   deliver --retry-failed`` requeues). Nothing is dropped.
5. With operator addresses, the operator's alerts are queued and sent the same way
   (``monitor.alerts.operator``: own rows, own Message-IDs, never in a subscriber's mail).

Each subscription delivers through its channel (``monitor.alerts.channels``): email over
the round's SMTP connection, or a signed webhook POST, or apprise, with the same batches,
keys and back-off. An SMTP server that is down stops the round's mails; a webhook or chat
service that fails holds back only its own subscription. Events are handed to channels
with their changed numbers named by table cell (``monitor.alerts.cells``). The feed files
are rewritten after the round by ``monitor.alerts.feedfiles`` (re-exported here).

May import: monitor.alerts (and .operator, .feedfiles), monitor.store.locks, monitor.models,
monitor.store, monitor.config.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby

from monitor import alerts
from monitor.alerts import channels, operator
from monitor.alerts.feedfiles import (  # noqa: F401  (re-exported: outbox.feed_events, ...)
    FEED_WINDOW,
    feed_events,
    name_cells,
    write_feeds,
    write_one_feed,
)
from monitor.config import FeedConfig, OperatorConfig
from monitor.models import Event, Subscription, iso
from monitor.store import Store
from monitor.store.locks import OUTBOX_LOCK, describe, named_lock
from monitor.store.rows import ChannelRow, Delivery

logger = logging.getLogger(__name__)

MAX_DIGEST = 200
RETRY_BASE = 5.0
RETRY_MAX = 300.0
HintFn = Callable[[Subscription], str]


def backoff(attempts: int, cap: float = RETRY_MAX, base: float = RETRY_BASE) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt.

    >>> [backoff(n, cap=60) for n in (1, 2, 3, 4, 5)]
    [5.0, 10.0, 20.0, 40.0, 60]
    """
    return min(cap, base * 2 ** max(0, attempts - 1))


def cli_hint(sub: Subscription) -> str:
    """The default unsubscribe line: the command to run."""
    return f"nianbao unsubscribe {sub.token}"


@dataclass
class RoundSummary:
    """What one delivery round did (``--json`` shape: ``to_json()``)."""

    enqueued: int = 0
    mails_sent: int = 0
    deliveries_sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: str = ""
    feeds_written: int = 0
    errors: list[str] = field(default_factory=list)
    operator_sent: int = 0
    operator_retrying: int = 0

    def to_json(self) -> dict:
        return asdict(self)


def enqueue_new(store: Store) -> tuple[int, set[int]]:
    """Insert outbox rows for events not yet matched; returns (rows added, subscription ids)."""
    subs = store.subscriptions.active()
    if not subs:
        return 0, set()
    events = store.events.after(min(mark for _, mark in subs))
    if not events:
        return 0, set()
    pairs: list[tuple[int, int]] = []
    seen: dict[int, int] = {}
    for sub, mark in subs:
        pairs.extend((e.id, sub.id) for e in events if e.id > mark and sub.matches(e))
        seen[sub.id] = events[-1].id
    added = store.outbox.enqueue(pairs, seen)
    if added:
        logger.info("Queued %d deliveries for %d events", added, len(events))
    return added, {s for _, s in pairs}


class _Round:
    """One pass over the outbox; holds what every batch needs."""

    def __init__(
        self,
        store: Store,
        channel: alerts.EmailChannel,
        now: datetime,
        retry_max: float,
        hint: HintFn,
    ) -> None:
        self.store, self.channel, self.now = store, channel, now
        self.retry_max, self.hint = retry_max, hint
        self.summary = RoundSummary()
        self.server_down = False

    def run(self) -> None:
        rows = self.store.outbox.rows(["pending", "sending"])
        for sub_id, group in groupby(rows, key=lambda r: r.subscription_id):
            sub = self.store.subscriptions.get(sub_id)
            where = self.store.subscriptions.channel(sub_id)
            if sub is None or where is None:
                continue
            if self.server_down and where.channel == "email":
                continue  # the SMTP server is down: mails wait; other channels go on
            self.subscription(sub, list(group), self.channel_for(where))

    def channel_for(self, where: ChannelRow) -> alerts.Channel:
        """The channel a subscription delivers through (email: the round's SMTP channel)."""
        public_url = self.channel.public_url
        if where.channel == "webhook" and where.target:
            return channels.WebhookChannel(where.target, where.secret or "", public_url)
        if where.channel == "apprise" and where.target:
            return channels.AppriseChannel(where.target, public_url)
        return self.channel

    def subscription(
        self, sub: Subscription, rows: list[Delivery], channel: alerts.Channel
    ) -> None:
        """Resend outstanding batches (in order), then batch what is pending."""
        outstanding = [r for r in rows if r.status == "sending"]
        for key, batch in groupby(outstanding, key=lambda r: r.key):
            batch = list(batch)
            if batch[0].next_attempt_at and batch[0].next_attempt_at > iso(self.now):
                return  # backing off: later events wait behind this batch
            self.store.outbox.retry_attempt(key, iso(self.now))
            if not self.send(sub, key, batch, batch[0].attempts + 1, channel):
                return
        pending = [r for r in rows if r.status == "pending"]
        size = 1 if sub.digest == "immediate" else MAX_DIGEST
        for start in range(0, len(pending), size):
            batch = pending[start : start + size]
            key = f"outbox-{batch[0].id}"
            if isinstance(channel, channels.WebhookChannel):
                message_id = channels.idempotency_key(key, channel.secret)
            elif channel is self.channel:
                message_id = alerts.message_id_for(key, self.channel.smtp.sender)
            else:
                message_id = key
            self.store.outbox.claim([r.id for r in batch], key, message_id, iso(self.now))
            if not self.send(sub, key, batch, batch[0].attempts + 1, channel):
                return

    def events(self, rows: list[Delivery]) -> list[Event]:
        """The batch's events, their changed numbers named by table cell."""
        by_id = self.store.events.by_id([r.event_id for r in rows])
        events = [by_id[r.event_id] for r in rows if r.event_id in by_id]
        return name_cells(self.store, events)

    def send(
        self,
        sub: Subscription,
        key: str,
        rows: list[Delivery],
        attempts: int,
        channel: alerts.Channel,
    ) -> bool:
        """Send one claimed batch and record the outcome; True when it was accepted."""
        events = self.events(rows)
        result = alerts.deliver(channel, sub, events, key=key, unsubscribe_hint=self.hint(sub))
        if result.ok:
            self.store.outbox.mark_sent(key, iso(datetime.now(UTC)))
            self.summary.mails_sent += 1
            self.summary.deliveries_sent += len(rows)
            return True
        self.summary.errors.append(f"{key}: {result.detail}")
        if not result.retryable:
            self.store.outbox.mark_failed(key, result.detail)
            self.summary.failed += len(rows)
            logger.error(
                "Delivery %s to subscription %s failed for good: %s", key, sub.id, result.detail
            )
            return True  # this batch is settled; later ones may still go
        delay = backoff(attempts, self.retry_max)
        self.store.outbox.mark_retry(key, result.detail, iso(self.now + timedelta(seconds=delay)))
        self.summary.retrying += len(rows)
        if channel is self.channel:
            self.server_down = "recipients refused" not in result.detail
        logger.warning(
            "Delivery %s to subscription %s will be retried in %.0f s: %s",
            key,
            sub.id,
            delay,
            result.detail,
        )
        return False


def deliver_round(
    store: Store,
    channel: alerts.EmailChannel,
    now: datetime | None = None,
    *,
    retry_max: float = RETRY_MAX,
    hint: HintFn = cli_hint,
    feeds: FeedConfig | None = None,
    owner: str = "deliver",
    operator: OperatorConfig | None = None,
) -> RoundSummary:
    """Run one delivery round (see the module docstring) and rewrite the feeds.

    Args:
        now: the round's clock (UTC); back-offs are due when ``next_attempt_at <= now``.
        retry_max: the cap of the exponential back-off, in seconds.
        hint: the unsubscribe line for a subscription (a command, or a link).
        feeds: where to write feeds after the round (None: no feeds).
        operator: who runs nianbao; their alerts are queued and sent in the same round
            (``monitor.alerts.operator``), never to subscribers.
    """
    now = now or datetime.now(UTC)
    with named_lock(store, OUTBOX_LOCK, owner) as holder:
        if holder is not None:
            logger.info("Delivery round skipped: another round is running (%s)", describe(holder))
            return RoundSummary(skipped=describe(holder))
        enqueued, touched = enqueue_new(store)
        job = _Round(store, channel, now, retry_max, hint)
        with channel.session():  # one SMTP connection for the round's mails
            job.run()
            if operator is not None and operator.emails:
                _operator_round(store, channel, job, operator)
        job.summary.enqueued = enqueued
        if feeds is not None:
            job.summary.feeds_written = write_feeds(store, feeds, touched)
    s = job.summary
    if s.mails_sent or s.retrying or s.failed:
        logger.info(
            "Delivery round: %d mails (%d events) sent, %d waiting for retry, %d failed",
            s.mails_sent,
            s.deliveries_sent,
            s.retrying,
            s.failed,
        )
    return s


def _operator_round(
    store: Store, channel: alerts.EmailChannel, job: _Round, opts: OperatorConfig
) -> None:
    """Queue the operator alerts whose state changed, and send them unless the server is down."""
    operator.notify(store, opts, job.now)
    if job.server_down:
        return
    done = operator.deliver(store, channel, job.now, job.retry_max)
    job.summary.operator_sent += done.sent
    job.summary.operator_retrying += done.retrying
    job.summary.errors.extend(done.errors)
