"""The feed files the outbox keeps current: after each delivery round, ``feed.atom`` (every
event) and one feed per subscription that got events are rewritten, and feeds of ended
subscriptions removed (``write_feeds``). The feed documents themselves are built and
written atomically by ``monitor.alerts.feed``.

``name_cells`` names an event's changed numbers by table cell (``monitor.alerts.cells``);
the outbox uses it for mails too.

May import: monitor.alerts.cells, monitor.alerts.feed, monitor.models, monitor.store,
monitor.config.
"""

from __future__ import annotations

from pathlib import Path

from monitor.alerts import cells
from monitor.alerts.feed import TAG_PREFIX, write_feed
from monitor.config import FeedConfig
from monitor.models import Event, Subscription
from monitor.store import Store

FEED_WINDOW = 100


def name_cells(store: Store, events: list[Event]) -> list[Event]:
    """``events`` with their changed numbers named by table cell where both versions have a
    STATS.md record (``monitor.alerts.cells``)."""
    ids = cells.version_ids(events)
    if not ids:
        return events
    return cells.name_all(events, store.stats.records(ids))


def feed_events(
    store: Store,
    sub: Subscription | None,
    window: int = FEED_WINDOW,
    recent: list[Event] | None = None,
) -> list[Event]:
    """The latest events for a feed: everything, or what ``sub`` matches among the recent ones.

    Args:
        recent: the newest ``window * 5`` events, when the caller already loaded them.
    """
    recent = recent if recent is not None else store.events.latest(window * 5)
    if sub is None:
        return name_cells(store, recent[:window])
    return name_cells(store, [e for e in recent if sub.matches(e)][:window])


def write_one_feed(
    store: Store,
    opts: FeedConfig,
    sub: Subscription | None,
    out: Path,
    recent: list[Event] | None = None,
) -> Path:
    """Write the feed of everything (``sub`` None) or of one subscription to ``out``."""
    name = "feed" if sub is None else f"subscription/{sub.id}"
    self_url = None
    if opts.base_url:
        self_url = opts.base_url + ("/feed.atom" if sub is None else f"/feeds/{sub.id}.atom")
    title = "年报监测" if sub is None else f"年报监测 · 订阅 {sub.id}"
    return write_feed(
        out,
        feed_events(store, sub, recent=recent),
        feed_id=f"{TAG_PREFIX}{name}",
        title=title,
        link=opts.link,
        self_url=self_url,
        fmt=opts.fmt,
    )


def write_feeds(store: Store, opts: FeedConfig, touched: set[int] | None = None) -> int:
    """Rewrite ``feed.atom`` and each subscription's feed that got events (or has none yet).

    Feeds of subscriptions that ended are removed. Returns how many files were written.
    """
    ext = "atom" if opts.fmt == "atom" else "rss"
    recent = store.events.latest(FEED_WINDOW * 5)
    write_one_feed(store, opts, None, opts.directory / f"feed.{ext}", recent)
    written = 1
    for row in store.subscriptions.with_counts(active_only=False):
        path = opts.directory / f"{row.id}.{ext}"
        if not row.active:
            path.unlink(missing_ok=True)
        elif touched is None or row.id in touched or not path.exists():
            write_one_feed(store, opts, store.subscriptions.get(row.id), path, recent)
            written += 1
    return written
