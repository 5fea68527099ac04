"""Findings of kind ``mismatch`` (section 一's prose against the tables: M1; last year's
carried-out against this year's carried-in: M2) and findings recorded as events after
each crawl (``monitor.judging.record_findings``): once each, and after a crash.

Fixtures are our own pages (tests/data/stats/word2021.html with prose written here); the
tables' figures are in gold.json (word2021: new 218, carried_in 12, total 210, carried_out
20, 行政复议 7, 行政诉讼 4 + 2).
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from crawler.stats import parse_record, prose
from monitor import judging
from monitor.alerts import render
from monitor.events import detect
from monitor.store import Store
from tests.test_stats_store import DATA, PORTAL, WORD, page

PROSE = "本年度共受理政府信息公开申请，现将有关情况报告如下。".encode()


def with_prose(text: str, body: bytes = WORD) -> bytes:
    """The word2021 page with ``text`` as section 一's paragraph."""
    assert PROSE in body
    return body.replace(PROSE, text.encode())


def mismatches(record: dict) -> list[tuple]:
    return [
        (f["rule"], f["column"], f["cells"], f["expected"], f["found"])
        for f in record["findings"]
        if f["kind"] == "mismatch"
    ]


@pytest.fixture
def store(db_path):
    s = Store(db_path)
    yield s
    s.close()


def run(store: Store, *items) -> int:
    run_id = store.runs.begin([PORTAL])
    for item in items:
        store.ingest(item, run_id)
    detect.detect(store, run_id)
    return run_id


# ---- M1: section 一's prose against the tables -------------------------------------------


def test_prose_figures_that_contradict_the_tables_are_mismatches():
    body = with_prose(
        "本年度共收到政府信息公开申请217件，办结210件，20件结转下年度继续办理。"
        "全年因政府信息公开引起的行政复议案件7件、行政诉讼案件5件。"
    )
    record = parse_record(body, "http://gov.test/2022.html", "text/html", "")
    assert record["cells"]["apply.new.total"] == 218  # the tables are read as before
    assert mismatches(record) == [
        ("M1", "new", ["apply.new.total"], 218, 217),
        ("M1", "suit", ["appeal.suit_direct.total", "appeal.suit_after_review.total"], 6, 5),
    ]
    assert [f for f in record["findings"] if f["kind"] == "inconsistent"] == []


def test_prose_that_agrees_with_the_tables_is_no_finding():
    body = with_prose(
        "本年度共收到政府信息公开申请218件，上年结转12件，办结210件，20件结转下年度继续办理。"
        "全年发生政府信息公开行政复议7件，行政诉讼6件。"
    )
    record = parse_record(body, "http://gov.test/2022.html", "text/html", "")
    assert record["findings"] == []
    quoted = {(row, figure) for row, _, figure, _ in prose.quotes(prose.section_one(body.decode()))}
    assert quoted == {
        ("new", 218),
        ("carried_in", 12),
        ("total", 210),
        ("carried_out", 20),
        ("review", 7),
        ("suit", 6),
    }  # every phrasing was read, and agreed


def test_a_whole_area_figure_is_a_total():
    body = with_prose("2022 年全区受理政府信息公开申请 219 件，均在法定期限答复。")
    record = parse_record(body, "http://gov.test/2022.html", "text/html", "")
    assert mismatches(record) == [("M1", "new", ["apply.new.total"], 218, 219)]


def test_prose_from_the_extracted_text_when_it_has_section_one():
    text = "一、总体情况\n全年共收到政府信息公开申请2,180件。\n二、主动公开政府信息情况\n"
    record = parse_record(WORD, "http://gov.test/2022.html", "text/html", text)
    assert mismatches(record) == [("M1", "new", ["apply.new.total"], 218, 2180)]


@pytest.mark.parametrize(
    "sentence",
    [
        "本年度共受理政府信息公开申请230件（含上年结转12件）。",  # new + carried_in
        "区本级收到政府信息公开申请5件。",  # one office's share, not a total
        "区政府办代表区政府受理政府信息公开申请17件，均已答复。",  # as a real 2024 report
        "全年共收到申请218件，其中自然人170件。",  # a part
        "全年共收到申请较上年增加17件。",  # a comparison
        "全年办理政府信息公开申请300件。",  # 办理: new or total? not guessed
        "区司法局全年共办理行政复议案件120件。",  # not about information requests
        "全年共收到政府信息公开申请若干件。",  # no figure
    ],
)
def test_prose_that_does_not_name_one_cell_is_not_read(sentence):
    record = parse_record(with_prose(sentence), "http://gov.test/2022.html", "text/html", "")
    assert mismatches(record) == []


