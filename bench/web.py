"""Benchmark of the web pages (issue 11): p95 latency of the overview, coverage and event
pages with 1,000 portals and 100,000 events, through the real server over HTTP.

Builds a database of N portals (default 1,000), each with a few reports of two versions
(stored through ``Store.ingest``, the crawl's path, and added to the search index as a
detection does),
30 finished crawl runs (``--runs``; the last two fetched the reports, the others are a
health history: mostly ok, some failed or broken), and M events (default 100,000) spread over
the reports, each with the real diff of its report's two versions (``monitor.events.diff``).
Then serves it with ``monitor.web.server.WebServer`` (waitress) and the app ``nianbao
serve`` builds, and requests each page repeatedly over HTTP (a new connection each time,
as a browser's first visit): ``/`` (overview, with the status of every portal; the
status document and the coverage grid are reused until the database changes, so also
after a commit each time: one that only stores something, as a crawl's items do, and one
that changes a portal's runs, after which every portal's health is judged again),
``/coverage`` (issuers × years), ``/events/<id>`` (random events, side by side), and
their JSON twins; also ``/reports/<id>`` (a timeline) and ``/metrics``. Prints median and p95 per page; goal: p95 under 200 ms.

Run: ``.venv/bin/python -m bench.web [--portals N] [--events N] [--requests N]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import index_stored
from bench.search import item, paragraphs, report_text
from mirror.texts.names import CITIES, UNITS
from monitor.daemon.status import status
from monitor.events.diff import diff_text
from monitor.models import Event
from monitor.store import Store
from monitor.web import WebServer, create_app

REGIONS = ["江苏省", "浙江省", "江苏省南通市", "浙江省绍兴市", "安徽省"]


def edit(text: str, rng: random.Random) -> str:
    """The text with one number changed (an edited report)."""
    lines = text.splitlines()
    for i in rng.sample(range(1, len(lines)), len(lines) - 1):
        digits = [j for j, c in enumerate(lines[i]) if c.isdigit()]
        if digits:
            j = rng.choice(digits)
            lines[i] = lines[i][:j] + str((int(lines[i][j]) + 1) % 10) + lines[i][j + 1 :]
            return "\n".join(lines)
    return text + "\n补充说明。"


def history(store: Store, seeds: list[dict], runs: int, rng: random.Random) -> None:
    """``runs`` earlier crawl runs over every portal, without pages: mostly ok, some failed or
    broken, so each portal has a history of ``HISTORY`` runs for its health to be judged
    from (the status document reads up to 30 per portal)."""
    for _ in range(runs):
        with store.immediate():
            run_id = store.runs.begin(seeds, trigger="bench")
            for seed in seeds:
                health = rng.choices(["ok", "failed", "broken"], [90, 7, 3])[0]
                store.runs.set_portal_health(
                    run_id, seed["id"], health, "" if health == "ok" else "坏了"
                )
            store.runs.finish(run_id, "ok")


def build(db: Path, portals: int, reports: int, events: int, chars: int, runs: int = 30) -> None:
    rng = random.Random(11)
    pool = paragraphs()
    seeds = [
        {
            "id": f"p{i:04d}",
            "name": f"{CITIES[i % len(CITIES)]}{UNITS[i // len(CITIES) % len(UNITS)]}{i}",
            "region": REGIONS[i % len(REGIONS)],
            "start_urls": [],
        }
        for i in range(portals)
    ]
    started = time.perf_counter()
    pairs = []  # the diff of each report's two versions
    first_texts: dict[tuple[int, int], str] = {}
    with Store(db) as store:
        history(store, seeds, runs - 2, rng)
        for pages_run in range(2):
            run_id = store.runs.begin(seeds, trigger="bench")
            for n, seed in enumerate(seeds):
                for r in range(reports):
                    issuer = seed["name"]
                    year = 2024 - r - (n % 3 == 0 and r > 1)  # some years missing
                    if pages_run:  # the second crawl: one number edited in each report
                        text = edit(first_texts[(n, r)], rng)
                    else:
                        text = first_texts[(n, r)] = report_text(rng, pool, issuer, year, chars)
                    store.ingest(item(n * 100 + r, text, issuer, year, seed["id"]), run_id)
                store.runs.count(run_id, seed["id"], "pages", reports)
                store.runs.set_portal_health(run_id, seed["id"], "ok")
            store.runs.finish(run_id, "ok")
        index_stored(store, run_id)  # the search index, as the runs' detections add it
        print(
            f"  {portals * reports * 2} versions ingested and indexed "
            f"({time.perf_counter() - started:.0f} s)"
        )
        rows = store.db.execute(
            "SELECT v.report_id, MIN(v.id), MAX(v.id), r.issuer, r.year, r.portal_id, r.region "
            "FROM versions v JOIN reports r ON r.id = v.report_id GROUP BY v.report_id"
        ).fetchall()
        texts = dict(store.db.execute("SELECT id, text FROM versions").fetchall())
        with store.immediate():
            for i in range(events):
                report_id, old, new, issuer, year, portal, region = rows[i % len(rows)]
                if i < len(rows):
                    pairs.append(diff_text(texts[old], texts[new]))
                diff = pairs[i % len(rows)]
                store.events.add(
                    Event(
                        kind="edited",
                        report_id=report_id,
                        url=f"http://{portal}.example/{report_id}.html",
                        title=f"{issuer}{year}年政府信息公开工作年度报告",
                        issuer=issuer,
                        region=region,
                        portal_id=portal,
                        year=year,
                        detected_at=f"2026-{1 + i * 12 // events:02d}-{1 + i % 28:02d}T00:00:00Z",
                        old_version_id=old,
                        new_version_id=new,
                        diff=diff.diff,
                        sections=diff.sections,
                        numbers=diff.numbers,
                    )
                )
    print(f"  {events} events ({time.perf_counter() - started:.0f} s in all)")


def measure(base: str, paths: list[str], before=None) -> tuple[float, float, int]:  # noqa: ANN001
    """(median ms, p95 ms, bytes of the last page) over one GET per path (``before`` runs
    before each, untimed)."""
    times, size = [], 0
    for path in paths:
        if before:
            before()
        started = time.perf_counter()
        with urllib.request.urlopen(base + path, timeout=60) as response:
            body = response.read()
            assert response.status == 200, (path, response.status)
        times.append((time.perf_counter() - started) * 1000)
        size = len(body)
    times.sort()
    return (
        statistics.median(times),
        times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
        size,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--portals", type=int, default=1000)
    parser.add_argument("--reports", type=int, default=4, help="reports per portal")
    parser.add_argument("--events", type=int, default=100000)
    parser.add_argument("--chars", type=int, default=3000, help="characters per version")
    parser.add_argument("--runs", type=int, default=30, help="crawl runs per portal (2 or more)")
    parser.add_argument("--requests", type=int, default=40, help="requests per page")
    parser.add_argument("--keep", type=Path, help="build (or reuse) the database here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nianbao-bench-web-") as tmp:
        db = args.keep or Path(tmp) / "bench.db"
        if not db.exists():
            print(f"{args.portals} portals, {args.events} events → {db}")
            build(db, args.portals, args.reports, args.events, args.chars, max(2, args.runs))
        with Store(db) as store:
            top = store.db.execute("SELECT MAX(id) FROM events").fetchone()[0]
            reports = store.db.execute("SELECT MAX(id) FROM reports").fetchone()[0]
        rng = random.Random(7)
        writer = Store(db)

        def writes() -> None:  # a commit, as a crawl or the daemon's heartbeat makes
            writer.db.execute("UPDATE portals SET updated_at = ? WHERE id = 'p0000'", [time.time()])
            writer.db.conn.commit()

        def run_ends() -> None:  # a commit that changes a portal's runs: health judged again
            writer.db.execute(
                "UPDATE portal_runs SET detail = ? WHERE portal_id = 'p0000' "
                "AND run_id = (SELECT MAX(run_id) FROM portal_runs WHERE portal_id = 'p0000')",
                [f"bench {time.time()}"],
            )
            writer.db.conn.commit()

        app = create_app(db, Path(tmp) / "feeds", status=status)
        server = WebServer(app)
        base = server.start()
        try:
            urllib.request.urlopen(base + "/", timeout=60).read()  # the one migration check
            n = args.requests
            pages = {
                "overview /": ["/"] * n,
                "overview /index.json": ["/index.json"] * n,
                "overview / after a write": ["/"] * n,
                "overview / after a run ends": ["/"] * n,
                "coverage /coverage": ["/coverage"] * n,
                "coverage /coverage.json": ["/coverage.json"] * n,
                "coverage / after a write": ["/coverage"] * n,
                "coverage CSV (all issuers)": ["/coverage?format=csv"] * max(5, n // 4),
                "event /events/<id>": [f"/events/{rng.randint(1, top)}" for _ in range(n)],
                "event /events/<id>.json": [
                    f"/events/{rng.randint(1, top)}.json" for _ in range(n)
                ],
                "report /reports/<id>": [f"/reports/{rng.randint(1, reports)}" for _ in range(n)],
                "metrics /metrics": ["/metrics"] * n,
            }
            write_kinds = {"a write": writes, "a run ends": run_ends}
            print(f"p95 over {n} requests per page (goal < 200 ms):")
            for name, paths in pages.items():
                median, p95, size = measure(
                    base, paths, write_kinds.get(name.rsplit(" after ", 1)[-1])
                )
                print(
                    f"  {name:28} median {median:6.1f} ms  p95 {p95:6.1f} ms  {size / 1024:.0f} KB"
                )
        finally:
            server.stop()
            writer.close()
        print(f"database {db.stat().st_size / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
