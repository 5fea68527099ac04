"""Shared pieces of the ``nianbao`` command line: option decorators, errors, output.

May import: monitor.config, monitor.store.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from monitor.config import default_db
from monitor.store import Store, StoreError


class BadInput(click.ClickException):
    """Bad usage or bad input: exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


class JobFailed(click.ClickException):
    """The job ran but failed (exit 1)."""


db_option = click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="NIANBAO_DB",
    default=default_db,
    show_default="nianbao.db or $NIANBAO_DB",
    help="SQLite database file.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (a stable format).")


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def open_store(db: Path) -> Store:
    try:
        return Store(db)
    except StoreError as exc:
        raise BadInput(str(exc)) from None


def parse_settings(pairs: tuple[str, ...]) -> dict:
    """``-s KEY=VALUE`` pairs into Scrapy settings (values parsed as JSON when they can be)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"--set {pair!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out
