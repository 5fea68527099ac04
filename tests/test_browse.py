"""``nianbao browse``: Datasette over a real crawl of the mirror, in a real process on a free
port: every canned query's JSON, the hidden tables, no writes (the file's sha256 before and
after), and the hint when Datasette is not installed."""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

DATASETTE = pytest.importorskip(
    "datasette", reason="Datasette is not installed (pip install 'nianbao[browse]')"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def browsing(crawled, tmp_path_factory):
    """``nianbao browse`` running on a free port; yields its base URL; the DB's sha256
    before it started is checked against the file after it stopped."""
    db, _ = crawled
    before = sha256(db)
    port = free_port()
    log = tmp_path_factory.mktemp("browse-log") / "browse.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "browse", "--db", str(db), "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to ~60 s for Datasette to start on a busy machine
            if proc.poll() is not None:
                pytest.fail(f"browse exited {proc.returncode}: {log.read_text()}")
            try:
                urllib.request.urlopen(base + "/-/versions.json", timeout=5).close()
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert sha256(db) == before, "browsing changed the database file"


def query(base: str, name: str, **params: str) -> list[dict]:
    url = f"{base}/nianbao/{name}.json?" + urllib.parse.urlencode({**params, "_shape": "objects"})
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)["rows"]


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def rows(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_latest_events_and_reports_per_region_and_year(browsing, crawled):
    db, edit = crawled
    events = query(browsing, "latest_events")
    assert [e["id"] for e in events] == [
        r[0] for r in rows(db, "SELECT id FROM events ORDER BY id DESC")
    ]
    assert next(e for e in events if e["id"] == edit.id)["kind"] == "edited"
    per_region = query(browsing, "reports_by_region_year")
    assert sum(r["reports"] for r in per_region) == 4
    assert {"region": "浙江省", "year": 2019, "reports": 1, "published": 1, "removed": 0} in [
        {k: r[k] for k in ("region", "year", "reports", "published", "removed")} for r in per_region
    ]


def test_issuer_history(browsing, crawled):
    _, edit = crawled
    history = query(browsing, "issuer_history", issuer="启东")
    assert [r["version_id"] for r in history] == [edit.old_version_id, edit.new_version_id]
    assert {r["issuer"] for r in history} == {"启东市人民政府"}
    assert f"edited #{edit.id}" in history[1]["events"]
    assert query(browsing, "issuer_history", issuer="没有这个机关") == []


def test_open_findings_are_those_the_current_version_still_has(browsing, crawled):
    db, edit = crawled
    (current,) = rows(db, "SELECT current_version_id FROM reports WHERE id = ?", (edit.report_id,))
    (stats,) = rows(db, "SELECT findings FROM version_stats WHERE version_id = ?", current)
    still = {(f["rule"], f["column"]) for f in json.loads(stats[0]) if not f["partial"]}
    found = query(browsing, "open_findings")
    mine = {
        (f["rule"], f["column"])
        for f in found
        if f["report_id"] == edit.report_id and f["kind"] == "inconsistent"
    }
    assert still and mine == still
    assert {f["kind"] for f in found} <= {"inconsistent", "missing"}
    for f in found:
        if f["kind"] == "missing":  # still no report of that issuer and year
            assert not rows(
                db, "SELECT 1 FROM reports WHERE issuer = ? AND year = ?", (f["issuer"], f["year"])
            )


def test_full_text_search_uses_the_trigram_index(browsing):
    hits = query(browsing, "search", q="予以公开")
    assert {h["region"][:2] for h in hits} == {"江苏", "浙江"}
    assert all("【予以公开】" in h["snippet"] for h in hits)
    assert query(browsing, "search", q='予以"公开') == []  # quotes cannot break the MATCH


def test_secrets_hidden_and_nothing_written(browsing):
    assert status(f"{browsing}/nianbao/subscriptions.json") == 403
    sql = urllib.parse.urlencode({"sql": "DELETE FROM events"})
    assert status(f"{browsing}/nianbao.json?{sql}") == 400  # only SELECT, on a read-only file
    assert status(f"{browsing}/nianbao.db") in (403, 404)  # no download of the whole file


def test_without_datasette_exits_2_with_the_hint(crawled):
    db, _ = crawled
    blocked = "import sys; sys.modules['datasette'] = None; from monitor.cli import cli; cli()"
    result = subprocess.run(
        [sys.executable, "-c", blocked, "browse", "--db", str(db)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2 and "pip install 'nianbao[browse]'" in result.stderr


def test_missing_database_exits_2(tmp_path):
    result = run_cli("browse", "--db", str(tmp_path / "none.db"))
    assert result.returncode == 2 and "no such database" in result.stderr
    assert not (tmp_path / "none.db").exists()
