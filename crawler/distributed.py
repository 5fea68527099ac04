"""Distributed crawling on scrapy-redis: the worker side, and the keys of a run in Redis.

A distributed run lives under one key prefix ``nianbao:run:<token>`` (``RunKeys``):

    job         JSON: run id, database, seeds, crawl settings (written by the coordinator)
    state       "running" until the coordinator has judged the run, then "done"
    fetch_state JSON: url -> {etag, last_modified, raw_sha, body_fp} (conditional requests)
    requests    scrapy-redis's priority queue (a sorted set of pickled requests)
    dupefilter  scrapy-redis's RFPDupeFilter (a set of request fingerprints)
    inflight    hash lease token -> the request a worker took; ``scores``: its priority
    leases      sorted set lease token -> expiry (Redis server time)
    items       list of scraped items (JSON, ``encode_item``); ``processing``: taken by ingest

``nianbao:current`` names the prefix of the run workers should work on.

Requests are leased while a worker works on them (``crawler.leases``): a killed worker's
requests go back in the queue. A request can thus run twice; its items then carry the
same ``item_id`` and the ingest process stores each id once.

May import: crawler.leases, crawler.items, crawler.redisconn, crawler.runner, crawler.scratch,
crawler.spiders, scrapy, scrapy_redis, redis (never monitor/).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import redis
from scrapy.exceptions import DontCloseSpider

from crawler.items import Extracted, FetchProblem, ListingItem, PageItem
from crawler.leases import (  # noqa: F401  (the run's keys and leases, used from monitor/)
    CURRENT,
    POP_LEASED,
    LeasedQueue,
    RunKeys,
    lease_keys,
    pending,
    requeue_expired,
)
from crawler.redisconn import (  # noqa: F401  (used from monitor/ too)
    FULL,
    LOST,
    WHEN_FULL,
    EvictingPolicy,
    Full,
    Outage,
    check_policy,
    connect,
    run_script,
)
from crawler.scratch import scratch, sweep
from crawler.spiders.portals import PortalSpider

logger = logging.getLogger(__name__)

ITEM_TYPES = {cls.__name__: cls for cls in (PageItem, ListingItem, FetchProblem)}


class DistributedSpider(PortalSpider):
    """PortalSpider taking its requests from Redis: it starts nothing itself (the
    coordinator seeds the queue and asks for revisits), and stays open while the run is
    ``running`` even when the queue is empty for a moment."""

    async def start(self) -> AsyncIterator:
        return
        yield

    def revisit_known(self) -> None:
        """(On ``spider_idle``.) Stay while the run is running and still the current one
        (a coordinator killed with -9 leaves its run ``running``; the next run moves on)."""
        if self.client is None:
            self.client = connect(self.settings.get("REDIS_URL"))
        keys = RunKeys(self.settings.get("NIANBAO_REDIS_PREFIX"))
        state, current = self.client.mget(keys.state, CURRENT)
        if state == b"running" and current == keys.prefix.encode():
            raise DontCloseSpider

    client: redis.Redis | None = None


class RedisItemPipeline:
    """Push every item to the run's ``items`` list (the last pipeline: after extraction).

    A full Redis (maxmemory, noeviction) is back-pressure: the item waits here, its
    request stays in progress (its lease renewed) until the ingest process has freed
    memory and the push works. A Redis gone for a moment is waited for the same way."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.keys = RunKeys(crawler.settings.get("NIANBAO_REDIS_PREFIX"))
        url = crawler.settings.get("REDIS_URL")
        self.client = connect(url)
        self.full, self.lost = Full.of(crawler), Outage(url, logger)

    @classmethod
    def from_crawler(cls, crawler) -> RedisItemPipeline:
        return cls(crawler)

    async def process_item(self, item: object) -> object:
        if type(item).__name__ not in ITEM_TYPES:
            return item
        raw = encode_item(item)
        while True:
            try:
                self.client.lpush(self.keys.items, raw)
                break
            except FULL as exc:
                self.crawler.stats.inc_value("nianbao/redis/full_waits")
                await asyncio.sleep(self.full.delay(exc))
            except LOST as exc:
                await asyncio.sleep(self.lost.delay(exc))
        self.full.over()
        self.lost.over()
        self.crawler.stats.inc_value("nianbao/redis/items")
        return item


