"""Leased requests and per-host places in Redis: scrapy-redis's queue made safe to kill.

scrapy-redis pops a request when the engine asks for it, so a worker killed mid-request
loses it. ``LeasedQueue.pop`` moves the request into the run's ``inflight`` hash with a
lease in one Lua script (a request is always either queued or held); ``LeasedScheduler``
renews its worker's leases while the engine still has the request in progress and
releases them once the request's callback output has gone through the item pipelines
(items pushed, follow-up requests queued). ``requeue_expired`` (the coordinator's) puts
requests whose lease expired back in the queue. ``ClusterHostLimit`` holds the per-host
limit across every worker. The keys of a run are ``RunKeys`` (see ``crawler.distributed``).

May import: crawler.hosts, scrapy, scrapy_redis, redis, twisted (never monitor/).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from scrapy.utils.misc import load_object
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

CURRENT = "nianbao:current"  # names the prefix of the run workers work on
HOSTNAME = socket.gethostname()


@dataclass(frozen=True)
class RunKeys:
    """The Redis keys of one distributed run."""

    prefix: str

    @classmethod
    def new(cls) -> RunKeys:
        return cls(f"nianbao:run:{uuid.uuid4().hex[:16]}")

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return f"{self.prefix}:{name}"


def connect(url: str) -> redis.Redis:
    """A client for ``url`` (``redis://host:port/db``); raises ``redis.RedisError`` if down."""
    client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10)
    client.ping()
    return client


LOST = (redis.ConnectionError, redis.TimeoutError)  # Redis gone (restarted, unreachable)


class Outage:
    """A long-lived loop (``nianbao worker``, ``nianbao ingest``) riding out a Redis that
    went away after the process had reached it: ``wait`` sleeps 1, 2, 4 … 30 s between
    tries, and the log says once when Redis went and once when it came back. Redis was
    reached at start (``connect``), so an address that is wrong still fails at once."""

    def __init__(self, url: str, log, longest: float = 30.0) -> None:
        self.url, self.log, self.longest = url, log, longest
        self.since: float | None = None
        self.delay = 1.0

    def wait(self, exc: BaseException) -> None:
        if self.since is None:
            self.since = time.monotonic()
            self.log.warning("Redis at %s is unreachable (%s): trying again", _where(self.url), exc)
        time.sleep(self.delay)
        self.delay = min(self.delay * 2, self.longest)

    def over(self) -> None:
        """Redis answered: say so if it had gone."""
        if self.since is not None:
            gone = time.monotonic() - self.since
            self.log.warning("Redis at %s is back after %.0f s", _where(self.url), gone)
            self.since, self.delay = None, 1.0


def _where(url: str) -> str:
    """``host:port`` of a Redis URL: what a log may show of it (never a password)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}"


# ---- leases: Lua scripts, atomic on the server; time is the Redis server's ----

_NOW = "local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"
POP_LEASED = (
    _NOW
    + """
local top = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #top == 0 then return false end
redis.call('ZREM', KEYS[1], top[1])
redis.call('HSET', KEYS[2], ARGV[1], top[1])
redis.call('HSET', KEYS[3], ARGV[1], top[2])
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), ARGV[1])
return top[1]
"""
)
RENEW = (
    _NOW
    + """
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i]) end
return #ARGV - 1
"""
)
REQUEUE_EXPIRED = (
    _NOW
    + """
local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
for _, token in ipairs(gone) do
  local data = redis.call('HGET', KEYS[2], token)
  if data then redis.call('ZADD', KEYS[1], redis.call('HGET', KEYS[3], token) or 0, data) end
  redis.call('HDEL', KEYS[2], token)
  redis.call('HDEL', KEYS[3], token)
  redis.call('ZREM', KEYS[4], token)
end
return #gone
"""
)


def lease_keys(keys: RunKeys) -> list[str]:
    return [keys.requests, keys.inflight, keys.scores, keys.leases]


def requeue_expired(client: redis.Redis, keys: RunKeys) -> int:
    """Put the requests whose worker stopped renewing their lease back in the queue."""
    return int(client.eval(REQUEUE_EXPIRED, 4, *lease_keys(keys)))


def pending(client: redis.Redis, keys: RunKeys) -> dict[str, int]:
    """What is left of a run: queued and in-flight requests, items not yet stored."""
    pipe = client.pipeline(transaction=True)
    pipe.zcard(keys.requests).hlen(keys.inflight).llen(keys.items).llen(keys.processing)
    queued, inflight, items, processing = pipe.execute()
    return {"queued": queued, "inflight": inflight, "items": items + processing}


class LeasedQueue(PriorityQueue):
    """scrapy-redis's priority queue whose ``pop`` leases the request (see the module doc)."""

    lease_seconds = 30.0

    def pop(self, timeout: int = 0):
        token = f"{HOSTNAME}:{os.getpid()}:{uuid.uuid4().hex[:12]}"  # who holds it, for people
        keys = RunKeys(self.key.rsplit(":", 1)[0])
        data = self.server.eval(POP_LEASED, 4, *lease_keys(keys), token, self.lease_seconds)
        if not data:
            return None
        request = self._decode_request(data)
        request.meta["nianbao_lease"] = token
        return request


