"""The feed channel: Atom or RSS documents of events, built with feedgen and written atomically.

Each event gets a stable entry id (``tag:nianbao,2026:event/<id>``), so a reader that polls
twice sees no duplicates. Entry content is the escaped HTML fragment from ``render``.
Every string handed to feedgen loses its control characters first (one ``\\x01`` in a crawled
title would otherwise make the whole feed fail), and the RSS ``<description>``, which readers
render as HTML, is HTML-escaped before feedgen XML-escapes it. A subscription's feed is served
at ``/feeds/<feed_token>.atom``: ``feed_token`` derives it one way from the unsubscribe token,
so a feed URL that is shared never lets anyone unsubscribe.

May import: the standard library, feedgen, ``monitor.alerts.render``, ``monitor.models``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from feedgen.feed import FeedGenerator

from monitor.alerts import render
from monitor.models import Event, EventKind, Subscription

logger = logging.getLogger(__name__)

TAG_PREFIX = "tag:nianbao,2026:"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FORMATS = ("atom", "rss")


def feed_token(token: str) -> str:
    """The public token of a subscription's feed, derived one way from its unsubscribe token.

    >>> feed_token("abc"), len(feed_token("x" * 22))
    ('AX9y-Hmng4_9C0c0MUD6eLXa', 24)
    """
    digest = hashlib.sha256(b"nianbao-feed\0" + token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def feed_path(token: str, fmt: str = "atom") -> str:
    """The path a subscription's feed is served at (append it to the public URL).

    >>> feed_path("abc", "rss")
    '/feeds/AX9y-Hmng4_9C0c0MUD6eLXa.rss'
    """
    return f"/feeds/{feed_token(token)}.{fmt}"


def entry_id(event: Event) -> str:
    """The stable id of an event's feed entry.

    >>> entry_id(Event("edited", 3, "u", id=42))
    'tag:nianbao,2026:event/42'
    """
    if event.id is not None:
        return f"{TAG_PREFIX}event/{event.id}"
    key = f"{event.kind}|{event.report_id}|{event.new_version_id}|{event.url}|{event.detected_at}"
    return f"{TAG_PREFIX}event/h{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def entry_title(event: Event) -> str:
    """``[修改] <report title>``.

    >>> entry_title(Event("moved", 1, "u", title="2020年度报告"))
    '[迁移] 2020年度报告'
    """
    return f"[{event.label}] {event.title or '（无标题）'}"


def _when(event: Event) -> datetime:
    """``detected_at`` as an aware datetime (UTC if naive; the epoch if missing or bad)."""
    try:
        when = datetime.fromisoformat(event.detected_at)
    except (TypeError, ValueError):
        logger.debug("Event %s has no usable detected_at %r", event.id, event.detected_at)
        return EPOCH
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _summary(event: Event) -> str:
    bits = [event.label, event.issuer, f"{event.year}年" if event.year else "", event.title]
    if event.kind == EventKind.EDITED and event.sections:
        bits.append("变动章节：" + "、".join(event.sections))
    return " · ".join(b for b in bits if b)


def _add_entry(fg: FeedGenerator, event: Event, fmt: str) -> None:
    clean = render.strip_controls
    fe = fg.add_entry(order="append")
    fe.id(clean(entry_id(event)))
    fe.title(clean(entry_title(event)))
    href = render.safe_href(clean(event.url or ""))
    if href:
        fe.link(href=href, rel="alternate")
    when = _when(event)
    fe.updated(when)
    fe.published(when)
    summary = clean(_summary(event))
    # Atom's <summary> is text; RSS's <description> is read as HTML, so escape it as HTML too.
    fe.description(escape(summary) if fmt == "rss" else summary, isSummary=True)
    fe.content(clean(render.render_entry_html(event)), type="html")


def build_feed(
    events: Sequence[Event],
    *,
    feed_id: str,
    title: str,
    link: str,
    self_url: str | None = None,
    fmt: str = "atom",
) -> bytes:
    """An Atom or RSS document (UTF-8 bytes) with one entry per event, newest first.

    Args:
        feed_id: a stable id for the feed, e.g. ``tag:nianbao,2026:subscription/<token>``.
        link: the page the feed is about (http/https).
        self_url: where the feed itself is served, if known (Atom ``rel="self"``).
        fmt: "atom" or "rss".

    The feed's ``updated`` is the newest event's time, so the same events give the same bytes.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown feed format {fmt!r}; expected one of {FORMATS}")
    ordered = sorted(events, key=lambda e: (_when(e), e.id or 0), reverse=True)
    clean = render.strip_controls
    fg = FeedGenerator()
    fg.id(clean(feed_id))
    fg.title(clean(title))
    fg.link(href=clean(link), rel="alternate")
    if self_url:
        fg.link(href=clean(self_url), rel="self")
    fg.description(escape(clean(title)) if fmt == "rss" else clean(title))
    fg.language("zh-CN")
    fg.generator("nianbao")
    fg.updated(max((_when(e) for e in ordered), default=EPOCH))
    fg.lastBuildDate(max((_when(e) for e in ordered), default=EPOCH))
    for event in ordered:
        _add_entry(fg, event, fmt)
    if fmt == "rss":
        return fg.rss_str(pretty=True)
    return fg.atom_str(pretty=True)


def write_feed(path: str | os.PathLike[str], events: Sequence[Event], **kwargs: object) -> Path:
    """Build a feed (``kwargs`` as for ``build_feed``) and replace ``path`` atomically."""
    target = Path(path)
    data = build_feed(events, **kwargs)  # type: ignore[arg-type]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fmt = kwargs.get("fmt", "atom")
    logger.info("Wrote %s feed with %d entries to %s", fmt, len(events), target)
    return target


class FeedChannel:
    """Write an Atom or RSS feed file per subscription, for feed readers to poll (no mail needed).

    Each delivery rewrites the whole feed from the events passed in (the recent window).
    """

    name = "feed"

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        link: str,
        base_url: str | None = None,
        fmt: str = "atom",
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown feed format {fmt!r}; expected one of {FORMATS}")
        self.directory = Path(directory)
        self.link = link
        self.base_url = base_url.rstrip("/") if base_url else None
        self.fmt = fmt

    @staticmethod
    def feed_key(subscription: Subscription) -> str:
        """The file-safe key of a subscription's feed: its token, else ``sub-<id>``.

        >>> FeedChannel.feed_key(Subscription("a@b.c", id=3, token="x/y"))
        'x-y'
        """
        raw = subscription.token or f"sub-{subscription.id}"
        return re.sub(r"[^A-Za-z0-9_.-]", "-", raw).lstrip(".") or "sub"

    def path_for(self, subscription: Subscription) -> Path:
        """Where ``deliver`` writes this subscription's feed, e.g. ``<dir>/<token>.atom.xml``."""
        return self.directory / f"{self.feed_key(subscription)}.{self.fmt}.xml"

    def deliver(
        self,
        subscription: Subscription,
        events: Sequence[Event],
        *,
        key: str,
        unsubscribe_hint: str,
    ) -> str:
        """Rewrite the subscription's feed with ``events`` (the whole window, not just new ones).

        ``key`` and ``unsubscribe_hint`` are unused: a feed is a document, not a message.
        Returns the path written.
        """
        path = self.path_for(subscription)
        self_url = f"{self.base_url}/{path.name}" if self.base_url else None
        write_feed(
            path,
            events,
            feed_id=f"{TAG_PREFIX}feed/{self.feed_key(subscription)}",
            title="年报监测",
            link=self.link,
            self_url=self_url,
            fmt=self.fmt,
        )
        return str(path)
