"""Synthetic portals for benchmarks: ``bench`` (N report pages) and ``static`` (3 pages).

Pages are deterministic: each is rendered once on first request and its bytes cached,
with an ETag and Last-Modified so conditional requests get 304. Every report page has
the 2019-template applicants × outcomes table with its own numbers.

With ``noisy=True`` (``MirrorServer(synthetic=N, synthetic_noise=True)``, for
``bench/noise.py``) the report pages are rendered on every request with fresh noise (view
counter, dates, sidebar, tokens; re-laid out in the ``noise-only`` state) and no page
has validators, like most portal servers. ``edit`` applies real edits of five kinds
(``EDITS``) to chosen bench reports, in either mode.

>>> s = Synthetic(45)
>>> len(s.reports("http://h", "bench")), len(s.list_paths("bench"))
(45, 3)
>>> 20_000 <= len(s.resolve("/bench/art/7.html").bytes()) <= 40_000
True
>>> noisy = Synthetic(3, noisy=True)
>>> noisy.resolve("/bench/art/1.html").bytes() != noisy.resolve("/bench/art/1.html").bytes()
True

May import: ``mirror.templates``, ``mirror.answers``, ``mirror.texts``, ``mirror.noise``,
``mirror.model``.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable
from datetime import date
from email.utils import formatdate

from mirror import templates
from mirror.answers import static
from mirror.model import Article, Portal, Resp
from mirror.noise import Fresh, Noise, relayout
from mirror.texts import reports, tables
from mirror.texts.markup import para_html, paragraphs
from mirror.texts.names import CITIES, UNITS

PER_LIST = 20
LAST_MODIFIED = formatdate(1612137600, usegmt=True)  # 2021-02-01, fixed
PATHS = re.compile(r"/(bench|static)/(?:art/(\d+)|list/index(?:_(\d+))?)\.html")
CELL = re.compile(r'(<span style="font-family:宋体;font-size:10\.5pt">)(\d+)(</span>)')
PROSE = re.compile(r'<p style="text-indent:2em;">([^<]{40,})</p>')
ROW = re.compile(r"<tr>(?:(?!<tr>).)*?</tr></table>", re.S)
ADDED = '<p style="text-indent:2em;">本年度另行补充说明：已完成全部整改事项。</p>'


# -- edits of a report body ---------------------------------------------------------------


def edit_digit(body: str) -> str:
    """One table cell's number plus one.

    >>> edit_digit('<span style="font-family:宋体;font-size:10.5pt">41</span>')
    '<span style="font-family:宋体;font-size:10.5pt">42</span>'
    """
    m = CELL.search(body)
    return body[: m.start(2)] + str(int(m.group(2)) + 1) + body[m.end(2) :]


def edit_char(body: str) -> str:
    """One character changed in the second prose paragraph."""
    m = list(PROSE.finditer(body))[1]
    pos = m.start(1) + 12
    return body[:pos] + ("某" if body[pos] != "某" else "甲") + body[pos + 1 :]


def add_paragraph(body: str) -> str:
    """A closing paragraph added."""
    return body + "\n" + ADDED


def remove_paragraph(body: str) -> str:
    """The last prose paragraph removed."""
    m = list(PROSE.finditer(body))[-1]
    return body[: m.start()] + body[m.end() :]


def add_row(body: str) -> str:
    """A row added to the report's table: a copy of its last row, numbers plus seven."""
    m = ROW.search(body)
    row = m.group(0)[: -len("</table>")]
    new_row = re.sub(r">(\d+)<", lambda d: f">{int(d.group(1)) + 7}<", row)
    return body[: m.start()] + row + new_row + "</table>" + body[m.end() :]


EDITS: dict[str, Callable[[str], str]] = {
    "digit": edit_digit,
    "char": edit_char,
    "add-paragraph": add_paragraph,
    "remove-paragraph": remove_paragraph,
    "add-row": add_row,
}


# -- the portals --------------------------------------------------------------------------


def _frozen(pid: str) -> Fresh:
    return Fresh.fixed(date(2021, 2, 1), pid)


