"""Hostile input on 127.0.0.1 (the mirror's ``/hostile/`` routes): zip bombs and huge PDFs
become problems named after their cap, redirects and meta refreshes to another port are
refused and recorded as ``off_site``, a title with terminal escapes is stored clean, and
``nianbao extract URL`` keeps the crawl's caps.

The crawls are real ``nianbao crawl`` processes; the peak RSS of their process tree
(the crawl child and its extraction workers) is sampled from /proc and printed. The
threshold belongs to ``bench/faults.py``; here only a sanity bound.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from crawler import documents, workers
from mirror import MirrorServer
from mirror.hostile import HOSTILE_TITLE, HOSTILE_TITLE_CLEAN, zip_bomb
from monitor.proctree import tree_rss
from tests.conftest import LOCAL, ROOT, run_cli

SANITY_RSS = 3 * 1024**3  # a bound against runaway only; the goal is in bench/faults.py

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


@pytest.fixture(scope="module")
def two_origins():
    """The mirror, and a second one on another port of the same host (the 'elsewhere')."""
    here, there = MirrorServer(), MirrorServer()
    here.start(), there.start()
    yield here, there
    here.stop(), there.stop()


def seeds_file(tmp_path: Path, start: str, allow: str | None) -> Path:
    path = tmp_path / "seeds.toml"
    lines = [
        "[[portal]]",
        'id = "hostile"',
        'name = "某县人民政府"',
        'region = "测试"',
        'cms = "generic"',
        f"start_urls = [{json.dumps(start)}]",
    ] + ([f"allow = [{json.dumps(allow)}]"] if allow else [])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def crawl_sampled(db: Path, seeds: Path) -> tuple[subprocess.CompletedProcess, int]:
    """``nianbao crawl --json`` while a thread samples its process tree's RSS: (result, peak)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "crawl", "--seeds", str(seeds), "--json", *LOCAL],
        cwd=ROOT,
        env={**os.environ, "NIANBAO_DB": str(db)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=240)
    finally:
        done.set()
        sampler.join()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), peak[0]


@pytest.fixture(scope="module", params=[None, "allow"], ids=["origin", "allow-prefix"])
def hostile_crawl(request, two_origins, tmp_path_factory):
    here, there = two_origins
    tmp = tmp_path_factory.mktemp("hostile")
    allow = here.url("/hostile/") if request.param else None
    seeds = seeds_file(tmp, here.url(f"/hostile/index.html?other={there.base}"), allow)
    there.requests_seen.clear()
    result, peak = crawl_sampled(tmp / "nianbao.db", seeds)
    print(
        f"\npeak RSS of the crawl's process tree ({request.param or 'origin'}): {peak / 2**20:.0f} MB"
    )
    assert result.stdout, result.stderr[-2000:]
    return json.loads(result.stdout), tmp / "nianbao.db", peak, list(there.requests_seen)


def problems(result: dict) -> dict[str, str]:
    """Problem kind by URL path (and query)."""
    return {p["url"].split("/", 3)[3]: p["kind"] for p in result["problems"]}


def test_bombs_are_problems_named_after_their_cap(hostile_crawl):
    result, _db, peak, _ = hostile_crawl
    found = problems(result)
    assert found["hostile/zipbomb.docx"] == "zip_bomb"
    assert found["hostile/pages.pdf"] == "too_many_pages"
    assert found["hostile/bomb.pdf"] == "oversize"
    assert 0 < peak < SANITY_RSS


def test_redirect_and_refresh_to_another_port_are_refused_and_recorded(hostile_crawl):
    result, db, _, elsewhere_seen = hostile_crawl
    assert elsewhere_seen == []  # nothing was fetched from the other port
    off_site = [p for p in result["problems"] if p["kind"] == "off_site"]
    assert {p["url"].split("?")[0].rsplit("/", 1)[1] for p in off_site} == {
        "redirect.html",
        "refresh.html",
    }
    assert all("elsewhere.html" in p["detail"] for p in off_site)  # the target is named
    with sqlite3.connect(db) as conn:
        urls = [u for (u,) in conn.execute("SELECT url FROM report_urls")]
    assert urls and not [u for u in urls if "elsewhere" in u]


