"""Benchmark: a full crawl of N report pages on 127.0.0.1, then an unchanged re-crawl.

Usage: python bench/crawl.py [--pages 2000]

Prints pages/s for each pass, CPU seconds per page (crawl process and extraction
workers), peak RSS of the crawl's process tree, and the unchanged/first speed ratio.
Goals (issue 2): first pass ≥ 45 report pages/s, unchanged pass ≥ 3× faster, peak RSS
under 400 MB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import TreeSampler, mirror_crawl
from mirror import MirrorServer
from monitor import cycle
from monitor.config import Config


def one_pass(config: Config, seeds, label: str, pages: int) -> dict:
    t0 = time.monotonic()
    with TreeSampler() as tree:
        result = cycle.crawl(config, seeds, trigger="bench")
    wall = time.monotonic() - t0
    cpu = tree.cpu_seconds
    counts = result.counts()
    row = {
        "pass": label,
        "wall_s": wall,
        "reports": counts["reports_found"],
        "pages_per_s": pages / wall,
        "cpu_ms_per_page": 1000 * cpu / pages,
        "peak_rss_mb": tree.peak_rss / 2**20,
        "peak_pss_mb": tree.peak_pss / 2**20,
        "new": counts["new"],
        "edited": counts["edited"],
        "errors": counts["errors"],
        "extracted": result.stats.get("extracted", 0),
        "status": result.status,
    }
    print(
        f"{label:<10} {wall:7.2f} s  {row['pages_per_s']:7.1f} report pages/s  "
        f"{row['cpu_ms_per_page']:6.1f} CPU ms/page  peak RSS {row['peak_rss_mb']:4.0f} MB "
        f"(PSS {row['peak_pss_mb']:4.0f} MB)  "
        f"reports {row['reports']}  extracted {row['extracted']}  new {row['new']}  "
        f"edited {row['edited']}  errors {row['errors']}  [{row['status']}]  "
        f"(crawl process {result.stats.get('elapsed', 0):.1f} s, detect {result.stats.get('detect_seconds', 0):.2f} s)",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()
    mirror = MirrorServer(synthetic=args.pages)
    mirror.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            seeds, config = mirror_crawl(mirror, Path(tmp), ["bench"], args.pages)
            print(f"{args.pages} report pages on {mirror.url('/')}; 2 passes into a fresh DB")
            first = one_pass(config, seeds, "first", args.pages)
            second = one_pass(config, seeds, "unchanged", args.pages)
            print(
                f"unchanged pass is {first['wall_s'] / second['wall_s']:.1f}x faster than the first "
                f"(goal ≥ 3x); first pass {first['pages_per_s']:.1f} pages/s (goal ≥ 45); "
                f"peak RSS {max(first['peak_rss_mb'], second['peak_rss_mb']):.0f} MB, PSS "
                f"{max(first['peak_pss_mb'], second['peak_pss_mb']):.0f} MB (goal < 400)"
            )
    finally:
        mirror.stop()


if __name__ == "__main__":
    main()
