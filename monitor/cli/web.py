"""``nianbao serve`` (the web pages, read-only) and ``nianbao search`` (full-text search).

May import: monitor.cli.util (listen and public URL options),
monitor.daemon.status, monitor.web, monitor.store, crawler.textnorm.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from crawler.textnorm import normalise
from monitor.cli.textout import terminal_safe
from monitor.cli.util import (
    BadInput,
    db_option,
    declared_option,
    echo_json,
    http_address,
    json_option,
    open_store,
    public_url_option,
)
from monitor.store.search import MARK_END, MARK_START

DEFAULT_LISTEN = "127.0.0.1:8080"


@click.command()
@click.option(
    "--http",
    default=DEFAULT_LISTEN,
    show_default=True,
    callback=http_address,
    metavar="HOST:PORT",
    help="Where to listen (a bare PORT binds 127.0.0.1; put a reverse proxy in front).",
)
@declared_option("NIANBAO_WEB_TOKEN", "auth_token", help="Every page needs this token.")
@public_url_option("The address people reach the pages at (behind a reverse proxy).")
@click.option(
    "--feeds",
    "feed_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the feed files. Default: feeds/ next to the database.",
)
@declared_option(
    "NIANBAO_GRACE_DAYS",
    "grace",
    type=int,
    help="Days after 31 January of Y+1 before year Y's report shows as missing on /coverage.",
)
@db_option
def serve(http, auth_token, public_url, feed_dir, grace, db) -> None:
    """Serve the web pages (overview, portals, reports, events, coverage, search) and the
    feeds, read-only, until Ctrl-C or SIGTERM."""
    from monitor.daemon.status import status as status_doc  # the web stack: only to serve
    from monitor.web import WebServer, create_app

    if not Path(db).exists():
        raise BadInput(f"{db}: no such database (crawl first, or give --db)")
    open_store(db).close()  # a damaged or foreign file: exit 2 now, not on the first page
    app = create_app(
        db,
        feed_dir or Path(db).parent / "feeds",
        auth_token=auth_token,
        status=status_doc,
        grace_days=grace,
    )
    server = WebServer(app, *http)
    base = server.start()
    click.echo(f"Serving {public_url or base}" + (" (token required)" if auth_token else ""))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        server.stop()


def _plain(snippet: str) -> str:
    return snippet.replace("\n", " ").replace(MARK_START, "[").replace(MARK_END, "]")


@click.command()
@click.argument("query")
@click.option("--year", type=int, help="Only reports for this year.")
@click.option("--region", help="Only reports whose region contains this (e.g. 江苏).")
@click.option("--issuer", help="Only reports whose issuer contains this text.")
@click.option("--all-versions", is_flag=True, help="Search every version, not only the newest.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@db_option
@json_option
def search(query, year, region, issuer, all_versions, limit, db, as_json) -> None:
    """Full-text search over the reports' texts (newest version of each by default);
    traditional and full-width characters find their simplified, half-width forms."""
    terms = normalise(query).split()
    if not terms:
        raise BadInput("the query is empty")
    with open_store(db) as store:
        hits = store.search.query(
            terms, year=year, region=region, issuer=issuer, all_versions=all_versions, limit=limit
        )
    if as_json:
        echo_json([h.to_json() for h in hits])
        return
    if not hits:
        click.echo("No results.")
    for h in hits:
        old = "" if h.current else f" (older version {h.version_id})"
        click.echo(terminal_safe(f"#{h.report_id} {h.issuer} {h.year} {h.title}{old}\n    {h.url}"))
        click.echo(terminal_safe(f"    {_plain(h.snippet)}"))
