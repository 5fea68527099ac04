"""The subscription commands of ``nianbao``: subscribe, unsubscribe, subscribers
(``monitor.cli.COMMANDS`` lists them).

A thin layer: may import monitor.cli.util, monitor.alerts.targets (parsing --to),
monitor.alerts.channels, monitor.alerts.placeholders, monitor.alerts.email,
monitor.store, monitor.config, monitor.models.
"""

from __future__ import annotations

import json
import re

import click

from monitor import config
from monitor.cli.util import BadInput, db_option, echo_json, json_option, open_store
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