def test_figures_outside_section_one_and_unknown_cells_are_not_compared():
    body = (DATA / "blank2019.html").read_bytes()  # 2019, suit_after_review.total is "/"
    text = (
        "一、总体情况\n全年因政府信息公开引起行政诉讼99件。\n"
        "二、主动公开政府信息情况\n五、存在的主要问题\n全年共收到政府信息公开申请1件。\n"
    )
    record = parse_record(body, "http://gov.test/2019.html", "text/html", text)
    assert record["cells"]["appeal.suit_after_review.total"] is None
    assert mismatches(record) == []
    free = parse_record(b"", "", "", "一、概述\n全年共收到政府信息公开申请3件。\n")
    assert free["template"] == "free" and free["findings"] == []  # nothing to contradict


# ---- M2: last year's carried-out against this year's carried-in --------------------------


def carried_in(body: bytes, values: list[int]) -> bytes:
    """The word2021 page with section 三's row 二 (上年结转) printed as ``values``."""
    start = body.index("二、上年结转".encode())
    start = body.index(b"</td>", start) + len(b"</td>")
    end = body.index(b"</tr>", start)
    cells = iter(values)
    row = re.sub(
        rb"<td([^>]*)>.*?</td>",
        lambda m: b"<td%s>%d</td>" % (m.group(1), next(cells)),
        body[start:end],
        flags=re.S,
    )
    assert next(cells, None) is None
    return body[:start] + row + body[end:]


COLUMNS = ("person", "business", "research", "nonprofit", "legal", "other_org", "total")


def test_carried_in_differs_from_last_years_carried_out(store):
    # 2022: carried_out 10, 6, 1, 1, 1, 1, 20. 2023: carried_in 10, 2, 0, 0, 0, 0, 12.
    this_year = page("http://x/2023.html", WORD, year=2023, published="2024-01-20")
    run(store, this_year)
    assert store.stats.findings(["mismatch"]) == []  # no last year yet: nothing to compare
    run(store, page("http://x/2022.html", WORD))  # last year's report found afterwards
    rows = store.stats.findings(["mismatch"])
    assert {(r["rule"], r["column"], r["expected"], r["found"]) for r in rows} == {
        ("M2", "business", 6, 2),
        ("M2", "research", 1, 0),
        ("M2", "nonprofit", 1, 0),
        ("M2", "legal", 1, 0),
        ("M2", "other_org", 1, 0),
        ("M2", "total", 20, 12),
    }  # person: 10 = 10
    report = store.reports.find("http://x/2023.html")
    assert {(r["report_id"], r["year"], r["partial"]) for r in rows} == {(report.id, 2023, False)}
    total = next(r for r in rows if r["column"] == "total")
    assert total["cells"] == ["apply.carried_in.total", "apply.carried_out.total"]
    assert "2022年报告结转下年度 20，2023年报告上年结转 12" in total["detail"]

    run(store, page("http://x/2022.html", WORD), this_year)  # the same again: nothing new
    assert len(store.stats.findings(["mismatch"])) == 6


def test_carried_in_equal_to_last_years_carried_out_is_no_finding(store):
    this_year = carried_in(WORD, [10, 6, 1, 1, 1, 1, 20])  # as 2022 carried them out
    assert parse_record(this_year, "", "text/html", "")["cells"]["apply.carried_in.total"] == 20
    run(
        store,
        page("http://x/2022.html", WORD),
        page("http://x/2023.html", this_year, year=2023, published="2024-01-20"),
    )
    assert store.stats.findings(["mismatch"]) == []
    one_off = carried_in(WORD, [10, 6, 1, 1, 1, 0, 19])  # 其他 and 总计 one short
    run(store, page("http://x/2023.html", one_off, year=2023, published="2024-01-20"))
    rows = store.stats.findings(["mismatch"])
    assert {(r["column"], r["expected"], r["found"]) for r in rows} == {
        ("other_org", 1, 0),
        ("total", 20, 19),
    }


