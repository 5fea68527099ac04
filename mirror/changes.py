"""The named changes: each a small function that edits a ``World`` in place.

A mirror state is a tuple of these names applied in order on top of the baseline, e.g.
``("edit-number", "publish-new")`` (``apply``). Model edits (text, listings, paths) happen
at once; gates (challenges, block pages, 404s) go through ``world.later`` so they see
final paths. The docstring of each change is its help text (``CHANGES[name].__doc__``).

>>> check(("baseline", "edit-number"))
('edit-number',)

May import: ``mirror.world``, ``mirror.baseline``, ``mirror.families``, ``mirror.templates``,
``mirror.hostile``, ``mirror.answers``, ``mirror.texts``, ``mirror.docgen``,
``mirror.noise``, ``mirror.model``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mirror import answers, baseline, docgen, hostile
from mirror.families.portals import trs_pdf
from mirror.model import Article, Resp, html_resp
from mirror.noise import HEADLINES, Noise
from mirror.templates import list_href
from mirror.texts import reports
from mirror.world import World

Change = Callable[[World], None]
CHANGES: dict[str, Change] = {}


def change(name: str) -> Callable[[Change], Change]:
    """Register the decorated function as the change ``name``."""

    def register(fn: Change) -> Change:
        CHANGES[name] = fn
        return fn

    return register


def check(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` without ``baseline``; ValueError naming the unknown ones, if any."""
    unknown = [c for c in names if c not in CHANGES]
    if unknown:
        raise ValueError(
            f"unknown mirror change(s): {', '.join(unknown)}; known: {', '.join(CHANGES)}"
        )
    return tuple(c for c in names if c != "baseline")


def apply(world: World, names: tuple[str, ...]) -> None:
    """Edit ``world`` with the changes ``names`` in order, then settle its gates."""
    for name in check(names):
        CHANGES[name](world)
    world.settle()


@change("baseline")
def no_change(world: World) -> None:
    """Nothing changed (the name may appear in a state; it is dropped)."""


@change("edit-number")
def edit_number(world: World) -> None:
    """启东 report: 三、(一)予以公开, total column 151 → 152 (that one cell only)."""
    world.portals["qidong"].article("qidong-2020").body = reports.qidong_2020(edit_number=True)


@change("publish-new")
def publish_new(world: World) -> None:
    """江苏: 江苏省2021年政府信息公开工作年度报告 appears as the first list entry."""
    portal = world.portals["jiangsu"]
    col = re.search(r"col(\d+)", portal.list_path).group(1)
    stamp = "2022-02-08 15:40"
    portal.articles.insert(
        0,
        Article(
            key="jiangsu-2021",
            path=baseline.hanweb_path(col, stamp, 2989001),
            date=stamp,
            report=True,
            title="江苏省2021年政府信息公开工作年度报告",
            body=reports.jiangsu_2021(),  # derived text, see mirror.texts.reports
            source="江苏省人民政府办公厅",
            index_no="014000319/2022-00027",
        ),
    )


@change("noise-only")
def noise_only(world: World) -> None:
    """Only noise: another sidebar headline set; report pages re-indented, attributes reordered."""
    world.noise = Noise(headlines=HEADLINES[20:], layout=1)


@change("edit-sentence")
def edit_sentence(world: World) -> None:
    """浙江 report, section 一: one character changed (持续加大 → 持续加强)."""
    paras = reports.zhejiang_paras()
    i = next(n for n, p in enumerate(paras) if "持续加大重点领域信息公开力度" in p)
    paras[i] = paras[i].replace("持续加大重点领域信息公开力度", "持续加强重点领域信息公开力度", 1)
    world.portals["zhejiang"].article("zhejiang-2019").body = reports.zhejiang_2019(paras)


NEW_PARAGRAPH = (
    "此外，省政务办全年共受理政府信息公开申请3件，均在法定期限内予以答复，"
    "未发生因政府信息公开引起的行政复议和行政诉讼案件。"
)


@change("add-paragraph")
def add_paragraph(world: World) -> None:
    """江苏省政务办 2016 report: one paragraph added before the closing paragraph."""
    paras = reports.jszwb_paras()
    paras.insert(len(paras) - 1, NEW_PARAGRAPH)
    world.portals["jszwb"].article("jszwb-2016").body = reports.jszwb_2016(paras)


@change("challenge")
def challenge(world: World) -> None:
    """江苏 report pages: HTTP 412 瑞数 stub; 浙江 report pages: 200 cookie-setting reload script."""
    world.later(
        lambda: world.gate(world.portals["jiangsu"].report_paths(), hostile.challenge_412())
    )
    world.later(
        lambda: world.gate(world.portals["zhejiang"].report_paths(), hostile.cookie_reload())
    )


@change("jsl")
def jsl(world: World) -> None:
    """江苏 report pages: HTTP 521 加速乐 ``document.cookie=('__jsluid_s=...')`` script."""
    world.later(lambda: world.gate(world.portals["jiangsu"].report_paths(), hostile.jsl_521()))


@change("maintenance")
def maintenance(world: World) -> None:
    """江苏省政务办 report pages: 200 系统维护 page."""
    world.later(lambda: world.gate(world.portals["jszwb"].report_paths(), hostile.maintenance()))


@change("waf")
def waf(world: World) -> None:
    """启东: list page 200 and every other page 403, both the WAF block page."""
    portal = world.portals["qidong"]
    world.prefix_overrides.append((portal.prefix, hostile.waf(403)))
    world.later(lambda: world.gate([portal.list_path], hostile.waf(200)))


def _delete_jszwb(world: World, status: int) -> None:
    portal = world.portals["jszwb"]
    gone = portal.article("jszwb-2016")
    portal.articles.remove(gone)
    world.later(lambda: world.gate([gone.path], answers.not_found(status)))


