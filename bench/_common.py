"""Helpers shared by the bench scripts: a crawl set-up against the mirror, and memory and
CPU of the crawl's process tree.

``mirror_crawl`` gives the seeds of some mirror portals and a crawl ``Config`` for a fresh
database, with no politeness delay (the mirror is on 127.0.0.1). A crawl runs in a child process with extraction workers below it (through a
forkserver), so ``getrusage(RUSAGE_CHILDREN)`` misses the workers' CPU. The sampler
reads /proc for every descendant instead: CPU seconds (the last value seen per pid),
and the peak of summed RSS and PSS (PSS shares copy-on-write pages fairly between the
forked workers; RSS counts them once per process). ``ProgressSampler`` also keeps each
sample with the crawl's progress at that moment (report pages handled so far, from the
progress lines ``monitor.cycle.crawl`` passes to ``on_progress``), for peaks at checkpoints.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from crawler.seeds import Seed, load_seeds
from mirror import MirrorServer
from monitor.config import Config
from monitor.store import Store

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def mirror_crawl(
    mirror: MirrorServer, tmp: Path, only: list[str], pages: int = 0
) -> tuple[list[Seed], Config]:
    """Seeds of the mirror's portals ``only`` and a crawl config whose database is in
    ``tmp``; with ``pages``, page limits that fit that many report pages in one portal."""
    seeds_file = tmp / "seeds.toml"
    mirror.seeds_toml(seeds_file)
    settings = {
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    }
    if pages:
        settings |= {
            "NIANBAO_MAX_PAGES_PER_PORTAL": pages * 2 + 100,
            "NIANBAO_MAX_LIST_PAGES": pages // 5 + 50,
        }
    return load_seeds([seeds_file], only=only), Config(db=tmp / "bench.db", settings=settings)


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat:
                parents[int(entry.name)] = int(stat[1])
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        children = [c for c, p in parents.items() if p == pid]
        found.extend(children)
        todo.extend(children)
    return found


def pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreeSampler:
    """Samples this process's descendants while a crawl runs."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.peak_rss = 0
        self.peak_pss = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        rss = pss_total = 0
        for pid in descendants(os.getpid()):
            stat = _stat(pid)
            if not stat:
                continue
            self.cpu[pid] = (int(stat[11]) + int(stat[12])) / TICK
            rss += int(stat[21]) * PAGE
            pss_total += pss(pid)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss_total)
        self._sampled(rss, pss_total)

    def _sampled(self, rss: int, pss: int) -> None:
        """One sample taken (summed RSS and PSS of the tree, bytes); for subclasses."""

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval)

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class ProgressSampler(TreeSampler):
    """A ``TreeSampler`` that keeps (report pages handled, tree RSS, tree PSS) per sample;
    pass ``progress`` as ``cycle.crawl(..., on_progress=sampler.progress)``."""

    def __init__(self, interval: float = 0.2):
        super().__init__(interval)
        self.done = 0
        self.timeline: list[tuple[int, int, int]] = []

    def progress(self, figures: dict) -> None:
        """A progress line of the crawl (``crawler.progress.snapshot``)."""
        self.done = sum(int(figures.get(k) or 0) for k in ("reports", "same", "unchanged"))

    def _sampled(self, rss: int, pss: int) -> None:
        self.timeline.append((self.done, rss, pss))

    def peak_until(self, pages: int) -> tuple[int, int, int] | None:
        """(peak RSS, peak PSS, RSS of that sample) over the samples up to the first one
        taken when ``pages`` report pages were handled; None if no sample saw that many."""
        peak_rss = peak_pss = 0
        for done, rss, pss_now in self.timeline:
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss_now)
            if done >= pages:
                return peak_rss, peak_pss, rss
        return None


def index_stored(store: Store, run_id: int, chunk: int = 1000) -> float:
    """Add every stored version to the search index as a detection does (``Search.index``
    in the transaction that marks a chunk judged, ``chunk`` versions at a time), for
    benches that write their events themselves; return the seconds it took."""
    started = time.perf_counter()
    while versions := store.reports.unjudged_versions(run_id, limit=chunk):
        with store.immediate():
            store.search.index((v.id, v.text) for v in versions)
            store.reports.mark_judged((v.id for v in versions), run_id)
    return time.perf_counter() - started
