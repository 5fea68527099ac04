"""The web side for machines and under change: ``/metrics`` (read from the database at
scrape time, behind the token), the per-request read-only store (migrations checked once,
again when the file is replaced or migrated under the server), and the coverage grid's
states in the right cells after the reports change."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.daemon.status import health_fields, portal_health, status
from monitor.models import Subscription
from monitor.store import Store
from monitor.web import WebServer, create_app
from monitor.web.coverage import cell_state, last_due_year


@pytest.fixture
def copy(crawled, tmp_path):
    """A copy of the crawled database, to change freely."""
    db, edit = crawled
    target = tmp_path / "nianbao.db"
    with sqlite3.connect(db) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return target, edit


def samples(text: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def get(url: str, headers: dict | None = None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


# ---- /metrics -----------------------------------------------------------------------


def test_metrics_read_the_database_at_scrape_time(copy):
    db, edit = copy
    app = create_app(db, db.parent / "feeds", auth_token="metrics-tok", status=status)
    server = WebServer(app)
    base = server.start()
    try:
        code, body, _ = get(base + "/metrics")
        assert code == 401 and "nianbao_up" not in body  # behind the token
        bearer = {"Authorization": "Bearer metrics-tok"}
        code, body, headers = get(base + "/metrics", bearer)
        assert code == 200 and headers["Content-Type"].startswith("text/plain")
        first = samples(body)
        with Store(db) as store:
            runs = store.db.execute("SELECT COUNT(*) FROM crawl_runs").fetchone()[0]
            pages = store.db.execute("SELECT SUM(pages) FROM portal_runs").fetchone()[0]
        assert first[("nianbao_up", ())] == 1
        assert first[("nianbao_crawl_runs", (("status", "ok"),))] == runs == 2
        assert first[("nianbao_pages_fetched_total", ())] == pages
        assert first[("nianbao_events_total", (("kind", "edited"),))] == 1
        assert first[("nianbao_events_total", (("kind", "new"),))] == 4
        assert first[("nianbao_outbox_pending", (("queue", "subscribers"),))] == 0
        assert first[("nianbao_findings_open", (("kind", "inconsistent"),))] >= 1
        # the crawl recorded today's missing findings: the same cells the grid calls missing
        grid = app.test_client().get("/coverage.json", headers=bearer).json
        missing = first[("nianbao_findings_open", (("kind", "missing"),))]
        assert missing == grid["counts"]["missing"] > 0
        last = first[("nianbao_portal_last_success_timestamp_seconds", (("portal", "qidong"),))]
        assert abs(last - time.time()) < 3600
        free = first[("nianbao_disk_free_bytes", ())]
        assert abs(free - shutil.disk_usage(db.parent).free) < 64 * 2**20

        # nothing is counted in memory: a change to the database shows at the next scrape
        with Store(db) as store:
            sub = store.subscriptions.add(Subscription(email="a@example.org"))
            store.db.execute(
                "INSERT INTO deliveries (event_id, subscription_id, status, created_at) "
                "VALUES (?, ?, 'pending', '2026-01-01T00:00:00Z')",
                [edit.id, sub.id],
            )
            store.db.conn.commit()
        second = samples(get(base + "/metrics", bearer)[1])
        assert second[("nianbao_outbox_pending", (("queue", "subscribers"),))] == 1

        # a database that cannot be read: nianbao_up 0, not an error page
        os.replace(db, db.with_suffix(".moved"))
        code, body, _ = get(base + "/metrics", bearer)
        assert code == 200 and samples(body)[("nianbao_up", ())] == 0
        assert get(base + "/health")[0] == 503  # open, and says the same
    finally:
        server.stop()


def test_metrics_and_health_are_open_without_a_token(copy):
    db, _ = copy
    client = create_app(db, db.parent / "feeds").test_client()
    assert client.get("/metrics").status_code == 200
    assert client.get("/health").json == {"ok": True, "db": True}


# ---- the per-request store ----------------------------------------------------------


def test_migrations_are_checked_once_and_again_when_the_file_changes(copy, tmp_path):
    db, _ = copy
    app = create_app(db, db.parent / "feeds", status=status)
    databases = app.extensions["nianbao_db"]
    client = app.test_client()
    for path in ("/", "/coverage.json", "/search.json?q=予以公开", "/portals/qidong.json"):
        assert client.get(path).status_code == 200, path
    assert databases.checks == 1  # one full Store open for every request so far

    # migrated under the server (a newer nianbao adds a table): checked again, once
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE later_migration (x INTEGER)")
    conn.close()
    assert client.get("/index.json").status_code == 200
    assert client.get("/index.json").status_code == 200
    assert databases.checks == 2

    # replaced by an older copy without the search index (a restored backup): the next
    # request sees another file, runs the missing migration, and search works
    old = tmp_path / "old.db"
    with sqlite3.connect(db) as src, sqlite3.connect(old) as dst:
        src.backup(dst)
    src.close()
    with dst:
        dst.execute("DROP TABLE version_search")
        dst.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_search'")
    dst.close()
    checkpoint(db)
    os.replace(old, db)
    results = client.get("/search.json?q=予以公開").json["results"]
    assert {r["portal_id"] for r in results} == {"qidong", "zhejiang"}
    assert databases.checks == 3

    # replaced by another application's file: a 503 page, then fine once restored
    foreign = tmp_path / "foreign.db"
    shutil.copy(db, tmp_path / "good.db")
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    checkpoint(db)
    os.replace(foreign, db)
    page = client.get("/coverage")
    assert page.status_code == 503 and "数据库暂时无法读取" in page.get_data(as_text=True)
    os.replace(tmp_path / "good.db", db)
    assert client.get("/coverage.json").status_code == 200


def checkpoint(db) -> None:
    """Empty the WAL before the file is swapped (as a restore would)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_a_query_past_the_request_deadline_is_stopped_with_a_503_that_says_so(copy, caplog):
    """A two-character term that occurs nowhere reads every text (``instr``, no index):
    over 20,000 versions that is far past a 1 ms deadline, so SQLite stops it; the page
    says why, the log names the path but never the query string (a reader's search, or
    the access token), and the database is not taken for damaged. Without the deadline the same
    search answers (no hits)."""
    db, _ = copy
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO versions (report_id, url, fetched_at, text, text_sha) "
            "SELECT r.id, r.url, '2026-01-01T00:00:00Z', ? || n.value, 'x' FROM reports r, "
            "json_each(?) n LIMIT 20000",
            ["一二三四五六七八九十" * 50, json.dumps(list(range(4000)))],
        )
    conn.close()
    query = "/search?" + urllib.parse.urlencode({"q": "罕字", "all": 1})
    app = create_app(db, db.parent / "feeds", status=status, auth_token="tok", query_seconds=0.001)
    server = WebServer(app)
    base = server.start()
    try:
        code, body, _ = get(base + query, {"Authorization": "Bearer tok"})
        assert code == 503 and "查询超过 0.001 秒，已停止" in body
        assert "数据库暂时无法读取" not in body
        assert app.extensions["nianbao_db"].checked is not None  # not forgotten: no damage
        assert "/search stopped: its queries ran past 0.001 s" in caplog.text
        assert "罕字" not in caplog.text and "q=" not in caplog.text
    finally:
        server.stop()
    unlimited = create_app(db, db.parent / "feeds", status=status, query_seconds=0)
    page = unlimited.test_client().get("/search.json?q=罕字&all=1")
    assert page.status_code == 200 and page.json["results"] == []


