"""The web pages and search over a real crawl of the mirror (baseline, then an edited
number): overview, portal, report timeline with evidence, event diff with the changed cell
named, coverage grid and CSV, search (simplified and traditional, year and region, escaped
snippets), the access token, the index kept in the ingest's transaction, and the CLI."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import urllib.error
import urllib.request
from datetime import date

import pytest

from monitor.daemon.status import status
from monitor.store import Store
from monitor.web import WebServer, create_app
from monitor.web.auth import COOKIE
from monitor.web.coverage import last_due_year


@pytest.fixture(scope="module")
def client(crawled):
    db, _ = crawled
    return create_app(db, db.parent / "feeds", status=status).test_client()


def test_overview_lists_portals_events_and_years(client, crawled):
    _, edit = crawled
    page = client.get("/").get_data(as_text=True)
    assert "启东市人民政府" in page and "门户" in page and "最新变动" in page
    assert f'href="/events/{edit.id}"' in page
    data = client.get("/index.json").json
    assert {p["portal_id"] for p in data["portals"]} == {"jiangsu", "zhejiang", "qidong", "jszwb"}
    assert edit.id in [e["id"] for e in data["latest_events"]]
    assert client.get("/?format=json").json == data
    assert sum(y["reports"] for y in data["reports_by_year"]) == 4


def test_portal_page(client):
    data = client.get("/portals/qidong.json").json
    assert data["portal"]["name"] == "启东市人民政府"
    assert [r["portal_id"] for r in data["reports"]] == ["qidong"] and len(data["runs"]) == 2
    assert "启东市人民政府2020年" in client.get("/portals/qidong").get_data(as_text=True)
    assert client.get("/portals/nope").status_code == 404


def test_report_timeline_with_evidence(client, crawled):
    db, edit = crawled
    data = client.get(f"/reports/{edit.report_id}.json").json
    assert [v["id"] for v in data["versions"]] == [edit.new_version_id, edit.old_version_id]
    with Store(db) as store:
        new = store.reports.version(edit.new_version_id, raw=True)
    first = data["versions"][0]
    assert first["raw_sha256"] == hashlib.sha256(new.raw).hexdigest()
    assert first["text_sha256"] == hashlib.sha256(new.text.encode()).hexdigest()
    page = client.get(f"/reports/{edit.report_id}").get_data(as_text=True)
    assert (
        first["raw_sha256"] in page
        and "抓取时间" in page
        and f'id="v{edit.old_version_id}"' in page
    )


def test_event_diff_names_the_changed_cell(client, crawled):
    _, edit = crawled
    data = client.get(f"/events/{edit.id}.json").json
    assert data["changed_cells"] == ["三、(一)予以公开 · 总计 151 → 152"]
    assert data["versions"]["old"]["id"] == edit.old_version_id
    split = client.get(f"/events/{edit.id}").get_data(as_text=True)
    assert '<span class="ins_char">2</span>' in split and 'class="diff split"' in split
    assert 'class="changed ins_cell">152<' in split and "<th>总计</th>" in split
    assert f"#v{edit.old_version_id}" in split and f"#v{edit.new_version_id}" in split
    unified = client.get(f"/events/{edit.id}?view=unified").get_data(as_text=True)
    assert 'class="diff unified"' in unified and "style=" not in unified  # CSP: no inline styles


def test_coverage_grid_filter_and_csv(client):
    data = client.get("/coverage.json").json  # as of today: the reports were first seen today
    assert data["years"][0] == last_due_year(date.today(), 15)  # up to the last year due
    assert data["years"][-1] == 2016 and data["as_of"] == date.today().isoformat()
    qidong = next(i for i in data["issuers"] if i["portal_id"] == "qidong")
    cell = qidong["cells"]["2020"]
    assert (cell["state"], cell["inconsistent"], cell["found"]) == ("late", True, True)
    assert cell["label"] == "逾期发布·数据不一致"  # published 2021-02-19, due 2021-01-31
    assert qidong["cells"]["2021"]["state"] == "missing"
    assert qidong["cells"]["2019"]["state"] == "unknown"  # before its first report
    only = client.get("/coverage.json?region=浙江&from=2018&to=2020").json
    assert [i["portal_id"] for i in only["issuers"]] == ["zhejiang"]
    assert only["years"] == [2020, 2019, 2018]
    assert [only["issuers"][0]["cells"][str(y)]["state"] for y in only["years"]] == [
        "missing",
        "late",
        "unknown",
    ]
    csv = client.get("/coverage?format=csv&region=南通&from=2020&to=2021")
    assert csv.mimetype == "text/csv" and csv.data.startswith("\ufeff地区".encode())
    assert csv.get_data(as_text=True).splitlines()[1] == (
        "江苏省南通市,启东市人民政府,qidong,逾期未发布,逾期发布·数据不一致"
    )
    page = client.get("/coverage?region=南通").get_data(as_text=True)
    assert "逾期未发布" in page and "数据不一致：" in page and 'class="flag"' in page


@pytest.mark.parametrize("query", ["予以公开", "予以公開", "予以公开"])
def test_search_simplified_traditional_and_fullwidth(client, query):
    data = client.get(f"/search.json?q={query}").json
    assert {r["portal_id"] for r in data["results"]} == {"qidong", "zhejiang"}
    assert all("<mark>予以公开</mark>" in r["snippet_html"] for r in data["results"])


def test_search_filters_short_queries_and_escapes(client):
    assert [
        r["portal_id"] for r in client.get("/search.json?q=予以公开&region=浙江").json["results"]
    ] == ["zhejiang"]
    assert [r["year"] for r in client.get("/search.json?q=予以公开&year=2020").json["results"]] == [
        2020
    ]
    short = client.get("/search.json?q=公開").json["results"]  # 2 chars: LIKE, normalised
    assert short and all("<mark>公开</mark>" in r["snippet_html"] for r in short)
    page = client.get("/search?q=<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<mark>" in client.get("/search?q=予以公开").get_data(as_text=True)


def test_index_is_written_with_the_version(crawled):
    db, _ = crawled
    with Store(db) as store:
        versions = store.db.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
        indexed = store.db.execute("SELECT COUNT(*) FROM version_search").fetchone()[0]
        # every version's text is in the index: one row per version, found by its own words
        hits = store.db.execute(
            "SELECT COUNT(*) FROM version_search WHERE version_search MATCH '\"年度报告\"'"
        ).fetchone()[0]
    assert indexed == versions == hits


def test_migration_builds_the_index_for_an_old_database(crawled, tmp_path):
    db, _ = crawled
    old = tmp_path / "old.db"
    with sqlite3.connect(db) as src, sqlite3.connect(old) as dst:
        src.backup(dst)
    with sqlite3.connect(old) as conn:
        conn.execute("DROP TABLE version_search")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_search'")
    conn.close()
    with Store(old) as store:
        assert store.search.query(["予以公开"])


def test_auth_token_is_enforced(crawled):
    db, _ = crawled
    app = create_app(db, db.parent / "feeds", auth_token="s3cret-token", status=status)
    server = WebServer(app)
    base = server.start()
    try:
        for path in ("/", "/index.json", "/search?q=%E5%85%AC", "/coverage?format=csv"):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(base + path, timeout=5)
            assert err.value.code == 401
        assert urllib.request.urlopen(base + "/health", timeout=5).status == 200
        wrong = urllib.request.Request(base + "/?token=nope")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(wrong, timeout=5)
        client = app.test_client()
        first = client.get("/coverage?token=s3cret-token&region=浙江")
        assert first.status_code == 303 and "token" not in first.headers["Location"]
        cookie = first.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "s3cret-token" not in cookie
        assert client.get("/coverage.json").status_code == 200  # the cookie now
        assert client.get_cookie(COOKIE) is not None
    finally:
        server.stop()


def test_cli_search(cli, crawled):
    db, _ = crawled
    result = cli("search", "予以公開", "--region", "江苏", "--json", db=db)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert [h["portal_id"] for h in hits] == ["qidong"] and "予以公开" in hits[0]["snippet"]
    text = cli("search", "予以公开", "--year", "2019", db=db)
    assert "[予以公开]" in text.stdout and "浙江" in text.stdout
    assert "No results." in cli("search", "没有这样的词语", db=db).stdout


def test_report_page_shows_each_versions_statistics_tables(client, crawled):
    """The edited number is in the new version's section 三 table and not in the old one's."""
    _, edit = crawled
    data = client.get(f"/reports/{edit.report_id}.json").json
    new, old = data["versions"]
    assert new["template"] == old["template"] == "2019"
    assert [t["section"] for t in new["tables"]] == ["二", "三", "四"]
    new_row = dict(map(tuple, new["tables"][1]["rows"]))["(一)予以公开"]
    old_row = dict(map(tuple, old["tables"][1]["rows"]))["(一)予以公开"]
    assert (old_row[-1], new_row[-1]) == (151, 152)  # the 总计 column
    page = client.get(f"/reports/{edit.report_id}").get_data(as_text=True)
    assert "收到和处理政府信息公开申请情况" in page and "<th>(一)予以公开</th>" in page
