"""The store on a real SQLite file: identity, versions, idempotence, problems never versions."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from crawler.items import Extracted, FetchProblem, ListingItem, PageItem
from monitor.events import detect
from monitor.store import Store, StoreError

PORTAL = {
    "id": "qidong",
    "name": "启东市人民政府",
    "region": "江苏省南通市",
    "start_urls": ["http://x/"],
}
TEXT = "一、总体情况\n正文\n三、收到和处理政府信息公开申请情况\n| (一)予以公开 | 151 |"


def page(url: str, text: str, **kw) -> PageItem:
    body = f"<html>{text}</html>".encode()
    ex = Extracted(
        title="启东市人民政府2020年政府信息公开工作年度报告",
        issuer="启东市人民政府",
        year=2020,
        is_report=True,
        reason="test",
        text=text,
        text_sha=hashlib.sha256(text.encode()).hexdigest(),
        **kw,
    )
    return PageItem(
        "qidong",
        url,
        200,
        "2026-01-01T00:00:00Z",
        body=body,
        raw_sha=hashlib.sha256(body).hexdigest(),
        extracted=ex,
    )


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "nianbao.db")
    yield s
    s.close()


def run(store: Store, *items) -> list:
    run_id = store.runs.begin([PORTAL])
    for item in items:
        store.ingest(item, run_id)
    return detect.detect(store, run_id)


def test_new_then_same_then_edited(store):
    assert [e.kind for e in run(store, page("http://x/a", TEXT))] == ["new"]
    assert run(store, page("http://x/a", TEXT)) == []
    events = run(store, page("http://x/a", TEXT.replace("151", "152")))
    assert [e.kind for e in events] == ["edited"]
    assert events[0].sections == ["三"]
    assert [(n.label, n.before, n.after) for n in events[0].numbers] == [
        ("三、(一)予以公开", "151", "152")
    ]
    assert (
        "-| (一)予以公开 | 151 |" in events[0].diff and "+| (一)予以公开 | 152 |" in events[0].diff
    )
    assert len(store.reports.history(events[0].report_id)) == 2


def test_second_rendering_is_the_same_report(store):
    run(store, page("http://x/a", TEXT))
    assert run(store, page("http://x/big5/a", TEXT)) == []
    assert len(store.reports.summaries()) == 1
    assert store.reports.find("http://x/big5/a").id == store.reports.find("http://x/a").id


def test_problems_and_non_reports_never_become_versions(store):
    notice = page("http://x/n", "关于印发通知")
    notice.extracted.is_report = False
    soft404 = page("http://x/gone", "您访问的页面不存在")
    soft404.extracted.problem = "soft404"
    events = run(
        store,
        notice,
        soft404,
        FetchProblem("qidong", "http://x/c", "challenge", 412),
        ListingItem("qidong", "http://x/", ok=False, status=503),
    )
    assert events == [] and store.reports.summaries() == []
    kinds = sorted(p["kind"] for p in store.db.query("SELECT kind FROM problems"))
    assert kinds == ["challenge", "listing", "soft404"]


def test_unchanged_item_touches_without_versions(store):
    run(store, page("http://x/a", TEXT))
    seen = PageItem("qidong", "http://x/a", 304, "2026-02-01T00:00:00Z", unchanged=True)
    assert run(store, seen) == []
    assert store.reports.summaries()[0].last_seen == "2026-02-01T00:00:00Z"
    assert store.reports.summaries()[0].versions == 1


def test_not_a_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "junk.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="junk.db"):
        Store(bad)


def test_raw_bytes_are_kept_compressed(store):
    item = page("http://x/a", TEXT)
    run(store, item)
    version = store.reports.version(
        store.reports.history(store.reports.summaries()[0].id)[0].id, raw=True
    )
    assert version.raw == item.body
    assert sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_scans_replaced_by_scans_are_quiet_and_scan_to_text_is_noted(store):
    title_line = "启东市人民政府2020年政府信息公开工作年度报告"
    assert [
        e.kind for e in run(store, page("http://x/a.pdf", title_line, quality="image-only"))
    ] == ["new"]
    assert run(store, page("http://x/a.pdf", title_line + "(扫描件)", quality="image-only")) == []
    (event,) = run(store, page("http://x/a.pdf", TEXT))
    assert event.kind == "edited" and event.note == "版本类型变化: 图片版 → 文字版"
    assert store.events.get(event.id).note == event.note


def test_a_rendering_stored_before_its_page_never_becomes_the_report(store):
    """The 繁體 rendering's extraction can finish before its page's: it is kept back, the
    page makes the report, and the next crawl links the rendering to it."""
    canonical, big5 = "http://x/art/1.html", "http://x/big5/art/1.html"
    rendering = page(big5, TEXT)
    rendering.rendering_of = canonical
    events = run(store, rendering, page(canonical, TEXT))
    assert [(e.kind, e.url) for e in events] == [("new", canonical)]
    again = page(big5, TEXT)
    again.rendering_of = canonical
    assert run(store, page(canonical, TEXT), again) == []
    (report,) = store.reports.summaries()
    assert report.url == canonical


def test_move_candidates_are_found_by_index_not_by_scanning_the_portal(store):
    """Each new report's namesakes (portal, issuer, year) come from an index: a scan of the
    portal per new report made judging a first crawl of 100,000 reports take hours."""
    sql = (
        "EXPLAIN QUERY PLAN SELECT r.id FROM reports n JOIN reports r ON r.portal_id = "
        "n.portal_id AND r.status = 'active' AND r.id != n.id AND r.year IS n.year AND "
        "r.issuer IS n.issuer WHERE n.id IN (1, 2)"
    )
    plan = " ".join(str(row[-1]) for row in store.db.execute(sql).fetchall())
    assert "reports_identity" in plan, plan


@pytest.mark.parametrize("chunk", [1, 2])
def test_judging_in_chunks_gives_the_same_events(tmp_path, monkeypatch, chunk):
    """Detection judges a big run's versions JUDGE_CHUNK at a time (bounded memory): moves,
    edits and new reports come out the same as when judged in one go."""
    other = TEXT.replace("正文", "另一份报告的正文，完全不同的内容")

    def events(chunk_size: int) -> list[tuple]:
        monkeypatch.setattr(detect, "JUDGE_CHUNK", chunk_size)
        with Store(tmp_path / f"chunk{chunk_size}.db") as store:
            first = run(store, page("http://x/a", TEXT), page("http://x/b", other))
            second = run(
                store,
                page("http://x/new/a", TEXT + "\n附件：无"),  # a moved, and lightly edited
                page("http://x/b", other.replace("151", "152")),  # b edited
                page("http://x/c", "一、总体情况\n第三份"),  # new
            )
            return [(e.kind, e.url, e.old_url) for e in first + second]

    chunked, whole = events(chunk), events(1000)
    assert chunked == whole
    assert [kind for kind, *_ in chunked] == ["new", "new", "moved", "edited", "new"]
