"""Distributed crawling through a real Redis: workers, one ingest process, the coordinator.

Every process is a real ``nianbao`` process; the portals are the mirror's on 127.0.0.1.
"""

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

from crawler.items import Extracted, FetchProblem, ListingItem, PageItem
from tests.conftest import LOCAL, ROOT

pytest.importorskip("scrapy_redis", reason="the `distributed` extra is not installed")

from crawler import distributed as dist  # noqa: E402


def test_items_survive_the_trip_through_redis_as_json():
    page = PageItem(
        "p",
        "http://x/a.html",
        200,
        "2026-01-01T00:00:00",
        body="报告".encode("gb18030"),
        extracted=Extracted(title="年报", year=2024, is_report=True, text="一、总体情况"),
    )
    for item in (
        page,
        ListingItem("p", "http://x/", True, ["http://x/a.html"]),
        FetchProblem("p", "u", "dns"),
    ):
        item_id, back = dist.decode_item(dist.encode_item(item))
        assert back == item and item_id == dist.item_id(item)
    later = PageItem(**{**page.__dict__, "fetched_at": "2026-01-02T00:00:00"})
    assert dist.item_id(later) == dist.item_id(page)  # the same request, run twice
    with pytest.raises(ValueError):
        dist.decode_item(b'{"type": "os.system", "id": "x", "item": {}}')


def test_a_request_whose_worker_stops_renewing_goes_back_in_the_queue(redis_server):
    client = redis_server.client()
    keys = dist.RunKeys.new()
    client.zadd(keys.requests, {b"request-1": -10, b"request-2": 0})
    token = "t1"
    popped = client.eval(dist.POP_LEASED, 4, *dist.lease_keys(keys), token, 0.2)
    assert popped == b"request-1"  # the highest priority first
    assert dist.pending(client, keys) == {"queued": 1, "inflight": 1, "items": 0}
    assert dist.requeue_expired(client, keys) == 0  # the lease holds
    time.sleep(0.3)
    assert dist.requeue_expired(client, keys) == 1
    assert client.zscore(keys.requests, b"request-1") == -10  # back, with its priority
    assert dist.pending(client, keys) == {"queued": 2, "inflight": 0, "items": 0}


def start(*args: str, db: Path) -> subprocess.Popen:
    """A ``nianbao`` process in a session of its own (so a test can kill its whole tree),
    its output in a file next to the database."""
    env = dict(os.environ, NIANBAO_DB=str(db), PYTHONUNBUFFERED="1")
    with open(db.parent / f"{args[0]}-{time.monotonic_ns()}.out", "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_coordinator(url: str, seeds: Path, db: Path) -> subprocess.Popen:
    """``nianbao crawl --distributed`` in the background, its output piped (JSON summary)."""
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "crawl", "--distributed", "--redis", url]
        + ["--seeds", str(seeds), "--json", *LOCAL, "--db", str(db)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.fixture
def cluster(redis_server, db_path):
    """Start workers and the ingest process on demand; stop them all after the test."""
    started: list[subprocess.Popen] = []

    def worker(*settings: str) -> subprocess.Popen:
        started.append(start("worker", "--redis", redis_server.url, *LOCAL, *settings, db=db_path))
        return started[-1]

    def ingest() -> subprocess.Popen:
        started.append(start("ingest", "--redis", redis_server.url, db=db_path))
        return started[-1]

    yield worker, ingest
    for process in started:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):  # stop every one
            kill(process)


def stored(cli, db: Path) -> dict[str, list[str]]:
    """Report URL -> the text hashes of its versions."""
    out = {}
    for report in json.loads(cli("reports", "--json", db=db).stdout):
        history = json.loads(cli("history", str(report["id"]), "--json", db=db).stdout)
        out[report["url"]] = sorted(v["text_sha"] for v in history["versions"])
    return out


def local_crawl(cli, seeds: Path, db: Path) -> dict:
    result = cli("crawl", "--seeds", str(seeds), "--json", *LOCAL, db=db)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def distributed_crawl(cli, seeds: Path, db: Path, url: str) -> dict:
    result = cli(
        "crawl", "--distributed", "--redis", url, "--seeds", str(seeds), "--json", *LOCAL, db=db
    )
    assert result.stdout, result.stderr
    summary = json.loads(result.stdout)
    assert result.returncode == 0, summary
    return summary


