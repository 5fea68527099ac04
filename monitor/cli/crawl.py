"""``nianbao crawl``: crawl the portals once, store what changed, record events.

May import: monitor.cycle, monitor.config, monitor.store.locks, monitor.cli.util,
monitor.cli.textout, monitor.cli.distributed (``--distributed``), crawler.seeds.
"""

from __future__ import annotations

import sys

import click

from crawler.seeds import Seed
from monitor import config, cycle
from monitor.cli.distributed import redis_option, run_distributed
from monitor.cli.textout import Progress, crawl_summary, event_detail
from monitor.cli.util import (
    JobFailed,
    db_option,
    echo_json,
    json_option,
    open_store,
    seeds_option,
    settings_option,
)
from monitor.store.locks import portal_locks


@click.command()
@seeds_option
@settings_option
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option(
    "--distributed",
    is_flag=True,
    help="Crawl through Redis with `nianbao worker` and `nianbao ingest` processes.",
)
@redis_option
@db_option
@json_option
def crawl(
    seeds: list[Seed],
    settings: dict,
    quiet: bool,
    distributed: bool,
    redis_url: str | None,
    db,
    as_json: bool,
) -> None:
    """Crawl the portals once, store what is new or changed, and record events."""
    cfg = config.load(db, seeds=seeds, settings=settings)
    if distributed:
        result = run_distributed(cfg, redis_url)
    else:
        result = run_crawl(cfg, quiet or as_json)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(crawl_summary(result.to_json()))
        for event in result.events:
            click.echo(event_detail(event, max_lines=30))
    sys.exit(result.exit_code)


def run_crawl(cfg: config.Config, quiet: bool, trigger: str = "cli") -> cycle.CrawlResult:
    """Crawl ``cfg.seeds`` under the per-portal locks the daemon also takes."""
    with open_store(cfg.db) as store, portal_locks(store, cfg.seeds, owner=trigger) as held:
        if held.skipped:
            click.echo(f"nianbao: {held.message()}", err=True)
        if not held.seeds:
            raise JobFailed(f"nothing crawled: {held.message()}")
        progress = Progress(enabled=False if quiet else None)
        try:
            return cycle.crawl(cfg, held.seeds, trigger=trigger, on_progress=progress)
        finally:
            progress.close()
