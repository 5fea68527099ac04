"""Extraction workers killed mid-crawl, as the OOM killer would: no page silently missing.

A real ``nianbao crawl`` of the mirror's synthetic ``bench`` portal with two extraction
workers; once the database shows the crawl is under way, worker processes (children of
the crawl's forkserver) get SIGKILL. The pool is rebuilt and the pages that were in
flight are retried once in a fresh worker. Every report the mirror publishes must then
be a stored report or a problem of the run; a page lost twice is the problem
``worker_died`` and makes the run not ``ok``.
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

from mirror import MirrorServer
from monitor.proctree import descendants
from tests.conftest import ROOT

PAGES = 300

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


@pytest.fixture
def bench(tmp_path):
    server = MirrorServer(synthetic=PAGES)
    server.start()
    seeds = tmp_path / "seeds.toml"
    server.seeds_toml(seeds)
    yield server, seeds, tmp_path / "nianbao.db"
    server.stop()


def start_crawl(db: Path, seeds: Path) -> subprocess.Popen:
    settings = {
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": "false",
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "NIANBAO_MAX_PAGES_PER_PORTAL": PAGES * 2 + 100,
        "NIANBAO_MAX_LIST_PAGES": PAGES // 5 + 50,
        "NIANBAO_EXTRACT_WORKERS": 2,
    }
    args = ["crawl", "--seeds", str(seeds), "--portal", "bench", "--json"]
    for key, value in settings.items():
        args += ["-s", f"{key}={value}"]
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        cwd=ROOT,
        env=dict(os.environ, NIANBAO_DB=str(db)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def count(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def extraction_workers(root: int) -> list[int]:
    """The crawl's extraction workers: the children of its forkserver process."""
    tree = descendants(root)
    forkservers = {p for p in tree if "forkserver" in cmdline(p)}
    workers = []
    for pid in forkservers:
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid in forkservers:
            workers.append(pid)
    return workers


def wait_mid_crawl(proc: subprocess.Popen, db: Path) -> None:
    deadline = time.monotonic() + 120
    while count(db, "SELECT COUNT(*) FROM versions") < 20:
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the crawl ended or stalled before the kill: {proc.stderr.read()[-2000:]}")
        time.sleep(0.05)


def kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False


def accounted(server: MirrorServer, db: Path, run_id: int) -> tuple[set[str], set[str]]:
    """(published reports neither stored nor a problem of the run, URLs of lost pages)."""
    with sqlite3.connect(db) as conn:
        stored = {u for (u,) in conn.execute("SELECT url FROM report_urls")}
        problems = dict(conn.execute("SELECT url, kind FROM problems WHERE run_id = ?", [run_id]))
    missing = server.expected_reports("bench") - stored - set(problems)
    return missing, {u for u, k in problems.items() if k == "worker_died"}


def test_one_worker_killed_mid_crawl_loses_no_page(bench):
    server, seeds, db = bench
    proc = start_crawl(db, seeds)
    wait_mid_crawl(proc, db)
    victims = extraction_workers(proc.pid)
    assert victims, "no extraction worker found under the crawl"
    assert kill(victims[0])
    out, err = proc.communicate(timeout=240)
    result = json.loads(out)
    missing, lost = accounted(server, db, result["run_id"])
    print(f"\nrun {result['status']}: {result['pages_fetched']} pages, lost {len(lost)}")
    assert missing == set(), sorted(missing)[:5]
    if lost:  # a page lost twice is never part of an ok run
        assert result["status"] != "ok"
    log = Path(result["log_file"]).read_text(encoding="utf-8")
    assert "extraction pool rebuilt" in log  # the death was seen, not silently survived


def test_workers_killed_again_and_again_turn_pages_into_problems_not_gaps(bench):
    """Every worker, fresh ones too, killed for two seconds: pages die twice, and each is a
    ``worker_died`` problem; the run is not ``ok``; the crawl goes on to the end."""
    server, seeds, db = bench
    proc = start_crawl(db, seeds)
    wait_mid_crawl(proc, db)
    killed, until = 0, time.monotonic() + 2.0
    while time.monotonic() < until and proc.poll() is None:
        killed += sum(kill(pid) for pid in extraction_workers(proc.pid))
        time.sleep(0.02)
    out, err = proc.communicate(timeout=240)
    result = json.loads(out)
    missing, lost = accounted(server, db, result["run_id"])
    print(f"\nkilled {killed} workers; run {result['status']}, lost {len(lost)} pages")
    assert killed >= 2
    assert missing == set(), sorted(missing)[:5]
    assert lost, "no page was lost twice: the kills did not land"
    assert result["status"] != "ok"
    assert "extraction worker died" in result["detail"] + json.dumps(result["portals"])


# ---- the pipeline's supervision, on real worker processes ------------------------------


def make_pipeline(**settings):
    from scrapy.utils.test import get_crawler

    from crawler.options import crawl_defaults
    from crawler.pipelines import ExtractPipeline

    crawler = get_crawler(
        settings_dict={**crawl_defaults(), "NIANBAO_EXTRACT_WORKERS": 1, **settings}
    )
    crawler.stats.open_spider()
    pipeline = ExtractPipeline.from_crawler(crawler)
    pipeline.open_spider()
    return pipeline


def page_item(n: int = 1):
    from crawler.items import PageItem
    from mirror.hostile import REPORT_PARAGRAPHS

    html = "<html><body><div id=zoom>" + "".join(f"<p>{p}</p>" for p in REPORT_PARAGRAPHS)
    return PageItem(
        "p",
        f"http://h/{n}.html",
        200,
        "",
        (html + "</div></body></html>").encode(),
        {},
        "text/html",
    )


def test_a_worker_that_never_answers_is_killed_and_its_page_is_a_timeout():
    """A stopped worker ignores its own alarm (as a hung C call would): the pipeline kills
    it after the time cap and a grace, records ``timeout``, and the next page is read."""
    import asyncio

    from crawler.items import FetchProblem, PageItem

    pipeline = make_pipeline(NIANBAO_EXTRACT_TIMEOUT=1.0)
    pipeline.GRACE = 0.5
    try:

        async def scenario():
            assert isinstance(await pipeline.process_item(page_item(0)), PageItem)  # warm
            for pid in list(pipeline.pool._processes):
                os.kill(pid, signal.SIGSTOP)
            started = time.monotonic()
            stuck = await pipeline.process_item(page_item(1))
            waited = time.monotonic() - started
            after = await pipeline.process_item(page_item(2))
            return stuck, waited, after

        stuck, waited, after = asyncio.run(scenario())
    finally:
        pipeline.close_spider()
    assert isinstance(stuck, FetchProblem) and stuck.kind == "timeout", stuck
    assert 1.0 <= waited < 10
    assert isinstance(after, PageItem) and after.extracted is not None
