"""The family portals (``MirrorServer(families=True)``): one imitation per list mechanism.

* ``hwnb``  大汉 Hanweb column: first records embedded in ``<datastore>``, the rest from
  POSTs to ``dataproxy.jsp``; a cover page whose report is a DOCX attachment; an
  image-only report page. No ``cms`` in its seed: the crawler must detect it.
* ``jpnb``  浙江 JPaaS column: an empty HTML shell whose list is JSON from
  ``…/front/page/build/unit``; one report linked straight to a PDF.
* ``trsnb`` TRS WCM in GBK (charset in ``<meta>`` only): ``index_N.html`` pages announced
  only by ``createPageHTML``; a text PDF, an image-only PDF, a DOCX, and a report
  under a robots.txt-forbidden path.
* ``guard`` anti-bot: one report behind a 瑞数 412 ``$_ts`` stub, one behind a 加速乐
  521 ``__jsluid`` script, one plain.

Everything is static bytes with ETag and Last-Modified (conditional requests get 304;
``mirror.families.routes``). Report texts are generated (``report_paras``); nothing is
copied from real portals.

May import: ``mirror.model``, ``mirror.docgen``, ``mirror.texts``.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass, field

from mirror import docgen
from mirror.model import Article, Portal
from mirror.texts.markup import para_html

E = html.escape
NAMESPACE = uuid.UUID("6f1c2d3e-0000-4000-8000-00000000c0de")
ROWS = [
    ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"],
    ["规章", "0", "0", "0"],
    ["行政规范性文件", "{a}", "{b}", "{c}"],
]
NEWS = [
    "{u}召开{y}年度政务公开工作推进会",
    "关于印发{u}{y}年政务公开工作要点的通知",
    "{u}政府信息公开指南",
    "{u}开展政务公开日活动",
    "关于做好{y}年政府信息公开工作年度报告编制工作的通知",
    "{u}依申请公开办理流程",
    "{u}{y}年度重点工作情况通报",
    "{u}召开常务会议研究部署安全生产工作",
]


def report_paras(unit: str, year: int, seed: int = 0) -> list[str]:
    """Paragraphs of a plausible (generated) report of ``unit`` for ``year``."""
    n = 100 + (seed * 37 + year) % 800
    return [
        f"{unit}{year}年政府信息公开工作年度报告",
        (
            f"本报告由{unit}办公室根据《中华人民共和国政府信息公开条例》要求编制。报告中所列数据统计期限自{year}年1月1日"
            f"起至{year}年12月31日止。如对本报告有疑问，请与{unit}办公室联系。"
        ),
        "一、总体情况",
        (
            f"{year}年，{unit}坚持以人民为中心的发展思想，全面落实政府信息公开条例各项规定，主动公开政府信息{n}条，"
            f"受理政府信息公开申请{n // 20}件，均在法定期限内予以答复，推动政务公开工作规范、有序、健康发展。"
        ),
        "二、主动公开政府信息情况",
        "三、收到和处理政府信息公开申请情况",
        f"本年新收政府信息公开申请{n // 20}件，上年结转{seed % 3}件，予以公开{n // 40}件。",
        "四、政府信息公开行政复议、行政诉讼情况",
        "本年度未发生因政府信息公开引起的行政复议和行政诉讼。",
        "五、存在的主要问题及改进情况",
        "政策解读的形式还不够丰富，下一步将进一步提升政务公开工作质量。",
        "六、其他需要报告的事项",
        f"{year}年，未收取政府信息公开信息处理费。",
    ]


def table_rows(year: int, bump: int = 0) -> list[list[str]]:
    a, b, c = year % 17 + bump, year % 5, year % 23 + 30
    return [[cell.format(a=a, b=b, c=c) for cell in row] for row in ROWS]


def body_html(paras: list[str], rows: list[list[str]]) -> str:
    table = "".join("<tr>" + "".join(f"<td>{E(c)}</td>" for c in row) + "</tr>" for row in rows)
    return para_html(paras[1:5]) + f'\n<table border="1">{table}</table>\n' + para_html(paras[5:])


@dataclass
class Entry:
    """One list entry: a page (``kind`` "page", "cover", "image", "guard-412", "guard-521")
    or a file ("pdf", "image-pdf", "docx"), with its attachment file if any."""

    article: Article
    kind: str = "page"
    file: bytes = b""
    attachment: tuple[str, str, bytes] | None = None  # (path, link text, bytes)
    expected: bool = True  # a report the crawler should store
    hidden: bool = False  # under a robots.txt-forbidden path


@dataclass
class FamilyPortal:
    """A family portal: the shared ``Portal`` look plus its list mechanism."""

    portal: Portal
    mechanism: str  # "hanweb-datastore" | "jpaas-json" | "trs-createpage" | "plain"
    entries: list[Entry] = field(default_factory=list)
    seed_cms: str | None = None
    per_page: int = 15

    def expected_paths(self) -> list[str]:
        out = []
        for e in self.entries:
            if e.expected:
                out.append(e.attachment[0] if e.kind == "cover" else e.article.path)
        return out


def news_entries(unit: str, year: int, n: int, path_of) -> list[Entry]:
    """``n`` news entries of ``unit`` (not reports), at ``path_of(stamp, number)``."""
    out = []
    for i in range(n):
        title = NEWS[i % len(NEWS)].format(u=unit, y=year - i // len(NEWS))
        stamp = f"{year - i // 6}-{12 - i % 6:02d}-{10 + i % 15} 09:00"
        body = para_html(
            [
                title + "。",
                f"会议要求，各部门要进一步压实责任，扎实推进{unit}各项工作，全年完成{37 + i}项任务。",
            ]
        )
        out.append(
            Entry(
                Article(f"news-{i}", path_of(stamp, 900 + i), title, stamp, body, source=unit),
                expected=False,
            )
        )
    return out


def report_article(unit: str, year: int, path: str, seed: int = 0, source: str = "") -> Article:
    """The generated ``year`` report of ``unit`` as a page at ``path``."""
    paras = report_paras(unit, year, seed)
    stamp = f"{year + 1}-0{1 + seed % 3}-{10 + seed % 15} 10:00"
    return Article(
        f"r{year}",
        path,
        paras[0],
        stamp,
        body_html(paras, table_rows(year)),
        report=True,
        source=source or unit + "办公室",
        index_no=f"000{seed:03d}/{year + 1}-000{seed % 10}",
    )


def interleave(reports: list[Entry], news: list[Entry]) -> list[Entry]:
    out, step = [], max(1, len(news) // max(1, len(reports)))
    for i, report in enumerate(reports):
        out += [report] + news[i * step : (i + 1) * step]
    return out + news[len(reports) * step :]


def hwnb() -> FamilyPortal:
    unit, col = "江海市人民政府", "8801"
    art = lambda s, n: f"/hwnb/art/{s[:4]}/{int(s[5:7])}/{int(s[8:10])}/art_{col}_{n}.html"
    reports = [
        Entry(report_article(unit, y, art(f"{y + 1}-02-1{y % 9} 10:00", 5000 + y), y))
        for y in range(2023, 2009, -1)
    ]
    cover = reports[1]
    cover.kind = "cover"
    cover.article.body = para_html(["详见附件。"])
    paras = report_paras(unit, 2022, 7)
    cover.attachment = (
        "/hwnb/picture/0/nb2022.docx",
        paras[0] + ".docx",
        docgen.docx(paras, table_rows(2022), title=""),
    )
    cover.article.attachments = [cover.attachment[:2]]
    image = reports[4]
    image.kind = "image"
    image.article.title += "（图片版）"
    image.article.body = '<p><img src="/hwnb/picture/0/nb2019-1.jpg"></p><p><img src="/hwnb/picture/0/nb2019-2.jpg"></p>'
    portal = Portal(
        "hwnb",
        unit,
        "江苏省江海市",
        "hanweb",
        "",
        "/hwnb/",
        f"/hwnb/col/col{col}/index.html",
        "政府信息公开年报",
        "3208000001",
        "www.jianghai.gov.cn",
        per_page=15,
    )
    return FamilyPortal(
        portal, "hanweb-datastore", interleave(reports, news_entries(unit, 2023, 26, art)), None
    )


def jpnb() -> FamilyPortal:
    unit = "临湖市人民政府"
    art = lambda s, n: (
        f"/jpnb/col/col1229999/art/{s[:4]}/art_{uuid.uuid5(NAMESPACE, str(n)).hex}.html"
    )
    reports = [
        Entry(report_article(unit, y, art(f"{y + 1}-03-01", 7000 + y), y + 3))
        for y in range(2023, 2015, -1)
    ]
    pdf = reports[2]
    pdf.kind, pdf.article.path = "pdf", "/jpnb/module/download/nb2021.pdf"
    paras = report_paras(unit, 2021, 2)
    pdf.file = docgen.text_pdf(paras, title=paras[0], rows=table_rows(2021))
    portal = Portal(
        "jpnb",
        unit,
        "浙江省临湖市",
        "jpaas",
        "jpaas",
        "/jpnb/",
        "/jpnb/col/col1229999/index.html",
        "政府信息公开年报",
        "3311000002",
        "www.linhu.gov.cn",
        per_page=15,
    )
    return FamilyPortal(
        portal, "jpaas-json", interleave(reports, news_entries(unit, 2023, 17, art)), "jpaas"
    )


def trs_pdf(year: int = 2021, bump: int = 0) -> bytes:
    paras = report_paras("青石县人民政府", year, 5)
    return docgen.text_pdf(paras[1:], title=None, rows=table_rows(year, bump))


def trsnb() -> FamilyPortal:
    unit, base = "青石县人民政府", "/trsnb/zwgk/xxgknb/"

    def art(stamp: str, n: int) -> str:
        return f"{base}{stamp[:7].replace('-', '')}/t{stamp[:10].replace('-', '')}_{n}.html"

    reports = [
        Entry(report_article(unit, y, art(f"{y + 1}-02-2{y % 9}", 8000 + y), y + 5))
        for y in range(2023, 2015, -1)
    ]
    files = {
        2021: ("pdf", trs_pdf()),
        2019: ("image-pdf", docgen.image_pdf()),
        2018: ("docx", docgen.docx(report_paras(unit, 2018, 5), table_rows(2018))),
    }
    for entry in reports:
        year = int(entry.article.key[1:])
        if year in files:
            entry.kind, entry.file = files[year]
            entry.article.path = f"{base}P0{year}.{'docx' if entry.kind == 'docx' else 'pdf'}"
            if entry.kind == "image-pdf":
                entry.article.title += "（图片版）"
    hidden = reports[-1]
    hidden.hidden, hidden.expected = True, False
    hidden.article.path = "/trsnb/hidden/" + hidden.article.path.rsplit("/", 1)[1]
    for entry in reports + (news := news_entries(unit, 2023, 16, art)):
        entry.article.href = (
            "./" + entry.article.path.removeprefix(base)
            if entry.article.path.startswith(base)
            else None
        )
    portal = Portal(
        "trsnb",
        unit,
        "福建省青石县",
        "trs",
        "trs",
        "/trsnb/",
        base + "index.html",
        "政府信息公开年报",
        "3501000003",
        "www.qingshi.gov.cn",
        per_page=8,
        encoding="gbk",
        charset_header=False,
    )
    return FamilyPortal(portal, "trs-createpage", interleave(reports, news), "trs", per_page=8)


def guard() -> FamilyPortal:
    unit = "关山区人民政府"
    art = lambda s, n: f"/guard/art/{s[:10].replace('-', '')}/{n}.html"
    reports = [
        Entry(report_article(unit, y, art(f"{y + 1}-02-01", 9000 + y), y))
        for y in (2023, 2022, 2021)
    ]
    reports[0].kind, reports[0].expected = "guard-412", False
    reports[1].kind, reports[1].expected = "guard-521", False
    portal = Portal(
        "guard",
        unit,
        "测试",
        "hanweb",
        "generic",
        "/guard/",
        "/guard/list/index.html",
        "政府信息公开年报",
        "3299000004",
        "127.0.0.1",
        per_page=20,
    )
    return FamilyPortal(portal, "plain", reports, "generic", per_page=20)


def build() -> dict[str, FamilyPortal]:
    """Fresh family portals (new objects every call: changes mutate them)."""
    return {p.portal.id: p for p in (hwnb(), jpnb(), trsnb(), guard())}
