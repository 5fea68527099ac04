"""The alert and daemon commands of ``nianbao``: daemon, status, subscribe, unsubscribe,
subscribers, feed, deliver (``monitor.cli.COMMANDS`` lists them).

A thin layer: may import monitor.cli.util, monitor.daemon.scheduler, monitor.alerts.outbox,
monitor.alerts.targets (parsing --to), monitor.alerts.channels, monitor.alerts.placeholders,
monitor.daemon.status, monitor.store, monitor.config, monitor.models, crawler.seeds.
"""

from __future__ import annotations

import json
import logging
import re
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
from monitor.models import EventKind, Subscription

EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
KINDS = [k.value for k in EventKind]
SUB_FIELDS = (
    "id",
    "email",
    "region",
    "issuer",
    "year",
    "kinds",
    "keyword",
    "digest",
    "active",
    "created_at",
    "start_event_id",
    "token",
    "pending",
    "sending",
    "sent",
    "failed",
    "channel",
    "target",
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


def sub_json(row: dict) -> dict:
    from monitor.alerts import targets  # the alerts stack loads with the commands that use it

    data = {k: row.get(k) for k in SUB_FIELDS if k in row}
    data["kinds"] = (
        json.loads(row["kinds"]) if isinstance(row.get("kinds"), str) else row.get("kinds")
    )
    data["active"] = bool(row.get("active", 1))
    channel = row.get("channel") or "email"
    data["channel"] = channel
    url = row.get("target") if channel != "email" else row.get("email")
    data["target"] = targets.Target(channel, url or "").shown
    return data


def who(doc: dict) -> str:
    """Where a subscription (its ``sub_json``) delivers, as lists show it."""
    return doc["email"] if doc["channel"] == "email" else doc["target"]


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
@click.argument("email", required=False)
@click.option(
    "--to",
    "to",
    metavar="URL",
    help="Where alerts go instead of EMAIL: mailto:ADDRESS, a webhook (https://…), or an "
    "apprise URL (dingtalk://, wecombot://, feishu://, json://, tgram://, …). Write secrets "
    "as ${NAME}: they are read from the environment when sending, never stored.",
)
@click.option("--region", help="Only events whose region contains this (e.g. 江苏).")
@click.option("--issuer", help="Only events whose issuer contains this text.")
@click.option("--year", type=int, help="Only reports for this year.")
@click.option(
    "--kind", "kinds", metavar="KIND[,KIND]", help=f"Only these kinds: {', '.join(KINDS)}."
)
@click.option("--keyword", help="Only events whose title, issuer or diff contains this text.")
@click.option(
    "--digest",
    type=click.Choice(["daily", "immediate"]),
    default="daily",
    show_default=True,
    help="daily: one digest per delivery round; immediate: one mail per event.",
)
@click.option("--backfill", is_flag=True, help="Also deliver the events already recorded.")
@db_option
@json_option
def subscribe(
    email, to, region, issuer, year, kinds, keyword, digest, backfill, db, as_json
) -> None:
    """Subscribe EMAIL (or --to URL) to the events that match every given filter (from now on)."""
    from monitor.alerts import channels, targets
    from monitor.alerts.email import valid_address
    from monitor.alerts.placeholders import placeholders

    if bool(email) == bool(to):
        raise BadInput("give either EMAIL or --to URL (exactly one)")
    if to:
        try:
            target = targets.parse_target(to)
        except targets.TargetError as exc:
            raise BadInput(f"--to: {exc}") from None
        if target.channel == "email":
            email, target = target.url, None
    else:
        target = None
    if target is None and (not EMAIL.match(email) or not valid_address(email)):
        raise BadInput(f"{email[:80]!r} is not an email address (at most 254 characters)")
    kind_list = [k.strip() for k in (kinds or "").split(",") if k.strip()]
    unknown = sorted(set(kind_list) - set(KINDS))
    if unknown:
        raise BadInput(f"--kind: unknown kind(s) {', '.join(unknown)} (known: {', '.join(KINDS)})")
    secret = channels.new_secret() if target and target.channel == "webhook" else None
    sub = Subscription(
        email if target is None else "",
        region=region,
        issuer=issuer,
        year=year,
        kinds=kind_list,
        keyword=keyword,
        digest=digest,
    )
    with open_store(db) as store:
        created = store.subscriptions.add(
            sub,
            backfill=backfill,
            channel=target.channel if target else "email",
            target=target.url if target else None,
            secret=secret,
        )
        (row,) = [r for r in store.subscriptions.with_counts() if r.id == created.id]
    doc = sub_json(row.to_json())
    if as_json:
        echo_json({**doc, **({"webhook_secret": secret} if secret else {})})
        return
    start = "all recorded events" if backfill else f"events after #{row.start_event_id}"
    click.echo(f"Subscription {row.id} for {who(doc)} ({digest}); delivers {start}.")
    click.echo(f"Unsubscribe with: nianbao unsubscribe {row.token}")
    if secret:
        click.echo(
            f"Webhook signing key (shown only now; check X-Nianbao-Signature with it): {secret}"
        )
    missing = [n for n in placeholders(row.target or "") if not config.env(n)]
    if missing:
        click.echo(
            f"Note: {', '.join(missing)} not set here; set it where nianbao deliver / daemon runs.",
            err=True,
        )


@click.command()
@click.argument("ref")
@db_option
@json_option
def unsubscribe(ref, db, as_json) -> None:
    """End subscriptions: REF is a subscription id, its token, or an email (all of its subscriptions)."""
    with open_store(db) as store:
        rows = store.subscriptions.find(ref)
        if not rows:
            raise BadInput(f"no active subscription {ref!r} in {db}")
        store.subscriptions.deactivate([r.id for r in rows])
    if as_json:
        echo_json({"unsubscribed": [r.id for r in rows]})
    else:
        for r in rows:
            click.echo(f"Unsubscribed {r.id} ({who(sub_json(r.to_json()))}).")


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Include ended subscriptions.")
@db_option
@json_option
def subscribers(show_all, db, as_json) -> None:
    """List subscriptions with their filters and delivery counts."""
    with open_store(db) as store:
        rows = [
            sub_json(r.to_json()) for r in store.subscriptions.with_counts(active_only=not show_all)
        ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No subscriptions.")
    for r in rows:
        filters = ", ".join(f"{k}={r[k]}" for k in ("region", "issuer", "year", "keyword") if r[k])
        if r["kinds"]:
            filters = ", ".join(filter(None, [filters, "kind=" + ",".join(r["kinds"])]))
        click.echo(
            f"{r['id']:>4}  {who(r):<30} {r['digest']:<9} {'' if r['active'] else '(ended) '}"
            f"{filters or 'all events'}; sent {r['sent']}, pending {r['pending'] + r['sending']}, "
            f"failed {r['failed']}"
        )


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