def test_a_missing_database_is_a_503_not_a_crash(tmp_path):
    client = create_app(tmp_path / "none.db", tmp_path / "feeds").test_client()
    assert client.get("/").status_code == 503
    assert not (tmp_path / "none.db").exists()  # reading never creates the file


# ---- coverage states ----------------------------------------------------------------


def test_coverage_states_follow_the_reports(copy):
    db, _ = copy
    with Store(db) as store:
        ids = {r.portal_id: r.id for r in store.reports.summaries()}
        store.reports.update(ids["jiangsu"], published="2021-01-20")  # before 31 January
        store.reports.update(ids["zhejiang"], status="removed")
        store.db.conn.commit()
    client = create_app(db, db.parent / "feeds").test_client()
    data = client.get("/coverage.json?from=2019&to=2021").json
    cells = {
        i["portal_id"]: {y: c["state"] for y, c in i["cells"].items()} for i in data["issuers"]
    }
    assert cells["jiangsu"] == {"2021": "missing", "2020": "on_time", "2019": "unknown"}
    assert cells["zhejiang"] == {"2021": "missing", "2020": "missing", "2019": "removed"}
    assert cells["qidong"] == {"2021": "missing", "2020": "late", "2019": "unknown"}
    assert data["counts"]["inconsistent"] == 1 and data["counts"]["on_time"] == 1
    page = client.get("/coverage?from=2019&to=2021").get_data(as_text=True)
    assert 'data-state="removed"' in page and "已删除" in page and "按时发布" in page
    huge = client.get("/coverage.json?from=0&to=999999").json  # at most 40 columns
    assert huge["years"][0] == 999999 and len(huge["years"]) == 40


