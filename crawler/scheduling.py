"""The crawl's scheduler: Scrapy's own, except when the queue a stopped crawl saved
(``JOBDIR``) cannot be read back or written, and a seal that makes a saved queue last a
reboot.

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
file of the job dir to the disk before the mark that says the queue is whole is written.

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
    """``Scheduler`` that stops the crawl when its disk queue cannot be read or written."""

    damaged = ""  # what went wrong with the disk queue ('' while it works)
    reason = QUEUE_DAMAGED
    closing = None

    def open(self, spider):
        try:
            return super().open(spider)
        except Exception as exc:  # active.json or a queue file's header unreadable
            self._damage(exc)
            return self.df.open()

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

    def _dqpop(self) -> Request | None:
        if self.damaged:
            return None
        try:
            return super()._dqpop()
        except Exception as exc:  # a record cut short, or one that does not unpickle
            self._damage(exc)
            return None

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
