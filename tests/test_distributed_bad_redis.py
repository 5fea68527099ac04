"""Distributed crawling on a bad Redis day: a maxmemory-policy that evicts keys, a Redis
whose memory is full, a Redis that does not allow CONFIG (managed Redis).

Real ``redis-server`` processes started with the arguments of each bad day; every
nianbao process is a real process; the portals are the mirror's on 127.0.0.1.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mirror import MirrorServer
from tests.conftest import LOCAL

pytest.importorskip("scrapy_redis", reason="the `distributed` extra is not installed")

from crawler import distributed as dist  # noqa: E402
from tests.test_distributed import kill, start, start_coordinator, stored  # noqa: E402

CONFIG = "nianbao-test-config"  # CONFIG renamed, as managed Redis services do


def unreachable_seeds(path: Path) -> Path:
    path.write_text(
        '[[portal]]\nid = "p"\nname = "某市"\nregion = "某省"\nstart_urls = ["http://127.0.0.1:9/"]\n',
        encoding="utf-8",
    )
    return path


def test_a_redis_that_may_evict_keys_is_refused_before_anything_is_seeded(
    cli, start_redis, db_path, tmp_path
):
    server = start_redis("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    seeds = unreachable_seeds(tmp_path / "seeds.toml")
    crawl = cli("crawl", "--distributed", "--redis", server.url, "--seeds", str(seeds), db=db_path)
    assert crawl.returncode == 2, crawl.stderr
    assert "maxmemory-policy allkeys-lru" in crawl.stderr
    assert "Set maxmemory-policy noeviction" in crawl.stderr and "Traceback" not in crawl.stderr
    client = server.client()
    assert client.dbsize() == 0  # nothing seeded, no run announced
    assert json.loads(cli("runs", "--json", db=db_path).stdout) == []  # none begun

    client.config_set("maxmemory-policy", "volatile-lru")  # our per-host places have a TTL
    for command in ("worker", "ingest"):
        result = cli(command, "--redis", server.url, "--once", db=db_path)
        assert result.returncode == 2, (command, result.stderr)
        assert "maxmemory-policy volatile-lru" in result.stderr, (command, result.stderr)
    assert client.dbsize() == 0


def test_a_full_coordinator_redis_stops_the_run_with_a_clear_message(
    cli, start_redis, db_path, tmp_path
):
    """Redis full before the run starts (and no ingest process to drain it): the
    coordinator cannot queue the start requests, says why and what to do, exit 1."""
    server = start_redis("--maxmemory-policy", "noeviction")
    client = server.client()
    client.set("ballast", b"x" * 200_000)
    client.config_set("maxmemory", client.info("memory")["used_memory"] - 100_000)  # full
    seeds = unreachable_seeds(tmp_path / "seeds.toml")
    crawl = cli("crawl", "--distributed", "--redis", server.url, "--seeds", str(seeds), db=db_path)
    assert crawl.returncode == 1, crawl.stderr
    assert "is out of memory" in crawl.stderr and "Raise maxmemory" in crawl.stderr
    assert "Traceback" not in crawl.stderr
    (run,) = json.loads(cli("runs", "--json", db=db_path).stdout)
    assert run["status"] == "interrupted"
    assert (
        client.keys("nianbao:run:*:requests") == []
    )  # its queue is gone: the next run starts afresh


def wait_for(check, what: str, tries: int = 1200) -> None:
    for _ in range(tries):
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"never: {what}")


def logs(folder: Path, pattern: str) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.glob(pattern))


@pytest.fixture
def mirror():
    """The mirror with 20 synthetic report pages of 20-40 KB more: items of ~50 KB,
    so that those waiting in Redis outweigh what else Redis holds."""
    server = MirrorServer(synthetic=20)
    server.start()
    yield server
    server.stop()


def test_a_redis_that_fills_mid_crawl_holds_the_workers_until_ingest_drains_it(
    cli, mirror, start_redis, db_path, tmp_path
):
    """maxmemory reached while the worker pushes items (no ingest process yet): the worker
    waits, nothing is dropped; the ingest process, started while Redis is full, stores
    the items where they lie, memory comes free, and the run ends with every report
    stored exactly once. CONFIG is renamed: every process warns it could not check the
    policy, and goes on."""
    seeds = tmp_path / "seeds.toml"
    mirror.seeds_toml(seeds)
    server = start_redis("--maxmemory-policy", "noeviction", "--rename-command", "CONFIG", CONFIG)
    client = server.client()
    slow = ("-s", "DOWNLOAD_DELAY=0.2", "-s", "CONCURRENT_REQUESTS=2")  # items come one by one
    worker = start("worker", "--redis", server.url, *LOCAL, *slow, db=db_path)
    ingest = None
    coordinator = start_coordinator(server.url, seeds, db_path)
    try:

        def items_bytes() -> int:
            prefix = client.get(dist.CURRENT)
            key = dist.RunKeys(prefix.decode()).items if prefix else "-"
            return client.memory_usage(key, samples=0) or 0

        # full from now on, while 300 KB of items wait: the ingest process can free them
        wait_for(lambda: items_bytes() >= 300_000, "300 KB of items pushed")
        used = client.info("memory")["used_memory"]
        client.execute_command(CONFIG, "SET", "maxmemory", used - 1000)
        worker_logs = db_path.parent / "logs" / db_path.stem
        wait_for(lambda: "is out of memory" in logs(worker_logs, "worker-*.log"), "worker waits")
        ingest = start("ingest", "--redis", server.url, db=db_path)
        out, err = coordinator.communicate(timeout=240)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
        for process in (worker, ingest):
            if process is not None:
                kill(process)
    summary = json.loads(out)
    assert coordinator.returncode == 0 and summary["status"] == "ok", (summary, err[-2000:])
    assert "could not check its maxmemory-policy" in err
    expected = mirror.expected_reports()
    assert summary["reports_found"] == len(expected)
    versions = stored(cli, db_path)
    assert set(versions) == expected and all(len(v) == 1 for v in versions.values())

    child_log = logs(worker_logs, "worker-*.log")
    assert "takes writes again after" in child_log and "Traceback" not in child_log
    worker_log = logs(db_path.parent, "worker-*.out")  # the worker's own output shows it too
    assert "is out of memory" in worker_log and "takes writes again after" in worker_log
    ingest_log = logs(db_path.parent, "ingest-*.out")
    assert "is out of memory" in ingest_log and "storing items without moving them" in ingest_log
    assert "could not check its maxmemory-policy" in ingest_log
    assert "Traceback" not in ingest_log


def test_the_coordinator_stops_a_run_that_a_full_redis_holds_for_good(start_redis):
    """Redis full of something else than items (nothing for the ingest process to free),
    workers holding requests that wait to push: no progress, so the run stops (exit 1 in
    the CLI, run ``interrupted``) instead of waiting hours for its timeout."""
    import redis

    from monitor.distributed import _wait

    server = start_redis("--maxmemory-policy", "noeviction")
    client = server.client()
    keys = dist.RunKeys.new()
    client.hset(keys.inflight, "w:1:t", b"request")  # a worker holds one, its lease renewed
    client.zadd(keys.leases, {"w:1:t": time.time() + 600})
    client.set("ballast", b"x" * 300_000)
    client.config_set("maxmemory", client.info("memory")["used_memory"] - 100_000)
    stats = {"requeued": 0}
    with pytest.raises(redis.OutOfMemoryError, match="no progress for 0 s"):
        _wait(client, keys, stats, time.monotonic() + 60, poll=0.05, stuck=0.3)
    client.delete("ballast")  # memory comes free: the same run waits on (and times out here)
    assert _wait(client, keys, stats, time.monotonic() + 1, poll=0.05, stuck=0.3) == 1


def test_a_redis_older_than_7_gets_the_scripts_without_their_flags_line(redis_server):
    """The lease scripts start with Redis 7's `#!lua flags=allow-oom`; Redis 6 (Ubuntu
    22.04's) refuses that line. No Redis 6 runs here: a stand-in says its version."""

    class Six:
        def info(self, section: str) -> dict:
            return {"redis_version": "6.0.16"}

        def eval(self, script: str, numkeys: int, *args: object) -> str:
            return script

    script = dist.WHEN_FULL + "return 1\n"
    assert dist.run_script(Six(), script, 0) == "return 1\n"
    assert dist.run_script(redis_server.client(), script, 0) == 1  # this machine's 7.x