class LeasedScheduler(Scheduler):
    """scrapy-redis's scheduler with leased requests, renewed and released by a timer.

    A request is done when the engine no longer holds it in progress (Scrapy removes it
    after the scraper has run its callback output through the item pipelines). The same
    timer wakes the engine so an idle worker sees requests other workers queued at once,
    not at Scrapy's 5-second heartbeat.
    """

    TICK = 0.5

    @classmethod
    def from_crawler(cls, crawler):
        scheduler = super().from_crawler(crawler)
        scheduler.crawler = crawler
        scheduler.lease = crawler.settings.getfloat("NIANBAO_REDIS_LEASE")
        scheduler.keys = RunKeys(crawler.settings.get("NIANBAO_REDIS_PREFIX"))
        scheduler.held = {}  # lease token -> request, while the engine works on it
        scheduler.renewed = 0.0
        scheduler.timer = task.LoopingCall(scheduler.tick)
        return scheduler

    def open(self, spider):
        # scrapy-redis's own open() logs through Spider.log(), deprecated in Scrapy 2.19:
        # the same steps, with the lease, and the log through the spider's logger
        self.spider = spider
        self.queue = LeasedQueue(self.server, spider, self.queue_key, self.serializer)
        self.queue.lease_seconds = self.lease
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)
        if len(self.queue):
            spider.logger.info(
                "Taking part in run %s (%d requests queued)", self.keys.prefix, len(self.queue)
            )
        self.timer.start(self.TICK, now=False)

    def close(self, reason):
        if self.timer.running:
            self.timer.stop()
        self.tick(release_only=True)
        super().close(reason)

    def enqueue_request(self, request):
        request.meta.pop("nianbao_lease", None)  # a redirect or retry is a request of its own
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self):
        request = self.queue.pop()
        if request is not None:
            self.held[request.meta["nianbao_lease"]] = request
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def tick(self, release_only: bool = False) -> None:
        slot = getattr(self.crawler.engine, "_slot", None)
        busy = slot.inprogress if slot is not None else set()
        done = [t for t, r in self.held.items() if r not in busy]
        if done:
            pipe = self.server.pipeline(transaction=True)
            pipe.hdel(self.keys.inflight, *done).hdel(self.keys.scores, *done)
            pipe.zrem(self.keys.leases, *done).execute()
            for token in done:
                del self.held[token]
        if release_only:
            return
        if self.held and time.monotonic() - self.renewed > self.lease / 3:
            self.server.eval(RENEW, 1, self.keys.leases, self.lease, *self.held)
            self.renewed = time.monotonic()
        if slot is not None and not self.held and len(self.queue):
            slot.nextcall.schedule()


HOST_ACQUIRE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
return 1
"""
)


class ClusterHostLimit:
    """The per-host limit held across every worker of a run (a downloader middleware).

    Each worker's downloader holds the limit (``crawler.hosts.per_host_limit``) for its
    own downloads only: W workers alone would put W times as many on a host. Here a
    download first takes a place in the host's sorted set in Redis (token -> expiry) and
    gives it back when its answer or error comes; while the host is full the request
    waits (asyncio, 50 ms steps) before reaching the worker's downloader. A place whose
    worker died expires after ``DOWNLOAD_TIMEOUT`` + 30 s. Placed last before the
    download (order 950): retries and redirects go back through it as new requests.
    """

    WAIT = 0.05

    def __init__(self, crawler):
        from crawler.hosts import per_host_limit

        self.limit = per_host_limit(crawler.settings)
        self.ttl = crawler.settings.getfloat("DOWNLOAD_TIMEOUT") + 30
        self.keys = RunKeys(crawler.settings.get("NIANBAO_REDIS_PREFIX"))
        self.client = connect(crawler.settings.get("REDIS_URL"))
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler) -> ClusterHostLimit:
        return cls(crawler)

    def _key(self, request) -> str:
        return f"{self.keys.prefix}:host:{urlsplit(request.url).hostname}"

    async def process_request(self, request) -> None:
        token = uuid.uuid4().hex
        key = self._key(request)
        waited = False
        while not self.client.eval(HOST_ACQUIRE, 1, key, self.limit, self.ttl, token):
            waited = True
            await asyncio.sleep(self.WAIT)
        if waited:
            self.stats.inc_value("nianbao/redis/host_waits")
        request.meta["nianbao_host_place"] = token
        return None

    def _release(self, request) -> None:
        token = request.meta.pop("nianbao_host_place", None)
        if token:
            self.client.zrem(self._key(request), token)

    def process_response(self, request, response):
        self._release(request)
        return response

    def process_exception(self, request, exception) -> None:
        self._release(request)
        return None
