"""Helpers shared by the bench scripts: memory and CPU of the crawl's process tree.

A crawl runs in a child process with extraction workers below it (through a
forkserver), so ``getrusage(RUSAGE_CHILDREN)`` misses the workers' CPU. The sampler
reads /proc for every descendant instead: CPU seconds (the last value seen per pid),
and the peak of summed RSS and PSS (PSS shares copy-on-write pages fairly between the
forked workers; RSS counts them once per process).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


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
