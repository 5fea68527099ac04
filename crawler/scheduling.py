"""The crawl's scheduler: Scrapy's own, except that it keeps a small crawl's queue in
memory, that it stops when the queue a stopped crawl saved (``JOBDIR``) cannot be read
back or written, and a seal that makes a saved queue last a reboot.

Scrapy with a ``JOBDIR`` writes every request to the disk queue as it is scheduled and
reads it back to download it: pickled, with its callback looked up by name on the spider
(``inspect.getmembers``), a file write and a read each. For a one-shot crawl of one
portal that is about a sixth of Scrapy's time per request. ``JobScheduler`` keeps the
first ``NIANBAO_QUEUE_IN_MEMORY`` requests in memory while nothing is queued on disk;
past that the queue goes to disk as before, so a crawl of 100,000 pages still runs in
bounded memory. What it kept in memory goes to the disk queue when the crawl closes, so
a crawl stopped before its end (SIGTERM, Ctrl-C) saves its whole queue as before; after
a kill -9 the queue on disk cannot be trusted anyway (``crawler.runner.prepare_jobdir``).

A queue file cut short or garbled (a power cut after the stop, a disk error, a hand that
edited it) makes Scrapy's scheduler raise on every scheduling tick, every 5 seconds, and
the resumed crawl never ends. ``JobScheduler`` stops the crawl instead: the spider closes
with the reason ``queue_damaged`` (``QUEUE_DAMAGED``), the stats say what could not be
read, and the caller starts afresh. A resumed crawl cannot simply go on without its
queue: the seen-request set says those requests were scheduled, so they would never be
fetched. A queue that cannot be written (the job dir's disk full: ``disk_full``, as the
store says it) stops the crawl too: going on without the requests already queued on disk
would end a crawl that never fetched them, and their reports would look removed.

``seal(jobdir)``, once Scrapy has closed the crawl and written its queue, flushes every
file of the job dir to the disk before the mark that says the queue is whole is written;
a queue that could not be written whole at the close gets no mark (``damaged``).

May import: scrapy, crawler.items.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from pathlib import Path

from scrapy.core.scheduler import Scheduler
from scrapy.http import Request
from scrapy.utils.defer import deferred_from_coro

from crawler.items import DISK_FULL, QUEUE_DAMAGED

logger = logging.getLogger(__name__)


class JobScheduler(Scheduler):
    """``Scheduler`` that keeps a small queue in memory, and stops the crawl when its disk
    queue cannot be read or written."""

    damaged = ""  # what went wrong with the disk queue ('' while it works)
    reason = QUEUE_DAMAGED
    closing = None
    in_memory = 0  # requests kept in memory before the queue goes to disk
    spilled = False  # requests are queued on disk: new ones go there too, in order

    def open(self, spider):
        self.in_memory = self.crawler.settings.getint("NIANBAO_QUEUE_IN_MEMORY")
        try:
            opened = super().open(spider)
        except Exception as exc:  # active.json or a queue file's header unreadable
            self._damage(exc)
            return self.df.open()
        self.spilled = self.dqs is not None and len(self.dqs) > 0  # a resumed queue
        return opened

    def close(self, reason: str):
        """Move what the memory queue holds to the disk queue, then let Scrapy save it. A
        write that fails (a full disk) leaves the queue unsaved and marked ``damaged``:
        the runner then writes no mark, and a resume starts from what was stored."""
        if self.dqs is not None:
            try:
                while (request := self.mqs.pop()) is not None:
                    super()._dqpush(request)  # one that does not pickle is lost, as in Scrapy
                return super().close(reason)
            except OSError as exc:
                self._damage(exc)
        return self.df.close(reason)

    def next_request(self) -> Request | None:
        request = super().next_request()
        if self.damaged and self.closing is None:  # the engine is running: it can close
            self.closing = deferred_from_coro(
                self.crawler.engine.close_spider_async(reason=self.reason)
            )
        return request

    def enqueue_request(self, request: Request) -> bool:
        try:
            return super().enqueue_request(request)
        except OSError as exc:  # the seen set or the queue could not be written
            if not self.damaged:
                self._damage(exc)
            return False  # this request is lost, and the crawl closes unfinished

    def _dqpush(self, request: Request) -> bool:
        """Push ``request`` to the disk queue, or say no (Scrapy then keeps it in memory)
        while nothing is on disk and the memory queue holds fewer than ``in_memory``."""
        if self.dqs is None or (not self.spilled and self._held() < self.in_memory):
            return False
        pushed = super()._dqpush(request)
        self.spilled = self.spilled or pushed
        return pushed

    def _held(self) -> int:
        """Requests in the memory queue, from Scrapy's own counts (``len(self.mqs)`` sums
        a queue per host)."""
        enqueued = self.stats.get_value("scheduler/enqueued/memory", 0)
        return enqueued - self.stats.get_value("scheduler/dequeued/memory", 0)

    def _dqpop(self) -> Request | None:
        if self.damaged:
            return None
        try:
            request = super()._dqpop()
        except Exception as exc:  # a record cut short, or one that does not unpickle
            self._damage(exc)
            return None
        if request is None:  # asked only once memory is empty: both are drained
            self.spilled = False
        return request

    def _damage(self, exc: Exception) -> None:
        self.damaged = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            self.reason = DISK_FULL  # a write, or a read that flushed one, found no room
            self.stats.set_value("nianbao/disk_full", f"{exc} (the job dir {self.dqdir})")
        self.dqs = None  # never read again, nor written back on close
        logger.error("The disk queue in %s failed (%s): the crawl stops", self.dqdir, self.damaged)
        self.stats.set_value("nianbao/queue_damaged", self.damaged)


def seal(jobdir: Path, mark: Path) -> None:
    """Flush every file and folder of ``jobdir`` to the disk, then write ``mark`` and flush
    it: after a power cut the mark exists only if the queue it vouches for is whole."""
    for folder, _, files in os.walk(jobdir):
        for name in files:
            _fsync(Path(folder, name))
        _fsync(Path(folder))
    mark.touch()
    _fsync(mark)
    _fsync(mark.parent)


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):  # gone meanwhile, or a file system without fsync
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
