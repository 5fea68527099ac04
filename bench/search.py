"""Benchmark of full-text search (issue 11): index build time and size, query latency.

Generates N report versions of about 20,000 characters each (default: the issue's 20,000
versions, ~1.2 GB of text; the database needs several GB of disk) from the mirror's report
texts: paragraphs of the five saved reports, normalised, shuffled and with their numbers
varied, under generated issuers (20 cities × 20 units) and years. Each version goes in
through ``Store.ingest``, the crawl's own path, then into the FTS5 (trigram) index as the
detection that judges it adds it (``Search.index``, 1,000 versions a transaction).
Prints:

- ingest time, indexing time, and the time to rebuild the index from scratch over the
  stored versions (what migration ``m007_search`` does for an old database);
- the index's size on disk (FTS5 shadow tables, from ``dbstat``) beside the texts';
- median and p95 latency of ``store.search.query`` (newest version of each report, 20
  results with snippets, as ``nianbao search`` and ``/search`` run it) for 2-, 4- and
  8-character queries cut from the generated texts, and for 4-character queries that
  match nothing; goal: p95 under 50 ms. 2-character queries are below the trigram index
  and scan texts with ``instr`` (``LIKE``), newest first, stopping at the page's last hit.

Run: ``.venv/bin/python -m bench.search [--versions N] [--chars N] [--queries N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from bench._common import index_stored
from crawler.items import Extracted, PageItem
from crawler.textnorm import normalise
from mirror.texts.names import CITIES, UNITS
from mirror.texts.reports import dump
from monitor.store import Store

DUMPS = ["jiangsu_2020_trad", "jiangsu_notice_2020", "jszwb_2016", "qidong_2020", "zhejiang_2019"]
DIGITS = re.compile(r"\d+")
PORTALS = 20


def paragraphs() -> list[str]:
    """Every paragraph of the saved reports, normalised (繁→简) as stored texts are."""
    out = []
    for name in DUMPS:
        for line in normalise(dump(name)).splitlines():
            if len(line.strip()) >= 8:
                out.append(line.strip())
    return out


def report_text(rng: random.Random, pool: list[str], issuer: str, year: int, chars: int) -> str:
    """About ``chars`` characters of report-like text: a title, then shuffled paragraphs
    with their numbers changed."""
    lines = [f"{issuer}{year}年政府信息公开工作年度报告"]
    size = len(lines[0])
    while size < chars:
        para = DIGITS.sub(lambda m: str(rng.randint(0, 10 ** len(m.group()))), rng.choice(pool))
        para = para.replace("2020年", f"{year}年").replace("2019年", f"{year}年")
        lines.append(para)
        size += len(para) + 1
    return "\n".join(lines)


def item(n: int, text: str, issuer: str, year: int, portal: str) -> PageItem:
    body = text.encode()
    ex = Extracted(
        title=f"{issuer}{year}年政府信息公开工作年度报告",
        issuer=issuer,
        year=year,
        is_report=True,
        reason="bench",
        text=text,
        text_sha=hashlib.sha256(body).hexdigest(),
    )
    return PageItem(
        portal,
        f"http://{portal}.example/{n}.html",
        200,
        f"2026-01-{1 + n % 28:02d}T00:00:00Z",
        body=body,
        raw_sha=ex.text_sha,
        extracted=ex,
    )


def build(
    db: Path, versions: int, chars: int, rng: random.Random
) -> tuple[float, float, list[str]]:
    """Ingest ``versions`` versions (two per report), then index them; return the seconds
    of each and a sample of texts to cut queries from."""
    pool = paragraphs()
    portals = [
        {"id": f"p{i}", "name": CITIES[i % len(CITIES)], "region": "江苏省", "start_urls": []}
        for i in range(PORTALS)
    ]
    samples: list[str] = []
    started = time.perf_counter()
    with Store(db) as store:
        run_id = store.runs.begin(portals)
        for n in range(versions):
            report = n // 2  # each report gets a first version and an edit
            issuer = CITIES[report % len(CITIES)] + UNITS[(report // len(CITIES)) % len(UNITS)]
            year = 2014 + report % 12
            text = report_text(rng, pool, issuer, year, chars)
            result = store.ingest(item(report, text, issuer, year, f"p{report % PORTALS}"), run_id)
            assert result == "version", result
            if n % 97 == 0:
                samples.append(text)
            if n and n % 2000 == 0:
                print(f"  {n} versions ingested ({time.perf_counter() - started:.0f} s)")
        ingested = time.perf_counter() - started
        store.runs.finish(run_id, "ok")
        return ingested, index_stored(store, run_id), samples


def sizes(db: Path) -> tuple[int, int, int]:
    """(bytes of the FTS5 index, bytes of the versions table, bytes of the file)."""
    with Store(db) as store:
        rows = store.db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    by = dict(rows)
    index = sum(v for k, v in by.items() if k.startswith("version_search"))
    return index, by.get("versions", 0), db.stat().st_size


def rebuild(db: Path) -> float:
    started = time.perf_counter()
    with Store(db) as store, store.immediate():
        store.db.execute("INSERT INTO version_search(version_search) VALUES ('rebuild')")
    return time.perf_counter() - started


def queries(rng: random.Random, texts: list[str], length: int, count: int) -> list[str]:
    out = []
    while len(out) < count:
        text = rng.choice(texts)
        at = rng.randrange(0, len(text) - length)
        term = text[at : at + length]
        if not any(c.isspace() for c in term):
            out.append(term)
    return out


def latency(db: Path, terms: list[str]) -> tuple[float, float, float]:
    """(median ms, p95 ms, mean hits) of one query per term, on a warm connection."""
    times, hits = [], []
    with Store(db) as store:
        store.search.query([terms[0]])  # warm the cache
        for term in terms:
            started = time.perf_counter()
            found = store.search.query([term], limit=20)
            times.append((time.perf_counter() - started) * 1000)
            hits.append(len(found))
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, statistics.mean(hits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=20000)
    parser.add_argument("--chars", type=int, default=20000, help="characters per version")
    parser.add_argument("--queries", type=int, default=40, help="queries per length")
    parser.add_argument("--keep", type=Path, help="build the database here (a new file, kept)")
    args = parser.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="nianbao-bench-search-") as tmp:
        db = args.keep or Path(tmp) / "bench.db"
        if db.exists():
            parser.error(f"{db} exists: --keep builds a new database")
        print(f"{args.versions} versions of ~{args.chars} characters → {db}")
        seconds, indexing, texts = build(db, args.versions, args.chars, rng)
        index, versions, total = sizes(db)
        print(
            f"ingest: {seconds:.1f} s ({args.versions / seconds:.0f} versions/s); "
            f"search index as detections add it: {indexing:.1f} s "
            f"({args.versions / indexing:.0f} versions/s); "
            f"index rebuild (migration): {rebuild(db):.1f} s"
        )
        print(
            f"index size: {index / 2**20:.0f} MB (versions table {versions / 2**20:.0f} MB, "
            f"file {total / 2**20:.0f} MB)"
        )
        print("query latency (newest versions, 20 hits with snippets; goal p95 < 50 ms):")
        for length in (2, 4, 8):
            median, p95, hits = latency(db, queries(rng, texts, length, args.queries))
            print(f"  {length} chars: median {median:.1f} ms, p95 {p95:.1f} ms, {hits:.1f} hits")
        misses = ["".join(rng.choice("甲乙丙丁戊己庚辛壬癸") for _ in range(4)) for _ in range(20)]
        median, p95, hits = latency(db, misses)
        print(f"  4 chars, no match: median {median:.1f} ms, p95 {p95:.1f} ms")
        rare = ["癸" + rng.choice("甲乙丙丁戊己庚辛壬") for _ in range(10)]
        median, p95, hits = latency(db, rare)
        print(f"  2 chars, no match (full scan): median {median:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
