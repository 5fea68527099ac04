"""Fault tests against real processes: a crawl killed mid-way loses no event and leaves no
run ``running``; a killed ``nianbao crawl`` parent takes its crawl child with it.

Each test crawls the mirror's synthetic ``bench`` portal with real ``nianbao crawl``
processes, kills one of them with SIGKILL once the database shows it is mid-crawl (polled,
never a blind sleep), crawls again, and checks the database: every stored version has
exactly one event (``new`` for a report's first, ``edited`` for a changed text).
Lock takeover is checked against real processes too (a live holder, a reused pid).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.seeds import Seed
from monitor.store import Store, locks
from monitor.store.locks import process_alive
from tests.conftest import ROOT, run_cli

PAGES = 150  # report pages: a crawl of them lasts seconds, so a kill lands mid-crawl

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


@pytest.fixture
def setup(tmp_path, bench):
    seeds = tmp_path / "seeds.toml"
    bench.seeds_toml(seeds)
    return tmp_path / "nianbao.db", seeds


def crawl_args(seeds: Path) -> list[str]:
    settings = {
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": "false",
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "NIANBAO_MAX_PAGES_PER_PORTAL": PAGES * 2 + 100,
        "NIANBAO_MAX_LIST_PAGES": PAGES // 5 + 50,
    }
    args = ["crawl", "--seeds", str(seeds), "--portal", "bench", "--json"]
    for key, value in settings.items():
        args += ["-s", f"{key}={value}"]
    return args


def start_crawl(db: Path, seeds: Path) -> subprocess.Popen:
    """``nianbao crawl`` in a process group of its own (so the group can be killed)."""
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", *crawl_args(seeds)],
        cwd=ROOT,
        env=dict(os.environ, NIANBAO_DB=str(db)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def query(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    """Read the database as another process would (no migrations, no writes)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def wait_for(check, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the crawl ended (exit {proc.returncode}) before {what}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def versions_of_run(db: Path, run_id: int) -> int:
    rows = query(db, "SELECT COUNT(*) FROM versions WHERE run_id = ?", (run_id,))
    return rows[0][0] if rows else 0


def crawl_to_the_end(db: Path, seeds: Path) -> dict:
    result = run_cli(*crawl_args(seeds), db=db, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def assert_every_version_judged_once(db: Path, reports: int) -> None:
    """Each report has one ``new`` event; each version exactly one change event (the
    synthetic reports' random tables also give ``inconsistent`` findings); none unjudged;
    no run left ``running``."""
    new = query(db, "SELECT report_id, COUNT(*) FROM events WHERE kind = 'new' GROUP BY report_id")
    assert len(new) == reports and {n for _, n in new} == {1}
    per_version = query(
        db,
        "SELECT v.id, (SELECT COUNT(*) FROM events e WHERE e.new_version_id = v.id "
        "AND e.kind IN ('new', 'edited')) FROM versions v",  # findings are events of their own
    )
    assert {n for _, n in per_version} == {1}, [v for v, n in per_version if n != 1][:10]
    assert query(db, "SELECT COUNT(*) FROM versions WHERE judged_run IS NULL") == [(0,)]
    assert query(db, "SELECT id FROM crawl_runs WHERE status = 'running'") == []


def test_kill_9_of_the_crawl_group_then_recrawl_loses_no_new_event(setup, bench):
    db, seeds = setup
    first = start_crawl(db, seeds)
    wait_for(lambda: versions_of_run(db, 1) >= 20, 60, "20 stored versions", first)
    os.killpg(first.pid, signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    stored = versions_of_run(db, 1)
    assert 20 <= stored < PAGES  # the kill landed mid-crawl
    assert query(db, "SELECT status FROM crawl_runs WHERE id = 1") == [("running",)]

    second = crawl_to_the_end(db, seeds)
    assert second["status"] == "ok"
    assert_every_version_judged_once(db, len(bench.expected_reports("bench")))
    ((status, detail),) = query(db, "SELECT status, detail FROM crawl_runs WHERE id = 1")
    assert status == "interrupted" and detail.startswith(f"parent pid {first.pid} gone")
    runs = json.loads(run_cli("runs", "--json", db=db).stdout)
    assert [(r["id"], r["status"]) for r in runs] == [(2, "ok"), (1, "interrupted")]


def test_kill_9_during_an_edit_crawl_loses_no_edited_event(setup, bench):
    db, seeds = setup
    crawl_to_the_end(db, seeds)
    bench.edit_synthetic({i: "digit" for i in range(PAGES)})
    second = start_crawl(db, seeds)
    wait_for(lambda: versions_of_run(db, 2) >= 10, 60, "10 edited versions", second)
    os.killpg(second.pid, signal.SIGKILL)
    second.wait(10)
    assert versions_of_run(db, 2) < PAGES  # the kill landed mid-crawl

    crawl_to_the_end(db, seeds)
    reports = len(bench.expected_reports("bench"))
    assert_every_version_judged_once(db, reports)
    edited = query(db, "SELECT COUNT(DISTINCT report_id) FROM events WHERE kind = 'edited'")
    assert edited == [(reports,)]


def test_kill_9_of_the_parent_only_takes_the_crawl_child_with_it(setup, bench):
    db, seeds = setup
    first = start_crawl(db, seeds)
    wait_for(lambda: versions_of_run(db, 1) >= 10, 60, "10 stored versions", first)
    ((child, token),) = query(db, "SELECT child_pid, child_token FROM crawl_runs WHERE id = 1")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    t0 = time.monotonic()
    wait_for(lambda: not process_alive(child, token), 5, "the crawl child to exit")
    died_after = time.monotonic() - t0
    written = versions_of_run(db, 1)

    crawl_to_the_end(db, seeds)
    assert versions_of_run(db, 1) == written  # nothing wrote for run 1 during run 2
    assert_every_version_judged_once(db, len(bench.expected_reports("bench")))
    ((status, detail),) = query(db, "SELECT status, detail FROM crawl_runs WHERE id = 1")
    assert status == "interrupted" and f"parent pid {first.pid} gone" in detail
    assert died_after < 5


def test_a_killed_crawl_child_is_reported_as_such(setup, bench):
    db, seeds = setup
    first = start_crawl(db, seeds)
    wait_for(lambda: versions_of_run(db, 1) >= 5, 60, "5 stored versions", first)
    ((child,),) = query(db, "SELECT child_pid FROM crawl_runs WHERE id = 1")
    os.kill(child, signal.SIGKILL)
    assert first.wait(30) == 1
    ((status, detail),) = query(db, "SELECT status, detail FROM crawl_runs WHERE id = 1")
    assert (status, detail) == ("interrupted", "crawl process died: killed by SIGKILL (-9)")
    portal = query(db, "SELECT status, detail FROM portal_runs WHERE run_id = 1")
    assert portal == [("interrupted", "crawl process died: killed by SIGKILL (-9)")]
    stored = versions_of_run(db, 1)
    new = query(db, "SELECT COUNT(*) FROM events WHERE kind = 'new' AND run_id = 1")
    assert new == [(stored,)]  # what it stored before dying was judged at once


@pytest.fixture
def live_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def hold(store: Store, pid: int, token: str | None, acquired_at: str) -> None:
    store.db.execute(
        "INSERT INTO locks (portal_id, owner, pid, host, acquired_at, token) "
        "VALUES ('a', 'daemon', ?, ?, ?, ?)",
        [pid, locks.HOST, acquired_at, token],
    )


def test_a_live_lock_holder_keeps_its_lock_however_old(db_path, live_process):
    seed = Seed("a", "a", "江苏", ("http://127.0.0.1/",))
    with Store(db_path) as store:
        hold(store, live_process.pid, locks.start_token(live_process.pid), "2000-01-01T00:00:00Z")
        with locks.portal_locks(store, [seed], owner="cli") as held:
            assert held.seeds == [] and "a by daemon" in held.message()


def test_a_lock_of_a_reused_pid_is_taken_over(db_path, live_process):
    seed = Seed("a", "a", "江苏", ("http://127.0.0.1/",))
    with Store(db_path) as store:
        hold(store, live_process.pid, "12345", "2026-01-01T00:00:00Z")  # another start time
        with locks.portal_locks(store, [seed], owner="cli") as held:
            assert held.seeds == [seed]
            assert store.locks.get("a").pid == os.getpid()
            assert store.locks.get("a").token == locks.start_token(os.getpid())
