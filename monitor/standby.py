"""A crawl process started before its job exists, so its start-up overlaps the parent's.

``nianbao crawl`` spends ~0.3 s importing the CLI, reading the seeds, opening the store and
beginning the run before it can write a job file; a crawl process spends ~1 s importing
Scrapy, Twisted and OpenSSL before it can run one. ``nianbao`` (``monitor.__main__``) starts
``python -m crawler.runner --standby PARENT_PID`` first thing when the command is a local
``crawl``; the child imports what a crawl needs and waits for a job path on stdin.
``monitor.cycle`` claims it (``claim``) and hands it the job, or starts a child of its own
when there is none (a test calling the CLI in-process, a standby that died).

A standby never claimed (bad input, ``--resume`` with nothing to resume, a lock held) is
killed when this process exits (``release``, at exit); if this process is killed, the
child sees its parent go (``die_with_parent``) and exits. It writes nothing anywhere before
its job: its stderr goes to a file of its own, which the claimer reads with the crawl's.

May import: the standard library and monitor.config (light: it runs before the CLI is
imported).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from monitor.config import env, is_on

# modules a crawl imports late (while Scrapy builds its components), named here because
# crawler/ may not name monitor/: the store's item pipeline
WARM = ("monitor.store.pipeline",)


@dataclass
class Standby:
    proc: subprocess.Popen
    stderr_path: Path


_standby: Standby | None = None


def wanted(argv: list[str]) -> bool:
    """Whether ``nianbao ARGV`` is a local crawl that will start a crawl process."""
    if not argv or argv[0] != "crawl":
        return False
    if {"--help", "-h", "--distributed"} & set(argv):
        return False
    return is_on(env("NIANBAO_STANDBY", "1"))


def start(warm: tuple[str, ...] = WARM) -> Standby | None:
    """Start the standby crawl process (once); None if it cannot start."""
    global _standby
    if _standby is not None:
        return _standby
    try:  # a full or unwritable temp dir: no standby (the crawl starts its process later)
        fd, name = tempfile.mkstemp(prefix="nianbao-crawl-", suffix=".stderr")
    except OSError:
        return None
    try:
        proc = crawl_process(["--standby", str(os.getpid()), *warm], fd, stdin=subprocess.PIPE)
    except OSError:
        Path(name).unlink(missing_ok=True)
        return None
    finally:
        os.close(fd)  # the child has its own copy
    _standby = Standby(proc, Path(name))
    atexit.register(release)
    return _standby


def crawl_process(args: list[str], stderr, stdin=None) -> subprocess.Popen:
    """``python -m crawler.runner ARGS`` as a crawl child (this standby, or the one
    ``monitor.cycle`` starts when there is none): progress lines on a pipe, stderr to
    ``stderr``."""
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.runner", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        # a process group of its own: a terminal's Ctrl-C reaches the parent only, which
        # stops the crawl with one SIGTERM (its extraction workers untouched)
        process_group=0,
    )


def start_for(argv: list[str]) -> None:
    if wanted(argv):
        start()


def claim() -> Standby | None:
    """The standby crawl process, if one is waiting, alive; it is the caller's now (it
    must write a job path and a newline to its stdin, or close it)."""
    global _standby
    standby, _standby = _standby, None
    if standby is None:
        return None
    if standby.proc.poll() is not None:  # died before its job: start afresh
        discard(standby)
        return None
    return standby


def release() -> None:
    """Stop a standby nobody claimed (it is only importing or waiting: nothing to lose)."""
    global _standby
    standby, _standby = _standby, None
    if standby is not None:
        discard(standby)


def discard(standby: Standby) -> None:
    """Kill a standby and remove its stderr file."""
    with contextlib.suppress(OSError):
        standby.proc.kill()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        standby.proc.wait(timeout=5)
    for stream in (standby.proc.stdin, standby.proc.stdout):
        with contextlib.suppress(OSError):
            if stream is not None:
                stream.close()
    standby.stderr_path.unlink(missing_ok=True)
