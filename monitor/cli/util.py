"""Shared pieces of the ``nianbao`` command line: option decorators, errors, output.

``seeds_option`` adds ``--seeds``/``--portal`` and hands the command its loaded seeds (bad
seeds: exit 2 with ``file:line: ...``); ``settings_option`` adds ``-s KEY=VALUE``.

May import: monitor.config, monitor.store, crawler.seeds, crawler.options.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import click

from crawler.options import BY_NAME
from crawler.seeds import Seed, SeedError, load_seeds
from monitor.config import TYPE_WORDS, default_db, fits, parse_duration
from monitor.store import DiskFull, Store, StoreError

DEFAULT_SEEDS = Path("seeds")


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


def load_seed_list(
    paths: tuple[Path, ...] | list[Path], portals: tuple[str, ...] = ()
) -> list[Seed]:
    """Load ``paths`` (default ``seeds/``), keeping only ``portals`` when given.

    A bad seed file is ``BadInput`` (exit 2) whose message starts ``file:line:``.
    """
    try:
        return load_seeds(list(paths or (DEFAULT_SEEDS,)), only=list(portals) or None)
    except SeedError as exc:
        raise BadInput(str(exc)) from None


def seeds_option(command: Callable) -> Callable:
    """Add ``--seeds`` and ``--portal`` to a command, which then gets ``seeds`` (loaded)."""

    @functools.wraps(command)
    def wrapper(*args, seed_paths: tuple[Path, ...], portals: tuple[str, ...], **kwargs):
        return command(*args, seeds=load_seed_list(seed_paths, portals), **kwargs)

    portal = click.option(
        "--portal", "portals", multiple=True, help="Only this portal id (repeatable)."
    )
    paths = click.option(
        "--seeds",
        "seed_paths",
        multiple=True,
        type=click.Path(path_type=Path),
        help="Seed file or directory (repeatable). Default: seeds/.",
    )
    return paths(portal(wrapper))


settings_option = click.option(
    "-s",
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    callback=lambda ctx, param, value: parse_settings(value),
    help="Override a crawl setting, e.g. -s DOWNLOAD_DELAY=0 (see `nianbao settings`).",
)


def duration(
    ctx: click.Context | None, param: click.Parameter | None, value: str | None
) -> float | None:
    """A click callback: ``30s`` / ``10m`` / ``1h`` → seconds."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def declared_option(name: str, *param_decls: str, **attrs) -> Callable:
    """A click option whose flag, default and env var come from the declared setting ``name``.

    Durations are parsed to seconds.
    """
    setting = BY_NAME[name]
    if setting.type == "duration":
        attrs.setdefault("callback", duration)
        attrs.setdefault("metavar", "DURATION")
    return click.option(
        setting.flag,
        *param_decls,
        default=setting.default,
        show_default=True,
        envvar=setting.env,
        show_envvar=bool(setting.env),
        **attrs,
    )


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def open_store(db: Path) -> Store:
    try:
        return Store(db)
    except DiskFull as exc:  # not bad input: the job could not run
        raise JobFailed(str(exc)) from None
    except StoreError as exc:
        raise BadInput(str(exc)) from None


def parse_settings(pairs: tuple[str, ...]) -> dict:
    """``-s KEY=VALUE`` pairs into Scrapy settings (values parsed as JSON when they can be).

    A value that does not fit the setting's type (a declared ``NIANBAO_*`` setting's, or
    the type of its default in ``crawler.settings``) is bad usage here, not a crawl that
    fails later on a ``ValueError``: ``-s NIANBAO_MAX_LIST_PAGES=many`` exits 2.
    """
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"--set {pair!r}: expected KEY=VALUE")
        kind = setting_type(key)
        if kind in ("str", "path"):
            out[key] = value  # as written: `-s NIANBAO_CONTACT=123` stays text
            continue
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
        if kind and not fits(out[key], kind):
            raise BadInput(f"--set {pair!r}: {key} takes {TYPE_WORDS[kind]}, not {value!r}")
    return out


def setting_type(key: str) -> str | None:
    """The type of setting ``key``: declared (``crawler.options``), else from its default
    in ``crawler.settings``: ``flag`` (a Scrapy bool), or ``float`` for any number (Scrapy
    reads some whole defaults, such as ``DOWNLOAD_TIMEOUT``, with ``getfloat``), else None
    (unchecked)."""
    if key in BY_NAME:
        return BY_NAME[key].type
    from crawler import settings as project

    default = getattr(project, key, None) if key.isupper() else None
    if isinstance(default, bool):
        return "flag"
    return "float" if isinstance(default, (int, float)) else None


def http_address(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[str, int] | None:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``PORT`` (loopback) → (host, port); bad values exit 2."""
    if not value:
        return None
    from monitor.web.server import ListenError, parse_listen  # the web stack: only when asked

    try:
        return parse_listen(value)
    except ListenError as exc:
        raise click.BadParameter(str(exc)) from None


def checked_public_url(value: str | None) -> str | None:
    """``--public-url`` / ``NIANBAO_PUBLIC_URL``: an http(s) address, or exit 2."""
    from monitor.web.server import PublicUrlError, public_url  # the web stack: only when asked

    try:
        return public_url(None, value) if value else None
    except PublicUrlError as exc:
        raise click.BadParameter(str(exc)) from None


def public_url_option(help: str) -> Callable:
    """``--public-url`` / ``NIANBAO_PUBLIC_URL``, checked (exit 2 when not http(s))."""
    return declared_option(
        "NIANBAO_PUBLIC_URL",
        "public_url",
        callback=lambda ctx, param, value: checked_public_url(value),
        help=help,
    )
