"""Many hosts at once: the per-host limit holds with no delay, and dead or trickling hosts
are given up early, cost only their own slot, and never turn into removals.

Real crawls (``nianbao crawl`` processes) of ``mirror.hosts.HostsMirror``: synthetic
portals each on its own loopback address 127.0.1.N, with a server that counts the
requests each host is answering at once.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy.settings import Settings

from crawler.hosts import CONNECTION_FAILURES, HostGiveUpMiddleware, per_host_limit
from mirror.hosts import HostsMirror, free_port
from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="binds 127.0.1.N (all of 127/8 is loopback on Linux)",
)

FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": "false"}


def crawl(db: Path, seeds: Path, **settings) -> tuple[int, dict]:
    args = ["crawl", "--seeds", str(seeds), "--json"]
    for key, value in {**FAST, **settings}.items():
        args += ["-s", f"{key}={value}"]
    done = run_cli(*args, db=db)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return done.returncode, json.loads(done.stdout)


def query(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def stored_reports(db: Path, portal_id: str) -> set[str]:
    return {u for (u,) in query(db, "SELECT url FROM reports WHERE portal_id = ?", (portal_id,))}


def test_the_per_host_limit_holds_with_no_delay(tmp_path):
    """20 hosts, 2 at a time each, DOWNLOAD_DELAY 0: the servers never see a third request
    from the crawl at once (plain Scrapy 2.19 on the asyncio reactor does: see
    docs/scrapy-slot-concurrency.md), and every report of every host is stored."""
    with HostsMirror(20, reports=4, latency=0.05) as hosts:
        seeds = tmp_path / "seeds.toml"
        hosts.seeds_toml(seeds)
        code, result = crawl(tmp_path / "db", seeds, NIANBAO_PER_HOST=2)
        assert code == 0, result.get("detail")
        assert hosts.peak() <= 2, [(h.addr, h.peak) for h in hosts.hosts if h.peak > 2]
        for host in hosts.hosts:
            assert stored_reports(tmp_path / "db", host.portal_id) == hosts.expected_reports(host)


def test_the_scrapy_bug_is_still_there_and_the_fix_holds():
    """The upstream report's reproduction: plain Scrapy overshoots the limit (when this
    fails, upstream fixed it and ``HostDownloader._process_queue`` can go); the one-line
    fix keeps it."""
    script = ROOT / "docs" / "scrapy-slot-repro.py"
    plain = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    fixed = subprocess.run(
        [sys.executable, str(script), "--fixed"], capture_output=True, text=True, timeout=120
    )
    assert plain.returncode == 1, plain.stdout + plain.stderr[-1000:]
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr[-1000:]


def test_dead_and_trickling_hosts_are_given_up_and_nothing_is_removed(tmp_path):
    """10 portals crawled healthy; then on the same addresses 1 refuses connections, 1
    accepts none, 2 trickle a byte a second. The crawl finishes, the 6 live portals are
    stored whole, each faulty host is down with one ``host_down`` problem and its portal
    ``failed``, and no report becomes a removal (删除)."""
    db, seeds, port = tmp_path / "db", tmp_path / "seeds.toml", free_port()
    faults = {"closed": 1, "blackhole": 1, "trickle": 2}
    settings = {"DOWNLOAD_TIMEOUT": 2, "NIANBAO_HOST_SUSPECT_TIMEOUT": 0.5}
    with HostsMirror(10, reports=3, port=port) as hosts:
        hosts.seeds_toml(seeds)
        code, first = crawl(db, seeds, **settings)
        assert code == 0 and first["status"] == "ok", first.get("detail")
    with HostsMirror(10, reports=3, port=port, faults=faults, trickle_every=1.0) as hosts:
        assert hosts.seeds_toml() == seeds.read_text(encoding="utf-8")  # same URLs
        code, second = crawl(db, seeds, NIANBAO_REMOVAL_RUNS=1, **settings)
        assert code == 1 and second["status"] == "partial"
        status = {p["portal_id"]: p["status"] for p in second["portals"]}
        for host in hosts.live():
            assert status[host.portal_id] == "ok"
            assert stored_reports(db, host.portal_id) == hosts.expected_reports(host)
        run = second["run_id"]
        for host in hosts.faulty():
            assert status[host.portal_id] == "failed", host
            problems = query(
                db,
                "SELECT detail FROM problems WHERE run_id = ? AND portal_id = ?",
                (run, host.portal_id),
            )
            assert len(problems) == 1, (host, problems)
            assert problems[0][0].startswith("host_down: host " + host.addr), problems
        assert not [e for e in second["events"] if e["kind"] == "removed"]
        assert query(db, "SELECT count(*) FROM events WHERE kind = 'removed'") == [(0,)]
        assert query(db, "SELECT count(*) FROM reports WHERE status = 'removed'") == [(0,)]


class _Stats:
    def __init__(self):
        self.values: dict[str, object] = {}

    def inc_value(self, key, n=1):
        self.values[key] = self.values.get(key, 0) + n

    def set_value(self, key, value):
        self.values[key] = value


class _Crawler:
    def __init__(self):
        self.stats = _Stats()


def test_an_answer_resets_the_count_and_a_down_host_is_not_retried():
    from scrapy import Request
    from scrapy.exceptions import (
        DownloadConnectionRefusedError,
        DownloadTimeoutError,
        IgnoreRequest,
    )
    from scrapy.http import Response
    from twisted.web._newclient import ResponseNeverReceived

    from crawler.hosts import HostDown

    mw = HostGiveUpMiddleware(_Crawler(), limit=3, suspect_timeout=5.0)
    host = "http://127.0.1.1"
    mw.process_exception(Request(f"{host}/a"), DownloadTimeoutError())
    suspect = Request(f"{host}/b", meta={"download_timeout": 30})
    mw.process_request(suspect)
    assert suspect.meta["download_timeout"] == 5.0
    for _ in range(3):  # one slow page and its retries: counted once
        mw.process_exception(Request(f"{host}/a"), DownloadTimeoutError())
    mw.process_exception(Request(f"{host}/c"), ResponseNeverReceived([]))  # an answer of sorts
    mw.process_exception(Request(f"{host}/c"), IgnoreRequest())  # not a connection failure
    assert mw.failures[host[7:]] == 1
    mw.process_response(Request(f"{host}/d"), Response(f"{host}/d", status=503))  # an answer
    assert not mw.failures
    mw.process_exception(Request(f"{host}/robots.txt"), DownloadTimeoutError())
    mw.process_exception(Request(f"{host}/robots.txt"), DownloadTimeoutError())  # counts again
    assert "dont_retry" not in Request(f"{host}/x").meta
    last = Request(f"{host}/e")
    mw.process_exception(last, DownloadConnectionRefusedError())
    assert last.meta["dont_retry"] is True
    first, second = (Request(f"{host}/{x}", errback=print) for x in "fg")
    for request in (first, second):
        with pytest.raises(HostDown):
            mw.process_request(request)
    # one problem per host: the first dropped request reaches its errback, the others not
    assert first.errback is print and second.errback is None
    mw.process_request(Request("http://127.0.1.2/b"))  # other hosts are unaffected
    assert "DownloadTimeoutError" in CONNECTION_FAILURES


def test_per_host_limit_takes_the_more_explicit_name():
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    assert per_host_limit(settings) == 2
    settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", 8, priority="cmdline")
    assert per_host_limit(settings) == 8
