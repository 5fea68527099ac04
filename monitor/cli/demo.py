"""``nianbao demo``: the whole pipeline on the bundled offline portal mirror.

Starts the mirror on 127.0.0.1 (ephemeral port), crawls it, prints the reports,
publishes a scripted change (one report edited, one new report), crawls again and
prints the events with their diffs. Everything lands in one folder.

The ``demo`` command and the run behind it. A composition root: may import mirror, monitor.cycle, monitor.store, monitor.cli.textout.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import click

from crawler.seeds import load_seeds
from monitor import cycle, judging
from monitor.cli.textout import Progress, crawl_summary, event_detail, report_table
from monitor.config import Config
from monitor.store import Store

# The mirror is on loopback: no politeness delay is needed against our own server.
LOCAL_SETTINGS = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
}


def _crawl(config: Config, seeds_file: Path, title: str) -> judging.CrawlResult:
    click.secho(f"\n== {title}", bold=True)
    progress = Progress()
    try:
        result = cycle.crawl(config, load_seeds([seeds_file]), trigger="demo", on_progress=progress)
    finally:
        progress.close()
    click.echo(crawl_summary(result.to_json()))
    return result


def run_demo(out: Path, db: Path | None = None) -> int:
    """Run the demo into ``out`` (recreated), its database at ``db`` (default
    ``out/nianbao.db``); return the exit status."""
    from mirror import MirrorServer  # only the demo needs the mirror: keep `nianbao` light

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    started = time.monotonic()
    mirror = MirrorServer()
    base = mirror.start()
    try:
        click.echo(f"Offline portal mirror at {base} (portals: {', '.join(mirror.portal_ids())})")
        seeds_file = out / "seeds.toml"
        mirror.seeds_toml(seeds_file)
        config = Config(db=db or out / "nianbao.db", settings=LOCAL_SETTINGS)
        first = _crawl(config, seeds_file, "First crawl")
        with Store(config.db) as store:
            click.echo("\nReports found:\n" + report_table(store.reports.summaries()))
        click.secho(
            "\n== The mirror changes: one number edited in a table, one new report published",
            bold=True,
        )
        mirror.set_state("edit-number", "publish-new")
        second = _crawl(config, seeds_file, "Second crawl")
        click.secho("\n== Change events", bold=True)
        for event in second.events:
            click.echo(event_detail(event, max_lines=40) + "\n")
    finally:
        mirror.stop()
    click.echo(
        f"Done in {time.monotonic() - started:.1f} s. Database, seeds and logs are in {out}/"
    )
    click.echo(
        f"Try: nianbao events --db {config.db} --json   or   nianbao reports --db {config.db}"
    )
    return max(first.exit_code, second.exit_code)


@click.command("demo")
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
def demo_command(out, db) -> None:
    """Run the whole pipeline on the bundled offline portal mirror (127.0.0.1 only)."""
    sys.exit(run_demo(out, db))
