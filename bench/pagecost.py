"""Benchmark: where the CPU time of one first-crawl report page goes, step by step.

Usage: python bench/pagecost.py [--pages 200]

Fetches N synthetic report pages from the mirror (29 KB of HTML each, 启东's table scaled)
and times, in this process and one page at a time, every step the extraction worker
takes for a new page (``crawler.workers._extract``: decode, parse, body container and
fingerprint, metadata, the layout-table rewrite, trafilatura, normalisation, verdict, the
statistics record), then what the crawl process does with the verdict (``Store.ingest``
into a fresh database: the version row, the statistics record) and the detection after
the crawl (``detect``: events, findings, and the FTS5 trigram index of the judged
versions, a chunk at a time). Prints milliseconds per page for each
step and its share. Scrapy's own cost per request (download, middlewares, scheduling) is
not here: ``bench/crawl.py`` gives the whole crawl (CPU ms per page of the process tree).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler import extract, heuristics, pagemeta, pagetree, textnorm, workers  # noqa: E402
from crawler.items import PageItem  # noqa: E402
from crawler.stats import parse_record  # noqa: E402
from mirror import MirrorServer  # noqa: E402
from monitor.events import detect  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.store.search import Search  # noqa: E402

PORTAL = {"id": "bench", "name": "某某市人民政府", "region": "某某省", "start_urls": ["http://x/"]}


class Clock:
    """Summed CPU seconds per step."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()

    def __call__(self, step: str, fn, *args):
        start = time.process_time()
        out = fn(*args)
        self.seconds[step] += time.process_time() - start
        return out


def worker_steps(clock: Clock, body: bytes, url: str) -> None:
    """The steps of ``judge`` for a new page, each timed (the same calls, in order)."""
    html = clock("decode (w3lib)", pagetree.decode_html, body, "text/html")
    tree = clock("parse (lxml.html)", pagetree.parse, html)
    matches = clock("body container", pagetree._BODY_XPATH, tree)
    container = clock("body container", pagetree.find_body, tree, matches)
    clock("fingerprint (t2s, width, furniture, sha256)", pagetree._fingerprint, container)
    clock("cover check", pagetree._stats, matches, container)
    metas = clock("title, date, issuer, links", pagemeta.metas, tree)
    title = clock("title, date, issuer, links", pagemeta.title, tree, metas)
    clock("title, date, issuer, links", pagemeta.published, tree, metas, html)
    if pagemeta.may_have_info(html):
        clock("title, date, issuer, links", pagemeta.info_table, tree)
    clock("title, date, issuer, links", pagemeta.attachments, tree, url)
    layout = clock("layout tables, cells flattened", extract._layout_cells, tree)
    clock("layout tables, cells flattened", extract._unwrap_layout_tables, tree, layout)
    clock("layout tables, cells flattened", extract._flatten_cells, tree, layout)
    raw = clock("trafilatura (tables kept)", extract.trafilatura_text, tree, url)
    text = clock("normalise (t2s, width, furniture)", textnorm.normalise, raw)
    clock("verdict (report?, problem?, sha256)", heuristics.classify_report, title, text)
    clock("verdict (report?, problem?, sha256)", pagetree.looks_mojibake, html)
    clock("verdict (report?, problem?, sha256)", heuristics.page_problem, 200, text, title)
    clock("verdict (report?, problem?, sha256)", textnorm.content_hash, text)
    clock("statistics record (crawler/stats)", parse_record, body, url, "text/html", text)


def page_item(i: int, url: str, body: bytes) -> PageItem:
    ex = workers.with_stats(extract.judge(body, url, "text/html"), body, url, "text/html")
    return PageItem(
        "bench",
        url,
        200,
        "2026-01-01T00:00:00Z",
        body=body,
        raw_sha=hashlib.sha256(body).hexdigest(),
        extracted=ex,
        content_type="text/html",
        listed_on="http://x/list.html",
    )


def store_steps(clock: Clock, items: list[PageItem], tmp: Path, fts: bool) -> None:
    """Ingest ``items`` into a fresh database as the crawl process does, then detect (which
    adds the judged versions to the search index, ``Search.index``; not with ``fts``
    False)."""
    original = Search.index
    if not fts:
        Search.index = lambda self, versions: 0  # type: ignore[method-assign]
    try:
        with Store(tmp / f"cost-{fts}.db") as store:
            run_id = store.runs.begin([PORTAL])
            for item in items:
                clock("store: ingest", store.ingest, item, run_id)
            label = "detect (after the crawl)" if fts else "detect without FTS5"
            clock(label, detect.detect, store, run_id)
    finally:
        Search.index = original  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    mirror = MirrorServer(synthetic=args.pages)
    mirror.start()
    try:
        pages = [(mirror.url(f"/bench/art/{i}.html"), None) for i in range(args.pages)]
        pages = [(url, urllib.request.urlopen(url, timeout=10).read()) for url, _ in pages]
    finally:
        mirror.stop()
    extract.judge(pages[0][1], pages[0][0], "text/html")  # imports and caches warm
    clock = Clock()
    for url, body in pages:
        worker_steps(clock, body, url)
    whole = Clock()
    for url, body in pages:
        whole("judge + record", workers._extract, body, url, "text/html", "", None)
    items = [page_item(i, url, body) for i, (url, body) in enumerate(pages)]
    with tempfile.TemporaryDirectory() as tmp:
        store_steps(clock, items, Path(tmp), fts=True)
        store_steps(clock, items, Path(tmp), fts=False)
    n = len(pages)
    size = sum(len(b) for _, b in pages) / n / 1024
    print(f"{n} synthetic report pages, {size:.0f} KB of HTML each; CPU ms per page:")
    worker = {k: v for k, v in clock.seconds.items() if not k.startswith(("store", "detect"))}
    total = sum(worker.values())
    for step, seconds in sorted(worker.items(), key=lambda kv: -kv[1]):
        print(f"  {step:<46} {1000 * seconds / n:6.2f} ms  {100 * seconds / total:4.0f}%")
    print(f"  {'extraction worker, the steps above':<46} {1000 * total / n:6.2f} ms")
    print(
        f"  {'extraction worker, as one call':<46} {1000 * whole.seconds['judge + record'] / n:6.2f} ms"
    )
    ingest = clock.seconds["store: ingest"] / 2  # both databases
    judged, bare = clock.seconds["detect (after the crawl)"], clock.seconds["detect without FTS5"]
    print(f"  {'crawl process: Store.ingest of a new version':<46} {1000 * ingest / n:6.2f} ms")
    print(f"  {'detect, after the crawl':<46} {1000 * judged / n:6.2f} ms")
    print(f"  {'  of which the FTS5 trigram index':<46} {1000 * (judged - bare) / n:6.2f} ms")


if __name__ == "__main__":
    main()
