"""Reaching Redis, and riding out its bad days: ``connect``; ``check_policy``, which
refuses a Redis whose ``maxmemory-policy`` may evict our keys; ``Outage`` (Redis gone:
``LOST``) and ``Full`` (Redis at its ``maxmemory``: ``FULL``), which wait, try again and
log once when it went and once when it came back; ``run_script``, which runs a Lua
script flagged to run when Redis is full (Redis 7) on an older Redis too. Used by the
leases, the worker, the ingest process and the coordinator.

May import: redis (never monitor/).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import redis

logger = logging.getLogger(__name__)


def connect(url: str) -> redis.Redis:
    """A client for ``url`` (``redis://host:port/db``); raises ``redis.RedisError`` if down."""
    client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10)
    client.ping()
    return client


WHEN_FULL = "#!lua flags=allow-oom\n"  # first line of a script that runs when Redis is full


def run_script(client: redis.Redis, script: str, numkeys: int, *args: object) -> object:
    """``EVAL`` ``script``. A Redis older than 7 knows no ``#!lua`` flags line and would
    refuse the script: it gets the script without it (and, when full, refuses its writes
    as it refuses any other)."""
    if script.startswith("#!") and major_version(client) < 7:
        script = script.split("\n", 1)[1]
    return client.eval(script, numkeys, *args)


def major_version(client: redis.Redis) -> int:
    """The Redis server's major version, asked once per client (7 while it cannot say:
    gone for a moment, it is asked again next time)."""
    major = getattr(client, "nianbao_major", None)
    if major is None:
        try:
            major = int(str(client.info("server")["redis_version"]).split(".")[0])
        except (redis.RedisError, KeyError, ValueError):
            return 7
        client.nianbao_major = major
    return major


LOST = (redis.ConnectionError, redis.TimeoutError)  # Redis gone (restarted, unreachable)
FULL = redis.OutOfMemoryError  # maxmemory reached under noeviction: writes refused for now
# every policy but noeviction deletes keys when memory is full: the allkeys-* ones any key
# (queued requests, leases, items), the volatile-* ones the keys with a TTL (the per-host
# places, and the items and job of a stopped run the ingest process still stores)
KEEPS_KEYS = "noeviction"


class EvictingPolicy(Exception):
    """Redis may delete our keys when its memory is full (``check_policy``)."""


def check_policy(client: redis.Redis, url: str, log) -> str | None:
    """Refuse a Redis whose ``maxmemory-policy`` can evict keys (``EvictingPolicy``);
    where ``CONFIG`` is not allowed (managed Redis), warn once and go on. Returns the
    policy found, or None when it could not be checked."""
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ResponseError as exc:  # CONFIG renamed or forbidden (ACL)
        log.warning(
            "Redis at %s: could not check its maxmemory-policy (%s); it must be %s, "
            "or a full Redis deletes queued requests and items silently",
            where(url), exc, KEEPS_KEYS,
        )  # fmt: skip
        return None
    if policy is not None and policy != KEEPS_KEYS:
        raise EvictingPolicy(
            f"Redis at {where(url)} has maxmemory-policy {policy}: when its memory is full it "
            f"deletes keys, and queued requests, leases and items would vanish without a word. "
            f"Set maxmemory-policy {KEEPS_KEYS} (redis.conf, or "
            f"CONFIG SET maxmemory-policy {KEEPS_KEYS}), then start again."
        )
    return policy


class Outage:
    """A long-lived loop (``nianbao worker``, ``nianbao ingest``) riding out a Redis that
    went away after the process had reached it: ``wait`` sleeps 1, 2, 4 … 30 s between
    tries, and the log says once when Redis went and once when it came back. Redis was
    reached at start (``connect``), so an address that is wrong still fails at once.
    ``delay`` is ``wait`` without the sleep (for code that must not block: it awaits)."""

    GONE = "Redis at %s is unreachable (%s): trying again"
    BACK = "Redis at %s is back after %.0f s"
    FIRST = 1.0

    def __init__(self, url: str, log, longest: float = 30.0) -> None:
        self.url, self.log, self.longest = url, log, longest
        self.since: float | None = None
        self.next = self.FIRST

    def delay(self, exc: BaseException) -> float:
        """Seconds to wait before the next try (logging once that Redis went)."""
        if self.since is None:
            self.since = time.monotonic()
            self.log.warning(self.GONE, where(self.url), self.why(exc))
        delay, self.next = self.next, min(self.next * 2, self.longest)
        return delay

    def wait(self, exc: BaseException) -> None:
        time.sleep(self.delay(exc))

    def why(self, exc: BaseException) -> str:
        return str(exc)

    def over(self) -> None:
        """Redis answered: say so if it had gone."""
        if self.since is not None:
            gone = time.monotonic() - self.since
            self.log.warning(self.BACK, where(self.url), gone)
            self.since, self.next = None, self.FIRST


class Full(Outage):
    """Redis at its ``maxmemory`` (policy noeviction) refusing writes: back-pressure. The
    ingest process drains the items and frees memory; meanwhile a worker waits (0.5, 1,
    2 … 5 s) and tries again, logging once when writes stopped and once when they work."""

    BACK = "Redis at %s takes writes again after %.0f s"
    FIRST = 0.5

    def __init__(
        self,
        url: str,
        log,
        client: redis.Redis,
        doing: str = "waiting for the ingest process to free some",
        longest: float = 5.0,
    ) -> None:
        super().__init__(url, log, longest)
        self.client = client
        self.GONE = "Redis at %s is out of memory (%s): " + doing.replace("%", "%%")

    @classmethod
    def of(cls, crawler) -> Full:
        """The one of a worker's crawl (its scheduler and item pipeline wait on it)."""
        if not hasattr(crawler, "nianbao_full"):
            url = crawler.settings.get("REDIS_URL")
            crawler.nianbao_full = cls(url, logger, connect(url))
        return crawler.nianbao_full

    def why(self, exc: BaseException) -> str:
        try:  # INFO is a read: allowed when full
            memory = self.client.info("memory")
            return f"used {memory['used_memory_human']} of maxmemory {memory['maxmemory_human']}"
        except (redis.RedisError, KeyError):
            return str(exc)


def where(url: str) -> str:
    """``host:port`` of a Redis URL: what a log may show of it (never a password)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}"
