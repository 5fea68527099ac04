"""Work done in extraction processes, off the Scrapy reactor (must stay picklable).

Each worker runs under caps set once by ``init_worker``: an address-space limit
(``NIANBAO_WORKER_MEMORY_MB``: a runaway allocation is a ``MemoryError`` in this
process, never the OOM killer's choice), the file caps of ``crawler.documents`` and a
time cap per task (``NIANBAO_EXTRACT_TIMEOUT``, a SIGALRM in the worker; the pipeline
kills a worker that does not answer even then). A task over a cap returns a verdict
whose problem names the cap (``memory``, ``timeout``, ``zip_bomb``, …).

May import: crawler.documents, crawler.extract, crawler.items, crawler.stats.
"""

from __future__ import annotations

import gc
import logging
import os
import resource
import signal
import threading
import time

from crawler import documents
from crawler.items import Extracted

logger = logging.getLogger(__name__)

# crawler.extract (trafilatura, htmldate, lxml) is imported where it is used: the forkserver
# preloads it for the workers (crawler.pipelines), the reactor process never needs it.

MB = 1024 * 1024
_timeout = 0.0


class TaskTimeout(BaseException):
    """The task ran past the time cap (raised by SIGALRM inside the worker). A
    ``BaseException``, as ``KeyboardInterrupt``: the readers' ``except Exception``
    fallbacks (pypdf → pdfminer) must not swallow it."""


EXIT_OWNER_GONE = 143
OWNER_POLL = 0.5  # seconds


def init_worker(
    memory_mb: int = 0, timeout: float = 0.0, limits: dict | None = None, owner: int = 0
) -> None:
    """The pool's initializer: caps first, then ``warm_up``.

    ``memory_mb`` bounds the worker's address space (``RLIMIT_AS``; 0: no cap),
    ``timeout`` each task (seconds; 0: none), ``limits`` the file caps
    (``documents.set_limits``), ``owner`` the crawl process whose pool this is: the worker
    exits within ``OWNER_POLL`` seconds of it going (``watch_owner``).
    """
    global _timeout
    if owner:
        watch_owner(owner)  # before the address-space cap: a thread needs its stack
    if memory_mb > 0:
        cap = memory_mb * MB
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(
            resource.RLIMIT_AS, (cap, cap if hard == resource.RLIM_INFINITY else min(cap, hard))
        )
    _timeout = timeout
    documents.set_limits(**(limits or {}))
    signal.signal(signal.SIGALRM, _alarm)
    warm_up()


def watch_owner(owner: int, poll: float = OWNER_POLL) -> None:
    """Exit when ``owner`` is gone. A worker's parent is the forkserver, not the crawl
    process, so no parent-death signal reaches it when a crawl is killed with SIGKILL; and
    it would wait on its task queue for ever, holding the crawl's stdout open."""

    def watch() -> None:
        while True:
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os._exit(EXIT_OWNER_GONE)
            except PermissionError:
                pass
            time.sleep(poll)

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def _alarm(signum, frame) -> None:
    raise TaskTimeout(f"extraction took longer than {_timeout:g} s")


def warm_up() -> None:
    """Import and initialise the heavy parts once per worker process."""
    from crawler.extract import judge

    judge(b"<html><body><p>warm up</p></body></html>", "http://127.0.0.1/")


def ready() -> bool:
    """A no-op task: submitting it makes the pool start a worker process ahead of need."""
    return True


def pid() -> int:
    """This worker's process id (the pipeline's supervision asks it)."""
    return os.getpid()


def extract_job(
    body: bytes,
    url: str,
    content_type: str,
    default_issuer: str,
    prior_fp: str | None,
    anchor: str = "",
) -> Extracted | None:
    """``_extract`` under the worker's caps: past the time cap the verdict's problem is
    ``timeout``, past the memory cap ``memory`` (the task's garbage is freed first)."""
    try:
        if _timeout > 0:
            signal.setitimer(signal.ITIMER_REAL, _timeout)
        try:
            return _extract(body, url, content_type, default_issuer, prior_fp, anchor)
        finally:  # an alarm landing here is caught below like any other
            signal.setitimer(signal.ITIMER_REAL, 0)
    except TaskTimeout as exc:
        return _capped("timeout", str(exc), anchor)
    except MemoryError:
        gc.collect()
        cap = resource.getrlimit(resource.RLIMIT_AS)[0]
        size = "no" if cap == resource.RLIM_INFINITY else f"the {cap // MB} MB"
        return _capped("memory", f"extraction ran out of memory ({size} worker cap)", anchor)


def _capped(kind: str, detail: str, anchor: str) -> Extracted:
    return Extracted(title=anchor, problem=kind, quality="unsupported", reason=detail)


def _extract(
    body: bytes,
    url: str,
    content_type: str,
    default_issuer: str,
    prior_fp: str | None,
    anchor: str = "",
) -> Extracted | None:
    """The verdict (``crawler.extract.judge``), or None when the body fingerprint equals
    ``prior_fp``.

    A page is read once (``read_page``): its fingerprint (≈1-3 ms) says whether the
    body region changed, and only then is the full trafilatura extraction (≈25 ms) paid,
    on the same parsed tree. Files (PDF, DOCX, DOC, WPS) have no fingerprint.
    """
    from crawler.extract import judge, read_page

    if documents.is_document(url, content_type, body):
        ex = judge(body, url, content_type, anchor=anchor, issuer_hint=default_issuer)
        return with_stats(ex, body, url, content_type)
    page = read_page(body, content_type)
    if prior_fp and page.fingerprint == prior_fp:
        return None
    ex = judge(body, url, content_type, anchor=anchor, issuer_hint=default_issuer, parsed=page)
    return with_stats(ex, body, url, content_type)


def with_stats(ex: Extracted, body: bytes, url: str, content_type: str) -> Extracted:
    """``ex`` with the report's STATS.md record, read here, in parallel with the crawl, and
    not later in the store's one-writer detection. A parser failure leaves it None: the
    detection reads the record from the stored version then, and says why."""
    if ex.is_report and not ex.problem:
        from crawler.stats import parse_record

        try:
            ex.stats = parse_record(body, url, content_type, ex.text)
        except MemoryError:
            raise  # the worker's memory cap: the verdict says so
        except TaskTimeout:  # the page itself was read in time: keep its verdict
            logger.warning("Statistics of %s not read in the worker: over the time cap", url)
        except Exception as exc:  # noqa: BLE001 - the record is a cache; detection retries
            logger.warning("Statistics of %s not read in the worker: %r", url, exc)
    return ex
