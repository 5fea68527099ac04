"""Alert channels: the ``Channel`` protocol and ``deliver``, which runs one delivery.

A channel gets a subscription and its events and publishes them: ``EmailChannel``,
``monitor.alerts.channels.WebhookChannel`` and ``AppriseChannel`` (what a subscription's
``channel`` names), and ``monitor.alerts.feed.FeedChannel`` (a feed file per subscription).
Channels never run SQL: the caller (``monitor.alerts.outbox``) picks the events, passes a
stable delivery ``key``, and records the ``DeliveryResult`` it gets back. The outbox is
built with the round's email channel and makes the others from each subscription's row.

May import: the standard library, ``monitor.models``, ``monitor.config`` and the modules here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from monitor.alerts.email import DeliveryError, EmailChannel, message_id_for
from monitor.models import Event, Subscription

logger = logging.getLogger(__name__)

__all__ = [
    "Channel",
    "DeliveryError",
    "DeliveryResult",
    "EmailChannel",
    "deliver",
    "message_id_for",
]


class Channel(Protocol):
    """What every alert channel offers. ``deliver`` raises ``DeliveryError`` or ``OSError``."""

    name: ClassVar[str]

    def deliver(
        self,
        subscription: Subscription,
        events: Sequence[Event],
        *,
        key: str,
        unsubscribe_hint: str,
    ) -> str: ...


@dataclass
class DeliveryResult:
    """The outcome of one delivery.

    Fields: channel (name), key (the caller's delivery key), event_ids, ok, retryable (only
    meaningful when not ok), detail (message id / file path, or the error; never a secret).
    """

    channel: str
    key: str
    event_ids: list[int | None]
    ok: bool
    retryable: bool = False
    detail: str = ""


def deliver(
    channel: Channel,
    subscription: Subscription,
    events: Sequence[Event],
    *,
    key: str,
    unsubscribe_hint: str,
) -> DeliveryResult:
    """Run one delivery and turn its outcome (or failure) into a ``DeliveryResult``.

    Args:
        key: a stable id of this delivery (e.g. the outbox row id); the same key on a retry
            gives the same Message-ID, so a resent mail is recognisable.
        unsubscribe_hint: the CLI command or link printed in every mail body.
    """
    ids = [e.id for e in events]
    try:
        detail = channel.deliver(subscription, events, key=key, unsubscribe_hint=unsubscribe_hint)
    except DeliveryError as exc:
        return DeliveryResult(channel.name, key, ids, False, exc.retryable, str(exc))
    except OSError as exc:
        logger.warning("Channel %s failed for delivery %s: %s", channel.name, key, exc)
        return DeliveryResult(channel.name, key, ids, False, True, str(exc))
    return DeliveryResult(channel.name, key, ids, True, detail=detail)
