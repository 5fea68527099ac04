"""Benchmark: nianbao at the scale of the whole country (issue 12), one section per question.

Usage: python bench/scale.py [--only hosts,faults,pages,urlwatch,distributed]
       [--hosts 1,10,100,1000] [--reports 5] [--among 200] [--faulty 10] [--fast] [--store]
       [--pages 20000] [--at 5000,10000,20000]
       [--urlwatch-pages 2000] [--urlwatch-spec urlwatch] [--urlwatch-venv DIR]
       [--urlwatch-workers 16] [--urlwatch-filter element-by-id:zoom,html2text]
       [--dist-pages 1000]

All sections run by default; ``--only`` picks some. Each is a function
``section_NAME(args) -> list[row]`` in ``SECTIONS`` that prints its own table:

- ``hosts``: 1, 10, 100 and 1,000 synthetic portals on distinct loopback addresses
  (``mirror.hosts.HostsMirror``, 127.0.1.N…), crawled with polite settings (the project's:
  2 requests at a time per host, AutoThrottle from a 1 s delay): pages/s (answers the
  servers gave, per second of the crawl process) and the most requests any one host was
  answering at once (goal: never above the per-host limit).
- ``faults``: ``--among`` hosts of which ``--faulty`` are dead or trickling (half accept no
  connection, half trickle a byte a second), against the same number of live hosts
  alone: the total time with and without them (goal: they change it by little).
- ``pages``: ``--pages`` report pages in one portal (``MirrorServer(synthetic=N)``), no
  politeness, through ``monitor.cycle.crawl`` into a fresh database: a first pass and an
  unchanged pass (pages/s, wall s, CPU ms/page and peak RSS/PSS of the crawl's process
  tree). During the first pass the tree's RSS is sampled with the crawl's progress (its
  progress lines: report pages handled so far); for each ``--at`` checkpoint it prints the
  peak RSS up to the moment the count passed it, and whether memory is flat (peak at the
  last checkpoint / at the first ≤ 1.25).
- ``urlwatch``: urlwatch (``pip install --urlwatch-spec`` into a throwaway venv in a temp
  dir, or ``--urlwatch-venv``) and nianbao on the same ``--urlwatch-pages`` noisy report
  pages (``MirrorServer(..., synthetic_noise=True)``, as ``bench/noise.py``), three passes
  each: first, noise only (counters, dates, sidebar, tokens), and the mirror's
  ``noise-only`` state (the same, re-laid out); report text unchanged after the first.
  Rows: pages/s, CPU ms/page, peak RSS, and the changes each reported (urlwatch: the
  "NN. CHANGED:" lines of its stdout report; nianbao: change events). urlwatch gets its
  urls/config/hooks/cache in the temp dir (HOME and XDG dirs there too, proxies unset, the
  stdout reporter only), ``--urlwatch-workers`` threads (a hooks file sets
  ``urlwatch.worker.MAX_WORKERS``; nianbao's per-host concurrency is 16) and, with
  ``--urlwatch-filter``, that filter on every job (default none: urlwatch's default, the
  raw page). A failed install prints a skip line; the other sections still run.
- ``distributed``: ``bench.distributed.distributed_row`` with 1 worker and with 2
  workers, each plus one ingest process, on ``--dist-pages`` pages, and the speed-up
  (goal ≥ 1.6x with the cores for it); a skip line when redis-server is not on PATH.

``--fast`` drops the politeness delay (``DOWNLOAD_DELAY`` 0, no AutoThrottle) in ``hosts``
and ``faults``: the per-host limit must hold then too. Each of their crawls is one
``python -m crawler.runner`` process (fetch and extract; nothing stored, no event
detection); with ``--store`` it goes through ``monitor.cycle.crawl`` into a fresh database,
as ``nianbao crawl`` does ("crawl s" is the crawl process's time, "wall s" includes storing
and detection). "crawl CPU s" / "CPU ms/page" is the CPU time of the crawl's process tree
(extraction workers included), "server CPU s" that of this process (the servers).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ProgressSampler, TreeSampler, mirror_crawl
from crawler.seeds import load_seeds
from mirror import MirrorServer
from mirror.hosts import HostsMirror
from monitor import cycle
from monitor.config import Config

FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}
ROOT = Path(__file__).resolve().parent.parent
NOISE_CHANGES = ("new", "edited", "removed", "moved", "restored")  # as bench/noise.py counts


@contextmanager
def serving(mirror: MirrorServer) -> Iterator[MirrorServer]:
    mirror.start()
    try:
        yield mirror
    finally:
        mirror.stop()


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


# -- pages: 20,000 report pages in one portal, no politeness --------------------------------


def crawl_pass(config: Config, seeds: list, label: str, pages: int, sampler: TreeSampler) -> dict:
    """One ``monitor.cycle.crawl`` of the synthetic portal under ``sampler``; one row."""
    progress = sampler.progress if isinstance(sampler, ProgressSampler) else None
    started = time.monotonic()
    with sampler:
        result = cycle.crawl(config, seeds, trigger="bench", on_progress=progress)
    wall = time.monotonic() - started
    counts = result.counts()
    return {
        "pass": label,
        "pages": pages,
        "wall_s": wall,
        "crawl_s": float(result.stats.get("elapsed") or 0.0),
        "pages_per_s": pages / wall,
        "cpu_ms_per_page": 1000 * sampler.cpu_seconds / pages,
        "peak_rss_mb": sampler.peak_rss / 2**20,
        "peak_pss_mb": sampler.peak_pss / 2**20,
        "reports": counts["reports_found"],
        "new": counts["new"],
        "edited": counts["edited"],
        "errors": counts["errors"],
        "events": result.events,
        "status": result.status,
    }


def print_passes(rows: list[dict], header: bool) -> None:
    if header:
        print(
            f"{'pass':<24} {'pages':>6} {'wall s':>7} {'crawl s':>7} {'pages/s':>8} "
            f"{'CPU ms/page':>11} {'peak RSS MB':>11} {'peak PSS MB':>11} {'reports':>7} "
            f"{'new':>6} {'edited':>6} {'errors':>6}  status"
        )
    for r in rows:
        print(
            f"{r['pass']:<24} {r['pages']:>6} {r['wall_s']:>7.1f} {r['crawl_s']:>7.1f} "
            f"{r['pages_per_s']:>8.1f} {r['cpu_ms_per_page']:>11.1f} {r['peak_rss_mb']:>11.0f} "
            f"{r['peak_pss_mb']:>11.0f} {r['reports']:>7} {r['new']:>6} {r['edited']:>6} "
            f"{r['errors']:>6}  {r['status']}",
            flush=True,
        )


def print_checkpoints(sampler: ProgressSampler, first: dict, checkpoints: list[int]) -> None:
    """The peak RSS of the crawl's process tree up to each checkpoint of the first pass."""
    at = {}
    for n in checkpoints:
        peak = sampler.peak_until(n)
        end = peak is None and first["reports"] >= n  # the run ended before a sample saw n
        if end:
            peak = (sampler.peak_rss, sampler.peak_pss, 0)
        if peak is None:
            print(f"peak RSS at {n:>6} report pages: not reached ({first['reports']} found)")
            continue
        at[n] = peak[0]
        print(
            f"peak RSS at {n:>6} report pages: {peak[0] / 2**20:5.0f} MB "
            f"(PSS {peak[1] / 2**20:4.0f} MB)" + (" (end of the run)" if end else ""),
            flush=True,
        )
    if len(at) > 1:
        first_n, last_n = min(at), max(at)
        ratio = at[last_n] / at[first_n] if at[first_n] else float("inf")
        print(
            f"memory {'flat' if ratio <= 1.25 else 'NOT flat'}: peak RSS at {last_n} / at "
            f"{first_n} = {ratio:.2f} (flat: ≤ 1.25)"
        )