def test_the_grid_is_built_again_when_its_cells_change_not_on_every_commit(copy):
    """A re-crawl's commits (a report's ``last_seen`` touched, page counters) keep the
    grid; a report's published date, a removal or a finding build it again, seen at once."""
    db, _ = copy
    app = create_app(db, db.parent / "feeds")
    client = app.test_client()
    url = "/coverage.json?from=2019&to=2021"

    def states() -> dict:
        data = client.get(url).json
        return {i["portal_id"]: i["cells"]["2020"]["state"] for i in data["issuers"]}

    def grids() -> list:
        return list(app.extensions["nianbao_grids"].values())

    before = states()
    kept = grids()
    with Store(db) as store:
        ids = {r.portal_id: r.id for r in store.reports.summaries()}
        store.db.execute("UPDATE reports SET last_seen = '2026-06-01T00:00:00Z', gone_runs = 0")
        store.db.execute("UPDATE portal_runs SET pages = pages + 1")
        store.db.conn.commit()
    assert states() == before and grids() == kept and grids()[0] is kept[0]

    with Store(db) as store:
        store.reports.update(ids["qidong"], published="2021-01-20")  # now before 31 January
        store.db.conn.commit()
    assert before["qidong"] == "late" and states()["qidong"] == "on_time"

    with Store(db) as store:
        store.reports.update(ids["jiangsu"], status="removed")
        store.db.conn.commit()
    assert states()["jiangsu"] == "removed"

    counts = client.get(url).json["counts"]["inconsistent"]
    with Store(db) as store:
        store.db.execute("DELETE FROM findings WHERE kind = 'inconsistent'")
        store.db.conn.commit()
    assert counts >= 1 and client.get(url).json["counts"]["inconsistent"] == 0


@pytest.mark.parametrize(
    ("row", "year", "as_of", "state"),
    [
        (
            {"live": 1, "published": "2021-01-31", "first_seen": "2026-06-01"},
            2020,
            "2026-06-01",
            "on_time",
        ),
        (
            {"live": 1, "published": "2021-02-01", "first_seen": "2021-02-01"},
            2020,
            "2026-06-01",
            "late",
        ),
        ({"live": 1, "published": None, "first_seen": "2021-02-10"}, 2020, "2026-06-01", "on_time"),
        ({"live": 1, "published": None, "first_seen": "2021-03-10"}, 2020, "2026-06-01", "late"),
        ({"live": 1, "published": None, "first_seen": "2021-03-10"}, 2018, "2026-06-01", "unknown"),
        (
            {"live": 0, "published": "2021-01-01", "first_seen": "2021-01-01"},
            2020,
            "2026-06-01",
            "removed",
        ),
        (None, 2025, "2026-02-15", "unknown"),  # due 31 Jan + 15 days: not yet
        (None, 2025, "2026-02-16", "missing"),
        (None, 2017, "2026-02-16", "unknown"),  # before the issuer's first report
    ],
)
def test_cell_state_rule(row, year, as_of, state):
    assert cell_state(row, year, 2018, date.fromisoformat(as_of), 15) == state


