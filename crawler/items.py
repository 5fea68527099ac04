"""The schema the spider yields and ``monitor.store.Store.ingest`` accepts.

A leaf module: stdlib only. Three kinds of item leave the crawler:

* ``PageItem``: a fetched report candidate (HTML page or attachment), with its raw
  bytes and, once the extract pipeline has run, an ``Extracted`` result.
* ``ListingItem``: a list (column) page that was read, with the report links on it;
  the store uses it to judge portal health and whether a report is still listed.
* ``FetchProblem``: a fetch that failed or returned something that is not content
  (HTTP error, challenge, WAF, maintenance, soft 404, oversize, ...).

And the close reasons of a crawl that could not go on, which its caller reads back as
the stats' ``finish_reason`` (named once, here, for crawler/ and monitor/ both).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# the disk under the database (monitor.store.pipeline) or the job dir is full
DISK_FULL = "disk_full"
# the job dir's queue cannot be read back or written (crawler.scheduling)
QUEUE_DAMAGED = "queue_damaged"


@dataclass
class Extracted:
    """What extraction saw in one page or attachment.

    Fields:
        title: the report title (from <meta ArticleTitle>, <title> or the heading).
        issuer: the issuing body (from the title, metadata, or the portal's name).
        year: the year the report covers (not the publication year), or None.
        published: the publication date as ``YYYY-MM-DD`` (or ISO datetime), or None.
        is_report: whether this is an annual information-disclosure report.
        reason: why ``is_report`` is what it is, in a few words.
        text: normalised text (simplified, half-width, furniture removed), one
            paragraph or table row per line. This is what is hashed and diffed.
        text_sha: sha256 hex of ``text``.
        body_fp: cheap fingerprint of the page's body region (see
            ``crawler.extract.body_fingerprint``); equal fingerprints mean the body
            did not change, so full extraction can be skipped.
        quality: "ok", "thin" (almost no text), "image-only", "unsupported".
        problem: None for content, else the kind of non-content page detected
            from the text ("soft404", "maintenance", "challenge", "waf",
            "mojibake", "empty").
        attachments: absolute URLs of PDF/DOC/DOCX/WPS attachments linked from the body.
        stats: the report's STATS.md record (``crawler.stats.parse_record`` of the body and
            ``text``), read by the extraction worker while it holds the page; None when
            not read (the store's detection reads it then, from the stored version).
    """

    title: str = ""
    issuer: str = ""
    year: int | None = None
    published: str | None = None
    is_report: bool = False
    reason: str = ""
    text: str = field(default="", repr=False)  # a log line names the item, not its text
    text_sha: str = ""
    body_fp: str = ""
    quality: str = "ok"
    problem: str | None = None
    attachments: list[str] = field(default_factory=list)
    stats: dict | None = field(default=None, repr=False)


@dataclass
class PageItem:
    """A fetched page or attachment that may be a report.

    ``unchanged`` is set by the extract pipeline when the raw bytes (or the body
    fingerprint, or an HTTP 304) show nothing changed since the last good fetch;
    then ``extracted`` is None and the store only records that the URL was seen.
    """

    portal_id: str
    url: str
    status: int
    fetched_at: str
    body: bytes = field(default=b"", repr=False)  # Scrapy logs an item that fails whole
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = ""
    raw_sha: str = ""
    listed_on: str | None = None
    anchor: str = ""
    issuer_hint: str = ""
    parent_url: str | None = None
    rendering_of: str | None = None
    unchanged: bool = False
    extracted: Extracted | None = None


@dataclass
class ListingItem:
    """A list page that was fetched and read (``ok``) or could not be (``not ok``).

    ``adapter`` names the list adapter that read it (``crawler.adapters``); ``anchors``
    are the link texts of ``report_links``, in the same order.
    """

    portal_id: str
    url: str
    ok: bool
    report_links: list[str] = field(default_factory=list)
    status: int = 0
    detail: str = ""
    adapter: str = ""
    anchors: list[str] = field(default_factory=list)


@dataclass
class FetchProblem:
    """A fetch that yielded no content: recorded on the crawl run, never a version.

    ``kind`` is one of: http_error, not_found, challenge, waf, maintenance, soft404,
    login, captcha, empty, oversize, non_html, truncated, mojibake, thin, timeout, refused,
    dns, robots, host_down (a host given up on for this crawl, ``crawler.hosts``), off_site,
    zip_bomb, too_many_pages, worker_died, error.
    """

    portal_id: str
    url: str
    kind: str
    status: int = 0
    detail: str = ""
    listed_on: str | None = None
    is_listing: bool = False


Item = PageItem | ListingItem | FetchProblem
