"""A process and all its descendants, read from ``/proc``: their memory, and stopping them.

``tree_rss(pid)`` sums the resident memory of a process and every descendant (the crawl
child and its extraction workers); ``terminate_tree(pid)`` stops them all (SIGTERM, then
SIGKILL after a grace); ``Watchdog`` samples a tree every second and terminates it when it
grows past a limit. Used by ``monitor.cycle`` (the crawl child), the daemon, the fault
tests and ``bench/faults.py``. Linux only (``/proc``): elsewhere the tree is the process
alone and its RSS reads as 0, so the watchdog never fires.

May import: the standard library only (a leaf, below every layer).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MB = 1024 * 1024


def _parents() -> dict[int, int]:
    """Every live process's parent: pid → ppid (from ``/proc/<pid>/stat``)."""
    parents = {}
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            # the command name (field 2) may hold spaces and ")": split after its last ")"
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return parents


def descendants(pid: int) -> list[int]:
    """The pids of every descendant of ``pid`` (children first), not ``pid`` itself."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(0), [])
        found += kids
        todo += kids
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    return [pid, *descendants(pid)]


def rss(pid: int) -> int:
    """The resident set size of one process in bytes (0 if it is gone or unreadable)."""
    try:
        return int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(pid: int) -> int:
    """The resident memory of ``pid`` and all its descendants, in bytes.

    >>> tree_rss(os.getpid()) > 0 or not PROC.exists()
    True
    """
    return sum(rss(p) for p in tree(pid))


def _signal_all(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _alive(pid: int) -> bool:
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie is dead: it only waits for its parent to reap it


def terminate_tree(pid: int, grace: float = 3.0) -> list[int]:
    """SIGTERM ``pid`` and its descendants; SIGKILL whatever still lives after ``grace``
    seconds. Descendants are collected first, so workers orphaned by the parent's exit
    are stopped too. Returns the pids signalled."""
    pids = tree(pid)
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    pids += [p for p in tree(pid) if p not in pids]
    _signal_all([p for p in pids if _alive(p)], signal.SIGKILL)
    return pids


class Watchdog:
    """Samples the RSS of a process tree every ``interval`` seconds in a thread; over
    ``limit_mb`` it terminates the tree and says why in ``reason``. ``peak_mb`` is the
    largest sample. Use as a context manager around the wait for the process."""

    def __init__(self, pid: int, limit_mb: float, interval: float = 1.0) -> None:
        self.pid, self.limit_mb, self.interval = pid, limit_mb, interval
        self.peak_mb = 0.0
        self.reason = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watchdog-{pid}", daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @property
    def tripped(self) -> bool:
        return bool(self.reason)

    def sample(self) -> float:
        """Take one sample now; returns the tree's RSS in MB."""
        used = tree_rss(self.pid) / MB
        self.peak_mb = max(self.peak_mb, used)
        return used

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.sample() > self.limit_mb > 0:
                self.reason = (
                    f"memory limit of {self.limit_mb:g} MB exceeded by the process tree "
                    f"(peak {self.peak_mb:.0f} MB)"
                )
                terminate_tree(self.pid)
                return
            self._stop.wait(self.interval)
