"""Hostile answers: what a crawler must survive without storing it as a report.

Anti-bot challenges (瑞数 412 stubs, 加速乐 521 cookie scripts, a cookie-setting reload),
WAF block pages, maintenance and outage pages, and the ``/bad/`` routes, each of which
misbehaves in one named way (500, oversize, binary, truncated, mojibake, empty, login).
Bodies imitate what real portals send, so the crawler's detectors meet realistic input.

The ``/hostile/`` routes are built to hurt the crawler itself: a DOCX zip bomb (600 MB
of XML in a few MB), a PDF of 2,000 pages, a PDF whose one stream inflates to 200 MB, a
report title carrying terminal escapes and control characters, and links, a 302 and a
meta refresh to another origin. ``/hostile/index.html?other=http://127.0.0.1:PORT``
lists them all (``other``: the other origin; without it, the other port is 1).

>>> challenge_412().status, jsl_521().status
(412, 521)
>>> sorted(bad_routes())[:3]
['/bad/500', '/bad/binary', '/bad/empty']

May import: ``mirror.model``, ``mirror.answers``, ``mirror.docgen``.
"""

from __future__ import annotations

import functools
import io
import secrets
import zipfile
import zlib
from collections.abc import Callable
from html import escape
from urllib.parse import quote

from mirror import docgen
from mirror.answers import redirect
from mirror.model import Resp, html_resp


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


def unavailable() -> Resp:
    return Resp(
        503,
        b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
        {"Content-Type": "text/html", "Retry-After": "120"},
    )


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
        **hostile_routes(),
        "/bad/login.html": html_resp(
            200,
            '<html><head><meta charset="utf-8"><title>用户登录</title></head><body>'
            '<form method="post" action="/bad/dologin"><input name="username">'
            '<input type="password" name="password"><button>登录</button></form>'
            "</body></html>",
        ),
    }


# ---- /hostile/: inputs that attack the crawler's resources, terminals and origin --------

HOSTILE_TITLE = "某县2023年政府信息公开工作年度报告\x1b]0;owned\x07\x01\x1b[31m"
HOSTILE_TITLE_CLEAN = "某县2023年政府信息公开工作年度报告"
REPORT_PARAGRAPHS = [
    "一、总体情况",
    "2023年，某县人民政府认真贯彻落实《中华人民共和国政府信息公开条例》，"
    "坚持以公开为常态、不公开为例外，全面推进决策、执行、管理、服务、结果公开。",
    "二、主动公开政府信息情况",
    "全年主动公开政府信息1234条，其中规章0件，规范性文件12件，行政许可事项56项。",
    "三、收到和处理政府信息公开申请情况",
    "全年共收到政府信息公开申请89件，均已按期答复，答复率100%。",
    "四、政府信息公开行政复议、行政诉讼情况",
    "全年未发生因政府信息公开引起的行政复议和行政诉讼。",
    "五、存在的主要问题及改进情况",
    "政府信息公开的及时性和规范性仍需加强，下一步将加强培训、完善制度。",
]
OFF_TARGET = "/hostile/elsewhere.html"  # the page the other origin would serve


def _report_page(title: str, extra_head: str = "") -> bytes:
    body = "".join(f"<p>{escape(p)}</p>" for p in REPORT_PARAGRAPHS)
    return (
        f'<html><head><meta charset="utf-8"><title>{title}</title>{extra_head}</head>'
        f'<body><h1>{title}</h1><div id="zoom">{body}</div></body></html>'
    ).encode()


