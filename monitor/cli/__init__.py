"""The ``nianbao`` command line: a thin layer over cycle, store, events and crawler.seeds.

The group is defined here and every command is registered here, from the list ``COMMANDS``
(each command lives in its module: crawl, runs, reports, alerts, subscriptions, removals,
seeds, settings, demo, web; ``extract`` is below). Exit codes: 0 success; 1 the job ran but
some of it failed (the output says what); 2 bad usage or bad input (the message names the
file and line).
"""

from __future__ import annotations

from pathlib import Path

import click

from monitor import __version__
from monitor.cli import alerts, reports, runs, stats, subscriptions, web
from monitor.cli.browse import browse
from monitor.cli.crawl import crawl
from monitor.cli.db import Group, backup, db_group
from monitor.cli.demo import demo_command
from monitor.cli.distributed import ingest, worker
from monitor.cli.export import export
from monitor.cli.findings import findings
from monitor.cli.removals import removals
from monitor.cli.seeds import seeds
from monitor.cli.settings import settings
from monitor.cli.textout import terminal_safe
from monitor.cli.util import BadInput, JobFailed, db_option, echo_json, json_option, open_store


@click.group(cls=Group)  # a damaged database file: a clear error, never a traceback
@click.version_option(__version__, prog_name="nianbao")
def cli() -> None:
    """nianbao (年报): find, version and watch government information-disclosure annual reports."""


@click.command()
@click.argument("target")
@db_option
@json_option
def extract(target, db, as_json) -> None:
    """Show what nianbao sees in one saved page or report file (HTML, PDF, DOCX) or URL.

    When the database exists and knows the URL, also say whether the text equals the
    stored version (``report_id``, ``stored_version_id``, ``same_as_stored``).
    """
    from crawler.extract import judge  # the crawl's own verdict

    body, url, ctype = fetch_target(target)
    ex = judge(body, url, content_type=ctype)
    data = {
        "url": url,
        "title": ex.title,
        "issuer": ex.issuer,
        "year": ex.year,
        "published": ex.published,
        "is_report": ex.is_report,
        "reason": ex.reason,
        "quality": ex.quality,
        "problem": ex.problem,
        "text_sha": ex.text_sha,
        "attachments": ex.attachments,
        "report_id": None,
        "stored_version_id": None,
        "same_as_stored": None,
        "text": ex.text,
    }
    if Path(db).exists():
        with open_store(db) as store:
            report = store.reports.find(url)
        if report:
            data.update(
                report_id=report.id,
                stored_version_id=report.current_version_id,
                same_as_stored=report.text_sha == ex.text_sha,
            )
    if as_json:
        echo_json(data)
        return
    keys = [
        "url",
        "title",
        "issuer",
        "year",
        "published",
        "is_report",
        "reason",
        "quality",
        "problem",
    ]
    for key in keys + (["report_id", "same_as_stored"] if data["report_id"] else []):
        click.echo(terminal_safe(f"{key + ':':<11}{data[key]}"))
    click.echo("-" * 40)
    click.echo(terminal_safe(ex.text))


def fetch_target(target: str) -> tuple[bytes, str, str]:
    """Read a file, or fetch a URL once (a user's explicit request) under the crawl's caps:
    ``DOWNLOAD_MAXSIZE`` bytes, ``DOWNLOAD_TIMEOUT`` seconds in all (a trickling server
    is cut off), ``NIANBAO_HTML_MAXSIZE`` for a page. Over a cap: exit 1 naming it."""
    if target.startswith(("http://", "https://")):
        return _fetch_capped(target)
    path = Path(target)
    if not path.is_file():
        raise BadInput(f"{target}: no such file (give a saved page or an http(s) URL)")
    return path.read_bytes(), path.resolve().as_uri(), ""


def _fetch_capped(target: str) -> tuple[bytes, str, str]:
    import time
    import urllib.error
    import urllib.request

    from crawler import settings as crawl

    maxsize, timeout = crawl.DOWNLOAD_MAXSIZE, float(crawl.DOWNLOAD_TIMEOUT)
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(target, headers={"User-Agent": f"nianbao/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=min(timeout, 10.0)) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > maxsize:
                raise JobFailed(
                    f"{target}: Content-Length {declared} is over the {maxsize}-byte cap "
                    "(DOWNLOAD_MAXSIZE)"
                )
            chunks, size = [], 0
            while chunk := response.read1(65536):
                size += len(chunk)
                if size > maxsize:
                    raise JobFailed(f"{target}: more than {maxsize} bytes (DOWNLOAD_MAXSIZE)")
                if time.monotonic() > deadline:
                    raise JobFailed(
                        f"{target}: not fetched within {timeout:g} s (DOWNLOAD_TIMEOUT); "
                        f"{size} bytes so far"
                    )
                chunks.append(chunk)
            body, ctype = b"".join(chunks), response.headers.get("Content-Type", "")
            url = response.geturl()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise JobFailed(f"{target}: cannot fetch: {exc}") from None
    html_cap = crawl.NIANBAO_HTML_MAXSIZE
    if ctype.startswith("text/html") and len(body) > html_cap:
        raise JobFailed(
            f"{target}: HTML page of {len(body)} bytes is over the {html_cap}-byte cap "
            "(NIANBAO_HTML_MAXSIZE)"
        )
    return body, url, ctype


COMMANDS: list[click.Command] = [
    crawl,
    worker,
    ingest,
    runs.runs,
    extract,
    reports.events,
    reports.show,
    reports.reports,
    reports.history,
    seeds,
    alerts.daemon,
    alerts.status,
    subscriptions.subscribe,
    subscriptions.unsubscribe,
    subscriptions.subscribers,
    alerts.feed,
    alerts.deliver,
    removals,
    settings,
    demo_command,
    web.serve,
    web.search,
    stats.stats,
    findings,
    db_group,
    backup,
    export,
    browse,
]
"""Every ``nianbao`` command: the one place they are added to the group."""

for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:  # pragma: no cover
    cli()
