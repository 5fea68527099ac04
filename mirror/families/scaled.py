"""Family portals at scale for ``bench/portals.py`` (``MirrorServer(family_bench=(count,
reports))``): ``portals(count, reports)`` builds ``count`` portals cycling through the four
list mechanisms, each with ``reports`` reports (plus a fifth as many non-report entries);
every fifth report is a file: a PDF linked straight from the list, or a cover page with a
PDF or DOCX attachment.

>>> ps = portals(4, 10)
>>> [p.mechanism for p in ps], [len(p.expected_paths()) for p in ps]
(['hanweb-datastore', 'jpaas-json', 'trs-createpage', 'plain'], [10, 10, 10, 10])

May import: ``mirror.families.portals``, ``mirror.texts``, ``mirror.docgen``, ``mirror.model``.
"""

from __future__ import annotations

from mirror import docgen
from mirror.families.portals import (
    Entry,
    FamilyPortal,
    news_entries,
    report_article,
    report_paras,
    table_rows,
)
from mirror.model import Portal
from mirror.texts.markup import para_html
from mirror.texts.names import CITIES, UNITS

MECHANISMS = (
    ("hw", "hanweb-datastore", "hanweb", None, 15),
    ("jp", "jpaas-json", "jpaas", "jpaas", 15),
    ("ts", "trs-createpage", "trs", "trs", 20),
    ("pl", "plain", "hanweb", "generic", 1000),
)


def _path(pid: str, family: str, i: int) -> str:
    if family == "trs":
        return f"/{pid}/xxgknb/2021{1 + i % 12:02d}/t20210{1 + i % 9}1{i % 10}_{i}.html"
    return f"/{pid}/art/2021/{1 + i % 12}/{1 + i % 28}/art_88{i:04d}_{i}.html"


def _file_entry(pid: str, i: int, unit: str, year: int, entry: Entry) -> None:
    paras = report_paras(unit, year, i)
    if i % 10 == 0:  # linked straight from the list
        entry.kind, entry.article.path = "pdf", f"/{pid}/files/nb{i}.pdf"
        entry.file = docgen.text_pdf(paras, title=paras[0], rows=table_rows(year))
        return
    entry.kind = "cover"
    entry.article.body = para_html(["详见附件。"])
    if i % 20 == 5:
        name, data = f"/{pid}/files/nb{i}.docx", docgen.docx(paras, table_rows(year))
    else:
        name, data = f"/{pid}/files/nb{i}.pdf", docgen.text_pdf(paras, rows=table_rows(year))
    entry.attachment = (name, paras[0] + name[-5:], data)
    entry.article.attachments = [entry.attachment[:2]]


def portal(n: int, reports: int) -> FamilyPortal:
    """Portal number ``n`` (its mechanism is ``MECHANISMS[n % 4]``)."""
    code, mechanism, family, seed_cms, per_page = MECHANISMS[n % len(MECHANISMS)]
    pid, city = f"{code}{n:02d}", CITIES[n % len(CITIES)]
    entries = []
    for i in range(reports):
        unit, year = city + UNITS[i % len(UNITS)], 2019 + (i // len(UNITS)) % 5
        entry = Entry(report_article(unit, year, _path(pid, family, i), i))
        entry.article.key = f"r{i}"
        if i % 5 == 0:
            _file_entry(pid, i, unit, year, entry)
        entries.append(entry)
    news = news_entries(
        city + "人民政府", 2023, max(1, reports // 5), lambda s, k: _path(pid, family, 10_000 + k)
    )
    step = max(1, len(entries) // len(news))
    mixed = []
    for k, entry in enumerate(entries):
        mixed.append(entry)
        if k % step == step - 1 and news:
            mixed.append(news.pop())
    list_path = (
        f"/{pid}/xxgknb/index.html" if family == "trs" else f"/{pid}/col/col88{n:02d}/index.html"
    )
    shell = Portal(
        pid,
        city + "人民政府",
        "测试",
        family,
        seed_cms or "",
        f"/{pid}/",
        list_path,
        "政府信息公开年报",
        "0000000000",
        "127.0.0.1",
        per_page=per_page,
    )
    return FamilyPortal(shell, mechanism, mixed + news, seed_cms, per_page=per_page)


def portals(count: int, reports: int) -> list[FamilyPortal]:
    return [portal(n, reports) for n in range(count)]