# ---- findings as events after each crawl ---------------------------------------------------


def test_findings_become_events_once_and_after_a_crash(store, monkeypatch):
    monkeypatch.setenv("NIANBAO_TODAY", "2025-02-20")
    body = with_prose("本年度共收到政府信息公开申请217件。")
    run_id = run(store, page("http://x/2023.html", body, year=2023, published="2024-01-20"))
    store.db.execute("UPDATE reports SET first_seen = '2024-01-21T00:00:00Z'")  # seen then
    # a crawl killed here has stored its versions and findings, but recorded no events
    assert store.events.latest(10)[0].kind == "new"
    assert [e.kind for e in store.events.latest(10)] == ["new"]

    events = judging.record_findings(store, run_id + 1)  # the next crawl
    assert sorted(e.kind for e in events) == ["mismatch", "missing"]
    mismatch = next(e for e in events if e.kind == "mismatch")
    assert mismatch.label == "数据不符" and mismatch.year == 2023
    assert "正文“本年度共收到政府信息公开申请217件”为 217，表中为 218" in mismatch.note
    missing = next(e for e in events if e.kind == "missing")
    assert missing.year == 2024 and missing.label == "逾期未发布"
    stored = {e.id for e in store.events.latest(10)}
    assert {e.id for e in events} <= stored

    assert judging.record_findings(store, run_id + 2) == []  # once each
    assert len(store.events.latest(10)) == 3


def test_findings_setting_and_a_bad_day(store, monkeypatch):
    assert judging.findings_on({}) and not judging.findings_on({"NIANBAO_FINDINGS": "false"})
    monkeypatch.setenv("NIANBAO_TODAY", "not-a-day")
    body = with_prose("本年度共收到政府信息公开申请217件。")
    run_id = run(store, page("http://x/2023.html", body, year=2023, published="2024-01-20"))
    events = judging.record_findings(store, run_id)  # the tables' findings still go out
    assert [e.kind for e in events] == ["mismatch"]


def test_mismatch_in_mail_feed_and_findings_command(store, db_path, cli):
    body = with_prose("本年度共收到政府信息公开申请217件。")
    run(store, page("http://x/2022.html", body))
    with store.immediate():
        from monitor.events.stats import announce_findings

        events = announce_findings(store)
    text = render.render_text(events, "退订")
    assert "【数据不符】" in text and "apply.new.total" in text and "表中为 218" in text
    assert "数据不符 1" in render.subject(events)
    html = render.render_html(events, "退订")
    assert "数据不符" in html and "“本年度共收到政府信息公开申请217件”" in html
    store.close()
    listed = json.loads(cli("findings", "--kind", "mismatch", "--json", db=db_path).stdout)
    assert [(f["kind"], f["rule"], f["expected"], f["found"]) for f in listed] == [
        ("mismatch", "M1", 218, 217)
    ]
    as_of = cli("findings", "--kind", "mismatch", "--as-of", "2099-01-01", "--json", db=db_path)
    assert [f["rule"] for f in json.loads(as_of.stdout)] == ["M1"]
    only_missing = cli(
        "findings", "--kind", "missing", "--as-of", "2023-01-01", "--json", db=db_path
    )
    assert json.loads(only_missing.stdout) == []  # stored mismatch findings are not listed


# ---- the Parquet export ----------------------------------------------------------------------


def test_parquet_export_equals_the_csv(store, db_path, cli, tmp_path):
    import pyarrow.parquet as pq

    run(store, page("http://x/2022.html", WORD))
    run(store, page("http://x/2019.html", (DATA / "blank2019.html").read_bytes(), year=2019))
    store.close()
    csv_file, parquet_file = tmp_path / "s.csv", tmp_path / "s.parquet"
    assert cli("stats", "export", "--out", str(csv_file), db=db_path).returncode == 0
    done = cli("stats", "export", "--format", "parquet", "--out", str(parquet_file), db=db_path)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(csv_file.read_text(encoding="utf-8-sig"))))
    table = pq.read_table(parquet_file)
    assert table.column_names == list(rows[0])
    assert str(table.schema.field("value").type) == "double"
    assert str(table.schema.field("year").type) == "int64"
    back = table.to_pylist()
    assert len(back) == len(rows) == 200 + 198
    assert any(r["value"] is None for r in back)  # unknown cells stay null, never 0
    for got, want in zip(back, rows, strict=True):
        for name, text in want.items():
            value = got[name]
            if name == "value":
                assert (value is None and text == "") or value == float(text), (name, want)
            else:
                assert ("" if value is None else str(value)) == text, (name, want)
    assert not list(tmp_path.glob("*.partial"))


