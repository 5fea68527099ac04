"""``nianbao crawl``: crawl the portals once, store what changed, record events.

May import: monitor.cycle, monitor.config, monitor.store.locks, monitor.cli.util,
monitor.cli.textout, monitor.cli.distributed (``--distributed``), crawler.seeds.
"""

from __future__ import annotations

import signal
import sys

import click

from crawler.seeds import Seed
from monitor import children, config, cycle, judging
from monitor.cli.distributed import redis_option, run_distributed
from monitor.cli.textout import Progress, crawl_summary, event_detail
from monitor.cli.util import (
    BadInput,
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
@click.option(
    "--resume",
    is_flag=True,
    help="Go on with the crawl of these portals that was stopped before its end "
    "(SIGTERM, Ctrl-C, a kill, a reboot), fetching nothing it already fetched.",
)
@db_option
@json_option
def crawl(
    seeds: list[Seed],
    settings: dict,
    quiet: bool,
    distributed: bool,
    redis_url: str | None,
    resume: bool,
    db,
    as_json: bool,
) -> None:
    """Crawl the portals once, store what is new or changed, and record events."""
    cfg = config.load(db, seeds=seeds, settings=settings)
    if not cfg.seeds:  # every portal of the files is `crawl = false`
        raise BadInput(
            "no portal to crawl: every one in the seed files is `crawl = false` "
            "(name one with --portal ID to crawl it)"
        )
    if resume and distributed:
        raise BadInput("--resume: a distributed crawl resumes by itself (its queue is in Redis)")
    if resume and cycle.resume_state(cfg.db, cfg.seeds) is None:
        raise BadInput(
            f"--resume: no interrupted crawl of these {len(cfg.seeds)} portal(s) in {cfg.db}: "
            "select the same portals (--seeds/--portal) as the crawl that was stopped"
        )
    if not resume and not distributed and cycle.resume_state(cfg.db, cfg.seeds) is not None:
        click.echo(
            "nianbao: discarding the stopped crawl of these portals (--resume goes on with it)",
            err=True,
        )
    if distributed:
        result = run_distributed(cfg, redis_url)
    else:
        signal.signal(signal.SIGTERM, _stop)  # the crawl child saves its queue to resume
        if signal.getsignal(signal.SIGHUP) == signal.SIG_DFL:  # not under nohup
            signal.signal(signal.SIGHUP, _stop)  # a closed terminal or SSH session: the same
        try:
            result = run_crawl(cfg, quiet or as_json, resume=resume)
        except (children.Stopped, KeyboardInterrupt):
            click.echo("nianbao: crawl stopped; `nianbao crawl --resume` goes on", err=True)
            sys.exit(1)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(crawl_summary(result.to_json()))
        for event in result.events:
            click.echo(event_detail(event, max_lines=30))
    sys.exit(result.exit_code)


def _stop(signum: int, frame: object) -> None:
    raise children.Stopped(f"stopped by signal {signum}")


def run_crawl(
    cfg: config.Config, quiet: bool, trigger: str = "cli", resume: bool = False
) -> judging.CrawlResult:
    """Crawl ``cfg.seeds`` under the per-portal locks the daemon also takes (``resume``:
    go on with their interrupted crawl, ``cycle.crawl``)."""
    with open_store(cfg.db) as store, portal_locks(store, cfg.seeds, owner=trigger) as held:
        if held.skipped:
            click.echo(f"nianbao: {held.message()}", err=True)
        if not held.seeds:
            raise JobFailed(f"nothing crawled: {held.message()}")
        if resume and len(held.seeds) != len(cfg.seeds):
            raise JobFailed("--resume: some of the portals are being crawled by another process")
        progress = Progress(enabled=False if quiet else None)
        try:
            return cycle.crawl(
                cfg, held.seeds, trigger=trigger, on_progress=progress, resume=resume
            )
        except cycle.NothingToResume as exc:  # resumed or discarded meanwhile
            raise BadInput(f"--resume: {exc}") from None
        finally:
            progress.close()
