"""Work done in extraction processes, off the Scrapy reactor (must stay picklable).

May import: crawler.documents, crawler.extract, crawler.items, crawler.textnorm.
"""

from __future__ import annotations

from crawler import documents, textnorm
from crawler.extract import body_fingerprint, extract_page
from crawler.items import Extracted


def warm_up() -> None:
    """Import and initialise the heavy parts once per worker process."""
    extract_page(b"<html><body><p>warm up</p></body></html>", "http://127.0.0.1/")


def ready() -> bool:
    """A no-op task: submitting it makes the pool start a worker process ahead of need."""
    return True


def extract_job(
    body: bytes,
    url: str,
    content_type: str,
    default_issuer: str,
    prior_fp: str | None,
    anchor: str = "",
) -> Extracted | None:
    """Full extraction, or None when the body fingerprint equals ``prior_fp``.

    Files (PDF, DOCX, DOC, WPS) go to ``crawler.documents``; pages to ``extract_page``.
    The fingerprint (≈1-3 ms) says whether a page's body region changed; only then is
    the full trafilatura extraction (≈25 ms) paid.
    """
    if documents.is_document(url, content_type, body):
        return documents.extract_document(body, url, content_type, anchor, default_issuer)
    if prior_fp:
        fp = body_fingerprint(body, content_type)
        if fp and fp == prior_fp:
            return None
    ex = extract_page(body, url, content_type=content_type, default_issuer=default_issuer)
    return settle_page(ex, *documents.body_stats(body, content_type))


def settle_page(ex: Extracted, body_chars: int, body_images: int) -> Extracted:
    """Decide what a page whose body container holds little text is.

    trafilatura falls back to the page chrome when the body is nearly empty, so the
    container's own size (``documents.body_stats``) decides. With attachments the page
    is a cover: the report is in the files (fetched and versioned on their own), so the
    page is not a report. With images and no attachments it is an image-only report: it
    keeps its title line as text (never an empty report, so never an edit from or to
    nothing).
    """
    if ex.problem or body_chars >= documents.COVER_CHARS:
        return ex
    if ex.attachments:
        ex.is_report, ex.quality = False, "ok"
        ex.reason = f"cover page: the report is in its attachment(s) ({len(ex.attachments)})"
    elif body_images:
        ex.quality, ex.text = "image-only", textnorm.normalise(ex.title)
        ex.text_sha = textnorm.content_hash(ex.text)
    return ex