def section_pages(args: argparse.Namespace) -> list[dict]:
    """``--pages`` report pages in one portal, no politeness: a first pass (sampled with
    its progress, for the peak RSS at each ``--at`` checkpoint) and an unchanged pass."""
    checkpoints = sorted(n for n in args.at if 0 < n <= args.pages) or [args.pages]
    with (
        serving(MirrorServer(synthetic=args.pages)) as mirror,
        tempfile.TemporaryDirectory() as tmp,
    ):
        seeds, config = mirror_crawl(mirror, Path(tmp), ["bench"], args.pages)
        print(f"{args.pages} report pages in one portal on {mirror.url('/')}; no politeness delay")
        sampler = ProgressSampler()
        rows = [crawl_pass(config, seeds, "first", args.pages, sampler)]
        print_passes(rows, header=True)
        print_checkpoints(sampler, rows[0], checkpoints)  # now: the unchanged pass is long too
        rows.append(crawl_pass(config, seeds, "unchanged", args.pages, TreeSampler()))
        print_passes(rows[-1:], header=False)
    for row in rows:
        del row["events"]  # a new event per page on the first pass: not kept
    print(
        f"unchanged pass {rows[0]['wall_s'] / rows[1]['wall_s']:.1f}x faster than the first; "
        f"first pass {rows[0]['pages_per_s']:.1f} pages/s"
    )
    return rows


