"""List adapters, one per CMS family, chosen per portal: ``ADAPTERS[name]``.

A seed's ``cms`` key picks the adapter; without one, the family is detected from
each list page (``detect``: scripts, markers, URL shapes). Every
adapter also keeps the generic behaviour: the spider always reads a page's own links
and pagers; an adapter adds entries and list requests the HTML alone does not show.
The class docstrings are the help text (``nianbao seeds check`` shows the name).
May import: stdlib, crawler.adapters.*.
"""

from __future__ import annotations

import re

from crawler.adapters.base import Adapter, ListPage, ListRequest
from crawler.adapters.hanweb import HanwebAdapter
from crawler.adapters.jpaas import JpaasAdapter
from crawler.adapters.trs import TrsAdapter


class TruecmsAdapter(Adapter):
    """truecms (启东 and other 南通 county sites): static column pages
    ``/<site>/<col>/<col>.html`` with ordinary pagers, read like a generic list."""

    name = "truecms"
    signs = re.compile(r"truecms|/qdsrmzf/", re.IGNORECASE)


ADAPTERS: dict[str, type[Adapter]] = {
    "hanweb": HanwebAdapter,
    "jpaas": JpaasAdapter,
    "trs": TrsAdapter,
    "truecms": TruecmsAdapter,
    "generic": Adapter,
}
DETECT_ORDER = ("jpaas", "hanweb", "trs", "truecms")  # JPaaS pages also look like Hanweb ones


def detect(url: str, text: str) -> str:
    """The family a list page belongs to, from its scripts, markers and URL shape.

    >>> detect("http://x/col/col5/index.html", "<p>")
    'hanweb'
    >>> detect("http://x/col/col5/index.html", '<script src="/js/unitbuild.js"></script>')
    'jpaas'
    >>> detect("http://x/nb/index.html", 'createPageHTML(2, 0, "index", "html")')
    'trs'
    >>> detect("http://x/list.html", "<ul><li>")
    'generic'
    """
    for name in DETECT_ORDER:
        if ADAPTERS[name]().matches(url, text):
            return name
    return "generic"


def choose(cms: str | None, url: str, text: str) -> tuple[Adapter, str]:
    """The adapter for a portal's list page and how it was chosen ("seed" or "detected")."""
    if cms in ADAPTERS:
        return ADAPTERS[cms](), "seed"
    return ADAPTERS[detect(url, text)](), "detected"


def help_text() -> dict[str, str]:
    """Adapter name → first docstring paragraph (for ``--help`` and docs)."""
    return {
        name: " ".join((cls.__doc__ or "").split("\n\n")[0].split())
        for name, cls in ADAPTERS.items()
    }


__all__ = ["ADAPTERS", "Adapter", "ListPage", "ListRequest", "choose", "detect", "help_text"]
