"""The named changes: each a small function that edits a ``Site`` in place.

A mirror state is a tuple of these names applied in order on top of the baseline, e.g.
``("edit-number", "publish-new")``. Model edits (text, listings, paths) happen at once;
gates (challenges, block pages, 404s) go through ``site.later`` so they see final paths.
The docstring of each change is its help text (``CHANGES[name].__doc__``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from mirror import portals, special, texts
from mirror.families import list_href
from mirror.model import Article, Resp
from mirror.noise import HEADLINES, Noise

if TYPE_CHECKING:
    from mirror.site import Site

CHANGES: dict[str, Callable[[Site], None]] = {}


def change(name: str):
    def register(fn: Callable[[Site], None]) -> Callable[[Site], None]:
        CHANGES[name] = fn
        return fn

    return register


@change("baseline")
def baseline(site: Site) -> None:
    """Nothing changed (the name may appear in a state; it is dropped)."""


@change("edit-number")
def edit_number(site: Site) -> None:
    """启东 report: 三、(一)予以公开, total column 151 → 152 (that one cell only)."""
    site.portals["qidong"].article("qidong-2020").body = texts.qidong_2020(edit_number=True)


@change("publish-new")
def publish_new(site: Site) -> None:
    """江苏: 江苏省2021年政府信息公开工作年度报告 appears as the first list entry."""
    portal = site.portals["jiangsu"]
    col = re.search(r"col(\d+)", portal.list_path).group(1)
    stamp = "2022-02-08 15:40"
    portal.articles.insert(
        0,
        Article(
            key="jiangsu-2021",
            path=portals.hanweb_path(col, stamp, 2989001),
            date=stamp,
            report=True,
            title="江苏省2021年政府信息公开工作年度报告",
            body=texts.jiangsu_2021(),  # derived text, see texts
            source="江苏省人民政府办公厅",
            index_no="014000319/2022-00027",
        ),
    )


@change("noise-only")
def noise_only(site: Site) -> None:
    """Only noise: another sidebar headline set; report pages re-indented, attributes reordered."""
    site.noise = Noise(headlines=HEADLINES[20:], layout=1)


@change("edit-sentence")
def edit_sentence(site: Site) -> None:
    """浙江 report, section 一: one character changed (持续加大 → 持续加强)."""
    paras = texts.zhejiang_paras()
    i = next(n for n, p in enumerate(paras) if "持续加大重点领域信息公开力度" in p)
    paras[i] = paras[i].replace("持续加大重点领域信息公开力度", "持续加强重点领域信息公开力度", 1)
    site.portals["zhejiang"].article("zhejiang-2019").body = texts.zhejiang_2019(paras)


NEW_PARAGRAPH = (
    "此外，省政务办全年共受理政府信息公开申请3件，均在法定期限内予以答复，"
    "未发生因政府信息公开引起的行政复议和行政诉讼案件。"
)


@change("add-paragraph")
def add_paragraph(site: Site) -> None:
    """江苏省政务办 2016 report: one paragraph added before the closing paragraph."""
    paras = texts.jszwb_paras()
    paras.insert(len(paras) - 1, NEW_PARAGRAPH)
    site.portals["jszwb"].article("jszwb-2016").body = texts.jszwb_2016(paras)


@change("challenge")
def challenge(site: Site) -> None:
    """江苏 report pages: HTTP 412 瑞数 stub; 浙江 report pages: 200 cookie-setting reload script."""
    site.later(lambda: site.gate(site.portals["jiangsu"].report_paths(), special.challenge_412()))
    site.later(lambda: site.gate(site.portals["zhejiang"].report_paths(), special.cookie_reload()))


@change("jsl")
def jsl(site: Site) -> None:
    """江苏 report pages: HTTP 521 加速乐 ``document.cookie=('__jsluid_s=...')`` script."""
    site.later(lambda: site.gate(site.portals["jiangsu"].report_paths(), special.jsl_521()))


@change("maintenance")
def maintenance(site: Site) -> None:
    """江苏省政务办 report pages: 200 系统维护 page."""
    site.later(lambda: site.gate(site.portals["jszwb"].report_paths(), special.maintenance()))


@change("waf")
def waf(site: Site) -> None:
    """启东: list page 200 and every other page 403, both the WAF block page."""
    portal = site.portals["qidong"]
    site.prefix_overrides.append((portal.prefix, special.waf(403)))
    site.later(lambda: site.gate([portal.list_path], special.waf(200)))


def _delete_jszwb(site: Site, status: int) -> None:
    portal = site.portals["jszwb"]
    gone = portal.article("jszwb-2016")
    portal.articles.remove(gone)
    site.later(lambda: site.gate([gone.path], special.not_found(status)))


@change("delete-report")
def delete_report(site: Site) -> None:
    """江苏省政务办 2016 report removed: unlisted, its page answers 404."""
    _delete_jszwb(site, 404)


@change("soft-404")
def soft_404(site: Site) -> None:
    """Like delete-report, but the page answers 200 with 您访问的页面不存在 (a soft 404)."""
    _delete_jszwb(site, 200)


@change("portal-down")
def portal_down(site: Site) -> None:
    """浙江: every URL answers 503; report pages drop the connection without answering."""
    portal = site.portals["zhejiang"]
    site.prefix_overrides.append((portal.prefix, special.unavailable()))
    site.later(lambda: site.gate(portal.report_paths(), Resp(503, action="drop")))


def _moved(path: str, art: Article) -> str:
    y, m, d = art.ymd
    return re.sub(r"/art/\d{4}/\d+/\d+/art_\d+_", f"/art/2024/{m}/{d}/art_99001_", path)


@change("redesign")
def redesign(site: Site) -> None:
    """江苏 moves: column col99001, articles /jiangsu/art/2024/…; old column 301s, old articles 404."""
    portal = site.portals["jiangsu"]
    old_lists = [list_href(portal, n) for n in range(3)]
    old_paths = []
    portal.start_path = portal.list_path
    portal.list_path = "/jiangsu/col/col99001/index.html"
    for art in portal.articles:
        old_paths += [art.path] + ([art.alt_path] if art.alt_path else [])
        art.path = _moved(art.path, art)
        art.alt_path = art.alt_path and _moved(art.alt_path, art)
    site.later(lambda: site.gate(old_paths[:], special.not_found(404)))
    site.later(lambda: site.gate(old_lists[:1], special.redirect(portal.list_path)))
    site.later(lambda: site.gate(old_lists[1:], special.not_found(404)))


@change("bad-portal")
def bad_portal(site: Site) -> None:
    """Adds portal ``bad`` to the seeds: its list links every /bad/ route as if it were a report."""
    site.bad_portal = True


def _family(site: Site, pid: str):
    if pid not in site.cms:
        raise ValueError(
            f"this change needs the family portals (MirrorServer(families=True)): {pid}"
        )
    return site.cms[pid]


@change("edit-pdf")
def edit_pdf(site: Site) -> None:
    """Family portal 青石县 (trsnb): its 2021 PDF report re-issued with one table number changed."""
    from mirror import cms

    family = _family(site, "trsnb")
    entry = next(e for e in family.entries if e.kind == "pdf")
    entry.file = cms.trs_pdf(bump=1)


@change("rescan-image")
def rescan_image(site: Site) -> None:
    """Family portal 青石县 (trsnb): its image-only PDF re-scanned (new bytes, still no text)."""
    from mirror import docgen

    family = _family(site, "trsnb")
    entry = next(e for e in family.entries if e.kind == "image-pdf")
    entry.file = docgen.image_pdf(pages=3)
