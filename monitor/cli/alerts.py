"""The alert and daemon commands of ``nianbao``: daemon, status, feed, deliver
(``monitor.cli.COMMANDS`` lists them; the subscription commands are in
``monitor.cli.subscriptions``).

A thin layer: may import monitor.cli.util, monitor.daemon.scheduler, monitor.alerts.outbox,
monitor.daemon.status, monitor.store, monitor.config, monitor.models, crawler.seeds.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from crawler.seeds import Seed
from monitor import config
from monitor.cli.util import (
    DEFAULT_SEEDS,
    BadInput,
    JobFailed,
    db_option,
    declared_option,
    duration,
    echo_json,
    http_address,
    json_option,
    open_store,
    public_url_option,
    seeds_option,
    settings_option,
)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log line: time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            },
            ensure_ascii=False,
        )


def setup_logging(level: str, as_json: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLogFormatter()
        if as_json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=getattr(logging, level.upper()), handlers=[handler], force=True)
    if level != "debug":  # "Running job ..." every few seconds says nothing our own lines do not
        logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)


@click.command()
@seeds_option
@click.option(
    "--every",
    callback=duration,
    metavar="DURATION",
    help="Crawl every portal at this fixed cadence (30s, 10m, 1h) instead of its schedule.",
)
@click.option(
    "--http",
    callback=http_address,
    metavar="HOST:PORT",
    help="Serve /feed.atom, /feeds/<token>.atom and unsubscribe links (a bare PORT binds 127.0.0.1).",
)
@public_url_option("Public address for links in mails and feeds.")
@declared_option(
    "NIANBAO_NUMBERED_FEEDS",
    "numbered_feeds",
    is_flag=True,
    help="Also serve feeds at guessable numbered URLs (/feeds/<id>.atom).",
)
@settings_option
@declared_option(
    "NIANBAO_RETRY_MAX", "retry_max", help="Longest back-off between delivery retries."
)
@declared_option(
    "NIANBAO_CRAWL_TIMEOUT",
    "crawl_timeout",
    help="A crawl running longer is stopped and recorded as failed.",
)
@declared_option(
    "NIANBAO_STOP_TIMEOUT",
    "stop_timeout",
    help="On SIGTERM, how long a running crawl may take to finish.",
)
@declared_option(
    "NIANBAO_DELIVER_EVERY",
    "deliver_every",
    help="How often the delivery job runs (it also runs after each crawl with events).",
)
@click.option(
    "--feeds",
    "feed_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for feed files. Default: feeds/ next to the database.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@db_option
@json_option
def daemon(
    seeds: list[Seed],
    every,
    http,
    public_url,
    numbered_feeds,
    settings,
    retry_max,
    crawl_timeout,
    stop_timeout,
    deliver_every,
    feed_dir,
    log_level,
    db,
    as_json,
) -> None:
    """Crawl on schedule and deliver alerts until stopped (SIGTERM/SIGINT); --json logs JSON lines."""
    from monitor.daemon.scheduler import run_daemon

    open_store(db).close()
    setup_logging(log_level, as_json)
    cfg = config.load(
        db,
        seeds=seeds,
        settings=settings,
        feed_dir=feed_dir,
        every=every,
        http=http,
        public_url=public_url,
        numbered_feeds=numbered_feeds,
        retry_max=retry_max,
        crawl_timeout=crawl_timeout,
        stop_timeout=stop_timeout,
        deliver_every=deliver_every,
    )
    where = click.get_current_context().params  # the seeds' files, read again on SIGHUP
    sys.exit(run_daemon(cfg, list(where["seed_paths"]) or [DEFAULT_SEEDS], where["portals"]))


@click.command()
@db_option
@json_option
def status(db, as_json) -> None:
    """Show the daemon, the outbox, and each portal's last run, next run and health."""
    from monitor.daemon.status import status as status_doc
    from monitor.daemon.status import status_text

    with open_store(db) as store:
        doc = status_doc(store)
    if as_json:
        echo_json(doc)
    else:
        click.echo(status_text(doc))


@click.command()
@click.option("--subscription", "sub_id", type=int, help="Only this subscription's events.")
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
@click.option(
    "--format", "fmt", type=click.Choice(["atom", "rss"]), default="atom", show_default=True
)
@declared_option("NIANBAO_FEED_LINK", "link", help="The page the feed is about.")
@db_option
@json_option
def feed(sub_id, out, fmt, link, db, as_json) -> None:
    """Write an Atom or RSS feed of the latest events (of everything, or of one subscription)."""
    from monitor.alerts import outbox

    with open_store(db) as store:
        sub = None
        if sub_id is not None:
            sub = store.subscriptions.get(sub_id)
            if sub is None:
                raise BadInput(f"no subscription {sub_id} in {db}")
        opts = config.FeedConfig(out.parent, link=link, fmt=fmt)
        entries = len(outbox.feed_events(store, sub))
        outbox.write_one_feed(store, opts, sub, out)
    if as_json:
        echo_json({"path": str(out), "format": fmt, "entries": entries, "subscription": sub_id})
    else:
        click.echo(f"Wrote {fmt} feed with {entries} entries to {out}")


@click.command()
@click.option("--retry-failed", is_flag=True, help="First requeue deliveries that failed for good.")
@declared_option("NIANBAO_RETRY_MAX", "retry_max", help="Longest back-off between retries.")
@public_url_option("Public address of the web server, for unsubscribe links and headers in mails.")
@click.option(
    "--feeds",
    "feed_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also rewrite the feeds in this folder.",
)
@db_option
@json_option
def deliver(retry_failed, retry_max, public_url, feed_dir, db, as_json) -> None:
    """Run one delivery round now: queue matching events, send due mails, record the outcome."""
    from monitor.alerts import EmailChannel, outbox

    setup_logging("warning")
    cfg = config.load(db, feed_dir=feed_dir, retry_max=retry_max, public_url=public_url)
    with open_store(db) as store:
        requeued = store.outbox.retry_failed() if retry_failed else 0
        summary = outbox.deliver_round(
            store,
            EmailChannel(cfg.smtp, public_url=cfg.public_url),
            retry_max=cfg.retry_max,
            feeds=cfg.feed if feed_dir else None,
            owner="cli",
            operator=cfg.operator,
        )
    if as_json:
        echo_json({**summary.to_json(), "requeued": requeued})
    else:
        click.echo(
            f"Queued {summary.enqueued}; sent {summary.mails_sent} mails ({summary.deliveries_sent} "
            f"events); {summary.retrying} waiting for retry; {summary.failed} failed"
            + (
                f"; skipped: another round is running ({summary.skipped})"
                if summary.skipped
                else ""
            )
        )
        for err in summary.errors:
            click.echo(f"  {err}", err=True)
    if summary.retrying or summary.failed or summary.skipped:
        raise JobFailed("some deliveries did not go out (they stay queued)")
