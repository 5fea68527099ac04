"""Pure predicates about titles, URLs and page bodies, with doctests.

A leaf module: stdlib and ``crawler.textnorm`` only. Nothing here fetches,
parses HTML or logs; every function takes strings (or bytes) and returns a
value, so spiders, middlewares and extraction can share them.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from crawler.textnorm import to_halfwidth, to_simplified

_REPORT_SUBJECT = re.compile(r"政府信息公开|政务公开|信息公开")
_REPORT_KIND = re.compile(r"年度报告|年报|工作报告|工作情况报告")
_NOT_REPORT = re.compile(
    r"通知|通告|要点|实施方案|工作方案|安排|意见|办法|印发|格式|模板|模版|解读|图解|说明"
)
_CN_DIGITS = str.maketrans("〇零○Ｏ一二三四五六七八九", "0000123456789")
_CN_YEAR = re.compile(r"[〇零○Ｏ一二三四五六七八九]{4}(?=\s*年)")
_YEAR = re.compile(r"((?:19|20)\d{2})\s*(?=年|政府|政务|信息)")
_ISSUER_END = re.compile(
    r"\s*(?:关于)?\s*[(《]?\s*(?:(?:19|20)\d{2}\s*年度?|政府信息公开|政务公开|信息公开)"
)
_SECTIONS = (
    re.compile(r"一\s*[、.]\s*总体情况"),
    re.compile(r"二\s*[、.]\s*主动公开政府信息"),
    re.compile(r"三\s*[、.]\s*收到和处理政府信息公开申请"),
    re.compile(r"四\s*[、.]\s*(?:政府信息公开)?(?:行政复议|因政府信息公开)"),
    re.compile(r"五\s*[、.]\s*(?:政府信息公开工作)?存在的(?:主要)?问题"),
    re.compile(r"六\s*[、.]\s*其他需要报告的事项"),
)
# The one list of attachment (report file) extensions: links, URL sniffing, page hints.
ATTACHMENT_EXTS = ("pdf", "docx", "doc", "wps", "ofd", "xlsx", "xls")
ATTACHMENT_EXT = re.compile(rf"\.({'|'.join(ATTACHMENT_EXTS)})$", re.IGNORECASE)
ATTACHMENT_HINT = re.compile(rf"\.(?:{'|'.join(ATTACHMENT_EXTS)})\b", re.IGNORECASE)

_PROBLEMS = (
    (
        "waf",
        re.compile(
            r"web应用防火墙|WAF|访问被拦截|请求被拦截|您的访问请求可能对网站造成安全威胁"
            r"|安全狗|云锁|网站防火墙|非法请求|访问被阻断",
            re.IGNORECASE,
        ),
    ),
    ("maintenance", re.compile(r"系统维护|网站维护|维护中|系统升级|升级维护|暂停服务")),
    (
        "soft404",
        re.compile(
            r"页面不存在|您访问的页面不存在|404 Not Found|页面已删除|信息已删除"
            r"|找不到|页面未找到|Page Not Found|文章不存在|信息不存在",
            re.IGNORECASE,
        ),
    ),
    ("login", re.compile(r"请登录|请先登录|用户登录|登录后访问|统一身份认证")),
    (
        "captcha",
        re.compile(
            r"请输入验证码|输入验证码|验证码错误|滑动验证|拖动滑块|人机验证|安全验证|captcha",
            re.IGNORECASE,
        ),
    ),
)
_CHALLENGE = re.compile(r"\$_ts\s*=\s*window\[['\"]\$_ts['\"]\]|__jsluid|__jsl_clearance")
_COOKIE_RELOAD = re.compile(r"document\.cookie\s*=.*?(?:location|reload)", re.DOTALL)
_SHORT = 1500

_RAW_CHALLENGE = (b"$_ts=window['$_ts']", b'$_ts=window["$_ts"]', b"__jsluid", b"__jsl_clearance")
_RAW_WAF = tuple(
    word.encode(enc)
    for word in (
        "安全狗",
        "云锁",
        "web应用防火墙",
        "您的访问请求可能对网站造成安全威胁",
        "访问被拦截",
    )
    for enc in ("utf-8", "gb18030")
)


def _clean(s: str) -> str:
    return to_halfwidth(to_simplified(s or "")).strip()


def _arabic_years(t: str) -> str:
    """二〇二〇年 → 2020年."""
    return _CN_YEAR.sub(lambda m: m.group(0).translate(_CN_DIGITS), t)


def is_report_title(title: str) -> bool:
    """True if ``title`` names an information-disclosure annual report.

    >>> is_report_title("启东市人民政府2020年政府信息公开工作年度报告")
    True
    >>> is_report_title("江蘇省2020年政府信息公開工作年度報告")
    True
    >>> is_report_title("2023年度政务公开工作年度报告")
    True
    >>> is_report_title("省政府办公厅关于做好2020年政府信息公开工作年度报告编制工作的通知")
    False
    >>> is_report_title("2020年政府工作报告")
    False
    """
    t = _clean(title)
    return bool(_REPORT_SUBJECT.search(t) and _REPORT_KIND.search(t) and not _NOT_REPORT.search(t))


def report_year(title: str) -> int | None:
    """The year a report covers, read from its title (not its publication date).

    >>> report_year("江苏省政务服务管理办公室2016年政府信息公开工作年度报告")
    2016
    >>> report_year("平潭综合实验区２０２３年度政府信息公开工作年度报告")
    2023
    >>> report_year("二〇二〇年政府信息公开工作年度报告")
    2020
    >>> report_year("政府信息公开工作年度报告") is None
    True
    """
    t = _arabic_years(_clean(title))
    m = _YEAR.search(t)
    return int(m.group(1)) if m else None


def issuer_from_title(title: str) -> str | None:
    """The issuing body named before the year in a report title (simplified), or None.

    Only report titles are read (``is_report_title``); a notice's title yields None.

    >>> issuer_from_title("启东市人民政府2020年政府信息公开工作年度报告")
    '启东市人民政府'
    >>> issuer_from_title("江蘇省2020年政府信息公開工作年度報告")
    '江苏省'
    >>> issuer_from_title("2020年政府信息公开工作年度报告") is None
    True
    """
    t = _arabic_years(_clean(title))
    if not is_report_title(t):
        return None
    m = _ISSUER_END.search(t)
    issuer = (t[: m.start()] if m else "").strip(" 《(:-_")
    return issuer or None


def count_sections(text: str) -> int:
    """How many of the six standard report section headings (2019/2021 formats) occur.

    >>> count_sections("一、总体情况\\n二、主动公开政府信息情况\\n六、其他需要报告的事项")
    3
    """
    t = _clean(text)
    return sum(1 for pattern in _SECTIONS if pattern.search(t))


def classify_report(title: str, text: str) -> tuple[bool, str]:
    """Decide from title and body whether a page is an annual report; give a short reason.

    >>> classify_report("江苏省2020年政府信息公开工作年度报告", "一、总体情况\\n六、其他需要报告的事项")
    (True, 'title names an annual report (年度报告) and body has 2/6 standard sections')
    >>> classify_report("省政府办公厅关于印发当前政务公开重点工作安排的通知", "纳入年度报告予以公开")[0]
    False
    """
    t, n = _clean(title), count_sections(text)
    if t and _NOT_REPORT.search(t):
        word = _NOT_REPORT.search(t).group(0)
        return (
            False,
            f"title is a notice or plan ({word}), not an annual report; body has {n}/6 standard sections",
        )
    own = _clean(t)
    listed = sum(  # other reports' titles, as a list page shows them (prose lines don't count)
        1
        for line in _clean(text).splitlines()[:200]
        if len(line) <= 60 and line != own and is_report_title(line)
    )
    if listed >= 3 and n < 2:
        return False, f"body lists {listed} report titles: a list page, not a report"
    if is_report_title(t):
        return True, f"title names an annual report (年度报告) and body has {n}/6 standard sections"
    if n >= 4:
        return True, f"title does not name a report but body has {n}/6 standard sections"
    return False, f"title does not name an annual report and body has {n}/6 standard sections"


def attachment_ext(url: str) -> str | None:
    """The attachment extension ("pdf", "docx", …) a URL names in its path or in a query
    value (download scripts), lower-cased; None for other links.

    >>> attachment_ext("/download.jsp?filename=%E5%B9%B4%E6%8A%A5.WPS&id=3")
    'wps'
    >>> attachment_ext("https://x.gov.cn/art/2021/1/5/art_1_2.html") is None
    True
    """
    parts = urlsplit(url.strip())
    for piece in [unquote(parts.path)] + [unquote(v) for v in re.split(r"[&;=]", parts.query)]:
        found = ATTACHMENT_EXT.search(piece.strip())
        if found:
            return found.group(1).lower()
    return None


def is_attachment_url(url: str) -> bool:
    """True for PDF/DOC/DOCX/WPS/XLS/XLSX/OFD links, also behind download scripts.

    >>> is_attachment_url("https://x.gov.cn/u/cms/2021/report.PDF")
    True
    >>> is_attachment_url("/download.jsp?filename=%E5%B9%B4%E6%8A%A5.docx&id=3")
    True
    >>> is_attachment_url("https://x.gov.cn/art/2021/1/5/art_1_2.html")
    False
    """
    return attachment_ext(url) is not None


def page_problem(status: int, text: str, title: str = "") -> str | None:
    """Classify a non-content page from its visible text (or raw HTML) and title.

    Returns "challenge", "waf", "maintenance", "soft404", "login", "captcha", "empty" or None.
    Keyword kinds only count on short pages (or in the title): a long report that
    mentions 系统升级 is still content.

    >>> page_problem(200, "抱歉，您访问的页面不存在！返回首页")
    'soft404'
    >>> page_problem(412, "<script>$_ts=window['$_ts'];$_ts.cd='x'</script>")
    'challenge'
    >>> page_problem(200, "网站维护中，请稍后访问")
    'maintenance'
    >>> page_problem(200, "访问过于频繁，请输入验证码后继续")
    'captcha'
    >>> page_problem(200, "一、总体情况" * 400) is None
    True
    """
    body = _clean(text)
    if _CHALLENGE.search(body) or (len(body) < 4000 and _COOKIE_RELOAD.search(body)):
        return "challenge"
    if status in (412, 521) and len(body) < 4000:
        return "challenge"
    head = _clean(title)
    for kind, pattern in _PROBLEMS:
        if pattern.search(head) or (len(body) < _SHORT and pattern.search(body)):
            return kind
    return "empty" if len(body) < 20 else None


def is_challenge_body(body: bytes) -> str | None:
    """Classify raw response bytes before decoding: "challenge", "waf" or None.

    >>> is_challenge_body(b"<script>$_ts=window['$_ts'];</script>")
    'challenge'
    >>> is_challenge_body(b"<script>document.cookie='__jsluid_s=1';location.reload()</script>")
    'challenge'
    >>> is_challenge_body("<h1>安全狗拦截</h1>".encode("gb18030"))
    'waf'
    >>> is_challenge_body(b"<html><p>ok</p></html>") is None
    True
    """
    head = body[:65536]
    if any(marker in head for marker in _RAW_CHALLENGE):
        return "challenge"
    if (
        len(body) < 4000
        and b"document.cookie" in head
        and (b"location" in head or b"reload" in head)
    ):
        return "challenge"
    if len(body) < 20000 and any(marker in head for marker in _RAW_WAF):
        return "waf"
    return None
