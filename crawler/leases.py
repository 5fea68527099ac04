"""Leased requests and per-host places in Redis: scrapy-redis's queue made safe to kill.

scrapy-redis pops a request when the engine asks for it, so a worker killed mid-request
loses it. ``LeasedQueue.pop`` moves the request into the run's ``inflight`` hash with a
lease in one Lua script (a request is always either queued or held); ``LeasedScheduler``
renews its worker's leases while the engine still has the request in progress and
releases them once the request's callback output has gone through the item pipelines
(items pushed, follow-up requests queued). ``requeue_expired`` (the coordinator's) puts
requests whose lease expired back in the queue. ``ClusterHostLimit`` holds the per-host
limit across every worker. The keys of a run are ``RunKeys`` (see ``crawler.distributed``).

May import: crawler.hosts, crawler.redisconn, scrapy, scrapy_redis, redis, twisted (never
monitor/).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from scrapy.utils.misc import load_object
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler.redisconn import FULL, LOST, WHEN_FULL, Full, Outage, connect, run_script

CURRENT = "nianbao:current"  # names the prefix of the run workers work on
HOSTNAME = socket.gethostname()
logger = logging.getLogger(__name__)


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


# ---- leases: Lua scripts, atomic on the server; time is the Redis server's ----

_NOW = "local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"
# Scripts that free as much as they write run when Redis is full (Redis >= 7 flags): a
# lease must be renewed, released or expired while the ingest process frees memory.
# POP_LEASED runs when full anyway: its first write (ZREM) frees, and Redis refuses a
# script only at its first write.
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
    WHEN_FULL
    + _NOW
    + """
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i]) end
return #ARGV - 1
"""
)
RELEASE = (
    WHEN_FULL
    + """
for i = 1, #ARGV do
  redis.call('HDEL', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
  redis.call('ZREM', KEYS[4], ARGV[i])
end
return #ARGV
"""
)
REQUEUE_EXPIRED = (
    WHEN_FULL
    + _NOW
    + """
local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
for _, token in ipairs(gone) do
  local data = redis.call('HGET', KEYS[2], token)
  local score = redis.call('HGET', KEYS[3], token) or 0
  redis.call('HDEL', KEYS[2], token)
  redis.call('HDEL', KEYS[3], token)
  redis.call('ZREM', KEYS[4], token)
  if data then redis.call('ZADD', KEYS[1], score, data) end
end
return #gone
"""
)
PENDING = """
return {redis.call('ZCARD', KEYS[1]), redis.call('HLEN', KEYS[2]),
        redis.call('LLEN', KEYS[3]) + redis.call('LLEN', KEYS[4])}
"""


def lease_keys(keys: RunKeys) -> list[str]:
    return [keys.requests, keys.inflight, keys.scores, keys.leases]


def requeue_expired(client: redis.Redis, keys: RunKeys) -> int:
    """Put the requests whose worker stopped renewing their lease back in the queue."""
    return int(run_script(client, REQUEUE_EXPIRED, 4, *lease_keys(keys)))


def pending(client: redis.Redis, keys: RunKeys) -> dict[str, int]:
    """What is left of a run: queued and in-flight requests, items not yet stored."""
    # one read-only script: atomic, and answered when Redis is full (it refuses MULTI then)
    queued, inflight, items = client.eval(
        PENDING, 4, keys.requests, keys.inflight, keys.items, keys.processing
    )
    return {"queued": queued, "inflight": inflight, "items": items}


class LeasedQueue(PriorityQueue):
    """scrapy-redis's priority queue whose ``pop`` leases the request (see the module doc)."""

    lease_seconds = 30.0

    def pop(self, timeout: int = 0):
        token = f"{HOSTNAME}:{os.getpid()}:{uuid.uuid4().hex[:12]}"  # who holds it, for people
        keys = RunKeys(self.key.rsplit(":", 1)[0])
        data = run_script(self.server, POP_LEASED, 4, *lease_keys(keys), token, self.lease_seconds)
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
        scheduler.waiting = deque()  # (request, seen by the dupefilter) while Redis is full
        scheduler.full = Full.of(crawler)
        scheduler.lost = Outage(crawler.settings.get("REDIS_URL"), logger)
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
        if self.waiting:  # Redis was full a moment ago: keep the order
            self.waiting.append((request, False))
            return True
        outcome = self._enqueue(request, seen=False)
        if isinstance(outcome, tuple):
            self.waiting.append(outcome)
            return True
        return outcome

    def _enqueue(self, request, seen: bool) -> bool | tuple:
        """Queue ``request`` in Redis (``seen``: the dupefilter has it already): True, or
        False for a duplicate. When Redis is full: ``(request, seen)``, which waits in
        ``waiting`` for the next tick; meanwhile no lease is released (a worker killed
        then leaves requests that run again and yield it again)."""
        try:
            if not seen and not request.dont_filter and self.df.request_seen(request):
                self.df.log(request, self.spider)
                return False
            seen = True
            self.queue.push(request)
        except FULL as exc:
            self.full.delay(exc)
            return (request, seen)
        self.full.over()  # (says so if it had been full)
        self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def has_pending_requests(self) -> bool:
        return bool(self.waiting) or super().has_pending_requests()

    def next_request(self):
        request = self.queue.pop()
        if request is not None:
            self.held[request.meta["nianbao_lease"]] = request
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def tick(self, release_only: bool = False) -> None:
        try:
            self._tick(release_only)
        except LOST as exc:  # the timer must go on (a LoopingCall stops at an error)
            self.lost.delay(exc)
        except FULL as exc:
            self.full.delay(exc)
        else:
            self.lost.over()

    def _tick(self, release_only: bool) -> None:
        while self.waiting:
            outcome = self._enqueue(*self.waiting[0])
            if isinstance(outcome, tuple):  # still full
                self.waiting[0] = outcome
                break
            self.waiting.popleft()
        slot = getattr(self.crawler.engine, "_slot", None)
        busy = slot.inprogress if slot is not None else set()
        done = [t for t, r in self.held.items() if r not in busy]
        if done and not self.waiting:  # released only once what they yielded is queued
            run_script(self.server, RELEASE, 4, *lease_keys(self.keys), *done)
            for token in done:
                del self.held[token]
        if release_only:
            return
        if self.held and time.monotonic() - self.renewed > self.lease / 3:
            run_script(self.server, RENEW, 1, self.keys.leases, self.lease, *self.held)
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
