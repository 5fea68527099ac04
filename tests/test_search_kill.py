"""Processes killed while storing or judging leave the versions, their judgement and the
search index agreeing (issues 11 and 12).

A version is added to the FTS5 index by the detection that judges it, in the transaction
that marks it judged. Two children are killed with SIGKILL while holding a transaction
open: one inside an ingest (the crawl's real path, ``Store.ingest``), one inside a
detection. After each, what was committed is whole and what was not is absent: the
half-ingested version is stored nowhere, the half-judged versions are neither judged nor
indexed; the next detection judges and indexes them, and FTS5's ``integrity-check``
against the content table (``versions.text``) then passes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from monitor.events.detect import detect
from monitor.store import Store

SETUP = textwrap.dedent(
    """
    import hashlib, sys, time
    from crawler.items import Extracted, PageItem
    from monitor.events.detect import detect
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
    """
)
KILLED_INGEST = SETUP + textwrap.dedent(
    """
    with store.immediate():  # a transaction held open around one more ingest
        assert store.ingest(page(9, "一、总体情况 半途被杀的报告 予以公开"), run_id) == "version"
        print("holding", flush=True)
        time.sleep(120)
    """
)
KILLED_DETECTION = SETUP + textwrap.dedent(
    """
    with store.immediate():  # the detection's own transaction, held open after it
        assert len(detect(store, run_id)) == 5
        assert store.db.execute("SELECT COUNT(*) FROM versions WHERE judged_run IS NULL").fetchone()[0] == 0
        print("holding", flush=True)
        time.sleep(120)
    """
)


def kill_when_holding(script: str, db) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(db)],
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


def indexed(store: Store, term: str) -> int:
    """Versions the index itself finds for ``term`` (``COUNT(*)`` of an external-content
    table would count the content table's rows)."""
    query = "SELECT COUNT(*) FROM version_search WHERE version_search MATCH ?"
    return store.db.execute(query, [f'"{term}"']).fetchone()[0]


def judge_and_check(store: Store) -> None:
    """The next detection judges and indexes the five committed versions; the index then
    agrees with the content table, and the killed work is found nowhere."""
    run_id = store.db.execute("SELECT MAX(id) FROM crawl_runs").fetchone()[0]
    assert [str(e.kind) for e in detect(store, run_id)] == ["new"] * 5
    assert indexed(store, "予以公开") == 5
    # rank 1: check the index against the content table (versions.text) too
    store.db.execute(
        "INSERT INTO version_search (version_search, rank) VALUES ('integrity-check', 1)"
    )
    assert store.search.query(["半途被杀"], all_versions=True) == []  # FTS (4 chars)
    assert store.search.query(["半途"], all_versions=True) == []  # LIKE (2 chars)
    committed = store.search.query(["已提交的报告"], all_versions=True)
    assert sorted(h.year for h in committed) == [2000, 2001, 2002, 2003, 2004]
    assert store.db.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 5


def test_a_killed_ingest_leaves_no_version_and_the_rest_is_indexed_when_judged(tmp_path):
    db = tmp_path / "nianbao.db"
    kill_when_holding(KILLED_INGEST, db)
    with Store(db) as store:
        assert store.db.execute("SELECT COUNT(*) FROM versions").fetchone()[0] == 5
        assert indexed(store, "予以公开") == 0  # stored, not yet judged: not yet searchable
        judge_and_check(store)


def test_a_killed_detection_leaves_its_versions_unjudged_and_unindexed(tmp_path):
    db = tmp_path / "nianbao.db"
    kill_when_holding(KILLED_DETECTION, db)
    with Store(db) as store:
        unjudged = "SELECT COUNT(*) FROM versions WHERE judged_run IS NULL"
        assert store.db.execute(unjudged).fetchone()[0] == 5
        assert store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
        assert indexed(store, "予以公开") == 0
        store.db.execute("INSERT INTO version_search (version_search) VALUES ('integrity-check')")
        judge_and_check(store)