@functools.cache
def zip_bomb(xml_mb: int = 600) -> bytes:
    """A DOCX whose ``word/document.xml`` unpacks to ``xml_mb`` MB (a few MB packed)."""
    base = docgen.docx(["某县2023年政府信息公开工作年度报告"], title=HOSTILE_TITLE_CLEAN)
    row = ("<w:p><w:r><w:t>" + "政府信息公开工作年度报告" * 20 + "</w:t></w:r></w:p>").encode()
    chunk = row * (1024 * 1024 // len(row) + 1)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != "word/document.xml":
                dst.writestr(info, src.read(info.filename))
                continue
            head, _, tail = src.read(info.filename).partition(b"<w:body>")
            big = zipfile.ZipInfo("word/document.xml", info.date_time)
            big.compress_type = zipfile.ZIP_DEFLATED
            big._compresslevel = 1
            with dst.open(big, "w", force_zip64=True) as member:
                member.write(head + b"<w:body>")
                for _ in range(xml_mb):
                    member.write(chunk)
                member.write(tail)
    return out.getvalue()


@functools.cache
def many_pages_pdf(pages: int = 2000) -> bytes:
    """A valid PDF of ``pages`` image pages (each page small: the count is the attack)."""
    return docgen.image_pdf(pages=pages, title=HOSTILE_TITLE_CLEAN)


@functools.cache
def stream_bomb_pdf(inflated_mb: int = 200) -> bytes:
    """A one-page PDF whose content stream inflates to ``inflated_mb`` MB."""
    packer = zlib.compressobj(1)
    line = b"BT /F1 12 Tf 72 720 Td (nianbao) Tj ET\n" * 1024
    chunk = line * (1024 * 1024 // len(line))
    packed = b"".join(packer.compress(chunk) for _ in range(inflated_mb)) + packer.flush()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(packed), packed),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return docgen.assemble_pdf(objs, HOSTILE_TITLE_CLEAN)


def hostile_routes() -> dict[str, Resp]:
    """The fixed ``/hostile/`` answers (bombs are built on first request, then cached)."""
    return {
        "/hostile/title.html": html_resp(200, _report_page(HOSTILE_TITLE).decode()),
        OFF_TARGET: html_resp(
            200, _report_page("某县2022年政府信息公开工作年度报告（他处）").decode()
        ),
        "/hostile/zipbomb.docx": Resp(
            200,
            lambda: zip_bomb(),
            {
                "Content-Type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            },
        ),
        "/hostile/pages.pdf": Resp(
            200, lambda: many_pages_pdf(), {"Content-Type": "application/pdf"}
        ),
        "/hostile/bomb.pdf": Resp(
            200, lambda: stream_bomb_pdf(), {"Content-Type": "application/pdf"}
        ),
    }


HOSTILE_LINKS = {
    "/hostile/title.html": "某县2023年政府信息公开工作年度报告（标题）",
    "/hostile/zipbomb.docx": "某县2023年政府信息公开工作年度报告（压缩炸弹）.docx",
    "/hostile/pages.pdf": "某县2023年政府信息公开工作年度报告（页数）.pdf",
    "/hostile/bomb.pdf": "某县2023年政府信息公开工作年度报告（数据流）.pdf",
}


def _other(params: dict[str, list[str]]) -> str:
    return (params.get("other") or ["http://127.0.0.1:1"])[0].rstrip("/")


def _to(other: str, via: str) -> str:
    """``?to=`` the other origin's page (one address per way out: none is a duplicate)."""
    return "?to=" + quote(f"{other}{OFF_TARGET}?via={via}", safe="")


def _index(method: str, params: dict, form: dict) -> Resp:
    other = _other(params)
    links = dict(HOSTILE_LINKS) | {
        other + OFF_TARGET: "某县2022年政府信息公开工作年度报告（他端口链接）",
        "/hostile/redirect.html" + _to(other, "302"): "某县2022年政府信息公开工作年度报告（跳转）",
        "/hostile/refresh.html"
        + _to(other, "refresh"): "某县2022年政府信息公开工作年度报告（刷新）",
    }
    items = "".join(f'<li><a href="{escape(h)}">{t}</a></li>' for h, t in links.items())
    return html_resp(
        200,
        '<html><head><meta charset="utf-8"><title>政府信息公开年报</title></head>'
        f"<body><ul>{items}</ul></body></html>",
    )


def _redirect(method: str, params: dict, form: dict) -> Resp:
    return redirect((params.get("to") or ["/"])[0], 302)


def _refresh(method: str, params: dict, form: dict) -> Resp:
    target = escape((params.get("to") or ["/"])[0])
    head = f'<meta http-equiv="refresh" content="0; url={target}">'
    return html_resp(200, _report_page("某县2022年政府信息公开工作年度报告（刷新）", head).decode())


def hostile_dynamic() -> dict[str, Callable[[str, dict, dict], Resp]]:
    """The ``/hostile/`` answers that depend on the query (``other``, ``to``)."""
    return {
        "/hostile/index.html": _index,
        "/hostile/redirect.html": _redirect,
        "/hostile/refresh.html": _refresh,
    }
