"""What every web page shares: the ``pages`` blueprint, the JSON twin of each page
(``twin``), paging (``?page=N``) and the request's read-only store.

Every page is a Jinja2 template (autoescaped); its JSON twin is at the same path plus
``.json`` (or ``?format=json``). The pages themselves are in ``monitor.web.pages`` and
``monitor.web.coveragepage``.

May import: flask, monitor.store (the ``Store`` type; the connection comes from
``monitor.web.db`` through the app).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, current_app, render_template, request

from monitor.store import Store

PER_PAGE = 50
pages = Blueprint("pages", __name__)


def twin(rule: str) -> Callable:
    """Register a page at ``rule`` and its JSON twin at ``rule.json`` (``/`` → ``/index.json``)."""

    def register(view: Callable) -> Callable:
        pages.add_url_rule(rule, view_func=view, methods=["GET"])
        json_rule = "/index.json" if rule == "/" else rule + ".json"
        pages.add_url_rule(
            json_rule, view_func=view, methods=["GET"], endpoint=view.__name__ + "_json"
        )
        return view

    return register


def wants_json() -> bool:
    return request.path.endswith(".json") or request.args.get("format") == "json"


def page_number() -> int:
    value = request.args.get("page", "1")
    return max(1, int(value)) if value.isdigit() else 1


def respond(template: str, data: dict, **extra: object) -> Response | str:
    """The JSON twin, or the page with ``data`` and ``extra`` (template-only values)."""
    if wants_json():
        return current_app.json.response(data)
    return render_template(template, **{"page": page_number(), **data}, **extra, per_page=PER_PAGE)


def open_store() -> Store:
    """The request's store: read-only, migrations checked once (``monitor.web.db``)."""
    return current_app.extensions["nianbao_db"].read()


def paged(items: list) -> tuple[list, bool]:
    """One page of ``items`` (already the page and one more), and whether there is a next."""
    return items[:PER_PAGE], len(items) > PER_PAGE
