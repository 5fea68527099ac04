"""Benchmark: 20 family portals × 100 reports on 127.0.0.1 (Hanweb datastore, JPaaS JSON,
TRS createPageHTML, plain lists; every fifth report a PDF/DOCX file or a cover page with
an attachment), crawled twice into a fresh database.

Usage: python bench/portals.py [--portals 20] [--reports 100]

Prints reports found / expected per family, requests per report on the first and on the
unchanged second crawl (goal on the second: one conditional request per report and no
extraction, since the mirror honours ETag/Last-Modified), and wall time.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import mirror_crawl
from mirror import MirrorServer
from monitor import cycle
from monitor.config import Config
from monitor.store import Store

logger = logging.getLogger("bench.portals")


def one_pass(mirror: MirrorServer, config: Config, seeds, label: str, n_reports: int) -> dict:
    mirror.requests_seen.clear()
    t0 = time.monotonic()
    result = cycle.crawl(config, seeds, trigger="bench")
    wall = time.monotonic() - t0
    requests = len(mirror.requests_seen)
    conditional = sum(1 for _, _, h in mirror.requests_seen if "If-None-Match" in h)
    row = {
        "pass": label,
        "wall_s": round(wall, 2),
        "requests": requests,
        "conditional": conditional,
        "requests_per_report": round(requests / n_reports, 2),
        "extracted": result.stats.get("extracted", 0),
        "events": dict(Counter(e.kind for e in result.events)),
        "status": result.status,
    }
    logger.info(
        "%-9s %6.2f s  %5d requests (%.2f per report, %d conditional)  extracted %d  events %s  [%s]",
        label,
        wall,
        requests,
        row["requests_per_report"],
        conditional,
        row["extracted"],
        row["events"],
        row["status"],
    )
    return row


def found_per_family(mirror: MirrorServer, config: Config) -> None:
    with Store(config.db) as store:
        got = {r.url for r in store.reports.summaries()}
    per: dict[str, list[int]] = {}
    for pid, mechanism in mirror.family_mechanisms().items():
        expected = mirror.expected_reports(pid)
        counts = per.setdefault(mechanism, [0, 0, 0])
        counts[0] += len(expected & got)
        counts[1] += len(expected)
        counts[2] += len({u for u in got if f"/{pid}/" in u} - expected)
    for mechanism, (hit, total, extra) in sorted(per.items()):
        logger.info(
            "%-17s reports found %4d / %4d expected  (%d not expected)",
            mechanism,
            hit,
            total,
            extra,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portals", type=int, default=20)
    parser.add_argument("--reports", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    mirror = MirrorServer(family_bench=(args.portals, args.reports))
    mirror.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ids = list(mirror.family_mechanisms())
            seeds, config = mirror_crawl(mirror, Path(tmp), ids)
            n = sum(len(mirror.expected_reports(pid)) for pid in ids)
            logger.info(
                "%d portals × %d reports (%d expected) on %s",
                args.portals,
                args.reports,
                n,
                mirror.url("/"),
            )
            first = one_pass(mirror, config, seeds, "first", n)
            found_per_family(mirror, config)
            second = one_pass(mirror, config, seeds, "unchanged", n)
            logger.info(
                "requests per report: first %.2f, unchanged %.2f (%d of %d requests conditional); "
                "extracted on the unchanged pass: %d; wall %.1f s + %.1f s",
                first["requests_per_report"],
                second["requests_per_report"],
                second["conditional"],
                second["requests"],
                second["extracted"],
                first["wall_s"],
                second["wall_s"],
            )
    finally:
        mirror.stop()


if __name__ == "__main__":
    main()
