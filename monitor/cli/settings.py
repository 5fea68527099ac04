"""``nianbao settings``: print the declared settings table (``crawler.options.SETTINGS``).

Shows each setting's default, type, where it applies, its environment variable and flag,
and what the environment sets it to now (a secret shows as ``***``).

May import: crawler.options, monitor.config, monitor.cli.util.
"""

from __future__ import annotations

import json

import click

from crawler.options import SETTINGS, WHERE, Setting
from monitor.cli.util import db_option, echo_json, json_option
from monitor.config import env


def current(setting: Setting) -> str | None:
    """What the environment sets ``setting`` to now (masked when secret), or None."""
    value = env(setting.env) if setting.env else None
    if value and setting.secret:
        return "***"
    return value


def row(setting: Setting) -> dict:
    return {**setting.to_json(), "value": current(setting)}


def text(setting: Setting) -> str:
    default = json.dumps(setting.default, ensure_ascii=False)
    where = f"[{setting.applies}]"
    how = ", ".join(filter(None, [setting.env and f"${setting.env}", setting.flag]))
    line = f"{setting.name:<30} {where:<9} {setting.type:<9} default {default}"
    if how:
        line += f"  ({how})"
    now = current(setting)
    if now is not None:
        line += f"  now {now}"
    return f"{line}\n    {setting.help}"


@click.command()
@click.option(
    "--applies",
    type=click.Choice(WHERE),
    help="Only the settings of this part (crawl, daemon, mail, web, all).",
)
@db_option
@json_option
def settings(applies: str | None, db, as_json: bool) -> None:
    """List nianbao's settings: default, type, where each applies, its env var and flag.

    Crawl settings are set per crawl with -s NAME=VALUE; the others from their environment
    variable or flag. --db is accepted like on every command; no database is read.
    """
    chosen = [s for s in SETTINGS if applies in (None, s.applies)]
    if as_json:
        echo_json([row(s) for s in chosen])
    else:
        click.echo("\n".join(text(s) for s in chosen))
