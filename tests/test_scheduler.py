"""The daemon's parts without a daemon process: schedules, catch-up at start-up, job isolation,
locks, stopping crawl children, the feed HTTP server and ``nianbao status``."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

import feedparser
import pytest

from crawler.seeds import Seed
from monitor.alerts.outbox import FeedOptions, write_feeds
from monitor.daemon import scheduler, status
from monitor.daemon.feedserver import FeedServer
from monitor.daemon.scheduler import (
    TZ,
    Daemon,
    DaemonOptions,
    first_run,
    parse_duration,
    schedule_key,
)
from monitor.models import Subscription
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
    d = Daemon(DaemonOptions(db=db, seeds=[seed("a"), seed("b", "0 7 * * *")], every=None))
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
        assert store.lock_rows() == []  # the lock was released


def test_daemon_skips_a_portal_locked_by_a_manual_crawl(daemon, monkeypatch):
    crawled = []
    monkeypatch.setattr(
        scheduler.cycle, "crawl", lambda config, seeds, **kw: crawled.append(seeds) or 1 / 0
    )
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with Store(daemon.opts.db) as store:
            store.db.execute(
                "INSERT INTO locks VALUES ('a', 'cli', ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
                [holder.pid, HOST],
            )
        daemon.crawl_job("default", [seed("a")])
        daemon.crawl_job("default", [seed("a"), seed("b")])
    finally:
        holder.kill()
        holder.wait()
    assert [[s.id for s in seeds] for seeds in crawled] == [["b"]]


def test_stop_children_terminates_only_crawl_children():
    crawl = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "crawler.runner"]
    )
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        assert scheduler.stop_children() == [crawl.pid]
        assert crawl.wait(10) != 0 and other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_feed_server_serves_feeds_and_unsubscribes(tmp_path):
    with Store(tmp_path / "nianbao.db") as store:
        sub = store.add_subscription(Subscription("a@example.org"))
        write_feeds(store, FeedOptions(tmp_path / "feeds", link="http://127.0.0.1/"))
    server = FeedServer(tmp_path / "feeds", tmp_path / "nianbao.db")
    base = server.start()
    try:
        for path in ("/feed.atom", f"/feeds/{sub.id}.atom"):
            with urllib.request.urlopen(base + path, timeout=5) as response:
                assert response.headers["Content-Type"].startswith("application/atom+xml")
                assert not feedparser.parse(response.read()).bozo
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(base + "/feeds/../nianbao.db", timeout=5)
        with urllib.request.urlopen(base + f"/unsubscribe/{sub.token}", timeout=5) as response:
            assert "<form" in response.read().decode()  # GET only asks
        with urllib.request.urlopen(
            base + f"/unsubscribe/{sub.token}", data=b"", timeout=5
        ) as response:
            assert "已退订" in response.read().decode()
    finally:
        server.stop()
    with Store(tmp_path / "nianbao.db") as store:
        assert store.subscription_rows() == []


def test_status_health_from_runs(tmp_path):
    with Store(tmp_path / "nianbao.db") as store:
        portals = [{"id": "a", "name": "A", "region": "江苏", "start_urls": ["http://x/"]}]
        for outcome in ("ok", "failed", "failed"):
            run = store.begin_run(portals, trigger="daemon")
            store.set_portal_health(
                run, "a", "ok" if outcome == "ok" else "failed", f"{outcome} detail"
            )
            store.finish_run(
                run, outcome, detail="" if outcome == "ok" else "crawl process exited with -9"
            )
        store.daemon_beat(12345678, "elsewhere", "running", {"a": "2027-02-11T06:00:00Z"})
        doc = status.status(store)
    (p,) = doc["portals"]
    assert p["health"] == "failing" and p["consecutive_failures"] == 2
    assert p["last_error"] == "failed detail" and p["last_run"]["status"] == "failed"
    assert p["next_run"] == "2027-02-11T06:00:00Z" and doc["daemon"]["running"]
    assert "2 failures in a row" in status.status_text(doc)
