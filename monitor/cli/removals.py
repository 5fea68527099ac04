"""``nianbao removals [confirm|dismiss PORTAL_ID]``: removals held as suspect (issue 13).

A portal that broke, or lost more than ``NIANBAO_MASS_REMOVAL`` of its reports in one
crawl, has its removals held: no event, no subscriber told. This lists them with why,
turns a portal's into ``removed`` events now (``confirm``), or drops them (``dismiss``).

May import: monitor.events.removals, monitor.cli.util, monitor.cli.textout.
"""

from __future__ import annotations

import click

from monitor.cli.textout import event_line, terminal_safe
from monitor.cli.util import BadInput, db_option, echo_json, json_option, open_store
from monitor.events import removals as guard

HELD_FIELDS = (
    "report_id",
    "portal_id",
    "run_id",
    "held_at",
    "reason",
    "healthy_runs",
    "url",
    "title",
    "year",
)


@click.group(invoke_without_command=True)
@db_option
@json_option
@click.pass_context
def removals(ctx: click.Context, db, as_json: bool) -> None:
    """List the removals held as suspect (a broken portal, or too many at once), with why."""
    ctx.obj = {"db": db, "as_json": as_json}
    if ctx.invoked_subcommand is not None:
        return
    with open_store(db) as store:
        held = [h.to_json() for h in store.reports.held()]
    if as_json:
        echo_json(held)
        return
    if not held:
        click.echo("No removals held.")
    for portal_id in dict.fromkeys(h["portal_id"] for h in held):
        rows = [h for h in held if h["portal_id"] == portal_id]
        click.echo(f"{portal_id}: {len(rows)} removals held since {rows[0]['held_at']}")
        click.echo(f"  why: {rows[0]['reason']}")
        for h in rows:
            click.echo(
                terminal_safe(
                    f"  #{h['report_id']} {h['year'] or ''} {h['title'] or ''}\n      {h['url']}"
                )
            )
        click.echo(
            f"  nianbao removals confirm {portal_id}  |  nianbao removals dismiss {portal_id}"
        )


def _portal(db, portal_id: str) -> None:
    with open_store(db) as store:
        if portal_id not in store.runs.names():
            raise BadInput(f"no portal {portal_id!r} in {db}")


@removals.command()
@click.argument("portal_id")
@db_option
@json_option
@click.pass_context
def confirm(ctx: click.Context, portal_id: str, db, as_json: bool) -> None:
    """Turn PORTAL_ID's held removals into `removed` events now (subscribers are told)."""
    db, as_json = _options(ctx, db, as_json)
    _portal(db, portal_id)
    with open_store(db) as store:
        events = guard.confirm(store, portal_id)
    if as_json:
        echo_json({"portal_id": portal_id, "removed": [e.to_json() for e in events]})
        return
    click.echo(f"{portal_id}: {len(events)} removals confirmed.")
    for event in events:
        click.echo(event_line(event))


@removals.command()
@click.argument("portal_id")
@db_option
@json_option
@click.pass_context
def dismiss(ctx: click.Context, portal_id: str, db, as_json: bool) -> None:
    """Drop PORTAL_ID's held removals: the reports stay as they are, no event."""
    db, as_json = _options(ctx, db, as_json)
    _portal(db, portal_id)
    with open_store(db) as store:
        dropped = guard.dismiss(store, portal_id)
    if as_json:
        echo_json({"portal_id": portal_id, "dismissed": dropped})
    else:
        click.echo(f"{portal_id}: {dropped} held removals dismissed.")


def _options(ctx: click.Context, db, as_json: bool) -> tuple:
    """``--db``/``--json`` given before or after the subcommand."""
    parent = ctx.parent.obj if ctx.parent and ctx.parent.obj else {}
    source = ctx.get_parameter_source("db")
    if source is not None and source.name == "DEFAULT" and parent.get("db"):
        db = parent["db"]
    return db, as_json or parent.get("as_json", False)