def children(pid: int) -> set[int]:
    """The pids of ``pid``'s child processes (Linux /proc)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found |= {int(p) for p in task.read_text().split()}
    return found


def held_by(client, pids: set[int]) -> bool:
    """Whether one of ``pids`` holds a lease in the current run (tokens are host:pid:…)."""
    prefix = client.get(dist.CURRENT)
    if not prefix or not pids:
        return False
    tokens = client.hkeys(dist.RunKeys(prefix.decode()).inflight)
    return any(int(t.split(b":")[1]) in pids for t in tokens)


COUNTS = ("portals_ok", "pages_fetched", "reports_found", "new", "errors")


def test_two_workers_and_one_ingest_store_every_report_once(
    cli, mirror, redis_server, cluster, db_path, tmp_path
):
    seeds = tmp_path / "seeds.toml"
    mirror.seeds_toml(seeds)
    local_db = tmp_path / "local.db"
    local = local_crawl(cli, seeds, local_db)
    worker, ingest = cluster
    worker(), worker(), ingest()

    first = distributed_crawl(cli, seeds, db_path, redis_server.url)
    assert first["status"] == "ok"
    assert {k: first[k] for k in COUNTS} == {k: local[k] for k in COUNTS}
    assert stored(cli, db_path) == stored(cli, local_db)  # each report, one version each
    assert first["stats"]["queued_start"] > 0

    second = distributed_crawl(cli, seeds, db_path, redis_server.url)  # nothing changed
    assert second["status"] == "ok" and second["events"] == []
    mirror.set_state("edit-number")
    third = distributed_crawl(cli, seeds, db_path, redis_server.url)
    local_third = local_crawl(cli, seeds, local_db)
    kinds = sorted(e["kind"] for e in third["events"])
    assert "edited" in kinds and kinds == sorted(e["kind"] for e in local_third["events"])


def test_a_worker_killed_mid_crawl_still_gives_a_complete_run(
    cli, mirror, redis_server, cluster, db_path, tmp_path
):
    seeds = tmp_path / "seeds.toml"
    mirror.seeds_toml(seeds)
    local_db = tmp_path / "local.db"
    local = local_crawl(cli, seeds, local_db)
    worker, ingest = cluster
    # slow, one request at a time per worker (the victim is sure to get some), short leases
    slow = ("-s", "DOWNLOAD_DELAY=0.3", "-s", "CONCURRENT_REQUESTS=1")
    victim = worker(*slow, "-s", "NIANBAO_REDIS_LEASE=3")
    worker(*slow, "-s", "NIANBAO_REDIS_LEASE=3")
    ingest()
    coordinator = start_coordinator(redis_server.url, seeds, db_path)
    client = redis_server.client()
    for _ in range(1200):  # until the victim's crawl process holds a request (a lease)
        if held_by(client, children(victim.pid)):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the victim worker never took a request")
    kill(victim)
    out, err = coordinator.communicate(timeout=300)
    summary = json.loads(out)
    assert coordinator.returncode == 0, (summary, err[-2000:])
    assert summary["stats"]["requeued"] >= 1  # its requests went back in the queue
    assert {k: summary[k] for k in COUNTS} == {k: local[k] for k in COUNTS}
    assert stored(cli, db_path) == stored(cli, local_db)


class CountingPortal:
    """A portal on 127.0.0.1 whose every answer takes a while, counting the most
    requests it ever had at once (the check of the per-host limit across workers)."""

    def __init__(self, reports: int = 12, delay: float = 0.3):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        portal = self
        self.now = self.most = self.served = 0
        self.lock = threading.Lock()
        links = "".join(
            f'<li><a href="/r{n}.html">某市{2010 + n}年政府信息公开工作年度报告</a></li>'
            for n in range(reports)
        )
        self.list_page = f"<html><body><ul>{links}</ul></body></html>".encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with portal.lock:
                    portal.now += 1
                    portal.most = max(portal.most, portal.now)
                try:
                    time.sleep(delay)
                    body = portal.list_page if self.path == "/list.html" else b"<p>text</p>"
                    self.send_response(404 if self.path == "/robots.txt" else 200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with portal.lock:
                        portal.now -= 1
                        portal.served += 1

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seeds(self, path: Path) -> Path:
        path.write_text(
            f'[[portal]]\nid = "slow"\nname = "某市人民政府"\nregion = "某省"\n'
            f'start_urls = ["{self.base}/list.html"]\nallow = ["{self.base}/"]\n',
            encoding="utf-8",
        )
        return path


def test_the_per_host_limit_holds_across_workers(cli, redis_server, cluster, db_path, tmp_path):
    portal = CountingPortal()
    try:
        worker, ingest = cluster
        # each worker takes at most 2 requests from Redis at once: both get some
        worker("-s", "CONCURRENT_REQUESTS=2"), worker("-s", "CONCURRENT_REQUESTS=2"), ingest()
        result = cli(
            "crawl", "--distributed", "--redis", redis_server.url, "--json",
            "--seeds", str(portal.seeds(tmp_path / "seeds.toml")),
            "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=false",
            "-s", "NIANBAO_PER_HOST=2", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2",
            db=db_path,
        )  # fmt: skip
        assert result.returncode in (0, 1), result.stderr
        assert portal.served >= 13  # robots.txt, the list, the report pages
        assert portal.most == 2  # two workers with two places each: still 2 at once
    finally:
        portal.server.shutdown()
        portal.server.server_close()


def test_ingest_takes_back_what_a_dead_ingest_left_and_stores_each_item_once(
    cli, redis_server, db_path
):
    from crawler.seeds import Seed
    from monitor.store import Store

    seed = Seed("p", "某市人民政府", "某省", ("http://127.0.0.1:9/list.html",))
    with Store(db_path) as store:  # a run whose coordinator is gone (pid 0: no process)
        run_id = store.runs.begin([seed.to_dict()], "test", pid=0)
    client = redis_server.client()
    keys = dist.RunKeys.new()
    job = {"db": str(db_path.resolve()), "run_id": run_id, "seeds": [seed.to_dict()]}
    client.set(keys.job, json.dumps(job))
    client.set(keys.state, "done")
    client.set(dist.CURRENT, keys.prefix)
    listing = ListingItem("p", "http://127.0.0.1:9/list.html", True, ["http://127.0.0.1:9/r.html"])
    problem = FetchProblem("p", "http://127.0.0.1:9/r.html", "dns", detail="no such host")
    # a dead ingest process had taken the listing; a lease expired and it came again
    client.lpush(keys.processing, dist.encode_item(listing))
    client.lpush(keys.items, dist.encode_item(listing), dist.encode_item(problem), b"\xff junk")

    result = cli("ingest", "--redis", redis_server.url, "--once", "--json", db=db_path)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert (stats["listing"], stats["problem"], stats["duplicate"], stats["bad"]) == (1, 1, 1, 1)
    assert dist.pending(client, keys)["items"] == 0  # everything acknowledged
    with Store(db_path) as store:
        assert [p.kind for p in store.runs.problems(run_id)] == ["dns"]


def test_distributed_mode_needs_a_redis_it_can_reach(cli, db_path, tmp_path):
    seeds = tmp_path / "seeds.toml"
    seeds.write_text(
        '[[portal]]\nid = "p"\nname = "某市"\nregion = "某省"\nstart_urls = ["http://127.0.0.1:9/"]\n',
        encoding="utf-8",
    )
    missing = cli("crawl", "--distributed", "--seeds", str(seeds), db=db_path)
    assert missing.returncode == 2 and "--redis" in missing.stderr
    down = cli(
        "crawl", "--distributed", "--redis", "redis://:s3cret@127.0.0.1:9/0",
        "--seeds", str(seeds), db=db_path,
    )  # fmt: skip
    assert down.returncode == 1 and "cannot use Redis" in down.stderr
    assert "s3cret" not in down.stderr + down.stdout


def test_worker_and_ingest_ride_out_a_redis_restart(
    cli, mirror, redis_server, cluster, db_path, tmp_path
):
    """Redis restarted under a running worker and ingest: both wait for it (logging when
    it went and when it came back) instead of dying, and the next run is whole."""
    seeds = tmp_path / "seeds.toml"
    mirror.seeds_toml(seeds)
    worker, ingest = cluster
    processes = [worker(), ingest()]
    client = redis_server.client()
    for _ in range(600):  # until both are connected and polling
        if len(client.client_list()) >= 3:  # theirs and this test's
            break
        time.sleep(0.05)
    redis_server.process.terminate()
    redis_server.process.wait(timeout=10)
    time.sleep(2)  # both meet the closed port at least once
    args = [str(a) for a in redis_server.process.args]
    redis_server.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with contextlib.suppress(Exception):
                if client.ping():
                    break
            time.sleep(0.05)
        summary = distributed_crawl(cli, seeds, db_path, redis_server.url)
        assert summary["status"] == "ok"
        assert summary["reports_found"] == len(mirror.expected_reports())
        assert all(p.poll() is None for p in processes)  # neither died
        logs = [out.read_text() for out in db_path.parent.glob("*-*.out")]
        assert len(logs) == 2 and all("is unreachable" in log for log in logs), logs
        assert all("is back after" in log for log in logs)
    finally:
        redis_server.process.terminate()
        redis_server.process.wait(timeout=10)