def queue_requests(
    client: redis.Redis, redis_url: str, keys: RunKeys, job: dict, revisits: bool = False
) -> int:
    """Queue a run's start requests, or (``revisits``) its known reports that no list
    linked, built by the spider itself (no crawl runs here); the run's dupefilter drops
    what was asked for already. Returns how many were queued."""
    from scrapy.crawler import Crawler
    from scrapy_redis.dupefilter import RFPDupeFilter

    from crawler import runner

    settings = runner.build_settings({**job, "settings": worker_settings(job, redis_url, keys)})
    spider = DistributedSpider.from_crawler(
        Crawler(DistributedSpider, settings),
        seeds=[runner.seed_from_dict(s) for s in job["seeds"]],
    )
    if not revisits:
        wanted = (
            spider.listing_request(seed, url, depth=0)
            for seed in spider.seeds.values()
            for url in seed.start_urls
        )
    elif spider.settings.getbool("NIANBAO_LIST_ONLY"):
        wanted = iter(())
    else:
        wanted = (
            spider.report_request(spider.seeds[prior["portal_id"]], url, None, "")
            for url, prior in spider.fetch_state.items()
            if prior.get("revisit") and prior.get("portal_id") in spider.seeds
        )
    queue = LeasedQueue(client, spider, keys.requests)
    seen = RFPDupeFilter(client, keys.dupefilter)
    queued = 0
    for request in wanted:
        if request is not None and not seen.request_seen(request):
            queue.push(request)
            queued += 1
    return queued


# ---- items as JSON --------------------------------------------------------------