def test_parquet_without_pyarrow_says_how_to_install(db_path, cli, tmp_path):
    """A real subprocess whose ``import pyarrow`` fails, as where it is not installed."""
    fake = tmp_path / "no_pyarrow" / "pyarrow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no pyarrow here')\n")
    result = cli(
        "stats",
        "export",
        "--format",
        "parquet",
        "--out",
        str(tmp_path / "s.parquet"),
        db=db_path,
        env={"PYTHONPATH": str(fake.parent)},
    )
    assert result.returncode == 2
    assert "pip install 'nianbao[parquet]'" in result.stderr
    assert not (tmp_path / "s.parquet").exists()


def test_a_hostile_quote_is_escaped_in_mail(store):
    from monitor.events.stats import announce_findings

    body = with_prose("全年共收到&lt;script&gt;alert(1)&lt;/script&gt;政府信息公开申请217件。")
    run(store, page("http://x/2022.html", body))
    with store.immediate():
        events = announce_findings(store)
    assert [e.kind for e in events] == ["mismatch"] and "<script>" in events[0].note
    html = render.render_html(events, "退订")
    assert "<script>" not in html and "&lt;script&gt;alert(1)" in html


def test_an_issuers_neighbouring_years_are_read_by_index(store):
    """M2 reads the (issuer, year) pairs it needs by index: reading an issuer's every
    report once per 1,000 judged versions made a first crawl of 100,000 reports (400
    issuers) judge for hours."""
    sql = (
        "EXPLAIN QUERY PLAN SELECT MIN(r.id) FROM json_each(?) AS k JOIN reports r "
        "ON r.issuer = json_extract(k.value, '$[0]') AND r.year = json_extract(k.value, '$[1]')"
    )
    plan = " ".join(str(row[-1]) for row in store.db.execute(sql, ["[]"]).fetchall())
    assert "reports_issuer_year" in plan, plan


def test_m2_compares_with_the_lowest_report_id_of_a_year(store):
    run(store, page("http://x/2022.html", WORD))
    run(store, page("http://x/2022-copy.html", carried_in(WORD, [10, 2, 0, 0, 0, 0, 12])))
    this_year = page("http://x/2023.html", WORD, year=2023, published="2024-01-20")
    run(store, this_year)
    first = store.reports.find("http://x/2022.html")
    cells = store.stats.issuer_cells([(first.issuer, 2022), (first.issuer, 2023)])
    (by_year,) = cells.values()
    assert sorted(by_year) == [2022, 2023]
    assert by_year[2022][0] == first.id
    assert {r["column"] for r in store.stats.findings(["mismatch"])} >= {"total"}


@pytest.mark.parametrize("chunk", [1, 2])
def test_m2_findings_are_the_same_judged_in_chunks(tmp_path, monkeypatch, chunk):
    """Each M2 pair is compared once per detection, in the chunk that first meets it:
    the findings are those of a detection in one go."""

    def findings(chunk_size: int) -> set[tuple]:
        monkeypatch.setattr(detect, "JUDGE_CHUNK", chunk_size)
        with Store(tmp_path / f"chunk{chunk_size}.db") as store:
            run(
                store,
                page("http://x/2023.html", WORD, year=2023, published="2024-01-20"),
                page("http://x/2022.html", WORD),
                page("http://x/2022-copy.html", carried_in(WORD, [10, 2, 0, 0, 0, 0, 12])),
            )
            rows = store.stats.findings(["mismatch"])
            urls = {r.id: r.url for r in store.reports.summaries()}
            return {(urls[r["report_id"]], r["column"], r["expected"], r["found"]) for r in rows}

    chunked, whole = findings(chunk), findings(1000)
    assert chunked == whole
    assert ("http://x/2023.html", "total", 20, 12) in whole