def test_last_due_year():
    assert last_due_year(date(2026, 11, 30), 15) == 2025
    assert last_due_year(date(2026, 1, 10), 15) == 2024


def test_coverage_csv_never_holds_a_formula(copy):
    db, _ = copy
    with Store(db) as store:
        ids = {r.portal_id: r.id for r in store.reports.summaries()}
        store.reports.update(ids["zhejiang"], issuer='=HYPERLINK("http://evil","点我")')
        store.db.conn.commit()
    client = create_app(db, db.parent / "feeds").test_client()
    text = client.get("/coverage?format=csv&region=浙江").get_data(as_text=True)
    line = text.splitlines()[1]
    assert line.startswith("浙江省,\"'=HYPERLINK(") and "\n=" not in text
    page = client.get("/coverage?region=浙江").get_data(as_text=True)
    assert "&#34;http://evil&#34;" in page or "&quot;http://evil&quot;" in page


def test_overview_pages_portals_and_sees_new_ones_at_once(copy):
    db, _ = copy
    client = create_app(db, db.parent / "feeds", status=status).test_client()
    assert client.get("/index.json").json["portals_total"] == 4  # the status is now cached
    extra = [
        {"id": f"x{i:03d}", "name": f"门户{i}", "region": "江苏省", "start_urls": []}
        for i in range(150)
    ]
    with Store(db) as store:
        store.runs.upsert_portals(extra)  # a commit: the cached status is stale
    first = client.get("/index.json").json
    assert first["portals_total"] == 154 and len(first["portals"]) == 100
    assert first["portals_more"] is True
    second = client.get("/index.json?portals=2").json
    assert len(second["portals"]) == 54 and second["portals_more"] is False
    ids = {p["portal_id"] for p in first["portals"] + second["portals"]}
    assert len(ids) == 154
    page = client.get("/?portals=2").get_data(as_text=True)
    assert "门户第 2 页，共 154 个" in page and "上一页门户" in page


# ---- the status document the overview shows, from grouped queries -------------------------


