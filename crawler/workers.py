"""Work done in extraction processes, off the Scrapy reactor (must stay picklable).

May import: crawler.extract, crawler.items.
"""

from __future__ import annotations

from crawler.extract import body_fingerprint, extract_page
from crawler.items import Extracted


def warm_up() -> None:
    """Import and initialise the heavy parts once per worker process."""
    extract_page(b"<html><body><p>warm up</p></body></html>", "http://127.0.0.1/")


def extract_job(body: bytes, url: str, content_type: str, default_issuer: str,
                prior_fp: str | None) -> Extracted | None:
    """Full extraction, or None when the body fingerprint equals ``prior_fp``.

    The fingerprint (≈1-3 ms) says whether the page's body region changed; only then
    is the full trafilatura extraction (≈25 ms) paid.
    """
    if prior_fp:
        fp = body_fingerprint(body, content_type)
        if fp and fp == prior_fp:
            return None
    return extract_page(body, url, content_type=content_type, default_issuer=default_issuer)
