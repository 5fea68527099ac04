"""``nianbao worker`` and ``nianbao ingest``: the processes of a distributed crawl.

``nianbao crawl --distributed --redis URL`` (``monitor.cli.crawl``) seeds and judges a run;
workers on any machine fetch and extract its pages; one ingest process, next to the
database, stores its items. Redis and scrapy-redis are imported only when these run.

May import: monitor.distributed, crawler.distributed, monitor.cli.util.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click

from monitor.cli.util import (
    BadInput,
    JobFailed,
    db_option,
    declared_option,
    echo_json,
    json_option,
    settings_option,
)


def redis_option(command):
    return declared_option(
        "NIANBAO_REDIS_URL", "redis_url", help="Redis server, e.g. redis://127.0.0.1:6379/0."
    )(command)


def shown(url: str) -> str:
    """``url`` without its password, for messages.

    >>> shown("redis://:s3cret@10.0.0.5:6379/0")
    'redis://***@10.0.0.5:6379/0'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def connection_error(url: str | None, exc: Exception | None = None) -> click.ClickException:
    """The error a command stops with when Redis is missing, unusable or full."""
    if not url:
        return BadInput("--redis URL (or NIANBAO_REDIS_URL) is required")
    import redis

    from crawler.distributed import EvictingPolicy

    if isinstance(exc, EvictingPolicy):
        return BadInput(str(exc))
    if isinstance(exc, redis.OutOfMemoryError):
        why = str(exc).rstrip(".")
        return JobFailed(
            f"Redis at {shown(url)} is out of memory (its maxmemory is reached): {why}. "
            "Raise maxmemory (redis.conf, or CONFIG SET maxmemory), or run `nianbao ingest` "
            "(more ingest capacity) so it drains the items waiting in Redis, then run again; "
            "what this run did not store, the next run fetches."
        )
    return JobFailed(f"cannot use Redis at {shown(url)}: {exc}")


@click.command()
@redis_option
@settings_option
@click.option("--once", is_flag=True, help="Stop after one run is done.")
@db_option
def worker(redis_url: str | None, settings: dict, once: bool, db: Path) -> None:
    """Fetch and extract pages of distributed crawls: requests from Redis, items to Redis.

    Works on every run `nianbao crawl --distributed` starts, until stopped. ``-s`` sets
    this worker's own crawl settings (e.g. CONCURRENT_REQUESTS_PER_DOMAIN). Logs go next
    to --db under logs/.
    """
    import redis

    from crawler import distributed

    if not redis_url:
        raise connection_error(redis_url)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    log_dir = Path(db).resolve().parent / "logs" / Path(db).stem
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        distributed.work(redis_url, settings, once=once, log_dir=log_dir)
    except (redis.RedisError, distributed.EvictingPolicy) as exc:
        raise connection_error(redis_url, exc) from None


@click.command()
@redis_option
@click.option("--once", is_flag=True, help="Stop when one run is judged and stored.")
@db_option
@json_option
def ingest(redis_url: str | None, once: bool, db: Path, as_json: bool) -> None:
    """Store the items of distributed crawls of --db: the one process writing the database.

    Each item is stored once, in its own transaction, then acknowledged in Redis.
    """
    import redis

    from monitor import distributed

    if not redis_url:
        raise connection_error(redis_url)
    try:
        stats = distributed.ingest(db, redis_url, once=once)
    except (redis.RedisError, distributed.dist.EvictingPolicy) as exc:
        raise connection_error(redis_url, exc) from None
    if as_json:
        echo_json(stats.to_json())
    else:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(stats.outcomes.items()))
        click.echo(
            f"runs {', '.join(map(str, sorted(stats.runs))) or '-'}: {outcomes or 'nothing'}"
        )


def run_distributed(cfg, redis_url: str | None, trigger: str = "cli"):
    """``crawl --distributed``: the run through Redis, under the per-portal locks."""
    import redis

    from monitor import distributed
    from monitor.cli.util import open_store
    from monitor.store.locks import portal_locks

    if not redis_url:
        raise connection_error(redis_url)
    with open_store(cfg.db) as store, portal_locks(store, cfg.seeds, owner=trigger) as held:
        if held.skipped:
            click.echo(f"nianbao: {held.message()}", err=True)
        if not held.seeds:
            raise JobFailed(f"nothing crawled: {held.message()}")
        try:
            return distributed.crawl(cfg, held.seeds, redis_url, trigger=trigger)
        except (redis.RedisError, distributed.dist.EvictingPolicy) as exc:
            raise connection_error(redis_url, exc) from None
