"""HTML page templates, one look per CMS family: 大汉 Hanweb, 浙江 JPaaS, truecms, TRS WCM.

Each look (``LOOKS``) decides the body container, the title line, the list markup and
the pager; the shared skeleton adds the chrome every portal has: gov ``<meta>`` tags,
繁體/无障碍 links, nav, breadcrumb, the 索引号 table, tools, QR code, sidebar and footer,
with the noise values it is given (``mirror.noise.Fresh``). Every portal's article and
list pages come from here: baseline, family and synthetic portals alike.

May import: ``mirror.model``, ``mirror.noise``.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from mirror.model import Article, Portal
from mirror.noise import Fresh

E = html.escape


@dataclass(frozen=True)
class Look:
    """What differs between CMS families."""

    body_open: str
    body_close: str
    info: Callable[[Article, Fresh], str]
    pager: Callable[[Portal, int, int], str]
    outer_open: str = '<div class="article">'
    outer_close: str = "</div>"
    list_class: str = "list"


def _zoom() -> str:
    return (
        '字号：[<a href="javascript:doZoom(18)">大</a> <a href="javascript:doZoom(16)">中</a> '
        '<a href="javascript:doZoom(14)">小</a>]'
    )


def list_href(portal: Portal, page: int) -> str:
    """The address of list page ``page`` (0-based) in the family's pager style."""
    if page == 0:
        return portal.list_path
    if portal.family == "jpaas":
        return f"{portal.list_path}?page={page + 1}"
    return portal.list_path.replace("index.html", f"index_{page}.html")


def _pager_links(portal: Portal, page: int, npages: int) -> str:
    parts = [f'<a href="{list_href(portal, 0)}">首页</a>']
    if page > 0:
        parts.append(f'<a href="{list_href(portal, page - 1)}">上一页</a>')
    if page < npages - 1:
        parts.append(f'<a href="{list_href(portal, page + 1)}">下一页</a>')
    parts.append(f'<a href="{list_href(portal, npages - 1)}">尾页</a>')
    return f'<div class="pages">共{npages}页 当前第{page + 1}页 {" ".join(parts)}</div>'


def _trs_pager(portal: Portal, page: int, npages: int) -> str:
    script = f'<script>createPageHTML({npages}, {page}, "index", "html");</script>'
    return script + _pager_links(portal, page, npages)


LOOKS: dict[str, Look] = {
    "hanweb": Look(
        body_open='<div id="zoom">',
        body_close="</div>",
        info=lambda a, f: (
            f'<div class="sp_time"><span>发布日期：{a.date}</span> <span>信息来源：{E(a.source)}</span> '
            f'<span>浏览次数：<font id="visit">{f.counter}</font></span> <span>{_zoom()}</span></div>'
        ),
        pager=_pager_links,
        list_class="default_pgContainer",
    ),
    "jpaas": Look(
        body_open='<div class="zjnr">',
        body_close="</div>",
        info=lambda a, f: (
            f'<table width="100%"><tr><td align="center">发布日期：{a.date[:10]} '
            f"来源：{E(a.source)} 访问量：{f.counter}</td></tr></table>"
        ),
        pager=_pager_links,
        outer_open=(
            '<table width="1000" border="0" align="center" cellpadding="0" cellspacing="0"><tr><td>'
            '<table width="100%" border="0" cellspacing="0" cellpadding="0"><tr><td class="bt_content">'
        ),
        outer_close="</td></tr></table></td></tr></table>",
        list_class="xxgk_list",
    ),
    "truecms": Look(
        body_open='<div class="act_m">',
        body_close="</div>",
        info=lambda a, f: (
            f'<div class="act_t2">来源：{E(a.source)} 发布时间：{a.date[:10]} '
            f"{_zoom().replace('字号', '字体')} 点击数：<span>{f.counter}</span></div>"
        ),
        pager=_pager_links,
        list_class="list_m",
    ),
    "trs": Look(
        body_open='<div class="TRS_Editor"><div class="Custom_UnionStyle">',
        body_close="</div></div>",
        info=lambda a, f: (
            f'<div class="xxgk_info">信息来源：{E(a.source)} 发布日期：{a.date} '
            f'浏览次数：<span id="dcount">{f.counter}</span></div>'
        ),
        pager=_trs_pager,
        list_class="xxgk_nb_list",
    ),
}
LOOKS["plain"] = LOOKS["hanweb"]


def head(portal: Portal, title: str, fresh: Fresh, art: Article | None = None) -> str:
    """``<head>``: charset, gov meta tags, assets with a random token."""
    charset = (
        f'<meta http-equiv="Content-Type" content="text/html; charset={portal.encoding}">'
        if portal.encoding != "utf-8"
        else '<meta charset="utf-8">'
    )
    metas = {
        "SiteName": portal.name,
        "SiteDomain": portal.domain,
        "SiteIDCode": portal.site_code,
        "ColumnName": portal.column,
        "ColumnType": portal.column,
    }
    if art:
        metas |= {"ArticleTitle": art.title, "PubDate": art.date, "ContentSource": art.source}
    meta = "\n".join(f'<meta name="{k}" content="{E(v)}">' for k, v in metas.items())
    page_title = (
        f"{title}_{portal.column}_{portal.name}" if art else f"{portal.column}_{portal.name}"
    )
    return (
        f'<head>\n{charset}\n{meta}\n<meta name="others" content="页面生成时间 {fresh.now}">\n'
        f"<title>{E(page_title)}</title>\n"
        f'<link rel="stylesheet" href="{portal.prefix}images/style.css?v={fresh.token}">\n'
        f'<script src="{portal.prefix}js/common.js?_={fresh.token}"></script>\n</head>'
    )


