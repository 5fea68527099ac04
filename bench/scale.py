"""Benchmark: nianbao at the scale of the whole country (issue 12), one section per question.

Usage: python bench/scale.py [--only hosts,faults] [--hosts 1,10,100,1000] [--reports 5]
       [--among 200] [--faulty 10] [--fast] [--store]

Sections (each a function ``section_NAME(args) -> list[row]``; add the next ones —
20k pages, distributed, urlwatch — the same way, in ``SECTIONS``):

- ``hosts``: 1, 10, 100 and 1,000 synthetic portals on distinct loopback addresses
  (``mirror.hosts.HostsMirror``, 127.0.1.N…), crawled with polite settings (the project's:
  2 requests at a time per host, AutoThrottle from a 1 s delay): pages/s (answers the
  servers gave, per second of the crawl process) and the most requests any one host was
  answering at once (goal: never above the per-host limit).
- ``faults``: ``--among`` hosts of which ``--faulty`` are dead or trickling (half accept no
  connection, half trickle a byte a second), against the same number of live hosts
  alone: the total time with and without them (goal: they change it by little).

``--fast`` drops the politeness delay (``DOWNLOAD_DELAY`` 0, no AutoThrottle): the per-host
limit must hold then too. Each crawl is one ``python -m crawler.runner`` process (fetch
and extract; nothing stored, no event detection); with ``--store`` it goes through
``monitor.cycle.crawl`` into a fresh database, as ``nianbao crawl`` does ("crawl s" is the
crawl process's time, "wall s" includes storing and detection). "crawl CPU s" is the CPU time of the crawl's process tree
(extraction workers included), "server CPU s" that of this process (the servers).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import TreeSampler
from crawler.seeds import load_seeds
from mirror.hosts import HostsMirror
from monitor import cycle
from monitor.config import Config

FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}
ROOT = Path(__file__).resolve().parent.parent


def crawl_only(hosts: HostsMirror, settings: dict, tmp: Path) -> tuple[dict, list[str]]:
    """One crawl process (``crawler.runner``) and no store: its final stats (and no portal
    statuses: nothing judges them)."""
    job = {
        "db": str(tmp / "unused.db"),
        "run_id": 0,
        "seeds": hosts.seed_entries(),
        "settings": settings,
        "log_file": str(tmp / "crawl.log"),
    }
    (tmp / "job.json").write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "crawler.runner", str(tmp / "job.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    final = {}
    for line in done.stdout.splitlines():
        if line.startswith('{"done"'):
            final = json.loads(line)["done"]
    return final, []


def crawl_hosts(hosts: HostsMirror, args: argparse.Namespace, label: str) -> dict:
    """Crawl every portal of ``hosts`` once into a fresh database; one table row."""
    with tempfile.TemporaryDirectory(prefix="nianbao-scale-") as tmp:
        seeds_file = Path(tmp) / "seeds.toml"
        hosts.seeds_toml(seeds_file)
        settings = {"NIANBAO_MAX_PAGES_PER_PORTAL": args.reports * 2 + 20}
        if args.fast:
            settings |= FAST
        started, server_cpu = time.monotonic(), time.process_time()
        with TreeSampler(interval=0.5) as tree:
            stats, statuses, status = run_crawl(hosts, args, settings, Path(tmp), seeds_file)
        wall = time.monotonic() - started
        server_cpu = time.process_time() - server_cpu
        given_up = give_up_times(Path(tmp))
    crawl_s = float(stats.get("elapsed") or wall)
    return {
        "run": label,
        "hosts": len(hosts.hosts),
        "faulty": len(hosts.faulty()),
        "pages": hosts.served(),
        "crawl_s": crawl_s,
        "wall_s": wall,
        "pages_per_s": hosts.served() / crawl_s if crawl_s else 0.0,
        "peak": hosts.peak(),
        "crawl_cpu_s": tree.cpu_seconds,
        "server_cpu_s": server_cpu,
        "given_up": given_up,
        "ok": statuses.count("ok"),
        "failed": len(statuses) - statuses.count("ok"),
        "status": status,
    }


def give_up_times(tmp: Path) -> list[float]:
    """Seconds from the crawl's start to each "recorded as down" line of its log."""
    times, start = [], None
    for log in tmp.rglob("*.log"):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            stamp = line[:19]
            if not stamp[:4].isdigit():
                continue
            try:
                at = time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S"))
            except ValueError:
                continue
            start = at if start is None else start
            if "recorded as down" in line:
                times.append(at - start)
    return sorted(times)