def test_status_from_grouped_queries_matches_judging_each_run(tmp_path):
    """``status`` (one grouped query for every portal) gives what ``portal_health`` and
    ``health_fields`` give from each portal's latest runs: histories of every kind (ok,
    failing, broken, partial, a run still running, more runs than are looked at, empty
    details, never crawled), and a lock."""
    rng = random.Random(11)
    db = tmp_path / "nianbao.db"
    portals = [
        {"id": f"p{i}", "name": f"门户{i}", "region": "江苏", "start_urls": []} for i in range(9)
    ]
    with Store(db) as store:
        store.runs.upsert_portals(portals)
        for n in range(40):
            subset = [p for p in portals[:-1] if p["id"] == "p0" or rng.random() < 0.75]  # not p8
            run_id = store.runs.begin(subset, trigger=rng.choice(["cli", "daemon"]))
            store.db.execute(  # a minute apart: which run a health_since names shows
                "UPDATE crawl_runs SET started_at = ? WHERE id = ?",
                [f"2026-01-01T{n // 60:02d}:{n % 60:02d}:00Z", run_id],
            )
            for p in subset:
                health = rng.choice(["ok", "ok", "ok", "broken", "failed", "degraded"])
                if p["id"] == "p0":  # 40 failures in a row: counted up to the 30 looked at
                    health = "failed"
                store.runs.set_portal_health(run_id, p["id"], health, rng.choice(["", "坏了"]))
            if n < 39:  # the last one still running
                outcome = rng.choice(["ok", "ok", "partial", "failed", "interrupted"])
                store.runs.finish(run_id, outcome, detail=rng.choice(["", "run detail"]))
        store.db.execute(
            "INSERT INTO locks (portal_id, owner, pid, host, acquired_at) "
            "VALUES ('p1', 'cli', 4242, 'h', '2026-01-01T00:00:00Z')"
        )
        doc = status(store)
        recent = store.runs.recent_by_portal()
        held = store.reports.held_counts()
    by_id = {p["portal_id"]: p for p in doc["portals"]}
    assert set(by_id) == {p["id"] for p in portals}
    assert [p["health"] == "broken" for p in doc["portals"]] == sorted(
        (p["health"] == "broken" for p in doc["portals"]), reverse=True
    )  # broken first
    assert by_id["p0"]["health"] == "running" and by_id["p0"]["consecutive_failures"] == 29
    assert by_id["p8"]["health"] == "never crawled" and by_id["p8"]["last_run"] is None
    assert by_id["p1"]["locked_by"] == "cli (pid 4242)"
    healths = set()
    for portal_id, runs in recent.items():
        dicts = [r.to_json() for r in runs]
        want = {**portal_health(dicts), **health_fields(dicts, held.get(portal_id, 0))}
        got = {k: by_id[portal_id][k] for k in want}
        assert got == want, portal_id
        assert list(by_id[portal_id]) == [
            "portal_id",
            "name",
            "last_run",
            "next_run",
            "locked_by",
            *want,
        ]  # the order --json always had
        if dicts:
            last = by_id[portal_id]["last_run"]
            assert last["run_id"] == dicts[0]["run_id"] and last["status"] == dicts[0]["run_status"]
        healths.add(want["health"])
    assert healths >= {"ok", "failing", "broken", "running", "never crawled"}


def test_status_reuses_the_judged_health_until_the_runs_change(tmp_path):
    """``status(store, cache)`` keeps what the portals' runs decide while only pages and
    counters change (every commit of a crawl), and judges again, equal to a fresh
    ``status``, after each change to the runs, the portals or the file."""
    db = tmp_path / "nianbao.db"
    portals = [
        {"id": f"p{i}", "name": f"门户{i}", "region": "江苏", "start_urls": []} for i in range(3)
    ]
    with Store(db) as store:
        store.runs.upsert_portals(portals)
        run_id = store.runs.begin(portals)
        store.runs.set_portal_health(run_id, "p1", "broken", "列表页变了")
        store.runs.finish(run_id, "partial")
        cache: dict = {}
        assert status(store, cache) == status(store)
        kept = cache["portal_states"]

        store.runs.count(run_id, "p0", "pages", 5)  # what a crawl writes with every item
        store.runs.count(run_id, "p0", "reports")
        assert status(store, cache) == status(store) and cache["portal_states"] is kept

        new_run: list[int] = []
        changes = [
            lambda: new_run.append(store.runs.begin(portals[:2])),
            lambda: store.runs.set_portal_health(new_run[0], "p0", "failed", "超时"),
            lambda: store.runs.finish(new_run[0], "failed", detail="全部失败"),
            lambda: store.runs.upsert_portals([{**portals[0], "id": "p3"}]),
            lambda: store.db.execute("DELETE FROM portal_runs WHERE run_id = ?", [new_run[0]]),
        ]
        for change in changes:
            change()
            assert status(store, cache) == status(store)
            assert cache["portal_states"] is not kept
            kept = cache["portal_states"]
        assert {p["portal_id"] for p in status(store, cache)["portals"]} == {"p0", "p1", "p2", "p3"}

    copy = tmp_path / "copy.db"  # a restored backup: another file, the same runs version
    with sqlite3.connect(db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    os.replace(copy, db)
    with Store(db) as store:
        assert status(store, cache) == status(store)
        assert cache["portal_states"] is not kept
