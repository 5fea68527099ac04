"""Ordinary canned answers: a portal's 404 page (and soft 404), redirects, a small PDF,
static bytes with validators, robots.txt and the other routes every state has.

What a crawler must survive (challenges, block pages, broken responses) is in
``mirror.hostile``.

>>> minimal_pdf("hi")[:8]
b'%PDF-1.4'
>>> static(b"x", "text/plain").headers["ETag"]
'"11f6ad8ec52a2984"'

May import: ``mirror.model``, ``mirror.docgen``.
"""

from __future__ import annotations

import hashlib
from email.utils import formatdate

from mirror.docgen import assemble_pdf
from mirror.model import Resp, html_resp

ROBOTS = "User-agent: *\nDisallow: /private/\nDisallow: /trsnb/hidden/\n"
LAST_MODIFIED = formatdate(1614556800, usegmt=True)  # 2021-03-01, fixed


def static(body: bytes, ctype: str, last_modified: str = LAST_MODIFIED) -> Resp:
    """Fixed bytes with an ETag and a Last-Modified: conditional requests get 304."""
    etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
    return Resp(200, body, {"Content-Type": ctype, "ETag": etag, "Last-Modified": last_modified})


def not_found(status: int = 404) -> Resp:
    """A portal's 404 page; with ``status=200`` it is a soft 404."""
    return html_resp(
        status,
        '<html><head><meta charset="utf-8"><title>页面不存在</title></head><body>'
        '<div class="error"><h2>抱歉，您访问的页面不存在</h2><p>可能已被删除或移动。'
        '<a href="/">返回首页</a></p></div></body></html>',
    )


def redirect(location: str, status: int = 301) -> Resp:
    return Resp(status, b"", {"Location": location, "Content-Type": "text/html"})


def minimal_pdf(line: str) -> bytes:
    """A small valid one-page PDF showing one ASCII line (hand-built, xref offsets computed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET".encode("ascii")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return assemble_pdf(objs)


def pdf(line: str) -> Resp:
    return Resp(200, minimal_pdf(line), {"Content-Type": "application/pdf"})


def fixed_routes() -> dict[str, Resp]:
    """Routes present in every state (``/bad/`` routes: ``mirror.hostile.bad_routes``)."""
    return {
        "/robots.txt": Resp(200, ROBOTS.encode(), {"Content-Type": "text/plain"}),
        "/private/admin.html": html_resp(
            200, "<html><body>后台管理（robots.txt 不允许抓取）</body></html>"
        ),
        "/abc/def.js": Resp(200, b"/* ts */", {"Content-Type": "application/javascript"}),
        "/favicon.ico": Resp(404, b""),
    }
