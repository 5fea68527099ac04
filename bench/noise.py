"""Benchmark: false alerts and missed edits on noisy portal pages.

Usage: python bench/noise.py [--pages 500] [--passes 5] [--edits 25]

K report pages (realistic portal template, 20-40 KB) are served on 127.0.0.1 by the
mirror's synthetic ``bench`` portal with fresh noise on every request
(``MirrorServer(synthetic=K, synthetic_noise=True)``): view counter, today's date,
page-generation time, a rotating "最新信息" sidebar, random tokens in script and CSS URLs,
and in every other pass (the mirror's ``noise-only`` state) a re-indented layout with
attributes reordered. They are crawled once, re-crawled ``passes`` times with only the
noise moving, then once more after M real edits of five kinds (``mirror.synthetic.EDITS``:
one digit in a table cell, one character in a sentence, a paragraph added, a paragraph
removed, a table row added). Prints false alerts (goal 0), missed edits (goal 0), time per
pass, the noise-only/first speed ratio (goal ≥ 3x), and diff time per edited report.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import mirror_crawl
from mirror import MirrorServer
from mirror.synthetic import EDITS
from monitor import children, cycle, judging
from monitor.events.diff import diff_text
from monitor.store import Store

CHANGES = ("new", "edited", "removed", "moved", "restored")  # not findings (missing, ...)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--edits", type=int, default=25)
    parser.add_argument(
        "--one-shot",
        action="store_true",
        help="a new crawl process per pass (as `nianbao crawl`); default: one long-lived "
        "crawl process for all passes (as the daemon)",
    )
    args = parser.parse_args()
    mirror = MirrorServer(synthetic=args.pages, synthetic_noise=True)
    mirror.start()
    try:
        run(mirror, args)
    finally:
        mirror.stop()


def run(mirror: MirrorServer, args: argparse.Namespace) -> None:
    """The passes (first, noise-only, edits) and the report, against a started mirror."""
    with tempfile.TemporaryDirectory() as tmp:
        seeds, config = mirror_crawl(mirror, Path(tmp), ["bench"], args.pages)
        hosts = None if args.one_shot else children.crawl_hosts({})
        print(
            f"{args.pages} noisy report pages on {mirror.base}; {args.passes} noise-only passes, "
            f"then {args.edits} edits; "
            + ("a new crawl process per pass" if hosts is None else "one long-lived crawl process")
        )

        def crawl(label: str) -> tuple[judging.CrawlResult, float]:
            t0 = time.monotonic()
            if hosts is None:
                result = cycle.crawl(config, seeds, trigger="bench")
            else:
                with hosts.lease() as host:
                    result = cycle.crawl(config, seeds, trigger="bench", host=host)
            wall = time.monotonic() - t0
            kinds = {
                k: v
                for k, v in result.counts().items()
                if k in ("new", "edited", "removed", "moved") and v
            }
            print(
                f"{label:<12} {wall:6.2f} s  {args.pages / wall:6.1f} pages/s  extracted "
                f"{result.stats.get('extracted', 0):>5}  events {kinds or '{}'}  errors {len(result.problems)}",
                flush=True,
            )
            return result, wall

        first, first_wall = crawl("first")
        false_alerts, noise_walls = 0, []
        for n in range(args.passes):
            mirror.set_state(*(["noise-only"] if n % 2 == 1 else []))
            result, wall = crawl(f"noise {n + 1}")
            false_alerts += len([e for e in result.events if e.kind in CHANGES])
            noise_walls.append(wall)
        mirror.set_state()
        chosen = random.Random(7).sample(range(args.pages), args.edits)
        kinds = list(EDITS)
        mirror.edit_synthetic({i: kinds[k % len(kinds)] for k, i in enumerate(chosen)})
        result, _ = crawl("edits")
        edited_urls = {mirror.url(f"/bench/art/{i}.html") for i in chosen}
        hits = {e.url for e in result.events if e.kind == "edited" and e.url in edited_urls}
        false_alerts += len(
            [
                e
                for e in result.events
                if e.kind in CHANGES and (e.url not in edited_urls or e.kind != "edited")
            ]
        )
        with Store(config.db) as store:
            pairs = [
                (
                    store.reports.version(e.old_version_id).text,
                    store.reports.version(e.new_version_id).text,
                )
                for e in result.events
                if e.kind == "edited"
            ]
        t0 = time.perf_counter()
        for old, new in pairs:
            diff_text(old, new)
        diff_ms = 1000 * (time.perf_counter() - t0) / max(1, len(pairs))
        if hosts is not None:
            hosts.close()
    median_noise = sorted(noise_walls)[len(noise_walls) // 2]
    print(
        f"false alerts: {false_alerts} (goal 0); missed edits: {len(edited_urls - hits)} of {args.edits} (goal 0)"
    )
    print(
        f"noise-only pass (median) {first_wall / median_noise:.1f}x faster than the first crawl (goal ≥ 3x); "
        f"diff {diff_ms:.2f} ms per edited report"
    )


if __name__ == "__main__":
    main()
