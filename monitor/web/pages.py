"""The web pages (issue 11): overview, portal, report timeline, event diff, coverage, search.

Every page is a Jinja2 template (autoescaped) with Chinese labels and no JavaScript; every
page has a JSON twin at the same path plus ``.json`` (or ``?format=json``) with the fields
the CLI's ``--json`` gives. Lists are paged with ``?page=N``. All reads go through the
store's parts; nothing here writes.

The overview's portal health comes from the ``status`` function the app was given (the
``nianbao status --json`` document; it lives above this layer, in monitor.daemon).

May import: flask, monitor.store, monitor.models, monitor.web.diffview, crawler.textnorm.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable

from flask import Blueprint, Response, abort, current_app, render_template, request
from markupsafe import Markup

from crawler.textnorm import normalise
from monitor.store import Store
from monitor.web import diffview

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
    return Store(current_app.config["NIANBAO_DB"])


def paged(items: list) -> tuple[list, bool]:
    """One page of ``items`` (already the page and one more), and whether there is a next."""
    return items[:PER_PAGE], len(items) > PER_PAGE


# ---- overview ---------------------------------------------------------------------------


@twin("/")
def overview() -> Response | str:
    """Portals with their health (broken first), last and next run; latest events; reports
    by year; removals held as suspect."""
    status = current_app.config.get("STATUS_DOC")
    offset = (page_number() - 1) * PER_PAGE
    with open_store() as store:
        portals = status(store)["portals"] if status else _bare_portals(store)
        events = store.events.search(limit=offset + PER_PAGE + 1)[offset:]
        by_year = store.reports.count_by_year()
        held = [h.to_json() for h in store.reports.held()]
    events, more = paged(events)
    data = {
        "portals": portals,
        "latest_events": [e.to_json() for e in events],
        "reports_by_year": [{"year": y, "reports": n} for y, n in by_year.items()],
        "held_removals": held,
        "page": page_number(),
        "more": more,
    }
    return respond("overview.html", data)


def _bare_portals(store: Store) -> list[dict]:
    return [
        {"portal_id": p, "name": n, "health": None} for p, n in sorted(store.runs.names().items())
    ]


# ---- one portal -------------------------------------------------------------------------


@twin("/portals/<portal_id>")
def portal(portal_id: str) -> Response | str:
    """A portal's reports, latest runs and fetch problems."""
    offset = (page_number() - 1) * PER_PAGE
    with open_store() as store:
        info = store.runs.portal(portal_id)
        if info is None:
            abort(404)
        reports = [r.to_json() for r in store.reports.summaries(portal_id)]
        runs = [r.to_json() for r in store.runs.recent_by_portal().get(portal_id, [])]
        problems = [
            p.to_json() for p in store.runs.portal_problems(portal_id, PER_PAGE + 1, offset)
        ]
    problems, more = paged(problems)
    data = {"portal": info, "reports": reports, "runs": runs, "problems": problems, "more": more}
    return respond("portal.html", data)


# ---- one report: its versions as a timeline, with evidence ------------------------------


@twin("/reports/<int:report_id>")
def report(report_id: int) -> Response | str:
    """A report's versions, newest first, each with its text and evidence: the address and
    time it was fetched, the HTTP status, sha256 of the raw bytes and of the text."""
    with open_store() as store:
        found = store.reports.get(report_id)
        if found is None:
            abort(404)
        history = store.reports.history(report_id)
        versions = []
        for entry in reversed(history):
            version = store.reports.version(entry.id, raw=True)
            versions.append(_evidence(entry.to_json(), version.raw, version.text))
        events = [e.to_json() for e in store.events.search() if e.report_id == report_id]
    data = {"report": found.to_json(), "versions": versions, "events": events}
    return respond("report.html", data)


def _evidence(entry: dict, raw: bytes | None, text: str) -> dict:
    """A ``nianbao history`` line plus its text and the digests a citation needs."""
    return {
        **entry,
        "raw_sha256": hashlib.sha256(raw).hexdigest() if raw else entry.get("raw_sha"),
        "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "raw_bytes": len(raw) if raw else None,
        "text": text,
    }


# ---- one event: the diff ----------------------------------------------------------------


