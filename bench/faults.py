"""Benchmark: faults during a crawl, and what they cost. Each fault runs against a fresh
database and the mirror's synthetic portal, with real ``nianbao crawl`` processes.

Usage: python bench/faults.py [--pages 400] [--only NAME ...]

Prints one line per fault: events lost (stored versions with no event), events
duplicated (versions with more than one), pages lost (mirror reports never stored), runs
left ``running``, the peak RSS of the process tree (all descendants of this process,
sampled from /proc), and the time to recover (from the fault to the end of the re-crawl).
Goals (issue 9): 0 lost, 0 duplicated, 0 left running, peak RSS under 1.5 GB.

A fault is a function in ``FAULTS``: ``fault(ctx) -> dict`` with its own extra columns;
``ctx`` gives the database, the seeds and ``start``/``finish`` of crawls. Add new ones
there (worker killed, zip bomb, SIGHUP and resume, a saved queue cut short, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import TreeSampler, descendants  # noqa: E402
from mirror import MirrorServer  # noqa: E402

PEAK_RSS_GOAL_MB = 1536


@dataclass
class Ctx:
    """One fault's world: a fresh database, the seeds, the mirror and its size."""

    db: Path
    seeds: Path
    mirror: MirrorServer
    pages: int

    def args(self) -> list[str]:
        settings = {
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": "false",
            "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
            "NIANBAO_MAX_PAGES_PER_PORTAL": self.pages * 2 + 100,
            "NIANBAO_MAX_LIST_PAGES": self.pages // 5 + 50,
        }
        out = ["crawl", "--seeds", str(self.seeds), "--portal", "bench", "--quiet", "--json"]
        for key, value in settings.items():
            out += ["-s", f"{key}={value}"]
        return out

    def start(self, *more: str) -> subprocess.Popen:
        """A ``nianbao crawl`` (``more``: its extra arguments) in its own process group, with
        SIGHUP's default meaning even when this script runs under ``nohup``."""
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", *self.args(), *more],
            cwd=ROOT,
            env=dict(os.environ, NIANBAO_DB=str(self.db)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
        )

    def finish(self, *more: str) -> int:
        """A whole crawl; its exit status."""
        return self.start(*more).wait(timeout=600)

    def fetched_twice(self) -> int:
        """Report pages the mirror served more than once (GET)."""
        served = Counter(
            path.split("?")[0]
            for method, path, _ in self.mirror.requests_seen
            if method == "GET" and path.startswith("/bench/art/")
        )
        return sum(1 for n in served.values() if n > 1)

    def status(self, run_id: int) -> str:
        rows = self.query("SELECT status FROM crawl_runs WHERE id = ?", (run_id,))
        return rows[0][0] if rows else ""

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10) as conn:
                return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []

    def wait_versions(self, run_id: int, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.query("SELECT COUNT(*) FROM versions WHERE run_id = ?", (run_id,))
            if rows and rows[0][0] >= n:
                return
            time.sleep(0.05)
        raise TimeoutError(f"run {run_id} never stored {n} versions")


def kill_9_group(ctx: Ctx) -> dict:
    """SIGKILL of the whole ``nianbao crawl`` process group mid-crawl, then a re-crawl."""
    crawl = ctx.start()
    ctx.wait_versions(1, ctx.pages // 10)
    os.killpg(crawl.pid, signal.SIGKILL)
    t0 = time.monotonic()
    crawl.wait()
    ctx.finish()
    return {"recover_s": time.monotonic() - t0}


def kill_9_parent(ctx: Ctx) -> dict:
    """SIGKILL of the ``nianbao crawl`` parent only: its child must follow; then a re-crawl."""
    crawl = ctx.start()
    ctx.wait_versions(1, ctx.pages // 10)
    ((child,),) = ctx.query("SELECT child_pid FROM crawl_runs WHERE id = 1")
    os.kill(crawl.pid, signal.SIGKILL)
    t0 = time.monotonic()
    crawl.wait()
    while Path(f"/proc/{child}").exists() and "Z" not in _state(child):
        time.sleep(0.02)
    child_exit = time.monotonic() - t0
    ctx.finish()
    return {"recover_s": time.monotonic() - t0, "child_exit_s": child_exit}


def kill_9_edit(ctx: Ctx) -> dict:
    """A full crawl, every report edited, SIGKILL of the group mid re-crawl, a third crawl."""
    ctx.finish()
    ctx.mirror.edit_synthetic({i: "digit" for i in range(ctx.pages)})
    crawl = ctx.start()
    ctx.wait_versions(2, ctx.pages // 20)
    os.killpg(crawl.pid, signal.SIGKILL)
    t0 = time.monotonic()
    crawl.wait()
    ctx.finish()
    return {"recover_s": time.monotonic() - t0}


def _stopped(ctx: Ctx, signum: int, *more: str) -> float:
    """Start a crawl, send ``signum`` to its process group mid-crawl; the time it took to
    stop."""
    crawl = ctx.start(*more)
    ctx.wait_versions(1, ctx.pages // 10)
    t0 = time.monotonic()
    os.killpg(crawl.pid, signum)
    crawl.wait(timeout=120)
    return time.monotonic() - t0


def _stop_and_resume(ctx: Ctx, signum: int, *more: str) -> dict:
    """Stop a crawl with ``signum`` mid-crawl, then ``--resume`` it (``more``: both crawls'
    extra arguments)."""
    stop_s = _stopped(ctx, signum, *more)
    t0 = time.monotonic()
    ctx.finish("--resume", *more)
    return {
        "recover_s": time.monotonic() - t0,
        "stop_s": stop_s,
        "status": f"{ctx.status(1)}, {ctx.status(2)}",
        "fetched_twice": ctx.fetched_twice(),
    }


def hangup_resume(ctx: Ctx) -> dict:
    """The terminal of a crawl closed (SIGHUP to its group) mid-crawl, then ``--resume``:
    the queue held in memory is saved at the stop, so no report page is fetched twice."""
    return _stop_and_resume(ctx, signal.SIGHUP)


def term_resume_spilled(ctx: Ctx) -> dict:
    """SIGTERM mid-crawl with only 50 requests held in memory (the rest of the queue on
    disk, as in a crawl of 100,000 pages), then ``--resume``."""
    return _stop_and_resume(ctx, signal.SIGTERM, "-s", "NIANBAO_QUEUE_IN_MEMORY=50")


def queue_cut_short(ctx: Ctx) -> dict:
    """SIGTERM mid-crawl, the saved queue cut to half (a power cut before the disk had
    it), ``--resume`` (stops at once, judged on nothing), then a plain crawl."""
    _stopped(ctx, signal.SIGTERM)
    for queue in (ctx.db.parent / "jobs").rglob("requests.queue/**/*"):
        if queue.is_file() and queue.name != "active.json":
            with open(queue, "r+b") as fh:
                fh.truncate(queue.stat().st_size // 2)
    t0 = time.monotonic()
    resumed = ctx.finish("--resume")
    ctx.finish()
    removed = ctx.query("SELECT COUNT(*) FROM events WHERE kind IN ('removed', 'moved')")
    return {
        "recover_s": time.monotonic() - t0,
        "status": f"{ctx.status(1)}, {ctx.status(2)} (exit {resumed}), {ctx.status(3)}",
        "removed": removed[0][0] if removed else 0,
    }


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def _extraction_workers(root: int) -> list[int]:
    """The crawl's extraction workers: children of its forkserver process."""

    def cmdline(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return ""

    tree = descendants(root)
    servers = {p for p in tree if "forkserver" in cmdline(p)}
    return [p for p in tree if p in servers and _parent(p) in servers]


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _unaccounted(ctx: Ctx) -> dict:
    """Reports neither stored nor a problem of any run (silently lost), and pages lost
    twice (``worker_died`` problems)."""
    stored = {u for (u,) in ctx.query("SELECT url FROM report_urls")}
    problems = dict(ctx.query("SELECT url, kind FROM problems"))
    silent = ctx.mirror.expected_reports("bench") - stored - set(problems)
    status = ctx.query("SELECT status FROM crawl_runs ORDER BY id DESC LIMIT 1")
    kinds: dict[str, int] = {}
    for kind in problems.values():
        kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "silent": len(silent),
        "worker_died": kinds.get("worker_died", 0),
        "status": status[0][0] if status else "",
        "problems": ",".join(f"{k} {n}" for k, n in sorted(kinds.items())),
    }


def worker_killed(ctx: Ctx) -> dict:
    """SIGKILL of one extraction worker mid-crawl (the OOM killer's choice)."""
    crawl = ctx.start()
    ctx.wait_versions(1, ctx.pages // 10)
    t0 = time.monotonic()
    os.kill(_extraction_workers(crawl.pid)[0], signal.SIGKILL)
    crawl.wait()
    return {"recover_s": time.monotonic() - t0, **_unaccounted(ctx)}


def workers_killed(ctx: Ctx) -> dict:
    """Every extraction worker (fresh ones too) killed again and again for 2 s mid-crawl."""
    crawl = ctx.start()
    ctx.wait_versions(1, ctx.pages // 10)
    t0 = time.monotonic()
    while time.monotonic() < t0 + 2 and crawl.poll() is None:
        for pid in _extraction_workers(crawl.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    crawl.wait()
    return {"recover_s": time.monotonic() - t0, **_unaccounted(ctx)}


def hostile_files(ctx: Ctx) -> dict:
    """A full crawl, then a crawl of ``/hostile/``: a 600 MB-XML DOCX zip bomb, a
    2,000-page PDF, a 200 MB PDF stream, a title with escapes, and links, a 302 and a
    meta refresh to another port (a second mirror). Peak RSS is the bombs' cost."""
    ctx.finish()
    elsewhere = MirrorServer()
    elsewhere.start()
    try:
        seeds = ctx.seeds.with_name("hostile.toml")
        start = ctx.mirror.url(f"/hostile/index.html?other={elsewhere.base}")
        seeds.write_text(
            '[[portal]]\nid = "hostile"\nname = "某县人民政府"\nregion = "测试"\n'
            f'cms = "generic"\nstart_urls = ["{start}"]\n',
            encoding="utf-8",
        )
        t0 = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "monitor", "crawl", "--seeds", str(seeds), "--quiet"]
            + ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=false"],
            cwd=ROOT,
            env=dict(os.environ, NIANBAO_DB=str(ctx.db)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=600,
        )
        kinds = sorted(
            k
            for (k,) in ctx.query(
                "SELECT kind FROM problems WHERE portal_id = 'hostile' AND kind != 'listing'"
            )
        )
        return {
            "recover_s": time.monotonic() - t0,
            "problems": ",".join(kinds),
            "elsewhere_fetched": len(list(elsewhere.requests_seen)),
        }
    finally:
        elsewhere.stop()


FAULTS: list[Callable[[Ctx], dict]] = [
    kill_9_group,
    kill_9_parent,
    kill_9_edit,
    worker_killed,
    workers_killed,
    hostile_files,
    hangup_resume,
    term_resume_spilled,
    queue_cut_short,
]
"""Every fault, in the order they run. Other faults are added here."""
EXTRA_COLUMNS = (
    "child_exit_s",
    "stop_s",
    "silent",
    "worker_died",
    "status",
    "problems",
    "elsewhere_fetched",
    "fetched_twice",
    "removed",
)


def losses(ctx: Ctx) -> dict:
    """Events lost and duplicated, pages lost, runs left running, after the fault."""
    per_version = [
        n
        for (n,) in ctx.query(
            "SELECT (SELECT COUNT(*) FROM events e WHERE e.new_version_id = v.id "
            "AND e.kind IN ('new', 'edited')) FROM versions v"
        )
    ]
    stored = {u for (u,) in ctx.query("SELECT url FROM reports")}
    return {
        "events_lost": per_version.count(0),
        "events_dup": sum(n - 1 for n in per_version if n > 1),
        "pages_lost": len(ctx.mirror.expected_reports("bench") - stored),
        "left_running": len(ctx.query("SELECT id FROM crawl_runs WHERE status = 'running'")),
    }


def run_fault(fault: Callable[[Ctx], dict], pages: int) -> dict:
    mirror = MirrorServer(synthetic=pages)
    mirror.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            seeds = Path(tmp) / "seeds.toml"
            mirror.seeds_toml(seeds)
            ctx = Ctx(Path(tmp) / "faults.db", seeds, mirror, pages)
            with TreeSampler() as tree:
                extra = fault(ctx)
            return {
                "fault": fault.__name__,
                **losses(ctx),
                "peak_rss_mb": tree.peak_rss / 2**20,
                **extra,
            }
    finally:
        mirror.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--only", nargs="*", help="fault names to run (default: all)")
    args = parser.parse_args()
    print(
        f"{'fault':<20} {'events lost':>11} {'duplicated':>10} {'pages lost':>10} "
        f"{'running':>7} {'peak RSS MB':>11} {'recover s':>9}  extra"
    )
    rows = []
    for fault in FAULTS:
        if args.only and fault.__name__ not in args.only:
            continue
        row = run_fault(fault, args.pages)
        rows.append(row)
        extra = {
            k: round(v, 2) if isinstance(v, float) else v
            for k, v in row.items()
            if k in EXTRA_COLUMNS
        }
        print(
            f"{row['fault']:<20} {row['events_lost']:>11} {row['events_dup']:>10} "
            f"{row['pages_lost']:>10} {row['left_running']:>7} {row['peak_rss_mb']:>11.0f} "
            f"{row['recover_s']:>9.1f}  {extra or ''}",
            flush=True,
        )
    bad = [r["fault"] for r in rows if r["events_lost"] or r["events_dup"] or r["left_running"]]
    peak = max((r["peak_rss_mb"] for r in rows), default=0)
    print(
        f"goals: 0 lost, 0 duplicated, 0 left running ({'met' if not bad else 'missed: ' + ', '.join(bad)}); "
        f"peak RSS {peak:.0f} MB (goal < {PEAK_RSS_GOAL_MB})"
    )


if __name__ == "__main__":
    main()
