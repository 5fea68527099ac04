"""Synthetic portals for benchmarks: ``bench`` (N report pages) and ``static`` (3 pages).

Pages are deterministic and noise-free: each is rendered once on first request and its
bytes cached, with an ETag and Last-Modified so conditional requests get 304. Every
report page has the 2019-template applicants × outcomes table with its own numbers.

>>> s = Synthetic(45)
>>> len(s.reports("http://h", "bench")), len(s.list_paths("bench"))
(45, 3)
>>> 20_000 <= len(s.resolve("/bench/art/7.html").bytes()) <= 40_000
True
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from email.utils import formatdate

from mirror import families, tables, texts
from mirror.model import Article, Portal, Resp
from mirror.noise import HEADLINES, Fresh

CITIES = [
    "南京市",
    "无锡市",
    "徐州市",
    "常州市",
    "苏州市",
    "南通市",
    "连云港市",
    "淮安市",
    "盐城市",
    "扬州市",
    "镇江市",
    "泰州市",
    "宿迁市",
    "杭州市",
    "宁波市",
    "温州市",
    "嘉兴市",
    "湖州市",
    "绍兴市",
    "金华市",
]
UNITS = [
    "人民政府",
    "发展和改革委员会",
    "教育局",
    "科学技术局",
    "工业和信息化局",
    "公安局",
    "民政局",
    "司法局",
    "财政局",
    "人力资源和社会保障局",
    "自然资源和规划局",
    "生态环境局",
    "住房和城乡建设局",
    "交通运输局",
    "水利局",
    "农业农村局",
    "商务局",
    "文化广电和旅游局",
    "卫生健康委员会",
    "市场监督管理局",
]
PER_LIST = 20
LAST_MODIFIED = formatdate(1612137600, usegmt=True)  # 2021-02-01, fixed


def _section3_blocks() -> list[str]:
    text = texts.seed("qidong_2020")
    body = text[text.index(tables.SEC3) : text.index(tables.SEC4)]
    blocks = [re.sub(r"\s*\n\s*", "\n", b.strip()) for b in re.split(r"\n\s*\n", body) if b.strip()]
    return blocks[1:]


class Synthetic:
    """The ``bench`` portal (``n`` reports) and the small ``static`` portal."""

    def __init__(self, n: int):
        self.n = n
        self._cache: dict[str, Resp] = {}
        self._lock = threading.Lock()
        self._blocks = _section3_blocks()
        self._prose = [p for p in texts.paragraphs(texts.seed("qidong_2020")) if len(p) > 80]
        self.portals = {
            "bench": self._portal("bench", "基准测试门户", n),
            "static": self._portal("static", "静态测试门户", 3),
        }

    @staticmethod
    def _portal(pid: str, name: str, count: int) -> Portal:
        return Portal(
            id=pid,
            name=name,
            region="测试",
            family="plain",
            cms="generic",
            prefix=f"/{pid}/",
            list_path=f"/{pid}/list/index.html",
            column="政府信息公开年报",
            site_code="0000000000",
            domain="127.0.0.1",
            per_page=PER_LIST,
            articles=[],
        )

    def count(self, pid: str) -> int:
        return self.n if pid == "bench" else 3

    def title(self, pid: str, i: int) -> str:
        city, unit = CITIES[i % len(CITIES)], UNITS[(i // len(CITIES)) % len(UNITS)]
        year = 2019 + (i // (len(CITIES) * len(UNITS))) % 5
        extra = f"（第{i // 2000 + 1}批）" if i >= 2000 else ""
        return f"{city}{unit}{year}年政府信息公开工作年度报告{extra}" + (
            "" if pid == "bench" else "（静态）"
        )

    def article(self, pid: str, i: int) -> Article:
        title = self.title(pid, i)
        year = int(re.search(r"(\d{4})年", title).group(1))
        stamp = f"{year + 1}-0{1 + i % 3}-{10 + i % 18} 09:00"
        return Article(
            key=f"{pid}-{i}",
            path=f"/{pid}/art/{i}.html",
            title=title,
            date=stamp,
            report=True,
            body=self._body(i, title),
            source=title.split(str(year))[0],
            index_no=f"BENCH/{i:06d}",
        )

    def _body(self, i: int, title: str) -> str:
        rnd = random.Random(i)
        blocks = [str(rnd.randint(0, 999)) if tables.is_number(b) else b for b in self._blocks]
        prose = rnd.sample(self._prose, 8)
        return (
            texts.para_html(
                [f"本报告根据《中华人民共和国政府信息公开条例》编制（{title}，编号{i}）。"]
                + prose[:4]
            )
            + "\n"
            + texts.para_html([tables.SEC3])
            + tables.section3(blocks, False)
            + "\n"
            + texts.para_html(prose[4:])
        )

    def list_paths(self, pid: str) -> list[str]:
        pages = max(1, -(-self.count(pid) // PER_LIST))
        return [families.list_href(self.portals[pid], p) for p in range(pages)]

    def reports(self, base: str, pid: str | None = None) -> set[str]:
        return {
            f"{base}/{p}/art/{i}.html"
            for p in self.portals
            if pid in (None, p)
            for i in range(self.count(p))
        }

    def resolve(self, path: str) -> Resp | None:
        """Cached static bytes for ``path`` (rendered on first use), or None."""
        with self._lock:
            if path in self._cache:
                return self._cache[path]
        resp = self._render(path)
        if resp is not None:
            with self._lock:
                self._cache[path] = resp
        return resp

    def _render(self, path: str) -> Resp | None:
        m = re.fullmatch(r"/(bench|static)/(?:art/(\d+)|list/index(?:_(\d+))?)\.html", path)
        if not m:
            return None
        pid, art, page = m.group(1), m.group(2), int(m.group(3) or 0)
        portal, fresh = (
            self.portals[pid],
            Fresh(0, "2021年2月1日 星期一", "2021-02-01 00:00:00", pid, HEADLINES[:5]),
        )
        if art is not None:
            if int(art) >= self.count(pid):
                return None
            article = self.article(pid, int(art))
            text = families.article_page(portal, article, fresh, article.body)
        else:
            npages = len(self.list_paths(pid))
            if page >= npages:
                return None
            end = min(self.count(pid), (page + 1) * PER_LIST)
            items = [self.article_stub(pid, i) for i in range(page * PER_LIST, end)]
            text = families.list_page(portal, items, page, npages, fresh)
        body = text.encode()
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        return Resp(
            200,
            body,
            {
                "Content-Type": "text/html; charset=utf-8",
                "ETag": etag,
                "Last-Modified": LAST_MODIFIED,
                "Cache-Control": "max-age=0",
            },
        )

    def article_stub(self, pid: str, i: int) -> Article:
        """List entry for report ``i`` (no body)."""
        title = self.title(pid, i)
        return Article(
            key=f"{pid}-{i}",
            path=f"/{pid}/art/{i}.html",
            title=title,
            date="2021-02-01 09:00",
            body="",
        )