def item_id(item: PageItem | ListingItem | FetchProblem) -> str:
    """What the item says, hashed without the time it was fetched: a request run twice
    (its worker's lease expired) gives items with the same id.

    >>> a = FetchProblem("p", "http://x/1", "timeout")
    >>> item_id(a) == item_id(FetchProblem("p", "http://x/1", "timeout")) != item_id(
    ...     FetchProblem("p", "http://x/2", "timeout"))
    True
    """
    data = _fields(item)
    data.pop("fetched_at", None)
    text = json.dumps([type(item).__name__, data], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _fields(item: object) -> dict:
    data = dataclasses.asdict(item)
    if isinstance(item, PageItem):
        data["body"] = base64.b64encode(item.body).decode("ascii")
    return data


def encode_item(item: PageItem | ListingItem | FetchProblem) -> bytes:
    return json.dumps(
        {"type": type(item).__name__, "id": item_id(item), "item": _fields(item)},
        ensure_ascii=False,
    ).encode()


def decode_item(raw: bytes) -> tuple[str, PageItem | ListingItem | FetchProblem]:
    """(item id, item) from ``encode_item``'s bytes; ValueError when they are not one."""
    try:
        message = json.loads(raw)
        data = dict(message["item"])
        cls = ITEM_TYPES[message["type"]]
        if cls is PageItem:
            data["body"] = base64.b64decode(data["body"])
            if data.get("extracted") is not None:
                data["extracted"] = Extracted(**data["extracted"])
        return str(message["id"]), cls(**data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an item: {exc!r}") from None


# ---- the worker: one Scrapy process per run ----------------------------------------


def worker_settings(job: dict, redis_url: str, keys: RunKeys) -> dict:
    """The crawl settings of a worker on ``job``: the coordinator's, with the scheduler,
    dupefilter and item sink in Redis instead of the local store."""
    settings = dict(job.get("settings") or {})
    pipelines = {
        k: v
        for k, v in (settings.get("ITEM_PIPELINES") or {}).items()
        if not k.startswith("monitor.")
    }
    pipelines.setdefault("crawler.pipelines.ExtractPipeline", 300)
    pipelines["crawler.distributed.RedisItemPipeline"] = 900
    from crawler import settings as project

    middlewares = {
        **project.DOWNLOADER_MIDDLEWARES,
        **(settings.get("DOWNLOADER_MIDDLEWARES") or {}),
    }
    middlewares["crawler.leases.ClusterHostLimit"] = 950
    settings.update(
        DOWNLOADER_MIDDLEWARES=middlewares,
        ITEM_PIPELINES=pipelines,
        NIANBAO_PROGRESS=False,
        SCHEDULER="crawler.leases.LeasedScheduler",
        SCHEDULER_QUEUE_KEY=keys.requests,
        DUPEFILTER_CLASS="scrapy_redis.dupefilter.RFPDupeFilter",
        SCHEDULER_DUPEFILTER_KEY=keys.dupefilter,
        SCHEDULER_PERSIST=True,  # the queue outlives any one worker
        REDIS_URL=redis_url,
        NIANBAO_REDIS_PREFIX=keys.prefix,
    )
    return settings


def run_job(job_file: str) -> int:
    """``python -m crawler.distributed JOB.json``: crawl one run's queue until it is done."""
    from scrapy.crawler import CrawlerProcess

    from crawler import runner

    job = json.loads(Path(job_file).read_text(encoding="utf-8"))
    runner.die_with_parent(job.get("parent_pid"))
    if not job.get("log_file"):
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    else:  # Redis full or gone: in the crawl log, and where the worker's own log goes
        shown = logging.StreamHandler(sys.stderr)
        shown.setLevel(logging.WARNING)
        shown.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
        for name in ("crawler.leases", "crawler.redisconn", "crawler.distributed"):
            logging.getLogger(name).addHandler(shown)
    process = CrawlerProcess(runner.build_settings(job))
    crawler = process.create_crawler(DistributedSpider)
    process.crawl(crawler, seeds=[runner.seed_from_dict(s) for s in job["seeds"]])
    process.start()
    return 0


def work(
    redis_url: str,
    overrides: dict | None = None,
    once: bool = False,
    poll: float = 0.5,
    log_dir: Path | None = None,
) -> int:
    """Take part in every distributed run announced in Redis, one Scrapy child per run
    (a child that dies while its run is still running is replaced). ``overrides`` are
    this worker's own crawl settings (e.g. ``CONCURRENT_REQUESTS_PER_DOMAIN``).

    Returns the number of runs worked on (``once``: stop after the first one is done).
    Redis must answer at start, with a maxmemory-policy that keeps keys (``check_policy``);
    if it goes away later (a restart), the worker waits for it (``Outage``); when it is
    full, its Scrapy child waits to push (``Full``).
    """
    client = connect(redis_url)
    check_policy(client, redis_url, logger)
    runs: set[bytes] = set()
    outage = Outage(redis_url, logger)
    sweep()  # what killed workers left in the temp dir
    while True:
        try:
            prefix = client.get(CURRENT)
            keys = RunKeys(prefix.decode()) if prefix else None
            running = keys is not None and client.get(keys.state) == b"running"
        except LOST as exc:
            outage.wait(exc)
            continue
        outage.over()
        if not running:
            if once and runs:
                return len(runs)
            time.sleep(poll)
            continue
        runs.add(prefix)
        try:
            code = _work_on(client, redis_url, keys, overrides or {}, log_dir)
        except LOST as exc:  # lost while handing the run to a child
            outage.wait(exc)
            continue
        logger.info("Run %s: worker child exited with %s", keys.prefix, code)
        if code != 0:
            time.sleep(poll)


def _work_on(
    client: redis.Redis, redis_url: str, keys: RunKeys, overrides: dict, log_dir: Path | None
) -> int:
    job = json.loads(client.get(keys.job) or b"{}")
    job["settings"] = {**(job.get("settings") or {}), **overrides}
    with scratch("worker-") as tmp:
        state = tmp / "fetch_state.json"
        state.write_bytes(client.get(keys.fetch_state) or b"{}")
        child_job = {
            "db": job.get("db", ""),
            "run_id": job.get("run_id", 0),
            "seeds": job.get("seeds", []),
            "settings": worker_settings(job, redis_url, keys),
            "fetch_state": str(state),
            "log_file": str(log_dir / f"worker-{os.getpid()}-run-{job.get('run_id')}.log")
            if log_dir
            else "",
            "parent_pid": os.getpid(),
        }
        job_file = tmp / "job.json"
        job_file.write_text(json.dumps(child_job, ensure_ascii=False), encoding="utf-8")
        return subprocess.call([sys.executable, "-m", "crawler.distributed", str(job_file)])


if __name__ == "__main__":
    sys.exit(run_job(sys.argv[1]))
