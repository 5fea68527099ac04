"""The daemon's parts without a daemon process: schedules, catch-up at start-up, job isolation,
locks, stopping crawl children, the feed HTTP server and ``nianbao status``."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest

from crawler.seeds import Seed
from monitor import children, proctree
from monitor.config import Config, parse_duration
from monitor.daemon import scheduler, status
from monitor.daemon.scheduler import (
    TZ,
    Daemon,
    first_run,
    schedule_key,
)
from monitor.store import Store
from monitor.store.locks import HOST


def seed(portal_id: str, schedule: str | None = None) -> Seed:
    return Seed(portal_id, portal_id, "江苏", ("http://127.0.0.1/",), schedule=schedule)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.mark.parametrize("bad", ["", "10x", "-5s", "0s", "soon"])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_schedule_keys():
    assert schedule_key(seed("a"), None) == "default"
    assert schedule_key(seed("a", "0 7 * * 1"), None) == "cron:0 7 * * 1"
    assert schedule_key(seed("a", "0 7 * * 1"), 30.0) == "every:30"


def fires(key: str, start: str, n: int) -> list[datetime]:
    trigger, out, prev, now = scheduler.trigger_for(key), [], None, at(start)
    for _ in range(n):
        prev = trigger.get_next_fire_time(prev, now)
        out.append(prev)
        now = prev + timedelta(seconds=1)
    return out


def test_default_schedule_daily_in_season_weekly_after():
    feb = fires("default", "2027-02-10 07:00", 3)
    assert [d.day for d in feb] == [11, 12, 13] and all(d.hour == 6 for d in feb)
    may = fires("default", "2027-05-05 07:00", 3)  # a Wednesday
    assert [d.strftime("%a %d") for d in may] == ["Mon 10", "Mon 17", "Mon 24"]
    assert fires("default", "2027-03-31 07:00", 1)[0].strftime("%m-%d %a") == "04-05 Mon"
    assert fires("cron:30 8 * * *", "2027-07-01 09:00", 1)[0] == at("2027-07-02 08:30")


def test_missed_runs_run_once_at_start_up():
    now = at("2027-02-10 12:00")
    assert first_run("default", None, now) == now  # never crawled
    assert first_run("default", at("2027-02-07 06:00"), now) == now  # three slots missed: one run
    assert first_run("default", at("2027-02-10 06:00"), now) == at("2027-02-11 06:00")
    assert first_run("every:60", now - timedelta(seconds=10), now) == now + timedelta(seconds=50)
    assert first_run("every:60", now - timedelta(hours=5), now) == now


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    db = tmp_path / "nianbao.db"
    Store(db).close()
    d = Daemon(Config(db=db, seeds=[seed("a"), seed("b", "0 7 * * *")], every=None))
    d.add_jobs()
    yield d


def test_one_job_per_schedule_plus_delivery(daemon):
    ids = sorted(job.id for job in daemon.scheduler.get_jobs())
    assert ids == ["crawl:cron:0 7 * * *", "crawl:default", "deliver", "heartbeat"]
    defaults = daemon.scheduler._job_defaults  # applied to each job when the scheduler starts
    assert (
        defaults["max_instances"] == 1
        and defaults["coalesce"]
        and defaults["misfire_grace_time"] >= 3600
    )


def test_a_crashing_crawl_does_not_stop_the_daemon(daemon, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise MemoryError("child ran out of memory")

    monkeypatch.setattr(scheduler.cycle, "crawl", boom)
    daemon.crawl_job("default", [seed("a")])
    assert daemon.active == 0 and "carries on" in caplog.text
    with Store(daemon.opts.db) as store:
        assert store.locks.all() == []  # the lock was released


def test_a_full_disk_is_one_clear_line_in_the_daemon_log(daemon, monkeypatch, caplog):
    """A crawl job that meets a full disk (SQLite's own SQLITE_FULL, from a database
    capped at a few pages): one error line naming the database, no traceback."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA max_page_count = 2")
    with pytest.raises(sqlite3.OperationalError) as full:
        conn.execute("INSERT INTO t VALUES (zeroblob(100000))")

    def crawl(*args, **kwargs):
        raise full.value

    monkeypatch.setattr(scheduler.cycle, "crawl", crawl)
    daemon.crawl_job("default", [seed("a")])
    assert daemon.active == 0
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "the disk is full" in record.getMessage()
    assert str(daemon.opts.db) in record.getMessage() and record.exc_info is None
    with Store(daemon.opts.db) as store:
        assert store.locks.all() == []


def test_daemon_skips_a_portal_locked_by_a_manual_crawl(daemon, monkeypatch):
    crawled = []
    monkeypatch.setattr(
        scheduler.cycle, "crawl", lambda config, seeds, **kw: crawled.append(seeds) or 1 / 0
    )
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with Store(daemon.opts.db) as store:
            store.db.execute(
                "INSERT INTO locks (portal_id, owner, pid, host, acquired_at) VALUES ('a', 'cli', ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
                [holder.pid, HOST],
            )
        daemon.crawl_job("default", [seed("a")])
        daemon.crawl_job("default", [seed("a"), seed("b")])
    finally:
        holder.kill()
        holder.wait()
    assert [[s.id for s in seeds] for seeds in crawled] == [["b"]]


def test_stop_children_stops_each_crawl_tree_by_its_handle(monkeypatch):
    """The daemon stops its crawls through their Popen handles, grandchildren included
    (the extraction workers), and leaves every other process alone."""
    spawn = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    crawl = subprocess.Popen([sys.executable, "-c", spawn])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(children, "_children", {crawl})
    try:
        deadline = time.monotonic() + 10
        while not proctree.descendants(crawl.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        worker = proctree.descendants(crawl.pid)[0]
        assert children.stop_children(grace=1.0) == [crawl.pid]
        assert crawl.wait(10) != 0 and other.poll() is None
        deadline = time.monotonic() + 5
        while proctree._alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not proctree._alive(worker)
    finally:
        other.kill()
        other.wait()


def test_status_health_from_runs(tmp_path):
    with Store(tmp_path / "nianbao.db") as store:
        portals = [{"id": "a", "name": "A", "region": "江苏", "start_urls": ["http://x/"]}]
        for outcome in ("ok", "failed", "failed"):
            run = store.runs.begin(portals, trigger="daemon")
            store.runs.set_portal_health(
                run, "a", "ok" if outcome == "ok" else "failed", f"{outcome} detail"
            )
            store.runs.finish(
                run, outcome, detail="" if outcome == "ok" else "crawl process exited with -9"
            )
        store.daemons.beat(12345678, "elsewhere", "running", {"a": "2027-02-11T06:00:00Z"})
        doc = status.status(store)
    (p,) = doc["portals"]
    assert p["health"] == "failing" and p["consecutive_failures"] == 2
    assert p["last_error"] == "failed detail" and p["last_run"]["status"] == "failed"
    assert p["next_run"] == "2027-02-11T06:00:00Z" and doc["daemon"]["running"]
    assert "2 failures in a row" in status.status_text(doc)
