"""Benchmark of the standard tables as data (issue 10): cell accuracy, parse speed,
findings speed.

Prints:
- cell-level accuracy of ``parse_record`` against every gold record written by hand in
  tests/data/stats/gold.json (goal: every cell), for each fixture (HTML pages, seed 001's
  flattened text, a PDF and a DOCX made from the 2021 gold record);
- records parsed per second from versions stored in a real database (raw bytes and the
  text extraction gives them; ``--workers N`` parses in N processes), and per CPU second
  (what a loaded machine does not change much) (goal: a province's 10 years, about 20,000
  reports, re-parsed in under 5 minutes);
- how long the missing/late findings take over 100,000 reports.

Run: ``.venv/bin/python -m bench.stats [--versions N] [--workers N] [--reports N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import random
import tempfile
import time
from datetime import date
from pathlib import Path

from crawler import documents
from crawler.extract import judge
from crawler.items import Extracted, PageItem
from crawler.stats import parse_record
from monitor.events import deadlines
from monitor.store import Store
from tests import test_stats_parse as gold

DATA = gold.DATA


def _fixtures() -> list[tuple[str, str, dict]]:
    """(fixture name, gold name, record) for every gold fixture."""
    word = (DATA / "word2021.html").read_bytes()
    pdf = gold.docgen.text_pdf(
        ["某某区2022年报告"], rows=gold._rows_2021(gold.GOLD["word2021"], glued=True)
    )
    pdf_text = documents.extract_document(pdf, "http://b/a.pdf", "application/pdf").text
    return [
        ("word2021.html", "word2021", parse_record(word, "http://b/a.html", "text/html", "")),
        (
            "blank2019.html",
            "blank2019",
            parse_record(
                (DATA / "blank2019.html").read_bytes(), "http://b/b.html", "text/html", ""
            ),
        ),
        (
            "seed001.txt",
            "seed001",
            parse_record(b"", "", "", (DATA / "seed001.txt").read_text(encoding="utf-8")),
        ),
        (
            "generated.pdf",
            "word2021",
            parse_record(pdf, "http://b/a.pdf", "application/pdf", pdf_text),
        ),
    ]


def accuracy() -> tuple[int, int]:
    right = total = 0
    for fixture, name, record in _fixtures():
        expected = gold.expand(gold.GOLD[name])
        ok = sum(record["cells"].get(k, "absent") == v for k, v in expected.items())
        print(f"  {fixture:<16} {ok}/{len(expected)} cells")
        right, total = right + ok, total + len(expected)
    return right, total


def _item(n: int, body: bytes, text: str) -> PageItem:
    text = f"某某单位{n}2022年政府信息公开工作年度报告\n{text}"
    ex = Extracted(
        title=f"报告{n}",
        issuer=f"某某单位{n}",
        year=2022,
        is_report=True,
        reason="bench",
        text=text,
        text_sha=hashlib.sha256(text.encode()).hexdigest(),
    )
    return PageItem(
        "bench",
        f"http://b/{n}.html",
        200,
        "2026-01-01T00:00:00Z",
        body=body,
        raw_sha=hashlib.sha256(body).hexdigest(),
        extracted=ex,
        content_type="text/html",
    )


def _pages() -> list[tuple[bytes, str]]:
    """The stored versions' mix: the two HTML fixtures with the text extraction gives them."""
    out = []
    for name in ("word2021.html", "blank2019.html"):
        body = (DATA / name).read_bytes()
        out.append((body, judge(body, "http://b/a.html", content_type="text/html").text))
    return out


def _parse(source: dict) -> str | None:
    record = parse_record(
        source["raw"], source["url"], source["content_type"] or "", source["text"]
    )
    return record["template"]


def parse_speed(versions: int, workers: int) -> tuple[float, float]:
    """(records per second, records per CPU second of the parsing processes), parsing
    ``versions`` stored versions from their raw bytes and text, in ``workers`` processes."""
    pages = _pages()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        run_id = store.runs.begin(
            [{"id": "bench", "name": "bench", "region": "R", "start_urls": []}]
        )
        for n in range(versions):
            body, text = pages[n % len(pages)]
            store.ingest(_item(n, body.replace(b"</h1>", f"{n}</h1>".encode()), text), run_id)
        ids = [r["id"] for r in store.db.query("SELECT id FROM versions")]
        start, cpu = time.perf_counter(), time.process_time()
        sources = store.stats.sources(ids)
        if workers > 1:
            with multiprocessing.Pool(workers) as pool:
                templates = pool.map(_parse, sources, chunksize=16)
                cpu_children = sum(pool.map(_cpu, range(workers)))
        else:
            templates = [_parse(src) for src in sources]
            cpu_children = 0.0
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu + cpu_children
        store.close()
    assert set(templates) == {"2021", "2019"}, templates
    return versions / elapsed, versions / cpu


def _cpu(_: int) -> float:
    return time.process_time()


def findings_time(reports: int) -> float:
    """Seconds for missing/late findings over ``reports`` issuer-year rows (10 years each)."""
    rng = random.Random(10)
    rows = []
    for n in range(reports // 10):
        for year in range(2015, 2025):
            if rng.random() < 0.97:
                rows.append(
                    {
                        "report_id": len(rows) + 1,
                        "issuer": f"单位{n}",
                        "region": "R",
                        "year": year,
                        "published": f"{year + 1}-0{rng.randint(1, 3)}-15",
                        "first_seen": f"{year + 1}-03-20",
                    }
                )
    start = time.perf_counter()
    found = deadlines.deadline_findings(rows, date(2025, 6, 1), 15)
    elapsed = time.perf_counter() - start
    print(f"  {len(rows)} reports → {len(found)} missing/late findings")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=300, help="stored versions to parse")
    parser.add_argument("--workers", type=int, default=1, help="parsing processes")
    parser.add_argument("--reports", type=int, default=100_000, help="reports for findings")
    args = parser.parse_args()
    print("cell accuracy against the gold records:")
    right, total = accuracy()
    print(f"  all: {right}/{total} = {right / total:.2%}")
    rate, cpu_rate = parse_speed(args.versions, args.workers)
    print(
        f"records parsed per second (stored versions, {args.workers} process(es)): {rate:.0f} "
        f"({cpu_rate:.0f} per CPU second); 20,000 reports in {20_000 / rate:.0f} s "
        "(goal: under 300 s)"
    )
    print(
        f"findings (missing/late) over {args.reports} reports: {findings_time(args.reports):.2f} s"
    )


if __name__ == "__main__":
    main()
