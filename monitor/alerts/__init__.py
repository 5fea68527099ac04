"""Alert channels: the ``Channel`` protocol, the explicit ``CHANNELS`` registry, and ``deliver``.

A channel gets a subscription and its events and publishes them (mail, feed file). Alerts never
run SQL and never import ``monitor.store``: the caller (the cycle's outbox) picks the events,
passes a stable delivery ``key``, and records the ``DeliveryResult`` it gets back.
Each channel class's docstring is its help text (``channel_help``).

May import: the standard library, ``monitor.models``, ``monitor.config`` and the modules here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from monitor.alerts.email import DeliveryError, EmailChannel, message_id_for
from monitor.alerts.feed import FeedChannel
from monitor.models import Event, Subscription

logger = logging.getLogger(__name__)

__all__ = [
    "CHANNELS",
    "Channel",
    "DeliveryError",
    "DeliveryResult",
    "EmailChannel",
    "FeedChannel",
    "channel_help",
    "deliver",
    "matching",
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


CHANNELS: dict[str, type] = {"email": EmailChannel, "feed": FeedChannel}
"""The registry: channel name → class. Add a channel here, explicitly."""


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


def channel_help() -> dict[str, str]:
    """Channel name → first line of its docstring, for ``--help`` texts.

    >>> sorted(channel_help())
    ['email', 'feed']
    """
    return {name: (cls.__doc__ or "").strip().splitlines()[0] for name, cls in CHANNELS.items()}


def matching(subscription: Subscription, events: Iterable[Event]) -> list[Event]:
    """The events a subscription asked for, in their given order."""
    return [e for e in events if subscription.matches(e)]


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