def run_crawl(
    hosts: HostsMirror, args: argparse.Namespace, settings: dict, tmp: Path, seeds_file: Path
) -> tuple[dict, list[str], str]:
    """The crawl itself: (final stats, portal statuses, run status)."""
    if not args.store:
        stats, _ = crawl_only(hosts, settings, tmp)
        return stats, [], "not stored"
    config = Config(db=tmp / "scale.db", settings=settings)
    result = cycle.crawl(config, load_seeds([seeds_file]), trigger="bench")
    return result.stats, [p["status"] for p in result.portals], result.status


def section_hosts(args: argparse.Namespace) -> list[dict]:
    rows = []
    for n in args.hosts:
        with HostsMirror(n, reports=args.reports, latency=args.latency) as hosts:
            rows.append(crawl_hosts(hosts, args, f"{n} hosts"))
        print_rows(rows[-1:], header=len(rows) == 1)
    return rows


def section_faults(args: argparse.Namespace) -> list[dict]:
    live = args.among - args.faulty
    faults = {"blackhole": args.faulty - args.faulty // 2, "trickle": args.faulty // 2}
    rows = []
    with HostsMirror(live, reports=args.reports, latency=args.latency) as hosts:
        rows.append(crawl_hosts(hosts, args, f"{live} live"))
    print_rows(rows, header=True)
    with HostsMirror(
        args.among, reports=args.reports, latency=args.latency, faults=faults
    ) as hosts:
        rows.append(crawl_hosts(hosts, args, f"{live} live + {args.faulty} dead/trickling"))
    print_rows(rows[-1:], header=False)
    given_up = rows[1]["given_up"]
    if given_up:
        print(
            f"{len(given_up)} of {args.faulty} faulty hosts given up, "
            f"{given_up[0]:.0f}–{given_up[-1]:.0f} s after the crawl started"
        )
    added = rows[1]["crawl_s"] - rows[0]["crawl_s"]
    print(
        f"{args.faulty} dead/trickling hosts among {args.among} added {added:.1f} s to the crawl "
        f"({rows[0]['crawl_s']:.1f} s → {rows[1]['crawl_s']:.1f} s; whole run "
        f"{rows[0]['wall_s']:.1f} s → {rows[1]['wall_s']:.1f} s); each was given up after one "
        f"full DOWNLOAD_TIMEOUT and two short (NIANBAO_HOST_SUSPECT_TIMEOUT) attempts"
    )
    return rows


SECTIONS: dict[str, Callable[[argparse.Namespace], list[dict]]] = {
    "hosts": section_hosts,
    "faults": section_faults,
}


def print_rows(rows: list[dict], header: bool) -> None:
    if header:
        print(
            f"{'run':<34} {'hosts':>6} {'pages':>6} {'crawl s':>8} {'wall s':>7} "
            f"{'pages/s':>8} {'peak/host':>9} {'crawl CPU s':>11} {'server CPU s':>12} "
            f"{'ok':>5} {'not ok':>6}  status"
        )
    for r in rows:
        print(
            f"{r['run']:<34} {r['hosts']:>6} {r['pages']:>6} {r['crawl_s']:>8.1f} "
            f"{r['wall_s']:>7.1f} {r['pages_per_s']:>8.1f} {r['peak']:>9} "
            f"{r['crawl_cpu_s']:>11.1f} {r['server_cpu_s']:>12.1f} {r['ok']:>5} "
            f"{r['failed']:>6}  {r['status']}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections to run")
    parser.add_argument(
        "--hosts", default="1,10,100,1000", type=lambda s: [int(x) for x in s.split(",")]
    )
    parser.add_argument("--reports", type=int, default=5, help="report pages per portal")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per answer")
    parser.add_argument("--among", type=int, default=200)
    parser.add_argument("--faulty", type=int, default=10)
    parser.add_argument("--fast", action="store_true", help="no politeness delay")
    parser.add_argument(
        "--store",
        action="store_true",
        help="crawl through monitor.cycle into a database, detection included (slow at 1,000)",
    )
    args = parser.parse_args()
    for name in args.only.split(","):
        print(f"\n== {name} ==", flush=True)
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