@change("delete-report")
def delete_report(world: World) -> None:
    """江苏省政务办 2016 report removed: unlisted, its page answers 404."""
    _delete_jszwb(world, 404)


@change("soft-404")
def soft_404(world: World) -> None:
    """Like delete-report, but the page answers 200 with 您访问的页面不存在 (a soft 404)."""
    _delete_jszwb(world, 200)


@change("portal-down")
def portal_down(world: World) -> None:
    """浙江: every URL answers 503; report pages drop the connection without answering."""
    portal = world.portals["zhejiang"]
    world.prefix_overrides.append((portal.prefix, hostile.unavailable()))
    world.later(lambda: world.gate(portal.report_paths(), Resp(503, action="drop")))


def _moved(path: str, art: Article) -> str:
    y, m, d = art.ymd
    return re.sub(r"/art/\d{4}/\d+/\d+/art_\d+_", f"/art/2024/{m}/{d}/art_99001_", path)


@change("redesign")
def redesign(world: World) -> None:
    """江苏 moves: column col99001, articles /jiangsu/art/2024/…; old column 301s, old articles 404."""
    portal = world.portals["jiangsu"]
    old_lists = [list_href(portal, n) for n in range(3)]
    old_paths = []
    portal.start_path = portal.list_path
    portal.list_path = "/jiangsu/col/col99001/index.html"
    for art in portal.articles:
        old_paths += [art.path] + ([art.alt_path] if art.alt_path else [])
        art.path = _moved(art.path, art)
        art.alt_path = art.alt_path and _moved(art.alt_path, art)
    world.later(lambda: world.gate(old_paths[:], answers.not_found(404)))
    world.later(lambda: world.gate(old_lists[:1], answers.redirect(portal.list_path)))
    world.later(lambda: world.gate(old_lists[1:], answers.not_found(404)))


@change("bad-portal")
def bad_portal(world: World) -> None:
    """Adds portal ``bad`` to the seeds: its list links every /bad/ route as if it were a report."""
    world.bad_portal = True


@change("edit-pdf")
def edit_pdf(world: World) -> None:
    """Family portal 青石县 (trsnb): its 2021 PDF report re-issued with one table number changed."""
    family = world.family("trsnb")
    entry = next(e for e in family.entries if e.kind == "pdf")
    entry.file = trs_pdf(bump=1)


@change("rescan-image")
def rescan_image(world: World) -> None:
    """Family portal 青石县 (trsnb): its image-only PDF re-scanned (new bytes, still no text)."""
    family = world.family("trsnb")
    entry = next(e for e in family.entries if e.kind == "image-pdf")
    entry.file = docgen.image_pdf(pages=3)


# ---- a portal that breaks (issue 13): for the first family portal at scale, ``hw00`` --------
# (``MirrorServer(family_bench=(n, reports))``); ``pl03`` is its plain-list sibling.


def _scaled_paths(world: World, pid: str) -> list[str]:
    """Every address of a scaled family portal's entries: pages, files and attachments."""
    family = world.family(pid)
    out = [e.article.path for e in family.entries]
    return out + [e.attachment[0] for e in family.entries if e.attachment]


APP_SHELL = (
    '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{name}</title>'
    '</head><body><div id="app"></div><script src="{prefix}app.js"></script></body></html>'
)


@change("spa-shell")
def spa_shell(world: World) -> None:
    """Portal ``pl03`` redesigned: its list page is a script-rendered shell
    (``<div id="app"></div><script src="…/app.js">``) and every old article address is 404."""
    portal = world.family("pl03").portal
    shell = html_resp(200, APP_SHELL.format(name=portal.name, prefix=portal.prefix))
    paths = _scaled_paths(world, "pl03")
    world.later(lambda: world.gate([portal.list_path], shell))
    world.later(lambda: world.gate(paths, answers.not_found(404)))


@change("adapter-lost")
def adapter_lost(world: World) -> None:
    """Portal ``hw00`` moved to another CMS: its column page (same address) is now a JPaaS
    ``unitbuild.js`` shell whose list API answers nothing, and old articles are 404."""
    family = world.family("hw00")
    portal = family.portal
    page = (
        f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{portal.column}'
        f'</title></head><body><h2>{portal.column}</h2><div id="app" data-column="8801"></div>'
        '<script src="/js/unitbuild.js"></script></body></html>'
    )
    paths = _scaled_paths(world, "hw00")
    world.later(lambda: world.gate([portal.list_path], html_resp(200, page)))
    world.later(lambda: world.gate(paths, answers.not_found(404)))


@change("redirect-home")
def redirect_home(world: World) -> None:
    """Portal ``pl03``: every report address (pages and files) answers 302 to its home page,
    a page that links nothing but the list."""
    portal = world.family("pl03").portal
    home = f"{portal.prefix}index.html"
    page = (
        f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{portal.name}'
        f"</title></head><body><h1>{portal.name}</h1><p>欢迎访问{portal.name}门户网站。</p>"
        f'<a href="{portal.list_path}">{portal.column}</a></body></html>'
    )
    paths = _scaled_paths(world, "pl03")
    world.later(lambda: world.gate([home], html_resp(200, page)))
    world.later(lambda: world.gate(paths, answers.redirect(home, 302)))


@change("delete-one")
def delete_one(world: World) -> None:
    """Portal ``pl03``: one report (its second entry) unlisted and its page answering 404."""
    family = world.family("pl03")
    gone = next(e for e in family.entries[1:] if e.kind == "page" and e.expected)
    family.entries.remove(gone)
    world.later(lambda: world.gate([gone.article.path], answers.not_found(404)))