# -- urlwatch: the same pages, checked by urlwatch from a throwaway venv ---------------------

URLWATCH_SENDERS = (  # reporters that would contact something: all off, stdout only
    "email", "pushover", "pushbullet", "telegram", "slack", "mattermost", "discord", "gotify",
    "matrix", "mailgun", "ifttt", "xmpp", "prowl", "shell", "browser",
)  # fmt: skip
URLWATCH_LINE = re.compile(r"^\d+\. (NEW|CHANGED|ERROR|UNCHANGED|EMPTY):? ")


def urlwatch_install(args: argparse.Namespace, tmp: Path) -> tuple[Path | None, str]:
    """urlwatch's executable in a new venv under ``tmp`` (or in ``--urlwatch-venv``), and
    its version; (None, why) when it cannot be had."""
    venv = Path(args.urlwatch_venv) if args.urlwatch_venv else tmp / "venv"
    exe = venv / "bin" / "urlwatch"
    steps = [[sys.executable, "-m", "venv", str(venv)], [str(venv / "bin" / "pip"), "install"]]
    steps[1] += ["-q", "--disable-pip-version-check", args.urlwatch_spec]
    try:
        if not args.urlwatch_venv:
            for step in steps:
                subprocess.run(step, check=True, capture_output=True, text=True, timeout=900)
        done = subprocess.run(
            [str(exe), "--version"], check=True, capture_output=True, text=True, timeout=60
        )
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or ["no output"]
        return (
            None,
            f"{Path(exc.cmd[0]).name} {' '.join(exc.cmd[1:3])}: exit {exc.returncode}: {tail[0]}",
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return exe, done.stdout.strip()


def urlwatch_filters(spec: str) -> list:
    """``--urlwatch-filter`` (``name`` or ``name:argument``, comma-separated) as urlwatch's
    list of filters.

    >>> urlwatch_filters("element-by-id:zoom,html2text")
    [{'element-by-id': 'zoom'}, 'html2text']
    """
    steps = [step.strip().partition(":") for step in spec.split(",") if step.strip()]
    return [{name: arg} if sep else name for name, sep, arg in steps]


def urlwatch_files(tmp: Path, urls: list[str], args: argparse.Namespace) -> list[str]:
    """urls.yaml, urlwatch.yaml (stdout reporter only, no colour) and hooks.py (the
    worker count) in ``tmp``; the flags that name them and a cache database there."""
    job = {"url": ""} | (
        {"filter": urlwatch_filters(args.urlwatch_filter)} if args.urlwatch_filter else {}
    )
    (tmp / "urls.yaml").write_text(  # JSON is YAML
        "---\n".join(json.dumps(job | {"url": u}, ensure_ascii=False) + "\n" for u in urls)
    )
    reporters = "".join(f"  {name}:\n    enabled: false\n" for name in URLWATCH_SENDERS)
    (tmp / "urlwatch.yaml").write_text(
        "report:\n  stdout:\n    enabled: true\n    color: false\n" + reporters
    )
    # urlwatch 2.x runs jobs in a thread pool of urlwatch.worker.MAX_WORKERS (10); a hooks
    # file (loaded before the jobs run) sets it to the crawl's per-host concurrency
    (tmp / "hooks.py").write_text(
        f"import urlwatch.worker\n\nurlwatch.worker.MAX_WORKERS = {args.urlwatch_workers}\n"
    )
    flags = ["--urls", "urls.yaml", "--config", "urlwatch.yaml", "--hooks", "hooks.py"]
    return [str(tmp / f) if f.endswith((".yaml", ".py")) else f for f in flags] + [
        "--cache",
        str(tmp / "cache.db"),
    ]


def urlwatch_pass(exe: Path, flags: list[str], tmp: Path, label: str, pages: int) -> dict:
    """One ``urlwatch`` run over every job; its report (stdout) is read as it comes and
    only its summary lines counted (with the default ``details`` it holds a diff per
    changed page)."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env |= {
        "HOME": str(tmp),
        "XDG_CONFIG_HOME": str(tmp / "xdg-config"),
        "XDG_CACHE_HOME": str(tmp / "xdg-cache"),
        "XDG_DATA_HOME": str(tmp / "xdg-data"),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    kinds: Counter = Counter()
    errors = tmp / "urlwatch.stderr"
    started = time.monotonic()
    with TreeSampler() as tree, open(errors, "wb") as err:
        with subprocess.Popen(
            [str(exe), *flags],
            cwd=tmp,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            errors="replace",
        ) as proc:
            for line in proc.stdout:
                m = URLWATCH_LINE.match(line)
                if m:
                    kinds[m.group(1).lower()] += 1
        code = proc.returncode
    wall = time.monotonic() - started
    said = [line for line in errors.read_text(errors="replace").splitlines() if line.strip()]
    status = f"exit {code}"
    if said:  # untrusted (it may quote a page): printable characters only, and short
        last = "".join(c if c.isprintable() else "?" for c in said[-1])[:120]
        status += f"; stderr ({len(said)} lines): {last}"
    return {
        "tool": "urlwatch",
        "pass": label,
        "pages": pages,
        "wall_s": wall,
        "pages_per_s": pages / wall,
        "cpu_ms_per_page": 1000 * tree.cpu_seconds / pages,
        "peak_rss_mb": tree.peak_rss / 2**20,
        "new": kinds["new"],
        "changed": kinds["changed"],
        "errors": kinds["error"],
        "status": status,
    }


def nianbao_pass(config: Config, seeds: list, label: str, pages: int) -> dict:
    row = crawl_pass(config, seeds, label, pages, TreeSampler())
    changes = [e for e in row.pop("events") if e.kind in NOISE_CHANGES]
    return {
        "tool": "nianbao",
        **{k: row[k] for k in ("pass", "pages", "wall_s", "pages_per_s", "cpu_ms_per_page")},
        "peak_rss_mb": row["peak_rss_mb"],
        "new": row["new"],
        "changed": len(changes) - row["new"],
        "errors": row["errors"],
        "status": row["status"],
    }


def print_tools(rows: list[dict], header: bool) -> None:
    if header:
        print(
            f"{'tool':<9} {'pass':<30} {'pages':>6} {'wall s':>7} {'pages/s':>8} "
            f"{'CPU ms/page':>11} {'peak RSS MB':>11} {'new':>6} {'changed':>7} {'errors':>6}  status"
        )
    for r in rows:
        print(
            f"{r['tool']:<9} {r['pass']:<30} {r['pages']:>6} {r['wall_s']:>7.1f} "
            f"{r['pages_per_s']:>8.1f} {r['cpu_ms_per_page']:>11.1f} {r['peak_rss_mb']:>11.0f} "
            f"{r['new']:>6} {r['changed']:>7} {r['errors']:>6}  {r['status']}",
            flush=True,
        )


def section_urlwatch(args: argparse.Namespace) -> list[dict]:
    """urlwatch and nianbao on the same ``--urlwatch-pages`` noisy report pages: a first
    pass, a pass where only the noise moved (counters, dates, sidebar, tokens), and a pass
    in the mirror's ``noise-only`` state (the same, re-laid out)."""
    n = args.urlwatch_pages
    passes = [
        ("first", ()),
        ("noise (counters, dates)", ()),
        ("noise-only (re-laid out)", ("noise-only",)),
    ]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="nianbao-urlwatch-") as tmp_name:
        tmp = Path(tmp_name)
        exe, version = urlwatch_install(args, tmp)
        if exe is None:
            print(f"skipped: no urlwatch ({version})")
            return [{"tool": "urlwatch", "skipped": version}]
        with serving(MirrorServer(synthetic=n, synthetic_noise=True)) as mirror:
            urls = [mirror.url(f"/bench/art/{i}.html") for i in range(n)]
            flags = urlwatch_files(tmp, urls, args)
            seeds, config = mirror_crawl(mirror, tmp, ["bench"], n)
            print(
                f"{n} noisy report pages on {mirror.url('/')}; {version}, "
                f"{args.urlwatch_workers} workers, filter {args.urlwatch_filter or 'none (raw HTML)'}; "
                f"nianbao through monitor.cycle.crawl (a crawl process per pass)"
            )
            for label, state in passes:
                mirror.set_state(*state)
                rows.append(urlwatch_pass(exe, flags, tmp, label, n))
                print_tools(rows[-1:], header=len(rows) == 1)
                rows.append(nianbao_pass(config, seeds, label, n))
                print_tools(rows[-1:], header=False)
    by = {(r["tool"], r["pass"]): r for r in rows}
    for label, _ in passes[1:]:
        uw, nb = by[("urlwatch", label)], by[("nianbao", label)]
        print(
            f"{label}: urlwatch reported {uw['changed']} of {n} pages changed, nianbao "
            f"{nb['changed']} (goal 0); urlwatch {uw['pages_per_s']:.0f} pages/s, nianbao "
            f"{nb['pages_per_s']:.0f}"
        )
    return rows