def test_a_title_with_escapes_and_controls_is_stored_clean(hostile_crawl):
    _result, db, _, _ = hostile_crawl
    with sqlite3.connect(db) as conn:
        titles = [t for (t,) in conn.execute("SELECT title FROM reports")]
        texts = [t for (t,) in conn.execute("SELECT text FROM versions")]
    assert HOSTILE_TITLE != HOSTILE_TITLE_CLEAN
    assert titles == [HOSTILE_TITLE_CLEAN]
    assert not any(c in t for t in titles + texts for c in "\x1b\x07\x01")
    shown = run_cli("reports", db=db)
    assert "\x1b" not in shown.stdout and HOSTILE_TITLE_CLEAN in shown.stdout


# ---- the worker's own caps (real worker processes) -------------------------------------


def run_in_worker(body: bytes, url: str, ctype: str, **caps) -> object:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver")
    initargs = (caps.pop("memory_mb", 0), caps.pop("timeout", 0.0), caps)
    with ProcessPoolExecutor(
        1, mp_context=context, initializer=workers.init_worker, initargs=initargs
    ) as pool:
        return pool.submit(workers.extract_job, body, url, ctype, "某县", None).result(timeout=120)


def test_a_worker_over_its_memory_cap_gives_the_problem_memory():
    # the zip check lets 1 GB through: only the worker's address-space cap stops python-docx
    ex = run_in_worker(zip_bomb(), "http://h/a.docx", "", memory_mb=400, unpacked=1024**3)
    assert ex.problem == "memory", ex.reason


def test_a_worker_over_its_time_cap_gives_the_problem_timeout():
    from mirror.hostile import many_pages_pdf

    ex = run_in_worker(
        many_pages_pdf(), "http://h/a.pdf", "application/pdf", timeout=0.2, pdf_pages=10**6
    )
    assert ex.problem == "timeout", ex.reason


def test_zip_members_are_checked_declared_and_unpacked():
    with pytest.raises(documents.CapExceeded) as caught:
        documents.check_zip(zip_bomb(), cap=100 * 1024**2)
    assert caught.value.kind == "zip_bomb"


# ---- nianbao extract URL keeps the crawl's caps ---------------------------------------


def serve_once(answer) -> tuple[str, threading.Event]:
    """A raw HTTP server on 127.0.0.1 answering each connection with ``answer(conn)``."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def loop() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=answer, args=(conn, stop), daemon=True).start()
        server.close()

    threading.Thread(target=loop, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/report.html", stop


def _huge_length(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10737418240\r\n\r\n"
    )
    conn.sendall(b"<html>" * 1000)
    stop.wait(5)
    conn.close()


def _trickle(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>")
    while not stop.is_set():
        try:
            conn.sendall(b" ")
        except OSError:
            break
        time.sleep(0.5)
    conn.close()


def test_extract_refuses_a_content_length_over_the_cap(db_path):
    url, stop = serve_once(_huge_length)
    try:
        result = run_cli("extract", url, db=db_path, timeout=60)
    finally:
        stop.set()
    assert result.returncode == 1, result.stderr
    assert "DOWNLOAD_MAXSIZE" in result.stderr and "Traceback" not in result.stderr


def test_extract_gives_up_on_a_trickling_server(db_path):
    """A byte every half second would hold a plain read for ever: the crawl's total
    DOWNLOAD_TIMEOUT (30 s) ends it."""
    url, stop = serve_once(_trickle)
    started = time.monotonic()
    try:
        result = run_cli("extract", url, db=db_path, timeout=90)
    finally:
        stop.set()
    assert result.returncode == 1, result.stderr
    assert "DOWNLOAD_TIMEOUT" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started < 60


def test_extract_prints_no_escape_sequence(tmp_path, db_path):
    page = tmp_path / "page.html"
    page.write_bytes(MirrorServer().resolve("/hostile/title.html").bytes())
    result = run_cli("extract", str(page), db=db_path)
    assert result.returncode == 0, result.stderr
    assert HOSTILE_TITLE_CLEAN in result.stdout
    assert not any(c in result.stdout for c in "\x1b\x07\x01")
