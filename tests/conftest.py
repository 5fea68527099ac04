"""Shared fixtures: a real mirror server on 127.0.0.1, a real SQLite file, a real SMTP server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mirror import MirrorServer
from tests.conftest_redis import *  # noqa: F403  (redis_server fixture)
from tests.conftest_smtp import *  # noqa: F403  (smtp_server fixture)

ROOT = Path(__file__).resolve().parent.parent
LOCAL = [
    "-s",
    "DOWNLOAD_DELAY=0",
    "-s",
    "AUTOTHROTTLE_ENABLED=false",
    "-s",
    "CONCURRENT_REQUESTS_PER_DOMAIN=8",
]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nianbao.db"


@pytest.fixture
def mirror():
    server = MirrorServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bench(request):
    """The mirror's synthetic ``bench`` portal with the test module's ``PAGES`` reports
    (the fault, crawl-process and resume tests kill crawls of it mid-way)."""
    server = MirrorServer(synthetic=request.module.PAGES)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """A database after a baseline crawl and a crawl of the edited mirror, and its edit
    event (one per test module: the web, evidence and browse tests read it)."""
    from crawler.seeds import load_seeds
    from monitor import cycle
    from monitor.config import Config

    tmp = tmp_path_factory.mktemp("crawled")
    server = MirrorServer()
    server.start()
    try:
        server.seeds_toml(tmp / "seeds.toml")
        seeds = load_seeds([tmp / "seeds.toml"])
        settings = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0}
        config = Config(db=tmp / "nianbao.db", settings=settings)
        cycle.crawl(config, seeds, trigger="test")
        server.set_state("edit-number")
        events = cycle.crawl(config, seeds, trigger="test").events
        (edit,) = [e for e in events if e.kind == "edited"]
    finally:
        server.stop()
    return config.db, edit


def run_cli(
    *args: str, db: Path | None = None, env: dict | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    """Run ``nianbao`` as a user would: a real process."""
    full_env = dict(os.environ, **(env or {}))
    if db is not None:
        full_env["NIANBAO_DB"] = str(db)
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli
