"""Benchmark: a one-shot ``nianbao crawl`` of an unchanged portal that answers 304.

Usage: python bench/oneshot.py [--reports 200] [--repeat 5]

Crawls a synthetic 200-report portal once (to fill a database), then times the whole
``nianbao crawl`` command on the unchanged portal, as a user or cron job runs it: Python
start-up, imports, the crawl process, conditional requests answered 304, detect, exit.
Also prints where the time goes: `nianbao --version` (Python start-up and the CLI's
imports), the crawl process from the job handed over to its exit (Scrapy's own elapsed
time for the requests, and the rest), the rest of the parent (seeds, store, run, detect,
output); and whether extraction workers started (they should not: every report answers
304). The crawl process starts with the CLI (``monitor.standby``); runs alternate with
runs that start it when the job is ready (``NIANBAO_STANDBY=0``), as before. Prints the
machine's load average too: on a busy machine every figure grows. And the floor: plain
Scrapy in a new process crawling the same portal (``bench/plain_scrapy.py``), runs
alternating with the others. Goal (issue 12): under 1.5 s all told.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mirror import MirrorServer  # noqa: E402 (after the path)

NIANBAO = [str(Path(sys.executable).parent / "nianbao")]
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=false"]


def run(db: Path, seeds: Path, standby: bool = True) -> tuple[float, dict]:
    env = dict(os.environ, NIANBAO_STANDBY="1" if standby else "0")
    t0 = time.monotonic()
    out = subprocess.run(
        [
            *NIANBAO,
            "crawl",
            "--db",
            str(db),
            "--seeds",
            str(seeds),
            "--portal",
            "bench",
            "--quiet",
            "--json",
            *FAST,
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    wall = time.monotonic() - t0
    if out.returncode not in (0, 1):
        sys.exit(f"nianbao crawl failed ({out.returncode}): {out.stderr[-2000:]}")
    return wall, json.loads(out.stdout)


def plain_scrapy(mirror: MirrorServer) -> tuple[float, dict]:
    """The same portal crawled by plain Scrapy in a new process (``bench/plain_scrapy.py``)."""
    script = ROOT / "bench" / "plain_scrapy.py"
    start, allow = mirror.url("/bench/list/index.html"), mirror.url("/bench/")
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, str(script), start, allow], capture_output=True, text=True, check=True
    )
    return time.monotonic() - t0, json.loads(out.stdout.splitlines()[-1])


def import_seconds() -> float:
    t0 = time.monotonic()
    subprocess.run([*NIANBAO, "--version"], capture_output=True, check=True)
    return time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    mirror = MirrorServer(synthetic=args.reports)
    mirror.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            seeds, db = Path(tmp) / "seeds.toml", Path(tmp) / "oneshot.db"
            mirror.seeds_toml(seeds)
            first, doc = run(db, seeds)
            print(
                f"first crawl of {args.reports} reports: {first:.2f} s ({doc.get('new', '?')} new)"
            )
            load = os.getloadavg()[0]
            walls, inner, scrapy, workers, standbys = [], [], [], 0, 0
            without, plain = [], []
            for _ in range(args.repeat):  # alternating, so all see the same machine
                wall, doc = run(db, seeds)
                stats = doc.get("stats", {})
                walls.append(wall)
                inner.append(stats.get("wall_seconds", 0.0))
                scrapy.append(stats.get("elapsed", 0.0))
                workers = max(workers, stats.get("workers_started", 0))
                standbys += bool(stats.get("standby"))
                without.append(run(db, seeds, standby=False)[0])
                plain.append(plain_scrapy(mirror))
            startup = statistics.median(import_seconds() for _ in range(3))
            child, requests = statistics.median(inner), statistics.median(scrapy)
            median = statistics.median(walls)
            print(
                f"unchanged one-shot crawl: median {median:.2f} s, "
                f"best {min(walls):.2f} s over {args.repeat} runs (goal < 1.5 s); "
                f"load average {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            )
            print(
                f"  the crawl process started with the CLI in {standbys} of {args.repeat} runs; "
                f"without it (NIANBAO_STANDBY=0, runs alternating): median "
                f"{statistics.median(without):.2f} s, best {min(without):.2f} s"
            )
            print(
                f"  `nianbao --version` {startup:.2f} s; from the job handed over to the crawl "
                f"process's exit {child:.2f} s (Scrapy's elapsed {requests:.2f} s for "
                f"{stats.get('requests', stats.get('conditional_requests', '?'))} requests, "
                f"the rest {child - requests:.2f} s: what the crawl process had not done "
                f"before the job came, and its shut-down); the rest of the parent "
                f"{median - child - startup:.2f} s (seeds, store, run, detect, output)"
            )
            walls_plain = [wall for wall, _ in plain]
            print(
                f"  the floor, plain Scrapy in a new process crawling the same portal "
                f"(bench/plain_scrapy.py: {plain[-1][1]['requests']} requests, no job dir, "
                f"store or extraction): median {statistics.median(walls_plain):.2f} s, "
                f"best {min(walls_plain):.2f} s (Scrapy's elapsed median "
                f"{statistics.median(p['elapsed'] for _, p in plain):.2f} s)"
            )
            print(
                f"  {stats.get('conditional_requests', 0)} conditional requests, "
                f"{stats.get('queued_on_disk', 0)} queued on disk; "
                f"extraction workers started: {workers}; "
                f"events {doc.get('new', 0)} new, "
                f"{doc.get('edited', 0)} edited"
            )
    finally:
        mirror.stop()


if __name__ == "__main__":
    main()