def top(portal: Portal, fresh: Fresh, trad_href: str | None) -> str:
    """Top bar (date, 繁體, 无障碍, 长者模式), header and nav."""
    trad = (
        f'<a href="{trad_href}" class="jft">繁體</a>'
        if trad_href
        else '<a href="javascript:void(0);" onclick="jft()">繁體</a>'
    )
    nav = "".join(
        f'<li><a href="{portal.prefix}{slug + "/" if slug else ""}">{name}</a></li>'
        for slug, name in (
            ("", "首页"),
            ("zwgk", "政务公开"),
            ("zwfw", "政务服务"),
            ("hdjl", "互动交流"),
            ("zjxx", "走进本地"),
        )
    )
    return (
        f'<div class="topbar"><span id="utime">今天是{fresh.today}</span> {trad} | '
        '<a href="javascript:;" id="wza" onclick="aria.start()">无障碍</a> | '
        '<a href="javascript:void(0);">长者模式</a> | <a href="javascript:;">登录</a></div>\n'
        f'<div class="header"><a href="{portal.prefix}"><img src="{portal.prefix}images/logo.png" '
        f'alt="{E(portal.name)}"></a></div>\n<div class="nav"><ul>{nav}</ul></div>'
    )


def crumb(portal: Portal) -> str:
    return (
        f'<div class="position">当前位置：<a href="{portal.prefix}">首页</a> &gt; '
        f'<a href="javascript:void(0);">政府信息公开</a> &gt; '
        f'<a href="{portal.list_path}">{E(portal.column)}</a></div>'
    )


def foot(portal: Portal, fresh: Fresh) -> str:
    """Sidebar, footer and the per-request counter script."""
    return (
        f'{fresh.sidebar_html()}\n<div class="footer"><p>主办单位：{E(portal.name)}办公室 '
        f"网站标识码：{portal.site_code}</p><p>ICP备05009055号-1 公网安备 32010202010157号</p>"
        '<p><a href="javascript:void(0);">网站地图</a> | <a href="javascript:void(0);">联系我们</a> | '
        '<a href="/private/admin.html">后台管理</a></p></div>\n'
        f'<script>var _visit = {fresh.counter}; var _t = "{fresh.token}";</script>'
    )


def xxgk_table(art: Article) -> str:
    """The 索引号/发布机构/公开日期/文号 table above the body."""
    rows = (
        ("索引号", art.index_no, "分类", "政府信息公开年报"),
        ("发布机构", art.source, "公开日期", art.date[:10]),
        ("文号", art.doc_no, "时效", "有效"),
    )
    trs = "".join(
        f"<tr><th>{a}：</th><td>{E(b)}</td><th>{c}：</th><td>{E(d)}</td></tr>"
        for a, b, c, d in rows
    )
    return f'<table class="xxgk_table">{trs}<tr><th>标题：</th><td colspan="3">{E(art.title)}</td></tr></table>'


def attachments(art: Article) -> str:
    if not art.attachments:
        return ""
    links = "".join(f'<li><a href="{p}">{E(t)}</a></li>' for p, t in art.attachments)
    return f'<div class="fj"><p>附件：</p><ul>{links}</ul></div>'


def article_page(
    portal: Portal,
    art: Article,
    fresh: Fresh,
    body: str,
    trad_href: str | None = None,
    extra_chrome: str = "",
) -> str:
    """A full article page; ``body`` goes inside the family's body container."""
    look = LOOKS[portal.family]
    tools = (
        '<div class="tools">【<a href="javascript:window.print()">打印本页</a>】'
        '【<a href="javascript:window.close()">关闭窗口</a>】 分享到：'
        "<a href=\"javascript:share('weixin')\">微信</a> <a href=\"javascript:share('weibo')\">微博</a></div>"
        '<div id="qr_container" class="info_ewm"><img src="javascript:void(0)" alt="">扫一扫在手机打开当前页</div>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n'
        + head(portal, art.title, fresh, art)
        + "\n<body>\n"
        + top(portal, fresh, trad_href)
        + "\n"
        + crumb(portal)
        + '\n<div class="main">\n'
        + xxgk_table(art)
        + "\n"
        + look.outer_open
        + f'\n<h1 class="title">{E(art.title)}</h1>\n'
        + look.info(art, fresh)
        + "\n"
        + look.body_open
        + "\n"
        + body
        + "\n"
        + look.body_close
        + "\n"
        + attachments(art)
        + extra_chrome
        + tools
        + "\n"
        + look.outer_close
        + "\n</div>\n"
        + foot(portal, fresh)
        + "\n</body>\n</html>\n"
    )


def list_item(art: Article) -> str:
    """One entry of a column list: the linked title and the date."""
    return (
        f'<li><a href="{art.href or art.path}" target="_blank" title="{E(art.title)}">'
        f'{E(art.title)}</a><span class="bt-data-time">{art.date[:10]}</span></li>'
    )


def list_page(portal: Portal, items: list[Article], page: int, npages: int, fresh: Fresh) -> str:
    """One column page: its slice of entries and the pager."""
    look = LOOKS[portal.family]
    lis = "\n".join(list_item(a) for a in items)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n'
        + head(portal, portal.column, fresh)
        + "\n<body>\n"
        + top(portal, fresh, None)
        + "\n"
        + crumb(portal)
        + '\n<div class="main">\n'
        + f'<div class="{look.list_class}"><h2>{E(portal.column)}</h2>\n<ul>\n{lis}\n</ul>\n'
        + look.pager(portal, page, npages)
        + "</div>\n</div>\n"
        + foot(portal, fresh)
        + "\n</body>\n</html>\n"
    )
