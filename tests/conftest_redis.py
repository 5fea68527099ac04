"""A real Redis server on 127.0.0.1 for the distributed tests (Debian's ``redis-server``).

``tests/conftest.py`` imports the fixture from here. Without the binary the tests that use
it skip with the reason (``./dev.sh test`` installs it once when it runs as root).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest_smtp import HOST, free_port

__all__ = ["RedisServer", "redis_server", "start_redis"]

REDIS_SERVER = shutil.which("redis-server") or (
    "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
)


@dataclass
class RedisServer:
    """A running server: ``url`` for nianbao's ``--redis``; ``client()`` for assertions."""

    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis(host=HOST, port=self.port)


def _start(folder: Path, *extra: str) -> RedisServer:
    """A redis-server on a free port of 127.0.0.1, answering; ``extra``: more arguments
    (e.g. ``--maxmemory-policy allkeys-lru``)."""
    port = free_port()
    args = [REDIS_SERVER, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [*args, "--dir", str(folder), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    server = RedisServer(port, process)
    client = server.client()
    for _ in range(200):
        try:
            client.ping()
            break
        except Exception:  # not listening yet
            if process.poll() is not None:
                pytest.fail(f"redis-server exited with {process.returncode}")
            time.sleep(0.05)
    client.close()
    return server


def _skip_without_redis() -> None:
    if REDIS_SERVER is None:
        pytest.skip("no redis-server binary (apt-get install redis-server; ./dev.sh test does)")
    pytest.importorskip("scrapy_redis", reason="the `distributed` extra is not installed")


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A fresh, empty Redis per test: no persistence, in a temporary directory."""
    _skip_without_redis()
    server = _start(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)


@pytest.fixture
def start_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """``start_redis(*args)``: a fresh Redis started with more redis-server arguments
    (``--maxmemory 2mb``, ``--maxmemory-policy allkeys-lru``, ``--rename-command CONFIG x``);
    every one started is stopped after the test."""
    _skip_without_redis()
    started: list[RedisServer] = []

    def start(*extra: str) -> RedisServer:
        started.append(_start(tmp_path_factory.mktemp("redis"), *extra))
        return started[-1]

    yield start
    for server in started:
        server.process.terminate()
        server.process.wait(timeout=10)
