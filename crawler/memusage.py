"""Scrapy's memory limit, judged on this process's own memory.

Scrapy's ``MemoryUsage`` reads ``ru_maxrss``, the peak resident size, and on Linux a new
process inherits its parent's peak across fork and exec: a crawl process started by a
daemon (or a CLI) that once held 2 GB believes at once that it is over a 1.5 GB
``MEMUSAGE_LIMIT_MB`` and closes with ``memusage_exceeded`` before its first request
(seen after judging a 100,000-page crawl). ``OwnMemoryUsage`` reads the resident size
now (``/proc/self/statm``) instead, and keeps Scrapy's peak elsewhere.

May import: scrapy.
"""

from __future__ import annotations

import os
from pathlib import Path

from scrapy.extensions.memusage import MemoryUsage

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_STATM = Path("/proc/self/statm")


def resident_bytes() -> int | None:
    """This process's resident size now, in bytes; None where /proc is not there.

    >>> resident_bytes() is None or resident_bytes() > 1024 * 1024
    True
    """
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


class OwnMemoryUsage(MemoryUsage):
    """``MemoryUsage`` on the resident size now, not the peak inherited from the parent."""

    def get_virtual_size(self) -> int:
        now = resident_bytes()
        return super().get_virtual_size() if now is None else now
