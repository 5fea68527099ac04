"""The web pages (issue 11): overview, portal, report timeline, event diff, search; the
coverage grid is ``monitor.web.coveragepage``.

Every page is a Jinja2 template (autoescaped) with Chinese labels and no JavaScript; every
page has a JSON twin at the same path plus ``.json`` (or ``?format=json``) with the fields
the CLI's ``--json`` gives. Lists are paged with ``?page=N``. All reads go through the
store's parts; nothing here writes. The blueprint, the twins and paging are
``monitor.web.pagekit``.

The overview's portal health comes from the ``status`` function the app was given (the
``nianbao status --json`` document; it lives above this layer, in monitor.daemon).

Every page reads through ``monitor.web.db`` (a read-only connection per request, the schema
checked once); the coverage grid's states are ``monitor.web.coverage``.

May import: flask, monitor.store, monitor.models, monitor.web (pagekit, coveragepage,
diffview), monitor.alerts.cells, crawler.textnorm.
"""

from __future__ import annotations

import time

from flask import Response, abort, current_app, render_template, request
from markupsafe import Markup

from crawler.textnorm import normalise
from monitor.alerts.cells import stats_tables
from monitor.store import Store
from monitor.store.evidence import version_evidence
from monitor.store.rows import Version
from monitor.store.views import Views
from monitor.web import (
    coveragepage,  # noqa: F401  (registers /coverage on the blueprint)
    diffview,
)
from monitor.web.pagekit import (
    PER_PAGE,
    open_store,
    page_number,
    paged,
    pages,
    respond,
    twin,
    wants_json,
)

__all__ = ["pages"]


# ---- overview ---------------------------------------------------------------------------


PORTALS_PER_PAGE = 100
"""Portals per page of the overview (``?portals=N`` pages them; broken ones come first)."""
STATUS_TTL = 10.0
"""Seconds the overview reuses a status document while the database has not changed."""


@twin("/")
def overview() -> Response | str:
    """Portals with their health (broken first), last and next run, 100 a page
    (``?portals=N``); latest events (``?page=N``); reports by year; removals held as
    suspect."""
    offset = (page_number() - 1) * PER_PAGE
    value = request.args.get("portals", "1")
    portal_page = max(1, int(value)) if value.isdigit() else 1
    with open_store() as store:
        portals = _status_portals(store)
        events = store.events.search(limit=offset + PER_PAGE + 1)[offset:]
        by_year = store.reports.count_by_year()
        held = [h.to_json() for h in store.reports.held()]
    events, more = paged(events)
    start = (portal_page - 1) * PORTALS_PER_PAGE
    data = {
        "portals": portals[start : start + PORTALS_PER_PAGE],
        "portals_total": len(portals),
        "portals_page": portal_page,
        "portals_more": len(portals) > start + PORTALS_PER_PAGE,
        "latest_events": [e.to_json() for e in events],
        "reports_by_year": [{"year": y, "reports": n} for y, n in by_year.items()],
        "held_removals": held,
        "page": page_number(),
        "more": more,
    }
    return respond("overview.html", data)


def _status_portals(store: Store) -> list[dict]:
    """The portals of the ``status`` document, reused while the database is unchanged
    (``Databases.data_signature``: a commit changes it) and for ``STATUS_TTL`` seconds at
    most (the daemon's liveness depends on the clock too). After a commit, the portals'
    health is reused too while their runs have not changed (the ``cache`` of ``status``):
    judging 1,000 portals' 30 runs took longer than the rest of the page."""
    status = current_app.config.get("STATUS_DOC")
    if not status:
        return _bare_portals(store)
    key = current_app.extensions["nianbao_db"].data_signature()
    cached = current_app.extensions.get("nianbao_status")
    now = time.monotonic()
    if cached and cached[0] == key and now - cached[1] < STATUS_TTL:
        return cached[2]
    kept = current_app.extensions.setdefault("nianbao_portal_states", {})
    portals = status(store, cache=kept)["portals"]
    current_app.extensions["nianbao_status"] = (key, now, portals)
    return portals


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
        records = store.stats.records(entry.id for entry in history)
        versions = []
        for entry in reversed(history):
            version, raw = store.evidence.version(entry.id)
            versions.append(
                {
                    **_evidence(entry.to_json(), version, raw),
                    "tables": stats_tables(records.get(entry.id) or {}),
                    "template": (records.get(entry.id) or {}).get("template"),
                }
            )
        events = [e.to_json() for e in Views(store.db).report_events(report_id)]
    data = {"report": found.to_json(), "versions": versions, "events": events}
    return respond("report.html", data)


def _evidence(entry: dict, version: Version, raw: bytes | None) -> dict:
    """A ``nianbao history`` line plus its text and the digests a citation needs (the
    same ``version_evidence`` that ``nianbao show --evidence`` and the event page print)."""
    cited = version_evidence(version, raw)
    return {
        **entry,
        "raw_sha256": cited["raw_sha256"] or entry.get("raw_sha"),
        "text_sha256": cited["text_sha256"],
        "raw_bytes": cited["raw_bytes"],
        "text": version.text,
    }


# ---- one event: the diff ----------------------------------------------------------------


@twin("/events/<int:event_id>")
def event(event_id: int) -> Response | str:
    """The event with its diff: unified (``?view=unified``) or side by side (default);
    changed table rows as tables with the changed cells named by row and column; its
    evidence (``store.evidence.for_event``, as ``nianbao show --evidence`` prints it)."""
    with open_store() as store:
        found = store.events.get(event_id)
        if found is None:
            abort(404)
        new = store.reports.version(found.new_version_id) if found.new_version_id else None
        old = store.reports.version(found.old_version_id) if found.old_version_id else None
        evidence = store.evidence.for_event(found)
    tables = diffview.table_changes(found.diff, new.text if new else "", found.numbers)
    data = {
        "event": found.to_json(),
        "changed_cells": [c.name for t in tables for c in t.cells],
        "versions": {
            "old": _version_ref(old),
            "new": _version_ref(new),
        },
        "evidence": evidence,
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