@twin("/events/<int:event_id>")
def event(event_id: int) -> Response | str:
    """The event with its diff: unified (``?view=unified``) or side by side (default);
    changed table rows as tables with the changed cells named by row and column."""
    with open_store() as store:
        found = store.events.get(event_id)
        if found is None:
            abort(404)
        new = store.reports.version(found.new_version_id) if found.new_version_id else None
        old = store.reports.version(found.old_version_id) if found.old_version_id else None
    tables = diffview.table_changes(found.diff, new.text if new else "", found.numbers)
    data = {
        "event": found.to_json(),
        "changed_cells": [c.name for t in tables for c in t.cells],
        "versions": {
            "old": _version_ref(old),
            "new": _version_ref(new),
        },
    }
    if wants_json():
        return current_app.json.response(data)
    view = "unified" if request.args.get("view") == "unified" else "split"
    rows = diffview.parse(found.diff)
    return render_template(
        "event.html", **data, view=view, rows=rows, pairs=diffview.side_by_side(rows), tables=tables
    )


def _version_ref(version: object) -> dict | None:
    if version is None:
        return None
    return {
        "id": version.id,
        "report_id": version.report_id,
        "fetched_at": version.fetched_at,
        "url": version.url,
        "text_sha": version.text_sha,
        "raw_sha": version.raw_sha,
    }


# ---- coverage ---------------------------------------------------------------------------


@twin("/coverage")
def coverage() -> Response | str:
    """Issuers × years: found (a published report), removed, or not found; ``?region=``
    filters; ``?format=csv`` exports the grid (UTF-8 with BOM, for Excel)."""
    region = request.args.get("region", "").strip() or None
    with open_store() as store:
        rows = store.reports.coverage(region)
    grid = _grid(rows)
    if request.args.get("format") == "csv":
        return _csv(grid)
    data = {"region": region, **grid}
    return respond("coverage.html", data)


def _grid(rows: list[dict]) -> dict:
    years = sorted({r["year"] for r in rows if r["year"]}, reverse=True)
    issuers: dict[tuple, dict] = {}
    for r in rows:
        key = (r["region"], r["issuer"], r["portal_id"])
        line = issuers.setdefault(
            key,
            {
                "portal_id": r["portal_id"],
                "issuer": r["issuer"],
                "region": r["region"],
                "cells": {},
            },
        )
        if r["year"]:
            state = "found" if r["published"] else "removed"
            line["cells"][str(r["year"])] = {
                "state": state,
                "reports": r["reports"],
                "report_id": r["report_id"],
            }
    for line in issuers.values():
        for y in years:
            line["cells"].setdefault(
                str(y), {"state": "not_found", "reports": 0, "report_id": None}
            )
    return {"years": years, "issuers": list(issuers.values())}


STATE_LABELS = {"found": "已发布", "removed": "已删除", "not_found": "未找到"}


def _csv(grid: dict) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["地区", "发布机关", "门户", *grid["years"]])
    for line in grid["issuers"]:
        cells = [STATE_LABELS[line["cells"][str(y)]["state"]] for y in grid["years"]]
        writer.writerow([line["region"], line["issuer"], line["portal_id"], *cells])
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=coverage.csv"
    return response


# ---- search -----------------------------------------------------------------------------


def search_terms(query: str) -> list[str]:
    """The query normalised as report texts are (繁→简, full → half width), split on spaces."""
    return normalise(query).split()


@twin("/search")
def search() -> Response | str:
    """``?q=`` over the newest version of each report (``?all=1``: every version), filtered
    by ``?year=`` and ``?region=``."""
    query = request.args.get("q", "").strip()
    year_text = request.args.get("year", "").strip()
    year = int(year_text) if year_text.isdigit() else None
    region = request.args.get("region", "").strip() or None
    offset = (page_number() - 1) * PER_PAGE
    hits = []
    if query:
        with open_store() as store:
            hits = store.search.query(
                search_terms(query),
                year=year,
                region=region,
                all_versions=request.args.get("all") == "1",
                limit=PER_PAGE + 1,
                offset=offset,
            )
    hits, more = paged(hits)
    data = {
        "query": query,
        "year": year,
        "region": region,
        "more": more,
        "results": [h.to_json() for h in hits],
    }
    return respond("search.html", data, Markup=Markup)
