"""Canned answers: anti-bot challenges, block and error pages, robots.txt, a PDF, /bad/ routes.

Bodies imitate what real portals send (瑞数 412 stubs, 加速乐 521 cookie scripts, WAF
block pages, soft 404s) so the crawler's detectors meet realistic input.

>>> minimal_pdf("hi")[:8]
b'%PDF-1.4'
>>> challenge_412().status, jsl_521().status
(412, 521)
"""

from __future__ import annotations

import secrets

from mirror.docgen import assemble_pdf
from mirror.model import Resp, html_resp

ROBOTS = "User-agent: *\nDisallow: /private/\nDisallow: /trsnb/hidden/\n"


def challenge_412() -> Resp:
    """瑞数 (Rivers Security) first answer: 412, meta r='m', $_ts script, external js."""

    def body() -> bytes:
        cd = secrets.token_urlsafe(96)
        return (
            f'<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            f'<meta id="9DhefwqGPrzGxEp9hPaoag" content="{secrets.token_urlsafe(64)}" r=\'m\'>'
            f"<script type=\"text/javascript\" r='m'>$_ts=window['$_ts'];if(!$_ts)$_ts={{}};"
            f'$_ts.nsd=84163;$_ts.cd="{cd}";</script>'
            '<script type="text/javascript" charset="utf-8" src="/abc/def.js" r=\'m\'></script>'
            "</head><body></body></html>"
        ).encode()

    return Resp(
        412,
        body,
        {
            "Content-Type": "text/html; charset=utf-8",
            "Set-Cookie": f"NfBCSins2OywO={secrets.token_hex(16)}; Path=/; HttpOnly",
        },
    )


def cookie_reload() -> Resp:
    """A 200 ts-stub: tiny page that sets a cookie and reloads itself."""
    return Resp(
        200,
        lambda: (
            '<html><head><meta charset="utf-8"></head><body><script>'
            f'document.cookie="NfBCSins2OywT={secrets.token_hex(24)}; path=/";'
            "location.reload();</script></body></html>"
        ).encode(),
        {"Content-Type": "text/html; charset=utf-8"},
    )


def jsl_521() -> Resp:
    """加速乐 first round: 521 with a ``document.cookie=('__jsluid_s=...')`` script."""
    return Resp(
        521,
        lambda: (
            "<html><body><script>document.cookie=('__jsluid_s="
            + secrets.token_hex(16)
            + "; max-age=3600; path=/');location.href=location.pathname+location.search</script></body></html>"
        ).encode(),
        {"Content-Type": "text/html"},
    )


def maintenance() -> Resp:
    return html_resp(
        200,
        '<html><head><meta charset="utf-8"><title>系统维护</title></head><body>'
        '<div class="wh"><h2>系统维护中</h2><p>尊敬的用户：网站正在进行系统维护升级，'
        "给您带来的不便敬请谅解。</p></div></body></html>",
    )


def waf(status: int) -> Resp:
    return html_resp(
        status,
        '<html><head><meta charset="utf-8"><title>访问被拦截</title></head><body>'
        "<h1>网站防火墙</h1><p>您的访问请求可能对网站造成安全威胁，请求已被拦截。</p>"
        f"<p>事件ID：{secrets.token_hex(6)}</p></body></html>",
    )


def not_found(status: int = 404) -> Resp:
    """A portal's 404 page; with ``status=200`` it is a soft 404."""
    return html_resp(
        status,
        '<html><head><meta charset="utf-8"><title>页面不存在</title></head><body>'
        '<div class="error"><h2>抱歉，您访问的页面不存在</h2><p>可能已被删除或移动。'
        '<a href="/">返回首页</a></p></div></body></html>',
    )


def unavailable() -> Resp:
    return Resp(
        503,
        b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
        {"Content-Type": "text/html", "Retry-After": "120"},
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


BAD_TITLES = {
    "500": "服务器错误",
    "oversize": "超大页面",
    "binary": "二进制内容",
    "truncated": "截断的响应",
    "mojibake": "编码错误",
    "empty": "空页面",
    "login": "需要登录",
}


def _oversize() -> bytes:
    row = "<p>" + "政府信息公开工作年度报告超大页面填充内容。" * 20 + "</p>\n"
    head = '<html><head><meta charset="utf-8"><title>某县2020年政府信息公开工作年度报告</title></head><body>'
    return (head + row * (3 * 1024 * 1024 // len(row.encode()) + 1) + "</body></html>").encode()


def bad_routes() -> dict[str, Resp]:
    """``/bad/*``: each route misbehaves in one named way."""
    mojibake = (
        '<html><head><meta charset="utf-8"><title>某县2020年政府信息公开工作年度报告</title></head>'
        "<body><p>本报告由某县人民政府办公室编制。</p></body></html>"
    ).encode("gbk")
    listing = "".join(
        f'<li><a href="/bad/{k}">某县2020年政府信息公开工作年度报告（{v}）</a></li>'
        for k, v in BAD_TITLES.items()
    )
    return {
        "/bad/index.html": html_resp(
            200,
            f'<html><head><meta charset="utf-8"><title>政府信息公开年报</title>'
            f"</head><body><ul>{listing}</ul></body></html>",
        ),
        "/bad/500": html_resp(500, "<html><body><h1>500 Internal Server Error</h1></body></html>"),
        "/bad/oversize": Resp(200, _oversize(), {"Content-Type": "text/html; charset=utf-8"}),
        "/bad/binary": Resp(
            200, bytes(range(256)) * 64, {"Content-Type": "application/octet-stream"}
        ),
        "/bad/truncated": Resp(
            200,
            b"<html><body><p>" + "截断".encode() * 100,
            {"Content-Type": "text/html; charset=utf-8"},
            action="truncate",
        ),
        "/bad/mojibake": Resp(200, mojibake, {"Content-Type": "text/html; charset=utf-8"}),
        "/bad/empty": Resp(200, b"", {"Content-Type": "text/html; charset=utf-8"}),
        "/bad/login": redirect("/bad/login.html?returnUrl=%2Fbad%2Flogin", 302),
        "/bad/login.html": html_resp(
            200,
            '<html><head><meta charset="utf-8"><title>用户登录</title></head><body>'
            '<form method="post" action="/bad/dologin"><input name="username">'
            '<input type="password" name="password"><button>登录</button></form>'
            "</body></html>",
        ),
    }


def fixed_routes() -> dict[str, Resp]:
    """Routes present in every state."""
    return {
        "/robots.txt": Resp(200, ROBOTS.encode(), {"Content-Type": "text/plain"}),
        "/private/admin.html": html_resp(
            200, "<html><body>后台管理（robots.txt 不允许抓取）</body></html>"
        ),
        "/abc/def.js": Resp(200, b"/* ts */", {"Content-Type": "application/javascript"}),
        "/favicon.ico": Resp(404, b""),
        **bad_routes(),
    }