class Synthetic:
    """The ``bench`` portal (``n`` reports) and the small ``static`` portal."""

    def __init__(self, n: int, noisy: bool = False):
        self.n, self.noisy = n, noisy
        self._edits: dict[str, str] = {}  # report path → name in EDITS
        self._cache: dict[str, Resp] = {}  # static pages
        self._articles: dict[str, Article] = {}  # noisy report pages
        self._lock = threading.Lock()
        self._blocks = reports.qidong_section3()
        self._prose = [p for p in paragraphs(reports.dump("qidong_2020")) if len(p) > 80]
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
        """Report ``i`` of portal ``pid``, with its edit if it has one."""
        title = self.title(pid, i)
        year = int(re.search(r"(\d{4})年", title).group(1))
        stamp = f"{year + 1}-0{1 + i % 3}-{10 + i % 18} 09:00"
        path = f"/{pid}/art/{i}.html"
        body = self._body(i, title)
        if path in self._edits:
            body = EDITS[self._edits[path]](body)
        return Article(
            key=f"{pid}-{i}",
            path=path,
            title=title,
            date=stamp,
            report=True,
            body=body,
            source=title.split(str(year))[0],
            index_no=f"BENCH/{i:06d}",
        )

    def _body(self, i: int, title: str) -> str:
        rnd = random.Random(i)
        scale = rnd.randint(1, 9)  # 启东's figures times a factor: sums still add up, as in
        blocks = [  # most real reports, so findings stay as rare as they are there
            str(int(float(b) * scale)) if tables.is_number(b) else b for b in self._blocks
        ]
        prose = rnd.sample(self._prose, 8)
        return (
            para_html(
                [f"本报告根据《中华人民共和国政府信息公开条例》编制（{title}，编号{i}）。"]
                + prose[:4]
            )
            + "\n"
            + para_html([tables.SEC3])
            + tables.section3(blocks, False)
            + "\n"
            + para_html(prose[4:])
        )

    def edit(self, edits: dict[int, str]) -> None:
        """Edit bench reports: report index → a name in ``EDITS``; replaces earlier edits."""
        unknown = sorted(set(edits.values()) - set(EDITS))
        if unknown:
            raise ValueError(f"unknown edit(s): {', '.join(unknown)}; known: {', '.join(EDITS)}")
        with self._lock:
            self._edits = {f"/bench/art/{i}.html": kind for i, kind in edits.items()}
            self._cache.clear()
            self._articles.clear()

    def list_paths(self, pid: str) -> list[str]:
        pages = max(1, -(-self.count(pid) // PER_LIST))
        return [templates.list_href(self.portals[pid], p) for p in range(pages)]

    def reports(self, base: str, pid: str | None = None) -> set[str]:
        return {
            f"{base}/{p}/art/{i}.html"
            for p in self.portals
            if pid in (None, p)
            for i in range(self.count(p))
        }

    def resolve(self, path: str, noise: Noise | None = None) -> Resp | None:
        """The answer for ``path``, or None: cached bytes (rendered on first use), or for a
        noisy report page a fresh rendering with ``noise`` (default: everyday noise)."""
        m = PATHS.fullmatch(path)
        if not m:
            return None
        if self.noisy and m.group(2) is not None:
            return self._noisy(m.group(1), int(m.group(2)), noise or Noise())
        with self._lock:
            if path in self._cache:
                return self._cache[path]
        resp = self._render(m.group(1), m.group(2), int(m.group(3) or 0))
        if resp is not None:
            with self._lock:
                self._cache[path] = resp
        return resp

    def _render(self, pid: str, art: str | None, page: int) -> Resp | None:
        portal = self.portals[pid]
        if art is not None:
            if int(art) >= self.count(pid):
                return None
            article = self.article(pid, int(art))
            text = templates.article_page(portal, article, _frozen(pid), article.body)
        else:
            npages = len(self.list_paths(pid))
            if page >= npages:
                return None
            end = min(self.count(pid), (page + 1) * PER_LIST)
            items = [self.article_stub(pid, i) for i in range(page * PER_LIST, end)]
            text = templates.list_page(portal, items, page, npages, _frozen(pid))
        if self.noisy:  # no validators: every request gets the whole page
            return Resp(200, text.encode(), {"Content-Type": "text/html; charset=utf-8"})
        resp = static(text.encode(), "text/html; charset=utf-8", LAST_MODIFIED)
        resp.headers["Cache-Control"] = "max-age=0"
        return resp

    def _noisy(self, pid: str, i: int, noise: Noise) -> Resp | None:
        if i >= self.count(pid):
            return None
        path = f"/{pid}/art/{i}.html"
        with self._lock:
            article = self._articles.get(path)
        if article is None:
            article = self.article(pid, i)
            with self._lock:
                self._articles[path] = article
        portal = self.portals[pid]

        def body() -> bytes:
            page = templates.article_page(portal, article, Fresh.draw(noise), article.body)
            return (relayout(page) if noise.layout else page).encode()

        return Resp(200, body, {"Content-Type": "text/html; charset=utf-8"})

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
