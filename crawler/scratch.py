"""Scratch folders in the temp dir that a killed process does not leak for good.

A crawl hands its crawl process a job in a temporary folder: the job, and the fetch state
of every page already stored (32 MB for 100,000 pages). ``TemporaryDirectory`` removes
it on any exit Python sees; a kill -9 or the kernel's OOM killer leaves it behind, and a
daemon that is killed now and then would fill the temp dir. So each folder holds a lock
file its process keeps locked (``flock``) while it lives, and ``sweep`` removes the
folders whose lock is free: their process is gone, whatever the pid namespace. The lock
file appears already locked (written under another name, locked, renamed), so a sweep
never sees a live folder's lock free.

May import: the standard library.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "nianbao-"
OWNER = ".owner.lock"


@contextlib.contextmanager
def scratch(kind: str = "") -> Iterator[Path]:
    """A temporary folder ``nianbao-KIND…``, removed on exit, and by ``sweep`` once this
    process is gone."""
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}{kind}") as tmp:
        folder = Path(tmp)
        fd = os.open(folder / ".owner.new", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.replace(folder / ".owner.new", folder / OWNER)
            yield folder
        finally:
            os.close(fd)


def sweep(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the scratch folders in ``root`` (the temp dir) whose process is gone;
    return them. Folders without a lock file (another program's, or older) are left."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        if _abandoned(folder / OWNER):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _abandoned(lock: Path) -> bool:
    """Whether ``lock`` exists and no process holds it."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:  # no lock file, or not ours to open
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: its process is alive
        return False
    finally:
        os.close(fd)  # closing drops the lock we may have taken
    return True
