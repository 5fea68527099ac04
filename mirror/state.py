"""One state of the mirror: the world after its named changes, compiled into routes.

``Site(state)`` builds a baseline ``World`` (``mirror.world``), applies each named change
in order (``mirror.changes``), then compiles a path → ``Resp`` table. Noisy pages are
rendered per request (their ``Resp.body`` is a callable); everything else is bytes.
``MirrorServer.set_state`` swaps one ``Site`` for another.

May import: ``mirror.changes``, ``mirror.world``, ``mirror.families``, ``mirror.templates``,
``mirror.hostile``, ``mirror.answers``, ``mirror.texts``, ``mirror.noise``, ``mirror.model``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from math import ceil
from urllib.parse import parse_qs

from mirror import answers, changes, hostile, templates
from mirror.families import routes as family_routes
from mirror.model import Article, Portal, Resp
from mirror.noise import Fresh, relayout
from mirror.texts.reports import convert
from mirror.world import World

logger = logging.getLogger(__name__)


class Site:
    """The routes of one state (a tuple of change names) and the world they come from."""

    def __init__(
        self,
        state: tuple[str, ...] = (),
        families: bool = False,
        family_bench: tuple[int, int] = (0, 0),
    ):
        self.state = changes.check(state)  # ValueError on an unknown name
        self.world = World.baseline(families, family_bench)
        changes.apply(self.world, self.state)
        self.dynamic: dict[str, family_routes.Dynamic] = {}
        self.routes = self._compile()

    # -- routes ---------------------------------------------------------------------------

    def _compile(self) -> dict[str, Resp]:
        routes = answers.fixed_routes() | hostile.bad_routes()
        self.dynamic.update(hostile.hostile_dynamic())
        for portal in self.world.portals.values():
            routes.update(self._portal_routes(portal))
        for family in self.world.family_portals.values():
            routes.update(family_routes.static_routes(family))
            self.dynamic.update(family_routes.dynamic_routes(family))
        return routes

    def _portal_routes(self, portal: Portal) -> dict[str, Resp]:
        routes: dict[str, Resp] = {}
        items = portal.articles
        npages = max(1, ceil(len(items) / portal.per_page))
        for page in range(npages):
            chunk = items[page * portal.per_page : (page + 1) * portal.per_page]
            resp = self._page(
                portal, lambda f, c=chunk, p=page: templates.list_page(portal, c, p, npages, f)
            )
            routes[templates.list_href(portal, page)] = resp
            if portal.family == "jpaas":
                routes[f"{portal.list_path}?page={page + 1}"] = resp
        for art in items:
            routes[art.path] = self._page(portal, self._article_renderer(portal, art), art.report)
            if art.alt_path:
                routes[art.alt_path] = self._page(
                    portal, self._trad_renderer(portal, art), art.report
                )
            for path, _text in art.attachments:
                routes[path] = answers.pdf(f"nianbao mirror attachment: {art.key}")
        return routes

    def _page(self, portal: Portal, render: Callable[[Fresh], str], report: bool = False) -> Resp:
        """A noisy page: rendered and encoded on every request."""
        noise = self.world.noise
        relay = report and noise.layout > 0

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
        return lambda f: templates.article_page(portal, art, f, art.body, art.alt_path, extra)

    @staticmethod
    def _trad_renderer(portal: Portal, art: Article) -> Callable[[Fresh], str]:
        marker = "\x00BODY\x00"

        def render(f: Fresh) -> str:
            back = f'<div class="jt"><a href="{art.path}">简体版</a></div>'
            page = templates.article_page(portal, art, f, marker, None, back)
            return convert(page, "s2t").replace(marker, art.alt_body or "")

        return render

    # -- lookups --------------------------------------------------------------------------

    def resolve(self, path: str, query: str = "") -> Resp | None:
        """The answer for ``path`` (and ``query``) in this state, or None."""
        full = f"{path}?{query}" if query else path
        for key in (full, path):
            if key in self.world.overrides:
                return self.world.overrides[key]
        for prefix, resp in self.world.prefix_overrides:
            if path.startswith(prefix):
                return resp
        if path in self.dynamic:
            return self.dynamic[path]("GET", parse_qs(query), {})
        return self.routes.get(full) or self.routes.get(path)

    def resolve_post(self, path: str, query: str, data: str) -> Resp | None:
        """The answer to a POST (the Hanweb ``dataproxy.jsp``), or None."""
        if path in self.dynamic:
            return self.dynamic[path]("POST", parse_qs(query), family_routes.parse_form(data))
        return None

    def expected_reports(self, base: str, portal_id: str | None = None) -> set[str]:
        """URLs of the (canonical, simplified) report pages and files currently published
        and listed (for a family cover page: its attachment)."""
        found = {
            base + a.path
            for p in self.world.seed_portals()
            if portal_id in (None, p.id)
            for a in p.articles
            if a.report
        }
        return found | {
            base + path
            for pid, family in self.world.family_portals.items()
            if portal_id in (None, pid)
            for path in family.expected_paths()
        }

    def expected_renderings(self, base: str, portal_id: str | None = None) -> set[str]:
        """URLs of the alternative renderings (繁體) of the published reports."""
        return {
            base + a.alt_path
            for p in self.world.seed_portals()
            if portal_id in (None, p.id)
            for a in p.articles
            if a.report and a.alt_path
        }
