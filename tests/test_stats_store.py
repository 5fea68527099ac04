"""Records stored per version, edited events naming changed keys, inconsistent / missing /
late findings, and the ``stats`` / ``stats export`` / ``findings`` commands."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date
from pathlib import Path

import pytest

from crawler.items import Extracted, PageItem
from crawler.stats import parse_record
from monitor.events import deadlines, detect
from monitor.events.stats import announce_findings
from monitor.store import Store

DATA = Path(__file__).parent / "data" / "stats"
PORTAL = {
    "id": "mouqu",
    "name": "某某区人民政府",
    "region": "某某省某某市",
    "start_urls": ["http://x/"],
}
WORD = (DATA / "word2021.html").read_bytes()


def injected(body: bytes) -> bytes:
    """The word2021 page with apply.new.total printed 2|19 instead of 2|18."""
    start = body.index(b"id=new-total")
    cell = body[start : body.index(b"</td>", start)]
    return body.replace(cell, cell.replace(b">18<", b">19<"))


def page(
    url: str,
    body: bytes,
    year: int = 2022,
    issuer: str = "某某区人民政府",
    published: str | None = "2023-01-20",
) -> PageItem:
    text = f"{issuer}{year}年政府信息公开工作年度报告\n" + hashlib.sha256(body).hexdigest()
    ex = Extracted(
        title=f"{issuer}{year}年政府信息公开工作年度报告",
        issuer=issuer,
        year=year,
        is_report=True,
        reason="test",
        text=text,
        text_sha=hashlib.sha256(text.encode()).hexdigest(),
        published=published,
    )
    return PageItem(
        "mouqu",
        url,
        200,
        "2026-01-01T00:00:00Z",
        body=body,
        raw_sha=hashlib.sha256(body).hexdigest(),
        extracted=ex,
        content_type="text/html",
    )


@pytest.fixture
def store(db_path):
    s = Store(db_path)
    yield s
    s.close()


def run(store: Store, *items) -> list:
    run_id = store.runs.begin([PORTAL])
    for item in items:
        store.ingest(item, run_id)
    return detect.detect(store, run_id)


def test_record_stored_per_version_and_edit_names_the_keys(store):
    run(store, page("http://x/2022.html", WORD))
    report = store.reports.find("http://x/2022.html")
    version_id, record = store.stats.latest(report.id)
    assert version_id == report.current_version_id
    assert record == {k: v for k, v in parse_record(WORD, "", "text/html", "").items()}
    assert record["cells"]["apply.new.total"] == 218

    mark = store.events.max_id()
    events = run(store, page("http://x/2022.html", injected(WORD)))
    assert [e.kind for e in events] == ["edited"]  # findings are not change events of the run
    assert "apply.new.total 218 → 219" in events[0].note
    assert [e.kind for e in store.events.after(mark)] == ["edited"]  # findings: stored only
    with store.immediate():
        assert len(announce_findings(store)) == 2
        assert announce_findings(store) == []  # once each
    inconsistent = [e for e in store.events.after(mark) if e.kind == "inconsistent"]
    assert [e.label for e in inconsistent] == ["数据不一致", "数据不一致"]
    assert any(
        "I1（总计）：应为 231，表中为 230" in e.note and "apply.carried_out.total" in e.note
        for e in inconsistent
    )
    rows = store.stats.findings(["inconsistent"])
    assert {(r["rule"], r["column"], r["expected"], r["found"]) for r in rows} == {
        ("I1", "total", 231, 230),
        ("I3", "new", 218, 219),
    }
    assert all(r["event_id"] for r in rows)
    mark = store.events.max_id()
    assert run(store, page("http://x/2022.html", injected(WORD))) == []  # same text: nothing new
    assert store.events.after(mark) == []


def test_the_workers_record_is_stored_with_the_version_and_not_parsed_again(store):
    """The extraction worker reads the record while it holds the page (crawler.workers):
    the ingest stores it with the version, and the one-writer detection takes it as is."""
    from crawler.workers import with_stats

    item = page("http://x/2022.html", WORD)
    with_stats(item.extracted, item.body, item.url, item.content_type)
    assert item.extracted.stats == parse_record(WORD, item.url, "text/html", item.extracted.text)
    # a record unlike the page's: only a detection that takes the stored one keeps it
    item.extracted.stats = {**item.extracted.stats, "cells": {"apply.new.total": 7}}
    other = page("http://x/2021.html", WORD, year=2021)  # no worker record: parsed at detection
    run(store, item, other)
    stored = store.stats.latest(store.reports.find("http://x/2022.html").id)[1]
    assert stored["cells"] == {"apply.new.total": 7}
    parsed = store.stats.latest(store.reports.find("http://x/2021.html").id)[1]
    assert parsed["cells"]["apply.new.total"] == 218


def test_no_record_for_what_is_not_a_report_and_a_parser_failure_is_left_to_detection(
    store, monkeypatch
):
    from crawler import workers

    item = page("http://x/2022.html", WORD)
    item.extracted.is_report = False
    assert workers.with_stats(item.extracted, WORD, item.url, "text/html").stats is None
    item = page("http://x/2022.html", b"<table><tr><td>\xff</td></tr></table>")

    def broken(*args):
        raise ValueError("a parser bug")

    monkeypatch.setattr("crawler.stats.parse_record", broken)
    assert workers.with_stats(item.extracted, item.body, item.url, "text/html").stats is None


def test_a_table_read_over_the_time_cap_keeps_the_pages_verdict(monkeypatch):
    """The worker's time cap (SIGALRM) landing in the table reader costs only the record:
    the page stays a report, and the detection reads its tables later."""
    import signal
    import time

    from crawler import extract, workers

    extract.judge(WORD, "http://x/warm.html", "text/html")  # imports out of the timed task

    def slow(*args):
        time.sleep(5)

    monkeypatch.setattr("crawler.stats.parse_record", slow)
    monkeypatch.setattr(workers, "_timeout", 1.0)
    previous = signal.signal(signal.SIGALRM, workers._alarm)
    try:
        ex = workers.extract_job(WORD, "http://x/2022.html", "text/html", "某某区人民政府", None)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert ex.is_report and ex.problem is None and ex.stats is None


def test_partial_findings_are_stored_apart_without_events(store):
    events = run(
        store, page("http://x/2019.html", (DATA / "blank2019.html").read_bytes(), year=2019)
    )
    assert [e.kind for e in events] == ["new"]
    rows = store.stats.findings(["inconsistent"])
    assert len(rows) == 20 and all(r["partial"] and r["event_id"] is None for r in rows)


def test_missing_after_deadline_then_late_when_it_appears(store):
    run(store, page("http://x/2023.html", WORD, year=2023, published="2024-01-20"))
    store.db.execute(
        "UPDATE reports SET first_seen = '2024-01-21T00:00:00Z'"
    )  # a crawl of that day
    rows = store.stats.issuer_years()
    assert deadlines.deadline_findings(rows, date(2025, 2, 15), 15) == []  # grace not over
    missing = deadlines.deadline_findings(rows, date(2025, 2, 20), 15)
    assert [(f["kind"], f["issuer"], f["year"]) for f in missing] == [
        ("missing", "某某区人民政府", 2024)
    ]
    with store.immediate():
        new = deadlines.record_deadlines(store, date(2025, 2, 20), 15)
    assert [f["kind"] for f in new] == ["missing"]
    event = store.events.latest(1)[0]
    assert (event.kind, event.label, event.year) == ("missing", "逾期未发布", 2024)
    with store.immediate():
        assert deadlines.record_deadlines(store, date(2025, 2, 21), 15) == []  # once only
    run(store, page("http://x/2024.html", injected(WORD), year=2024, published="2025-03-01"))
    store.db.execute("UPDATE reports SET first_seen = '2025-03-02T00:00:00Z' WHERE year = 2024")
    found = deadlines.deadline_findings(store.stats.issuer_years(), date(2025, 3, 5), 15)
    assert [(f["kind"], f["year"], f["found"]) for f in found] == [("late", 2024, "2025-03-01")]
    on_time = deadlines.deadline_findings(
        [dict(r, published="2025-01-10") for r in store.stats.issuer_years()], date(2025, 3, 5), 15
    )
    assert on_time == []  # published on time, found late: not late


def test_stats_commands(cli, store, db_path, tmp_path):
    run(store, page("http://x/2022.html", WORD))
    report = store.reports.find("http://x/2022.html")
    store.db.execute("UPDATE reports SET first_seen = '2023-01-21T00:00:00Z'")
    store.db.conn.commit()
    store.close()
    shown = json.loads(cli("stats", str(report.id), "--json", db=db_path).stdout)
    assert shown["report_id"] == report.id and shown["cells"]["apply.new.total"] == 218
    text = cli("stats", str(report.id), db=db_path).stdout
    assert "三、申请" in text and "四、行政复议、行政诉讼" in text
    from_file = json.loads(cli("stats", str(DATA / "blank2019.html"), "--json", db=db_path).stdout)
    assert from_file["template"] == "2019" and from_file["cells"]["apply.granted.total"] is None

    out = tmp_path / "stats.csv"
    assert cli("stats", "export", "--out", str(out), db=db_path).returncode == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 200 and rows[0]["issuer"] == "某某区人民政府"
    new_total = next(r for r in rows if r["key"] == "apply.new.total")
    assert (new_total["value"], new_total["printed"], new_total["template"]) == (
        "218",
        "218",
        "2021",
    )
    as_json = json.loads(
        cli("stats", "export", "--format", "json", "--year", "2022", db=db_path).stdout
    )
    assert len(as_json) == 200
    assert (
        json.loads(cli("stats", "export", "--format", "json", "--year", "2019", db=db_path).stdout)
        == []
    )
    parquet = cli("stats", "export", "--format", "parquet", db=db_path)
    assert parquet.returncode == 2 and "--out" in parquet.stderr  # binary: never to stdout

    listed = json.loads(cli("findings", "--json", "--as-of", "2024-02-20", db=db_path).stdout)
    assert [(f["kind"], f["year"]) for f in listed] == [("missing", 2023)]
    assert set(listed[0]) >= {
        "id",
        "kind",
        "report_id",
        "issuer",
        "region",
        "year",
        "rule",
        "cells",
        "expected",
        "found",
        "detail",
        "detected_at",
        "run_id",
    }
    bad = cli("findings", "--kind", "nope", db=db_path)
    assert bad.returncode == 2


def test_mail_and_feed_show_findings_in_chinese(store):
    from monitor.alerts import render

    run(store, page("http://x/2022.html", WORD))
    mark = store.events.max_id()
    run(store, page("http://x/2022.html", injected(WORD)))
    with store.immediate():
        announce_findings(store)
    events = [e for e in store.events.after(mark) if e.kind == "inconsistent"]
    text = render.render_text(events, "退订")
    assert "【数据不一致】" in text and "apply.new.total" in text and "应为 231，表中为 230" in text
    assert "数据不一致 2" in render.subject(events)
    html = render.render_html(events, "退订")
    assert "数据不一致" in html and "apply.carried_out.total" in html
