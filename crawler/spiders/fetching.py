"""Small pure helpers of the portal spider: URL canonical form, answer and failure kinds.

May import: crawler.heuristics, scrapy (types only).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler import heuristics

PAGER_TEXT = re.compile(r"^(下一?页|后页|尾页|末页|下页|>|>>|»|›|\d{1,3})$")
PAGER_HREF = re.compile(
    r"(index|list|default)_\d+\.s?html?$|[?&](page|pageNo|pageIndex|p)=\d+", re.IGNORECASE
)
# A numbered list page: ".../index_12.html" or "...?page=12" (the number in group "n").
NUMBERED_PAGE = re.compile(
    r"^(?P<head>.*(?:index|list|default)_)(?P<n>\d+)(?P<tail>\.s?html?)$"
    r"|^(?P<qhead>.*[?&](?:page|pageNo|pageIndex|p)=)(?P<qn>\d+)(?P<qtail>(?:&.*)?)$",
    re.IGNORECASE,
)


def page_range(urls: list[str], limit: int) -> list[str]:
    """All numbered list pages up to the highest one linked (the 尾页 link), so a long list
    is fetched in parallel instead of one 下一页 hop at a time. Only when every numbered
    link shares one pattern and the highest number is at most ``limit``.

    >>> page_range(["http://x/col/index_2.html", "http://x/col/index_5.html"], 60)[-2:]
    ['http://x/col/index_4.html', 'http://x/col/index_5.html']
    >>> len(page_range(["http://x/l?page=2&c=1", "http://x/l?page=40&c=1"], 60))
    40
    >>> page_range(["http://x/a/index_2.html", "http://x/b/index_9.html"], 60)
    []
    """
    shapes, top = set(), 0
    for url in urls:
        m = NUMBERED_PAGE.match(url)
        if not m:
            continue
        if m.group("n") is not None:
            shapes.add((m.group("head"), m.group("tail")))
            top = max(top, int(m.group("n")))
        else:
            shapes.add((m.group("qhead"), m.group("qtail")))
            top = max(top, int(m.group("qn")))
    if len(shapes) != 1 or not 1 < top <= limit:
        return []
    head, tail = shapes.pop()
    return [f"{head}{n}{tail}" for n in range(1, top + 1)]


COLUMN_TEXT = re.compile(r"(年报|年度报告)")
ARTICLE_HREF = re.compile(
    r"/art/\d{4}/|/art_[0-9a-f]+\.html|/t\d{8}_\d+\.s?html?$|/content/[0-9a-f-]{16,}"
)
RENDERING_TEXT = re.compile(r"^(繁體|繁体|繁體版|繁体版|big5)$", re.IGNORECASE)
SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "#", "data:")
VOLATILE_PARAMS = re.compile(
    r"^(t|ts|_|timestamp|time|rand|random|r|nocache|v|token|sid|jsessionid)$", re.IGNORECASE
)
HTML_TYPES = ("text/html", "application/xhtml")
EXCEPTION_KINDS = {
    "DownloadConnectionRefusedError": "refused",
    "ConnectionRefusedError": "refused",
    "CannotResolveHostError": "dns",
    "DNSLookupError": "dns",
    "DownloadTimeoutError": "timeout",
    "TimeoutError": "timeout",
    "TCPTimedOutError": "timeout",
    "DownloadCancelledError": "oversize",
    "ResponseDataLossError": "truncated",
    "ResponseFailed": "truncated",
    "ResponseNeverReceived": "refused",
    "ConnectionLost": "truncated",
    "IgnoreRequest": "robots",
    "ChallengeSkipped": "challenge",
    "OffSite": "off_site",
    "HostDown": "host_down",
}
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``url``, the port made explicit.

    >>> origin("http://127.0.0.1:8000/a"), origin("HTTPS://Www.Gov.cn/")
    (('http', '127.0.0.1', 8000), ('https', 'www.gov.cn', 443))
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1  # no such port: matches no portal
    return scheme, parts.hostname or "", port or DEFAULT_PORTS.get(scheme, 0)


def same_site(a: tuple[str, str, int], b: tuple[str, str, int]) -> bool:
    """Two origins of one site: equal, or the same host on the default ports of http and
    https (portals upgrade http to https, and link both).

    >>> same_site(("http", "h", 80), ("https", "h", 443)), same_site(("http", "h", 80), ("http", "h", 8080))
    (True, False)
    """
    if a == b:
        return True
    defaults = {(s, p) for s, p in DEFAULT_PORTS.items()}
    return a[1] == b[1] and (a[0], a[2]) in defaults and (b[0], b[2]) in defaults


def in_origin(
    url: str,
    start_urls: tuple[str, ...] | list[str],
    domains: tuple[str, ...],
    allow: tuple[str, ...] | list[str] = (),
) -> bool:
    """True when ``url`` belongs to a portal: a portal is the scheme, host and port of its
    start pages unless its seed says otherwise. ``allow`` prefixes, when given, are the
    portal (same origin and path prefix). Else the host must be one of ``domains`` (or
    below one); on a start page's host the port must be that page's, and on other hosts
    (the seed's ``allowed_domains``) the scheme's default port.

    >>> starts = ("http://127.0.0.1:8000/nb/",)
    >>> in_origin("http://127.0.0.1:8000/x.html", starts, ("127.0.0.1",))
    True
    >>> in_origin("http://127.0.0.1:8001/x.html", starts, ("127.0.0.1",))
    False
    >>> in_origin("http://127.0.0.1:8000/other/", starts, ("127.0.0.1",), ("http://127.0.0.1:8000/nb/",))
    False
    >>> in_origin("http://127.0.0.1:80001/nb/x", starts, ("127.0.0.1",), ("http://127.0.0.1:8000",))
    False
    >>> in_origin("https://sub.js.gov.cn/a", ("http://www.js.gov.cn/",), ("js.gov.cn",))
    True
    """
    where = origin(url)
    if allow:
        path = urlsplit(url).path or "/"
        return any(
            where == origin(prefix) and path.startswith(urlsplit(prefix).path) for prefix in allow
        )
    host = where[1]
    if not any(host == d or host.endswith("." + d) for d in (d.lower() for d in domains)):
        return False
    starts = [origin(u) for u in start_urls]
    if any(start[1] == host for start in starts):
        return any(same_site(where, start) for start in starts)
    return where[2] == DEFAULT_PORTS.get(where[0])


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_kind(status: int, body: bytes) -> str:
    """Name an HTTP error answer: challenge bodies first, then by status code.

    >>> status_kind(404, b""), status_kind(500, b""), status_kind(412, b"<script>$_ts=window['$_ts'];</script>")
    ('not_found', 'http_error', 'challenge')
    """
    found = heuristics.is_challenge_body(body)
    if found:
        return found
    if status in (404, 410):
        return "not_found"
    if status in (412, 521, 512):
        return "challenge"
    return "http_error"


def canonical_url(url: str) -> str:
    """Drop the fragment and volatile query parameters (cache-busters, session ids), so
    one report keeps one address across crawls.

    >>> canonical_url("http://x.gov.cn/art/1.html?t=1700000000&id=5#top")
    'http://x.gov.cn/art/1.html?id=5'
    >>> canonical_url("http://x.gov.cn/a.html;jsessionid=ABC?_=123")
    'http://x.gov.cn/a.html'
    """
    parts = urlsplit(url.split("#")[0])
    path = parts.path.split(";jsessionid=")[0]
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair and not VOLATILE_PARAMS.match(pair.split("=")[0])
    )
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def content_type(response: Response) -> str:
    return (
        (response.headers.get("Content-Type") or b"")
        .decode("latin-1")
        .split(";")[0]
        .strip()
        .lower()
    )


def is_html(response: Response) -> bool:
    ctype = content_type(response)
    if ctype:
        return ctype.startswith(HTML_TYPES)
    return response.body.lstrip()[:1] == b"<"


def response_text(response: Response) -> str:
    """Decoded text of any answer (HTML, XML, JSON); "" for undecodable bytes."""
    text = getattr(response, "text", None)
    if isinstance(text, str):
        return text
    return response.body.decode("utf-8", "replace")


def failure_kind(failure: Failure) -> tuple[int, str]:
    """(HTTP status or 0, problem kind) of a failed request."""
    if failure.check(HttpError):
        response = failure.value.response
        return response.status, status_kind(response.status, response.body)
    name = type(failure.value).__name__
    if name == "IgnoreRequest" and "robots" not in failure.getErrorMessage().lower():
        return 0, "ignored"
    return 0, EXCEPTION_KINDS.get(name, "error")
