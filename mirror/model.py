"""The mirror's data model: portals, their articles, and canned HTTP answers.

A ``Portal`` is one imitation government site under its own path prefix; its
``articles`` are listed newest first on its column (list) pages. A ``Resp`` is one HTTP
answer; its body may be a callable so that noisy pages are rendered per request.

>>> Resp(200, b"x").bytes()
b'x'
>>> Resp(200, lambda: b"y").bytes()
b'y'

May import: the standard library only (a leaf).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Article:
    """One page in a portal's column: a report, a look-alike, or news filler."""

    key: str  # stable name, e.g. "jiangsu-2020"
    path: str  # absolute path on the mirror
    title: str
    date: str  # "YYYY-MM-DD HH:MM"
    body: str  # inner HTML of the family's body container
    report: bool = False
    source: str = ""  # 发布机构 / ContentSource
    doc_no: str = ""  # 文号
    index_no: str = ""  # 索引号
    alt_path: str | None = None  # 繁體 rendering of the same article
    alt_body: str | None = None
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (path, link text)
    href: str | None = None  # how the list page links it (relative for TRS); default path

    @property
    def ymd(self) -> tuple[int, int, int]:
        y, m, d = self.date[:10].split("-")
        return int(y), int(m), int(d)


@dataclass
class Portal:
    """One imitation portal."""

    id: str
    name: str
    region: str
    family: str  # hanweb | jpaas | truecms | trs | plain
    cms: str  # what seeds.toml says
    prefix: str  # "/jiangsu/"
    list_path: str  # first column page
    column: str  # ColumnName
    site_code: str  # SiteIDCode
    domain: str  # SiteDomain (imitated, never contacted)
    articles: list[Article] = field(default_factory=list)
    per_page: int = 10
    encoding: str = "utf-8"
    charset_header: bool = True  # False: Content-Type has no charset (meta only)
    start_path: str | None = None  # seeds start URL if not list_path (redesign keeps the old one)
    in_seeds: bool = True

    def article(self, key: str) -> Article:
        return next(a for a in self.articles if a.key == key)

    def report_paths(self) -> list[str]:
        """Paths of every rendering of every report page."""
        out = []
        for a in self.articles:
            if a.report:
                out += [a.path] + ([a.alt_path] if a.alt_path else [])
        return out


@dataclass
class Resp:
    """One HTTP answer. ``action``: None, "drop" (close without answering) or "truncate"."""

    status: int
    body: bytes | Callable[[], bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    action: str | None = None

    def bytes(self) -> bytes:
        return self.body() if callable(self.body) else self.body


def html_resp(status: int, text: str, charset: str | None = "utf-8") -> Resp:
    """An HTML answer encoded in ``charset`` (``None``: UTF-8 bytes, no charset in the header)."""
    ctype = f"text/html; charset={charset}" if charset else "text/html"
    return Resp(
        status, text.encode(charset or "utf-8", "xmlcharrefreplace"), {"Content-Type": ctype}
    )
