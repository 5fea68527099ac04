"""Long-lived crawl processes for the daemon: one Python, Scrapy and reactor for many rounds.

A one-shot crawl starts ``python -m crawler.runner JOB.json`` and pays ~1.3 s of start-up
(Python, Scrapy's imports, a reactor) each time. A ``CrawlHost`` keeps one
``python -m crawler.runner --serve`` process and hands it job files one at a time; the
answer is the same ``(exit code, final figures)`` a one-shot child gives, so
``monitor.cycle`` judges both alike.

Crash isolation stays: the process runs under the same memory watchdog and time limit as a
one-shot crawl; a crawl that crashes it, hangs (killed at the time limit) or trips the memory
limit ends that process, and the next job starts a fresh one. After ``max_jobs`` jobs the
process is replaced anyway, so nothing a crawl leaks can pile up. ``CrawlHosts`` lends one
host per concurrent crawl (the daemon runs up to ``workers`` crawls at once).

May import: monitor.proctree (a stdlib leaf). The caller records pids on runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from monitor.proctree import Watchdog, terminate_tree

ProgressFn = Callable[[dict], None]
_EOF = object()


def read_message(line: str, final: dict, on_progress: ProgressFn | None) -> bool:
    """One line a crawl process printed: progress goes to ``on_progress``; the ``done``
    line's figures into ``final`` (returns True). Anything else is ignored."""
    try:
        message = json.loads(line)
    except ValueError:
        return False
    if not isinstance(message, dict):
        return False
    if "done" in message:
        final.update(message["done"])
        return True
    if on_progress and "progress" in message:
        on_progress(message["progress"])
    return False


class CrawlHost:
    """One long-lived crawl process, started on first use and again after it ends."""

    def __init__(
        self,
        on_spawn: Callable[[subprocess.Popen], None] | None = None,
        on_exit: Callable[[subprocess.Popen], None] | None = None,
        max_jobs: int = 200,
        stderr_dir: str | Path | None = None,
    ):
        self.on_spawn, self.on_exit, self.max_jobs = on_spawn, on_exit, max_jobs
        self.stderr_dir = Path(stderr_dir) if stderr_dir else None
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue = queue.Queue()
        self.jobs = 0
        self.spawned = 0  # processes started so far (tests and benchmarks read it)
        self._stderr = None
        self._stderr_path: Path | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.alive() else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _spawn(self) -> subprocess.Popen:
        self._reap()
        directory = self.stderr_dir or Path(os.environ.get("TMPDIR", "/tmp"))
        directory.mkdir(parents=True, exist_ok=True)
        self._stderr_path = directory / f"crawlhost-{os.getpid()}-{id(self)}.stderr"
        self._stderr = open(self._stderr_path, "wb")  # noqa: SIM115 (lives with the process)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.runner", "--serve", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        self.lines = queue.Queue()
        threading.Thread(
            target=self._pump, args=(self.proc.stdout, self.lines), daemon=True
        ).start()
        self.jobs = 0
        self.spawned += 1
        if self.on_spawn:
            self.on_spawn(self.proc)
        return self.proc

    @staticmethod
    def _pump(stream, lines: queue.Queue) -> None:
        for line in stream:
            lines.put(line)
        lines.put(_EOF)

    def run(
        self,
        job_file: Path,
        timeout: float,
        memory_limit_mb: float,
        on_progress: ProgressFn | None = None,
        on_start: Callable[[subprocess.Popen], None] | None = None,
    ) -> tuple[int, dict, str]:
        """Run one job: ``(code, final, stderr_tail)`` as a one-shot child would end.

        ``code`` is 0 when the job's ``done`` line came; otherwise the process's own exit
        code (negative: the signal that ended it). ``final`` carries ``timeout`` and
        ``memory_exceeded`` when those ended it, and ``tree_peak_mb``.
        """
        if not self.alive() or self.jobs >= self.max_jobs:
            self.close()
            self._spawn()
        proc = self.proc
        if on_start:
            on_start(proc)
        offset = self._stderr_path.stat().st_size if self._stderr_path else 0
        final: dict = {}
        code: int | None = None
        deadline = time.monotonic() + timeout
        with Watchdog(proc.pid, float(memory_limit_mb)) as watchdog:
            try:
                proc.stdin.write(f"{job_file}\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass  # died between jobs: the pump's end of file says so below
            while code is None:
                try:
                    line = self.lines.get(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
                except queue.Empty:
                    if proc.poll() is not None:  # dead, and its stdout may still be held
                        code = proc.returncode  # open by orphans: do not wait for the end
                    elif time.monotonic() >= deadline:
                        terminate_tree(proc.pid, grace=20)
                        final["timeout"] = timeout
                        code = proc.wait()
                    continue
                if line is _EOF:
                    code = proc.wait()
                    break
                if read_message(line, final, on_progress):
                    code = 0
        if watchdog.tripped:  # it stopped the process: a graceful stop still says ``done``
            final["memory_exceeded"] = watchdog.reason
            code = (proc.wait() or -signal.SIGTERM) if code == 0 else code
        final["tree_peak_mb"] = round(watchdog.peak_mb)
        self.jobs += 1
        tail = self._stderr_tail(offset)
        if code != 0:
            self._reap()
        return code, final, tail

    def _stderr_tail(self, offset: int) -> str:
        if not self._stderr_path or not self._stderr_path.exists():
            return ""
        with open(self._stderr_path, "rb") as f:
            f.seek(max(offset, self._stderr_path.stat().st_size - 2000))
            return f.read().decode(errors="replace")[-2000:]

    def close(self, grace: float = 10.0) -> None:
        """End the process: end of input (it exits when idle), then SIGTERM/SIGKILL."""
        if self.alive():
            with contextlib.suppress(BrokenPipeError, OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                terminate_tree(self.proc.pid, grace=3)
        self._reap()

    def _reap(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            # stdout is the pump's: closing it under a blocked read would wait on the read
            # (an orphaned extraction worker may hold the pipe open a while)
            if self.on_exit:
                self.on_exit(self.proc)
            self.proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
            with contextlib.suppress(OSError):
                self._stderr_path.unlink()


class CrawlHosts:
    """A pool of ``CrawlHost``: one lent to each crawl running at the same time."""

    def __init__(self, **host_options: object):
        self.host_options = host_options
        self.idle: list[CrawlHost] = []
        self.all: list[CrawlHost] = []
        self.guard = threading.Lock()

    @contextlib.contextmanager
    def lease(self) -> Iterator[CrawlHost]:
        with self.guard:
            host = self.idle.pop() if self.idle else None
            if host is None:
                host = CrawlHost(**self.host_options)
                self.all.append(host)
        try:
            yield host
        finally:
            with self.guard:
                self.idle.append(host)

    def close(self) -> None:
        with self.guard:
            hosts, self.idle, self.all = list(self.all), [], []
        for host in hosts:
            host.close()
