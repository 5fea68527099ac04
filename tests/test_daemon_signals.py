"""Signals and the memory limit of ``nianbao daemon``, against real processes and the mirror:
SIGHUP mid-crawl reloads the seeds (a bad seed file keeps the old ones) and the daemon
lives on; SIGTERM/SIGINT mid-crawl stop within ``--stop-timeout`` (the crawl's process tree
stopped, its run ``interrupted``, the locks released, exit 0); the crawl's memory limit
covers its whole process tree (``monitor.proctree``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mirror import MirrorServer
from monitor.proctree import MB, Watchdog, descendants, tree_rss
from monitor.store import Store
from tests.conftest import ROOT, run_cli
from tests.test_daemon_e2e import wait_for

SLOW = [  # a crawl of the synthetic portal that lasts tens of seconds
    "-s",
    "AUTOTHROTTLE_ENABLED=false",
    "-s",
    "DOWNLOAD_DELAY=0.25",
    "-s",
    "RANDOMIZE_DOWNLOAD_DELAY=false",
    "-s",
    "CONCURRENT_REQUESTS_PER_DOMAIN=1",
]


@pytest.fixture
def bench_mirror():
    server = MirrorServer(synthetic=60)
    server.start()
    yield server
    server.stop()


def seeds_file(mirror: MirrorServer, path: Path, ids: list[str]) -> Path:
    """A seeds file with only the portals ``ids`` of the mirror."""
    head, *blocks = mirror.seeds_toml().split("\n[[portal]]")
    kept = [b for b in blocks if any(f'id = "{i}"' in b for i in ids)]
    path.write_text(head + "".join("\n[[portal]]" + b for b in kept), encoding="utf-8")
    return path


class Daemon:
    """One ``nianbao daemon`` process with its log in a file."""

    def __init__(self, tmp: Path, db: Path, seeds: Path, *extra: str) -> None:
        self.db, self.log = db, tmp / f"daemon-{time.monotonic_ns()}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "daemon", "--seeds", str(seeds)]
                + ["--every", "2s", "--deliver-every", "1s", "--db", str(db), *SLOW, *extra],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def crawling(self) -> list[int]:
        """The crawl processes running under the daemon, once a run has stored pages."""
        if "Crawling" not in self.text():  # the daemon has made the database by then
            return []
        with Store(self.db) as store:
            running = [r for r in store.runs.running() if r.pid == self.proc.pid]
            pages = store.db.execute("SELECT count(*) FROM versions").fetchone()[0]
        return descendants(self.proc.pid) if running and pages >= 3 else []

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def runs_and_locks(db: Path) -> tuple[list[dict], list]:
    with Store(db) as store:
        runs = [r.to_json() for r in (store.runs.get(i) for i in range(1, 50)) if r]
        return runs, store.locks.all()


def alive(pids: list[int]) -> list[int]:
    return [p for p in pids if Path(f"/proc/{p}").exists() and "Z" not in state(p)]


def state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def test_sighup_mid_crawl_reloads_the_seeds_and_the_daemon_lives_on(tmp_path, bench_mirror):
    db, seeds = tmp_path / "nianbao.db", tmp_path / "seeds.toml"
    seeds_file(bench_mirror, seeds, ["bench"])
    daemon = Daemon(tmp_path, db, seeds, "--stop-timeout", "5s")
    try:
        wait_for(daemon.crawling, 60, "a crawl under way")
        seeds.write_text('[[portal]]\nid = "broken"\nname = 1\n', encoding="utf-8")
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "Seeds not reloaded" in daemon.text(), 20, "the bad seeds refused")
        assert f"{seeds}:" in daemon.text()  # file:line of the error
        seeds_file(bench_mirror, seeds, ["bench", "qidong"])
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "Seeds reloaded" in daemon.text(), 20, "the seeds reloaded")
        assert "added: qidong" in daemon.text() and daemon.proc.poll() is None
        assert daemon.crawling(), "the crawl under way goes on"

        def qidong_in_status():
            doc = json.loads(run_cli("status", "--json", db=db).stdout)
            return any(p["portal_id"] == "qidong" for p in doc["portals"])

        wait_for(qidong_in_status, 150, "the new portal in status")
        assert daemon.proc.poll() is None
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=30) == 0, daemon.text()[-3000:]
    finally:
        daemon.kill()
    runs, locks = runs_and_locks(db)
    assert locks == [] and not [r for r in runs if r["status"] == "running"]
    assert "Traceback" not in daemon.text()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_stop_mid_crawl_within_the_stop_timeout(tmp_path, bench_mirror, signum):
    db, seeds = tmp_path / "nianbao.db", tmp_path / "seeds.toml"
    seeds_file(bench_mirror, seeds, ["bench"])
    daemon = Daemon(tmp_path, db, seeds, "--stop-timeout", "3s")
    try:
        tree = wait_for(daemon.crawling, 60, "a crawl under way")
        sent = time.monotonic()
        daemon.proc.send_signal(signum)
        code = daemon.proc.wait(timeout=60)
        took = time.monotonic() - sent
    finally:
        daemon.kill()
    log = daemon.text()
    assert code == 0, log[-3000:]
    assert took < 3 + 3, f"stopped after {took:.1f} s with --stop-timeout 3s"
    assert alive(tree) == [], "the crawl's processes outlived the daemon"
    runs, locks = runs_and_locks(db)
    assert locks == [] and [r["status"] for r in runs] == ["interrupted"], runs
    assert "stop timeout" in runs[0]["detail"]
    assert "Traceback" not in log


def test_a_crawl_whose_process_tree_outgrows_the_memory_limit_fails(tmp_path, mirror, db_path):
    seeds = seeds_file(mirror, tmp_path / "seeds.toml", ["qidong"])
    result = run_cli(
        "crawl",
        "--seeds",
        str(seeds),
        "--json",
        "-s",
        "NIANBAO_MEMORY_LIMIT_MB=40",
        "-s",
        "MEMUSAGE_ENABLED=false",
        db=db_path,
    )
    summary = json.loads(result.stdout)
    assert result.returncode == 1 and summary["status"] == "failed"
    assert summary["detail"].startswith("memory limit of 40 MB exceeded by the process tree")
    assert summary["removed"] == 0


def test_the_watchdog_sees_and_stops_the_whole_tree(tmp_path):
    script = tmp_path / "grow.py"
    script.write_text(
        "import subprocess, sys, time\n"
        "if sys.argv[1:] == ['leaf']:\n"
        "    block = bytearray(120 * 1024 * 1024)\n"
        "    time.sleep(60)\n"
        "else:\n"
        "    subprocess.Popen([sys.executable, __file__, 'leaf'])\n"
        "    time.sleep(60)\n",
        encoding="utf-8",
    )
    parent = subprocess.Popen([sys.executable, str(script)])
    try:
        wait_for(lambda: tree_rss(parent.pid) > 100 * MB, 20, "the grandchild to grow")
        kids = descendants(parent.pid)
        assert kids and tree_rss(parent.pid) > 100 * MB
        with Watchdog(parent.pid, 80, interval=0.1) as watchdog:
            assert parent.wait(timeout=10) != 0
        assert watchdog.reason.startswith("memory limit of 80 MB exceeded by the process tree")
        assert watchdog.peak_mb > 100
        wait_for(lambda: not alive(kids), 10, "the grandchild stopped too")
    finally:
        for pid in [parent.pid, *descendants(parent.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.wait()
