"""The baseline portals: 江苏省人民政府, 浙江省人民政府, 启东市人民政府, 江苏省政务服务管理办公室.

These four are what ``MirrorServer()`` serves in every state; the named changes
(``mirror.changes``) edit fresh copies of them. Reports come from the saved page dumps
(``mirror.texts.reports``); everything else on the column pages is deterministic filler
with plausible titles, so a crawler has to pick the reports out.

May import: ``mirror.texts``, ``mirror.model``.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

from mirror.model import Article, Portal
from mirror.texts import reports
from mirror.texts.markup import para_html

NEWS = [
    "省政府召开常务会议研究部署{t}工作",
    "全省{t}工作推进会召开",
    "{t}工作取得阶段性成效",
    "关于做好{t}工作的通知",
    "我省出台{t}若干措施",
    "{t}新闻发布会举行",
    "省政府办公厅印发{t}实施方案",
    "全省{t}专项行动启动",
    "{t}工作情况通报",
]
TOPICS = [
    "稳就业",
    "安全生产",
    "优化营商环境",
    "政务服务",
    "乡村振兴",
    "生态环境保护",
    "疫情防控",
    "数字政府建设",
    "民生实事",
    "科技创新",
    "交通运输",
    "防汛抗旱",
    "粮食安全",
    "文明城市创建",
    "“放管服”改革",
    "基层政务公开",
]
XXGK = [
    "{n}政府信息公开指南（2020年修订）",
    "{n}政府信息公开制度",
    "{n}依申请公开办理流程",
    "{n}政府信息公开申请表",
    "关于调整{n}政务公开工作领导小组成员的通知",
    "{n}2020年政务公开工作要点",
    "{n}政府信息主动公开基本目录",
]
NAMESPACE = uuid.UUID("6f1c2d3e-0000-4000-8000-00000000a11b")


def filler_body(rnd: random.Random, title: str) -> str:
    topic = rnd.choice(TOPICS)
    paras = [
        f"{title}。",
        f"会议强调，要坚持以人民为中心，扎实推进{topic}各项任务落实，确保取得实效。",
        f"各地各部门要进一步压实责任，加强统筹协调，及时总结推广经验做法，全年累计完成{rnd.randint(12, 980)}项重点任务。",
    ]
    return para_html(paras)


def filler(
    rnd: random.Random, key: str, path: str, title: str, stamp: str, source: str, index_no: str
) -> Article:
    """A column entry that is not a report: news or a 信息公开 page with a generated body."""
    body = filler_body(rnd, title)
    return Article(key, path, title, stamp, body, source=source, index_no=index_no)


def dated(start: date, n: int, step: int, rnd: random.Random) -> list[str]:
    out, d = [], start
    for _ in range(n):
        out.append(f"{d.isoformat()} {rnd.randint(8, 17):02d}:{rnd.choice((0, 15, 30, 45)):02d}")
        d -= timedelta(days=step)
    return out


def news(rnd: random.Random, stamps: list[str], path_of, source: str, idx) -> list[Article]:
    out = []
    for stamp in stamps:
        title = rnd.choice(NEWS).format(t=rnd.choice(TOPICS))
        n = next(idx)
        index_no = f"014000319/{stamp[:4]}-{n % 100000:05d}"
        out.append(filler(rnd, f"news-{n}", path_of(stamp, n), title, stamp, source, index_no))
    return out


def hanweb_path(col: str, stamp: str, n: int, prefix: str = "/jiangsu/art") -> str:
    y, m, d = (int(x) for x in stamp[:10].split("-"))
    return f"{prefix}/{y}/{m}/{d}/art_{col}_{n}.html"


def jiangsu() -> Portal:
    rnd, idx = random.Random("jiangsu"), iter(range(2970001, 2999999))
    src = "江苏省人民政府办公厅"
    path_of = lambda s, n: hanweb_path("76841", s, n)  # noqa: E731
    newer = news(rnd, dated(date(2021, 3, 20), 12, 3, rnd), path_of, src, idx)
    stamp = "2021-02-05 16:20"
    n = next(idx)
    report = Article(
        key="jiangsu-2020",
        path=path_of(stamp, n),
        title="江苏省2020年政府信息公开工作年度报告",
        date=stamp,
        body=reports.jiangsu_2020(),
        report=True,
        source=src,
        index_no="014000319/2021-00031",
        alt_path=hanweb_path("76841", stamp, n, "/jiangsu/big5/art"),
        alt_body=reports.jiangsu_2020_trad(),
    )
    older = news(rnd, dated(date(2021, 2, 3), 10, 17, rnd), path_of, src, idx)
    stamp = "2020-08-12 09:30"
    notice = Article(
        key="jiangsu-notice",
        path=path_of(stamp, next(idx)),
        date=stamp,
        source=src,
        title="省政府办公厅关于印发当前政务公开重点工作安排的通知",
        body=reports.jiangsu_notice(),
        doc_no="苏政办发〔2020〕65号",
        index_no="014000319/2020-00412",
    )
    oldest = news(rnd, dated(date(2020, 8, 5), 1, 1, rnd), path_of, src, idx)
    return Portal(
        id="jiangsu",
        name="江苏省人民政府",
        region="江苏省",
        family="hanweb",
        cms="hanweb",
        prefix="/jiangsu/",
        list_path="/jiangsu/col/col76841/index.html",
        column="政务公开",
        site_code="3200000063",
        domain="www.jiangsu.gov.cn",
        articles=newer + [report] + older + [notice] + oldest,
        per_page=10,
    )


def zhejiang() -> Portal:
    rnd, idx = random.Random("zhejiang"), iter(range(42270001, 42299999))
    src = "浙江省人民政府办公厅"

    def path_of(stamp: str, n: int) -> str:  # old and new article paths coexist
        if n % 2:
            return hanweb_path("1229019", stamp, n, "/zhejiang/art")
        return (
            f"/zhejiang/col/col1229019/art/{stamp[:4]}/art_{uuid.uuid5(NAMESPACE, str(n)).hex}.html"
        )

    newer = news(rnd, dated(date(2020, 4, 20), 5, 4, rnd), path_of, src, idx)
    stamp = "2020-03-31 17:05"
    report = Article(
        key="zhejiang-2019",
        path=hanweb_path("1229019", stamp, 42276431, "/zhejiang/art"),
        title="浙江省2019年政府信息公开工作年度报告",
        date=stamp,
        body=reports.zhejiang_2019(),
        report=True,
        source=src,
        index_no="002482410/2020-00096",
    )
    older = news(rnd, dated(date(2020, 3, 27), 12, 6, rnd), path_of, src, idx)
    return Portal(
        id="zhejiang",
        name="浙江省人民政府",
        region="浙江省",
        family="jpaas",
        cms="generic",
        prefix="/zhejiang/",
        list_path="/zhejiang/col/col1229019/index.html",
        column="政务公开",
        site_code="3300000034",
        domain="www.zj.gov.cn",
        articles=newer + [report] + older,
        per_page=15,
    )


def xxgk(rnd: random.Random, unit: str, stamps: list[str], path_of, source: str) -> list[Article]:
    out = []
    for i, (stamp, tpl) in enumerate(zip(stamps, rnd.sample(XXGK, len(stamps)), strict=True)):
        title, index_no = tpl.format(n=unit), f"{stamp[:4]}-{i:05d}"
        out.append(filler(rnd, f"xxgk-{i}", path_of(stamp, i), title, stamp, source, index_no))
    return out


def qidong_path(key: str) -> str:
    return f"/qidong/qdsrmzf/xxgknb/content/{uuid.uuid5(NAMESPACE, key)}.html"


def qidong() -> Portal:
    rnd, src = random.Random("qidong"), "启东市人民政府"
    report = Article(
        key="qidong-2020",
        path=qidong_path("qidong-2020"),
        date="2021-02-19 10:00",
        title="启东市人民政府2020年政府信息公开工作年度报告",
        body=reports.qidong_2020(),
        report=True,
        source=src,
        index_no="01432570X/2021-00027",
        attachments=[
            (
                "/qidong/qdsrmzf/xxgknb/attach/202102/qdnb2020.pdf",
                "启东市人民政府2020年政府信息公开工作年度报告.pdf",
            )
        ],
    )
    rest = xxgk(
        rnd,
        "启东市",
        dated(date(2021, 1, 25), 5, 40, rnd),
        lambda s, i: qidong_path(f"qd-{i}"),
        src,
    )
    return Portal(
        id="qidong",
        name="启东市人民政府",
        region="江苏省南通市",
        family="truecms",
        cms="truecms",
        prefix="/qidong/",
        list_path="/qidong/qdsrmzf/xxgknb/index.html",
        column="政府信息公开年报",
        site_code="3206810001",
        domain="www.qidong.gov.cn",
        articles=[report] + rest,
        per_page=15,
        encoding="gbk",
        charset_header=False,
    )


def trs_article(stamp: str, n: int, base: str = "/jszwb/zwgk/xxgknb/") -> tuple[str, str]:
    ym, ymd = stamp[:7].replace("-", ""), stamp[:10].replace("-", "")
    rel = f"./{ym}/t{ymd}_{n}.html"
    return base + rel[2:], rel


def jszwb() -> Portal:
    rnd, src = random.Random("jszwb"), "综合处"
    stamp = "2021-01-05 10:17"
    path, rel = trs_article(stamp, 6923451)
    report = Article(
        key="jszwb-2016",
        path=path,
        href=rel,
        date=stamp,
        source=src,
        report=True,
        title="江苏省政务服务管理办公室2016年政府信息公开工作年度报告",
        body=reports.jszwb_2016(),
        index_no="014000319/2021-00002",
    )
    rest = xxgk(
        rnd,
        "江苏省政务服务管理办公室",
        dated(date(2020, 12, 20), 4, 45, rnd),
        lambda s, i: trs_article(s, 6900000 + i)[0],
        src,
    )
    for a in rest:
        a.href = "./" + a.path.removeprefix("/jszwb/zwgk/xxgknb/")
    return Portal(
        id="jszwb",
        name="江苏省政务服务管理办公室",
        region="江苏省",
        family="trs",
        cms="trs",
        prefix="/jszwb/",
        list_path="/jszwb/zwgk/xxgknb/index.html",
        column="政府信息公开年报",
        site_code="3200000101",
        domain="zwfw.jiangsu.gov.cn",
        articles=[report] + rest,
        per_page=20,
    )


def portals() -> dict[str, Portal]:
    """Fresh baseline portals (new objects every call: changes mutate them)."""
    return {p.id: p for p in (jiangsu(), zhejiang(), qidong(), jszwb())}
