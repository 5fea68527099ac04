"""The long-lived crawl process (``monitor.crawlhost``) against the mirror's synthetic
portal: rounds share one process and are judged as one-shot crawls are; a process killed
with SIGKILL mid-crawl, a crawl that hangs past its time limit, and a crawl over the
memory limit each end that process only: the run is judged on what it stored, and the next
round starts a fresh process and completes."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import threading
import time

import pytest

from crawler.seeds import load_seeds
from monitor import children, cycle
from monitor.config import Config
from monitor.proctree import descendants
from monitor.store import Store
from monitor.store.locks import process_alive

PAGES = 120

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


@pytest.fixture
def setup(tmp_path, bench):
    seeds_file = tmp_path / "seeds.toml"
    bench.seeds_toml(seeds_file)
    seeds = load_seeds([seeds_file], only=["bench"])
    config = Config(
        db=tmp_path / "nianbao.db",
        settings={
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
            "NIANBAO_MAX_PAGES_PER_PORTAL": PAGES * 2 + 100,
            "NIANBAO_MAX_LIST_PAGES": PAGES // 5 + 50,
        },
    )
    hosts = children.crawl_hosts({}, stderr_dir=tmp_path)
    yield config, seeds, hosts
    hosts.close()
    children.stop_children(1.0)


def one_event_per_version(db) -> None:
    """Every stored version has exactly one event (new for a report's first, else edited)."""
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT v.id, (SELECT COUNT(*) FROM events e WHERE e.new_version_id = v.id "
        "AND e.kind IN ('new', 'edited')) FROM versions v"
    ).fetchall()
    con.close()
    assert rows and all(n == 1 for _, n in rows), [r for r in rows if r[1] != 1][:5]


def child_pids(db) -> list[int]:
    con = sqlite3.connect(db)
    pids = [p for (p,) in con.execute("SELECT child_pid FROM crawl_runs ORDER BY id")]
    con.close()
    return pids


def test_rounds_share_one_process_and_are_judged_as_one_shot_crawls(setup):
    config, seeds, hosts = setup
    results = []
    for _ in range(3):
        with hosts.lease() as host:
            results.append(cycle.crawl(config, seeds, trigger="test", host=host))
    first, second, third = results
    assert first.status == "ok", first.detail
    assert first.counts()["new"] == PAGES
    assert first.stats["workers_started"] > 0
    for later in (second, third):
        assert later.status == "ok", later.detail
        assert later.counts()["new"] == later.counts()["edited"] == 0
        assert later.counts()["reports_found"] == PAGES
        assert later.stats["workers_started"] == 0  # 304s and same bytes: no extraction
    pids = child_pids(config.db)
    assert len(set(pids)) == 1 and pids[0] == host.pid  # one process served all three
    assert host.spawned == 1
    logs = sorted((config.db.parent / "logs").rglob("run-*.log"))
    assert len(logs) == 3 and all(log.stat().st_size > 0 for log in logs)  # one log per run
    one_event_per_version(config.db)


def test_a_killed_process_costs_only_its_round(setup, bench):
    config, seeds, hosts = setup
    with hosts.lease() as host:
        first = cycle.crawl(config, seeds, trigger="test", host=host)
        assert first.status == "ok"
        bench.edit_synthetic({n: "digit" for n in range(1, PAGES, 2)})
        victim = host.pid
        orphans: list[int] = []

        def kill_mid_crawl() -> None:  # once the second round has stored an edit
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with Store(config.db) as store:
                    n = store.db.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
                if n > PAGES:
                    orphans.extend(descendants(victim))  # its forkserver and workers
                    os.kill(victim, signal.SIGKILL)
                    return
                time.sleep(0.02)

        killer = threading.Thread(target=kill_mid_crawl)
        killer.start()
        second = cycle.crawl(config, seeds, trigger="test", host=host)
        killer.join()
        assert second.status == "interrupted", second.detail
        assert "SIGKILL" in second.detail
        assert not process_alive(victim)
        assert orphans  # extraction had started: the kill left workers behind ...
        deadline = time.monotonic() + 10
        while any(process_alive(p) for p in orphans) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in orphans if process_alive(p)]  # ... and they went with it
        third = cycle.crawl(config, seeds, trigger="test", host=host)
    assert third.status == "ok", third.detail
    assert host.spawned == 2 and host.pid != victim
    edited = second.counts()["edited"] + third.counts()["edited"]
    assert edited == len(range(1, PAGES, 2))  # every edit found once, none lost, none twice
    one_event_per_version(config.db)
    with Store(config.db) as store:
        assert not store.runs.running()


def test_a_hung_crawl_is_killed_at_its_time_limit_and_the_host_replaced(setup, bench):
    config, seeds, hosts = setup
    with hosts.lease() as host:
        hung = cycle.crawl(config, seeds, trigger="test", host=host, timeout=0.5)
        assert hung.status == "failed" and "timed out" in hung.detail
        done = cycle.crawl(config, seeds, trigger="test", host=host)
    assert done.status == "ok", done.detail
    assert host.spawned == 2
    one_event_per_version(config.db)


def test_keep_crawler_off_means_a_process_per_crawl():
    assert children.crawl_hosts({"NIANBAO_KEEP_CRAWLER": "false"}) is None
    assert children.crawl_hosts({}) is not None
