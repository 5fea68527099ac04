"""Benchmark: a distributed crawl of N report pages, 1 worker against 2 workers + ingest.

Usage: python bench/distributed.py [--pages 1000] [--workers 1 2]

Each row: a fresh Redis (Debian's redis-server) and database, the workers and one
``nianbao ingest`` process started and idle, then one ``crawl --distributed`` of the
mirror's synthetic portal, timed from seeding to the judged run. Prints pages/s per
row and the speed-up of the last row over the first (goal: 2 workers ≥ 1.6× one, on
a machine with the cores for it). ``distributed_row(workers)`` is the row
``bench/scale.py`` can print.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import mirror_crawl
from mirror import MirrorServer

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _nianbao(*args: str, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", *args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def distributed_row(workers: int, pages: int = 1000, mirror: MirrorServer | None = None) -> dict:
    """Crawl ``pages`` synthetic report pages with ``workers`` workers and one ingest
    process; print and return {workers, pages, wall_s, pages_per_s, status}."""
    from monitor import distributed

    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("no redis-server binary: apt-get install redis-server")
    own_mirror = mirror is None
    if own_mirror:
        mirror = MirrorServer(synthetic=pages)
        mirror.start()
    processes: list[subprocess.Popen] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            port = _free_port()
            redis = subprocess.Popen(
                [server, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
                + ["--appendonly", "no", "--dir", tmp],
                stdout=subprocess.DEVNULL,
            )
            processes.append(redis)
            url = f"redis://127.0.0.1:{port}/0"
            seeds, config = mirror_crawl(mirror, Path(tmp), ["bench"], pages)
            db = str(config.db)
            for n in range(workers):
                processes.append(
                    _nianbao("worker", "--redis", url, "--db", db, log=Path(tmp) / f"w{n}")
                )
            processes.append(
                _nianbao("ingest", "--redis", url, "--db", db, log=Path(tmp) / "ingest")
            )
            time.sleep(3)  # the processes start (imports); the run is timed from seeding
            started = time.monotonic()
            result = distributed.crawl(config, seeds, url, trigger="bench")
            wall = time.monotonic() - started
    finally:
        for process in reversed(processes):  # the nianbao processes, then redis-server
            if process.poll() is None and process is not processes[0]:
                os.killpg(process.pid, signal.SIGTERM)
            elif process.poll() is None:
                process.terminate()
            process.wait(timeout=30)
        if own_mirror:
            mirror.stop()
    row = {
        "workers": workers,
        "pages": pages,
        "wall_s": wall,
        "pages_per_s": pages / wall,
        "status": result.status,
        "requeued": result.stats.get("requeued", 0),
    }
    print(
        f"distributed, {workers} worker(s) + ingest: {wall:7.2f} s  {row['pages_per_s']:7.1f} "
        f"report pages/s  reports {result.counts()['reports_found']}  [{result.status}]",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    mirror = MirrorServer(synthetic=args.pages)
    mirror.start()
    try:
        print(f"{args.pages} report pages on {mirror.url('/')}; {os.cpu_count()} CPUs here")
        rows = [distributed_row(n, args.pages, mirror) for n in args.workers]
    finally:
        mirror.stop()
    if len(rows) > 1:
        print(
            f"{rows[-1]['workers']} workers are {rows[0]['wall_s'] / rows[-1]['wall_s']:.2f}x "
            f"{rows[0]['workers']} (goal ≥ 1.6x with the cores for it)"
        )


if __name__ == "__main__":
    main()
