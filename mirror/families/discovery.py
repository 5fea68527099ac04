"""Discovery portals (``MirrorServer(discovery=True)``): home pages whose 年报 columns are
menus deep, for ``nianbao seeds discover``. Not in the mirror's seeds file, so the other
portals, their seeds and every count stay as they were.

* ``dsc1`` 江北市: home → 政府信息公开 → 法定主动公开内容 → 政府信息公开年报 (Hanweb
  ``/col/colN/`` paths), beside look-alikes: 统计年报, 工作动态, 政府信息公开指南, and a
  single report linked from the home page.
* ``dsc2`` 东川市: home → 政务公开 → 政府信息公开指南 → 政府信息公开年度报告 for the city,
  and 政务公开 → 部门信息公开 → four departments, three of them with their own 年报
  column (TRS ``createPageHTML`` lists); the 统计局 has only a 统计年报.
* ``dsc3`` 西岭县: a menu built by a script (``var menu = [...]``) leads to 政务公开, whose
  tabs carry ``data-url`` attributes, one of them to the 年报 column.

``Discovery().columns`` maps each home page path to the column paths discovery should
find; ``reports`` maps each column path to its report page paths.

May import: ``mirror.families.portals``, ``mirror.templates``, ``mirror.answers``,
``mirror.noise``, ``mirror.model``.
"""

from __future__ import annotations

import html
import json
from datetime import date

from mirror import templates
from mirror.answers import static
from mirror.families.portals import report_article
from mirror.model import Portal, Resp
from mirror.noise import Fresh

E = html.escape
FRESH = Fresh.fixed(date(2024, 3, 1), "dsc")
DEPTS = (("fgw", "东川市发展和改革委员会"), ("jyj", "东川市教育局"), ("czj", "东川市财政局"))


def _links(items: list[tuple[str, str]]) -> str:
    return "<ul>" + "".join(f'<li><a href="{p}">{E(t)}</a></li>' for p, t in items) + "</ul>"


def page(site: str, title: str, inner: str, column: str = "") -> str:
    """A plain portal page: gov meta tags, a heading and ``inner``."""
    meta = f'<meta name="ColumnName" content="{E(column)}">' if column else ""
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="SiteName" content="{E(site)}">{meta}'
        f"<title>{E(title)}_{E(site)}</title></head>\n<body>"
        '<div class="topbar"><a href="javascript:void(0);">无障碍</a> <a href="#top">返回顶部</a></div>'
        f"<h2>{E(title)}</h2>\n{inner}\n"
        f'<div class="footer">主办单位：{E(site)}办公室 <a href="mailto:x@example.cn">联系我们</a></div>'
        "</body></html>\n"
    )


class Site:
    """One discovery portal: its pages and report columns."""

    def __init__(self, pid: str, name: str, region: str):
        self.pid, self.name, self.region = pid, name, region
        self.routes: dict[str, Resp] = {}
        self.columns: list[str] = []
        self.reports: dict[str, list[str]] = {}

    def add(self, path: str, title: str, inner: str, column: str = "") -> None:
        text = page(self.name, title, inner, column)
        self.routes[path] = static(text.encode("utf-8"), "text/html; charset=utf-8")

    def column(self, path: str, unit: str, years: range, art, extra: str = "") -> None:
        """A 年报 column at ``path`` listing ``unit``'s reports (``art(year)`` → path)."""
        look = Portal(
            self.pid, self.name, self.region, "hanweb", "", f"/{self.pid}/", path,
            "政府信息公开年报", "3299000100", "www.example.gov.cn", in_seeds=False,
        )  # fmt: skip
        arts = [report_article(unit, y, art(y), seed=y % 7, source=unit) for y in years]
        for a in arts:
            text = templates.article_page(look, a, FRESH, a.body)
            self.routes[a.path] = static(text.encode("utf-8"), "text/html; charset=utf-8")
        items = "".join(templates.list_item(a) for a in arts)
        self.add(
            path, "政府信息公开年报", f'<ul class="list">{items}</ul>{extra}', "政府信息公开年报"
        )
        self.columns.append(path)
        self.reports[path] = [a.path for a in arts]


def dsc1() -> Site:
    s, p = Site("dsc1", "江北市人民政府", "江苏省江北市"), "/dsc1/col/"
    home = _links(
        [("/dsc1/index.html", "首页"), (f"{p}col100/index.html", "政府信息公开"),
         (f"{p}col110/index.html", "工作动态"), ("/dsc1/art/2024/2/1/art_105_2023.html",
         "江北市人民政府2023年政府信息公开工作年度报告")]
    )  # fmt: skip
    s.add("/dsc1/index.html", "首页", home)
    s.routes["/dsc1/"] = s.routes["/dsc1/index.html"]
    s.add(f"{p}col100/index.html", "政府信息公开", _links(
        [(f"{p}col101/index.html", "政府信息公开指南"), (f"{p}col102/index.html", "政府信息公开制度"),
         (f"{p}col103/index.html", "法定主动公开内容"), (f"{p}col104/index.html", "依申请公开")]
    ), "政府信息公开")  # fmt: skip
    s.add(
        f"{p}col101/index.html",
        "政府信息公开指南",
        "<p>本指南说明本机关政府信息公开的方式和途径。</p>",
    )
    s.add(f"{p}col103/index.html", "法定主动公开内容", _links(
        [(f"{p}col120/index.html", "机构职能"), (f"{p}col121/index.html", "政策文件"),
         (f"{p}col122/index.html", "统计年报"), (f"{p}col105/index.html", "政府信息公开年报"),
         (f"{p}col110/index.html", "工作动态")]
    ), "法定主动公开内容")  # fmt: skip
    s.add(f"{p}col122/index.html", "统计年报", _links([(f"{p}col122/t1.html", "2023年统计年报")]))
    s.add(
        f"{p}col110/index.html", "工作动态", _links([(f"{p}col110/t1.html", "召开政务公开推进会")])
    )
    s.column(
        f"{p}col105/index.html",
        s.name,
        range(2023, 2019, -1),
        lambda y: f"/dsc1/art/{y + 1}/2/1/art_105_{y}.html",
    )
    return s