# -- distributed: 1 worker against 2 workers + ingest ----------------------------------------


def section_distributed(args: argparse.Namespace) -> list[dict]:
    """``bench.distributed.distributed_row`` for 1 and 2 workers on ``--dist-pages`` pages."""
    if shutil.which("redis-server") is None:
        print("skipped: no redis-server on PATH (apt-get install redis-server)")
        return [{"skipped": "no redis-server"}]
    from bench.distributed import distributed_row

    with serving(MirrorServer(synthetic=args.dist_pages)) as mirror:
        print(f"{args.dist_pages} report pages on {mirror.url('/')}; {os.cpu_count()} CPUs here")
        rows = [distributed_row(w, args.dist_pages, mirror) for w in (1, 2)]
    print(
        f"2 workers + ingest are {rows[0]['wall_s'] / rows[1]['wall_s']:.2f}x 1 worker "
        f"(goal ≥ 1.6x with the cores for it; {os.cpu_count()} CPUs here)"
    )
    return rows


SECTIONS: dict[str, Callable[[argparse.Namespace], list[dict]]] = {
    "hosts": section_hosts,
    "faults": section_faults,
    "pages": section_pages,
    "urlwatch": section_urlwatch,
    "distributed": section_distributed,
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
    ints = lambda s: [int(x) for x in s.split(",") if x.strip()]  # noqa: E731
    parser.add_argument("--pages", type=int, default=20_000, help="pages: report pages")
    parser.add_argument(
        "--at", type=ints, default=[5_000, 10_000, 20_000], help="pages: RSS checkpoints"
    )
    parser.add_argument("--urlwatch-pages", type=int, default=2000, help="urlwatch: pages")
    parser.add_argument(
        "--urlwatch-spec",
        default="urlwatch",
        help="urlwatch: what pip installs (e.g. urlwatch==2.29)",
    )
    parser.add_argument(
        "--urlwatch-venv", default="", help="urlwatch: an existing venv with urlwatch (no install)"
    )
    parser.add_argument(
        "--urlwatch-workers",
        type=int,
        default=16,
        help="urlwatch: its worker threads (default: the crawl's per-host concurrency, 16)",
    )
    parser.add_argument(
        "--urlwatch-filter",
        default="",
        help="urlwatch: a filter for every job (e.g. html2text; default none: raw HTML)",
    )
    parser.add_argument("--dist-pages", type=int, default=1000, help="distributed: pages")
    args = parser.parse_args()
    unknown = [n for n in args.only.split(",") if n not in SECTIONS]
    if unknown:
        parser.error(
            f"--only: unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}"
        )
    for name in args.only.split(","):
        print(f"\n== {name} ==", flush=True)
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
