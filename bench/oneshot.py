"""Benchmark: a one-shot ``nianbao crawl`` of an unchanged portal that answers 304.

Usage: python bench/oneshot.py [--reports 200] [--repeat 5]

Crawls a synthetic 200-report portal once (to fill a database), then times the whole
``nianbao crawl`` command on the unchanged portal, as a user or cron job runs it: Python
start-up, imports, the crawl process, conditional requests answered 304, detect, exit.
Also prints where the time goes (the command's import time, the crawl process's own
elapsed time). Goal (issue 12): under 1.5 s all told.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mirror import MirrorServer  # noqa: E402 (after the path)

NIANBAO = (
    [sys.executable, "-m", "monitor.cli"]
    if False
    else [str(Path(sys.executable).parent / "nianbao")]
)
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=false"]


def run(db: Path, seeds: Path) -> tuple[float, dict]:
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
    )
    wall = time.monotonic() - t0
    if out.returncode not in (0, 1):
        sys.exit(f"nianbao crawl failed ({out.returncode}): {out.stderr[-2000:]}")
    return wall, json.loads(out.stdout)


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
                f"first crawl of {args.reports} reports: {first:.2f} s "
                f"({doc.get('counts', {}).get('new', '?')} new)"
            )
            walls, inner = [], []
            for _ in range(args.repeat):
                wall, doc = run(db, seeds)
                walls.append(wall)
                inner.append(doc.get("stats", {}).get("wall_seconds", 0.0))
            startup = statistics.median(import_seconds() for _ in range(3))
            print(
                f"unchanged one-shot crawl: median {statistics.median(walls):.2f} s, "
                f"best {min(walls):.2f} s over {args.repeat} runs (goal < 1.5 s); "
                f"crawl process {statistics.median(inner):.2f} s; "
                f"`nianbao --version` {startup:.2f} s; "
                f"events {doc.get('counts', {}).get('new', 0)} new, "
                f"{doc.get('counts', {}).get('edited', 0)} edited"
            )
    finally:
        mirror.stop()


if __name__ == "__main__":
    main()
