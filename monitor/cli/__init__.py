"""The ``nianbao`` command line: a thin layer over cycle, store, differ and crawler.seeds.

Exit codes: 0 success; 1 the job ran but some of it failed (the output says what);
2 bad usage or bad input (the message names the file and line).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from crawler.seeds import SeedError, load_seeds
from monitor import __version__, cycle
from monitor.cli.textout import Progress, crawl_summary, event_detail, report_table
from monitor.cli.util import (
    BadInput,
    JobFailed,
    db_option,
    echo_json,
    json_option,
    open_store,
    parse_settings,
)
from monitor.config import Config
from monitor.store.locks import portal_locks


@click.group()
@click.version_option(__version__, prog_name="nianbao")
def cli() -> None:
    """nianbao (年报): find, version and watch government information-disclosure annual reports."""


@cli.command()
@click.option(
    "--seeds",
    "seed_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Seed file or directory (repeatable). Default: seeds/.",
)
@click.option("--portal", "portals", multiple=True, help="Only this portal id (repeatable).")
@click.option(
    "-s",
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a crawl setting, e.g. -s DOWNLOAD_DELAY=0.",
)
@click.option("--quiet", is_flag=True, help="No progress display.")
@db_option
@json_option
def crawl(seed_paths, portals, settings, quiet, db, as_json) -> None:
    """Crawl the portals once, store what is new or changed, and record events."""
    result = run_crawl(
        db, seed_paths or (Path("seeds"),), portals, parse_settings(settings), quiet or as_json
    )
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(crawl_summary(result.to_json()))
        for event in result.events:
            click.echo(event_detail(event, max_lines=30))
    sys.exit(result.exit_code)


def run_crawl(
    db: Path, seed_paths, portals, settings: dict, quiet: bool, trigger: str = "cli"
) -> cycle.CrawlResult:
    try:
        seeds = load_seeds(list(seed_paths), only=list(portals) or None)
    except SeedError as exc:
        raise BadInput(str(exc)) from None
    with (
        open_store(db) as store,
        portal_locks(store, seeds, owner=trigger) as held,
    ):  # shared with the daemon
        if held.skipped:
            click.echo(f"nianbao: {held.message()}", err=True)
        if not held.seeds:
            raise JobFailed(f"nothing crawled: {held.message()}")
        progress = Progress(enabled=False if quiet else None)
        try:
            return cycle.crawl(
                Config(db=db, settings=settings), held.seeds, trigger=trigger, on_progress=progress
            )
        finally:
            progress.close()


@cli.command()
@click.argument("target")
@db_option
@json_option
def extract(target, db, as_json) -> None:
    """Show what nianbao sees in one saved page or report file (HTML, PDF, DOCX) or URL.

    When the database exists and knows the URL, also say whether the text equals the
    stored version (``report_id``, ``stored_version_id``, ``same_as_stored``).
    """
    from crawler.documents import extract_any

    body, url, ctype = fetch_target(target)
    ex = extract_any(body, url, content_type=ctype)
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
            report = store.find_report(url)
        if report:
            data.update(
                report_id=report["id"],
                stored_version_id=report["current_version_id"],
                same_as_stored=report["text_sha"] == ex.text_sha,
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
        click.echo(f"{key + ':':<11}{data[key]}")
    click.echo("-" * 40)
    click.echo(ex.text)


def fetch_target(target: str) -> tuple[bytes, str, str]:
    """Read a file, or fetch a URL once (a user's explicit request)."""
    if target.startswith(("http://", "https://")):
        import urllib.error
        import urllib.request

        request = urllib.request.Request(target, headers={"User-Agent": f"nianbao/{__version__}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.read(), response.geturl(), response.headers.get("Content-Type", "")
        except (urllib.error.URLError, OSError) as exc:
            raise JobFailed(f"{target}: cannot fetch: {exc}") from None
    path = Path(target)
    if not path.is_file():
        raise BadInput(f"{target}: no such file (give a saved page or an http(s) URL)")
    return path.read_bytes(), path.resolve().as_uri(), ""


@cli.command()
@click.option("--since", help="Only events detected on or after this ISO date.")
@click.option("--kind", type=click.Choice(["new", "edited", "removed", "moved", "restored"]))
@click.option("--limit", type=int, default=None, help="At most this many events.")
@db_option
@json_option
def events(since, kind, limit, db, as_json) -> None:
    """List change events, newest first."""
    with open_store(db) as store:
        found = store.events(since=since, kind=kind, limit=limit)
    if as_json:
        echo_json([e.to_json() for e in found])
        return
    if not found:
        click.echo("No events.")
    for e in found:
        click.echo(event_detail(e, max_lines=12))


@cli.command()
@click.argument("event_id", type=int)
@db_option
@json_option
def show(event_id, db, as_json) -> None:
    """Print one event with its full diff."""
    with open_store(db) as store:
        event = store.event(event_id)
    if event is None:
        raise BadInput(f"no event {event_id} in {db}")
    click.echo(
        json.dumps(event.to_json(), ensure_ascii=False, indent=2)
        if as_json
        else event_detail(event)
    )


@cli.command()
@click.option("--portal", help="Only this portal's reports.")
@db_option
@json_option
def reports(portal, db, as_json) -> None:
    """List the reports known, with their version counts."""
    with open_store(db) as store:
        rows = store.reports(portal)
    if as_json:
        echo_json(rows)
    else:
        click.echo(report_table(rows))


@cli.command()
@click.argument("ref")
@db_option
@json_option
def history(ref, db, as_json) -> None:
    """List a report's versions (REF is a report id or any URL it was seen at)."""
    with open_store(db) as store:
        report = store.find_report(ref)
        if report is None:
            raise BadInput(f"no report {ref!r} in {db}")
        versions = store.history(report["id"])
    if as_json:
        echo_json({"report": report, "versions": versions})
        return
    click.echo(
        f"#{report['id']} {report['issuer']} {report['year']} {report['title']}\n    {report['url']}"
    )
    for v in versions:
        click.echo(
            f"  v{v['id']}  run {v['run_id']}  {v['fetched_at']}  text {v['text_sha'][:12]}  "
            f"raw {(v['raw_sha'] or '')[:12]}  {v['chars']} chars  {v['url']}"
        )


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("nianbao-demo"),
    show_default=True,
    help="Folder for the demo's database, seeds and outputs (recreated).",
)
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Database file (default: OUT/nianbao.db; $NIANBAO_DB is not used, so the demo "
    "never touches your real database).",
)
def demo(out, db) -> None:
    """Run the whole pipeline on the bundled offline portal mirror (127.0.0.1 only)."""
    from monitor.cli.demo import run_demo

    sys.exit(run_demo(out, db))


def main() -> None:  # pragma: no cover
    cli()


from monitor.cli.alerts import register as _register_alerts  # noqa: E402

_register_alerts(cli)
from monitor.cli.seeds import register as _register_seeds  # noqa: E402

_register_seeds(cli)
