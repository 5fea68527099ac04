"""A killed ingest leaves neither a version nor its search-index row (issue 11).

A child process ingests report pages through ``Store.ingest`` (the crawl's real path):
some committed, then one more inside a transaction it holds open. It tells the parent,
which kills it with SIGKILL. The versions and the FTS5 index must then agree: FTS5's
``integrity-check`` passes, the index has one row per version, and the half-ingested text
is found neither by the index nor by the short-query ``LIKE`` path.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from monitor.store import Store

CHILD = textwrap.dedent(
    """
    import hashlib, sys, time
    from crawler.items import Extracted, PageItem
    from monitor.store import Store

    PORTAL = {"id": "qidong", "name": "启东市人民政府", "region": "江苏省南通市",
              "start_urls": ["http://x/"]}

    def page(n, text):
        body = f"<html>{text}</html>".encode()
        ex = Extracted(title=f"启东市人民政府{2000 + n}年政府信息公开工作年度报告",
                       issuer="启东市人民政府", year=2000 + n, is_report=True, reason="test",
                       text=text, text_sha=hashlib.sha256(text.encode()).hexdigest())
        return PageItem("qidong", f"http://x/{n}", 200, "2026-01-01T00:00:00Z", body=body,
                        raw_sha=hashlib.sha256(body).hexdigest(), extracted=ex)

    store = Store(sys.argv[1])
    run_id = store.runs.begin([PORTAL])
    for n in range(5):
        assert store.ingest(page(n, f"一、总体情况 已提交的报告第{n}份 予以公开"), run_id) == "version"
    with store.immediate():  # a transaction held open around one more ingest
        assert store.ingest(page(9, "一、总体情况 半途被杀的报告 予以公开"), run_id) == "version"
        print("holding", flush=True)
        time.sleep(120)
    """
)


def test_a_killed_ingest_leaves_no_version_and_no_index_row(tmp_path):
    db = tmp_path / "nianbao.db"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "holding", child.stderr.read()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    with Store(db) as store:
        versions = store.db.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
        indexed = store.db.execute("SELECT COUNT(*) FROM version_search").fetchone()[0]
        # rank 1: check the index against the content table (versions.text) too
        store.db.execute(
            "INSERT INTO version_search (version_search, rank) VALUES ('integrity-check', 1)"
        )
        assert versions == indexed == 5
        assert store.search.query(["半途被杀"], all_versions=True) == []  # FTS (4 chars)
        assert store.search.query(["半途"], all_versions=True) == []  # LIKE (2 chars)
        committed = store.search.query(["已提交的报告"], all_versions=True)
        assert sorted(h.year for h in committed) == [2000, 2001, 2002, 2003, 2004]
        assert store.db.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 5