def dsc2() -> Site:
    s = Site("dsc2", "东川市人民政府", "浙江省东川市")
    s.add(
        "/dsc2/index.html",
        "首页",
        _links([("/dsc2/zwgk/index.html", "政务公开"), ("/dsc2/xw/", "新闻中心")]),
    )
    s.add("/dsc2/zwgk/index.html", "政务公开", _links(
        [("/dsc2/zwgk/zn/index.html", "政府信息公开指南"), ("/dsc2/bmxxgk/index.html", "部门信息公开"),
         ("/dsc2/zwgk/zcwj/index.html", "政策文件")]
    ))  # fmt: skip
    s.add("/dsc2/zwgk/zn/index.html", "政府信息公开指南", "<p>公开方式：</p>" + _links(
        [("/dsc2/zwgk/nb/index.html", "政府信息公开年度报告"), ("/dsc2/zwgk/ysq/", "依申请公开")]
    ))  # fmt: skip
    trs = '<div class="page"><script>createPageHTML(1, 0, "index", "html");</script></div>'
    s.column(
        "/dsc2/zwgk/nb/index.html", s.name, range(2023, 2020, -1),
        lambda y: f"/dsc2/zwgk/nb/{y + 1}02/t{y + 1}0210_{y}.html", trs,
    )  # fmt: skip
    units = [*DEPTS, ("tjj", "东川市统计局")]
    s.add(
        "/dsc2/bmxxgk/index.html",
        "部门信息公开",
        _links([(f"/dsc2/bm/{d}/index.html", n) for d, n in units]),
    )
    for d, n in units:
        col = "nb" if d != "tjj" else "tjnb"
        label = "政府信息公开年报" if d != "tjj" else "统计年报"
        s.add(f"/dsc2/bm/{d}/index.html", n, _links(
            [(f"/dsc2/bm/{d}/jgzn/", "机构职能"), (f"/dsc2/bm/{d}/gzdt/index.html", "工作动态"),
             (f"/dsc2/bm/{d}/{col}/index.html", label)]
        ))  # fmt: skip
    s.add(
        "/dsc2/bm/tjj/tjnb/index.html",
        "统计年报",
        _links([("/dsc2/bm/tjj/tjnb/t1.html", "2023年统计年报")]),
    )
    for d, n in DEPTS:
        s.column(
            f"/dsc2/bm/{d}/nb/index.html", n, range(2023, 2021, -1),
            lambda y, d=d: f"/dsc2/bm/{d}/nb/{y + 1}01/t{y + 1}0115_{y}.html", trs,
        )  # fmt: skip
    return s


def dsc3() -> Site:
    s = Site("dsc3", "西岭县人民政府", "四川省西岭县")
    menu = [
        {"name": "首页", "url": "/dsc3/index.html"},
        {
            "name": "政务公开",
            "url": "/dsc3/zwgk/index.html",
            "children": [{"name": "通知公告", "url": "/dsc3/tzgg/"}],
        },
        {"name": "互动交流", "url": "/dsc3/hdjl/"},
    ]
    script = f'<div id="menu"></div><script>var menu = {json.dumps(menu, ensure_ascii=False)}; buildMenu(menu);</script>'
    s.add("/dsc3/index.html", "首页", script)
    tabs = "".join(
        f'<li data-url="{u}">{t}</li>'
        for u, t in (("/dsc3/zwgk/gzdt/index.html", "工作动态"), ("/dsc3/zwgk/tjnb/index.html", "统计年报"),
                     ("/dsc3/zwgk/xxgknb/index.html", "政府信息公开年报"))
    )  # fmt: skip
    s.add("/dsc3/zwgk/index.html", "政务公开", f'<ul class="tabs">{tabs}</ul>')
    s.add(
        "/dsc3/zwgk/tjnb/index.html",
        "统计年报",
        _links([("/dsc3/zwgk/tjnb/t1.html", "2023年统计年报")]),
    )
    s.column(
        "/dsc3/zwgk/xxgknb/index.html", s.name, range(2023, 2020, -1),
        lambda y: f"/dsc3/zwgk/xxgknb/{y + 1}02/t{y + 1}0201_{y}.html",
    )  # fmt: skip
    return s


class Discovery:
    """The discovery portals' routes, and what discovery should find on them."""

    def __init__(self):
        sites = [dsc1(), dsc2(), dsc3()]
        self.routes: dict[str, Resp] = {}
        self.columns: dict[str, list[str]] = {}
        self.reports: dict[str, list[str]] = {}
        for site in sites:
            self.routes.update(site.routes)
            self.columns[f"/{site.pid}/index.html"] = site.columns
            self.reports.update(site.reports)

    def resolve(self, path: str) -> Resp | None:
        return self.routes.get(path)
