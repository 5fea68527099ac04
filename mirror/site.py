"""One state of the mirror: portals with the named changes applied, compiled into routes.

``Site(state)`` starts from the baseline portals, applies each named change in order
(``mirror.changes``), then compiles a path → ``Resp`` table. Noisy pages are
rendered per request (their ``Resp.body`` is a callable); everything else is bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from math import ceil
from urllib.parse import parse_qs

from mirror import cms, cmsroutes, families, portals, special, texts
from mirror.model import Article, Portal, Resp
from mirror.noise import Fresh, Noise, relayout

logger = logging.getLogger(__name__)


class Site:
    """Portals + overrides for one state (a tuple of change names)."""

    def __init__(
        self,
        state: tuple[str, ...] = (),
        families: bool = False,
        family_bench: tuple[int, int] = (0, 0),
    ):
        from mirror.changes import CHANGES  # changes imports Site for type hints only

        unknown = [c for c in state if c not in CHANGES]
        if unknown:
            raise ValueError(
                f"unknown mirror change(s): {', '.join(unknown)}; known: {', '.join(CHANGES)}"
            )
        self.state = tuple(c for c in state if c != "baseline")
        self.portals: dict[str, Portal] = portals.baseline()
        self.cms: dict[str, cms.CmsPortal] = cms.build() if families else {}
        if family_bench[0]:
            from mirror import cmsbench

            self.cms.update({p.portal.id: p for p in cmsbench.portals(*family_bench)})
        self.noise = Noise()
        self.bad_portal = False
        self.overrides: dict[str, Resp] = {}  # exact path (with ?query if any)
        self.prefix_overrides: list[tuple[str, Resp]] = []
        self._later: list[Callable[[], None]] = []
        for name in self.state:
            CHANGES[name](self)
        for fn in self._later:  # gates computed after every model change (order-independent)
            fn()
        self.routes = self._compile()

    def later(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after all model changes (to gate paths that other changes may move)."""
        self._later.append(fn)

    def gate(self, paths: list[str], resp: Resp) -> None:
        for path in paths:
            self.overrides[path] = resp

    # -- routes ---------------------------------------------------------------------------

    def _compile(self) -> dict[str, Resp]:
        routes = special.fixed_routes()
        for portal in self.portals.values():
            routes.update(self._portal_routes(portal))
        self.dynamic: dict[str, cmsroutes.Dynamic] = {}
        for family in self.cms.values():
            routes.update(cmsroutes.static_routes(family))
            self.dynamic.update(cmsroutes.dynamic_routes(family))
        return routes

    def _portal_routes(self, portal: Portal) -> dict[str, Resp]:
        routes: dict[str, Resp] = {}
        items = portal.articles
        npages = max(1, ceil(len(items) / portal.per_page))
        for page in range(npages):
            chunk = items[page * portal.per_page : (page + 1) * portal.per_page]
            resp = self._page(
                portal, lambda f, c=chunk, p=page: families.list_page(portal, c, p, npages, f)
            )
            routes[families.list_href(portal, page)] = resp
            if portal.family == "jpaas":
                routes[f"{portal.list_path}?page={page + 1}"] = resp
        for art in items:
            routes[art.path] = self._page(portal, self._article_renderer(portal, art), art.report)
            if art.alt_path:
                routes[art.alt_path] = self._page(
                    portal, self._trad_renderer(portal, art), art.report
                )
            for path, _text in art.attachments:
                routes[path] = special.pdf(f"nianbao mirror attachment: {art.key}")
        return routes

    def _page(self, portal: Portal, render: Callable[[Fresh], str], report: bool = False) -> Resp:
        """A noisy page: rendered and encoded on every request."""
        relay = report and self.noise.layout > 0
        noise = self.noise

        def body() -> bytes:
            text = render(Fresh.draw(noise))
            return (relayout(text) if relay else text).encode(portal.encoding, "xmlcharrefreplace")

        ctype = f"text/html; charset={portal.encoding}" if portal.charset_header else "text/html"
        return Resp(200, body, {"Content-Type": ctype})

    @staticmethod
    def _article_renderer(portal: Portal, art: Article) -> Callable[[Fresh], str]:
        extra = ""
        if portal.id == "qidong":  # GBK-only character (镕) in the chrome
            extra = '<div class="zrbj">责任编辑：陈镕 审核：施晓东</div>'
        return lambda f: families.article_page(portal, art, f, art.body, art.alt_path, extra)

    @staticmethod
    def _trad_renderer(portal: Portal, art: Article) -> Callable[[Fresh], str]:
        marker = "\x00BODY\x00"

        def render(f: Fresh) -> str:
            back = f'<div class="jt"><a href="{art.path}">简体版</a></div>'
            page = families.article_page(portal, art, f, marker, None, back)
            return texts.convert(page, "s2t").replace(marker, art.alt_body or "")

        return render

    # -- lookups --------------------------------------------------------------------------

    def resolve(self, path: str, query: str = "") -> Resp | None:
        """The answer for ``path`` (and ``query``) in this state, or None."""
        full = f"{path}?{query}" if query else path
        for key in (full, path):
            if key in self.overrides:
                return self.overrides[key]
        for prefix, resp in self.prefix_overrides:
            if path.startswith(prefix):
                return resp
        if path in self.dynamic:
            return self.dynamic[path]("GET", parse_qs(query), {})
        return self.routes.get(full) or self.routes.get(path)

    def resolve_post(self, path: str, query: str, data: str) -> Resp | None:
        """The answer to a POST (the Hanweb ``dataproxy.jsp``), or None."""
        if path in self.dynamic:
            return self.dynamic[path]("POST", parse_qs(query), cmsroutes.parse_form(data))
        return None

    def seed_portals(self) -> list[Portal]:
        return [p for p in self.portals.values() if p.in_seeds]

    def expected_reports(self, base: str, portal_id: str | None = None) -> set[str]:
        """URLs of the (canonical, simplified) report pages and files currently published
        and listed (for a family cover page: its attachment)."""
        found = {
            base + a.path
            for p in self.seed_portals()
            if portal_id in (None, p.id)
            for a in p.articles
            if a.report
        }
        return found | {
            base + path
            for pid, family in self.cms.items()
            if portal_id in (None, pid)
            for path in family.expected_paths()
        }

    def expected_renderings(self, base: str, portal_id: str | None = None) -> set[str]:
        """URLs of the alternative renderings (繁體) of the published reports."""
        return {
            base + a.alt_path
            for p in self.seed_portals()
            if portal_id in (None, p.id)
            for a in p.articles
            if a.report and a.alt_path
        }
