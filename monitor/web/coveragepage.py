"""The coverage page: issuers × years, each cell's deadline state (``monitor.web.coverage``),
paged, or every issuer as a CSV file for Excel. The grid is built from one grouped query
and kept while what its cells are made of has not changed.

May import: flask, monitor.store (views), monitor.web (pagekit, coverage),
crawler.options (setting defaults).
"""

from __future__ import annotations

import csv
import io
import os
from datetime import date

from flask import Response, current_app, request

from crawler.options import BY_NAME
from monitor.store.views import Views
from monitor.web import coverage as cov
from monitor.web.pagekit import PER_PAGE, open_store, page_number, respond, twin

GRID_PER_PAGE = PER_PAGE
"""Issuers per page of the coverage grid (the CSV export has them all)."""


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _as_of() -> date:
    try:
        return date.fromisoformat(request.args.get("as_of", ""))
    except ValueError:
        return date.today()


@twin("/coverage")
def coverage() -> Response | str:
    """Issuers × years, each cell 按时发布 / 逾期发布 / 逾期未发布 / 已删除 / 未知, marked
    数据不一致 when its report fails an identity check (``monitor.web.coverage``).
    ``?region=`` filters, ``?from=`` / ``?to=`` pick the years, ``?as_of=YYYY-MM-DD`` judges
    the deadlines as of that day (default today); ``?format=csv`` exports every issuer
    (UTF-8 with BOM, for Excel). One grouped query, whatever the number of portals."""
    region = request.args.get("region", "").strip() or None
    grace = current_app.config.get("GRACE_DAYS")
    grace = BY_NAME["NIANBAO_GRACE_DAYS"].default if grace is None else grace
    as_of = _as_of()
    grid = _grid(region, as_of, grace, _int_arg("from"), _int_arg("to"))
    if request.args.get("format") == "csv":
        return _csv(grid)
    offset = (page_number() - 1) * GRID_PER_PAGE
    issuers = grid["issuers"][offset : offset + GRID_PER_PAGE + 1]
    data = {
        "region": region,
        "as_of": as_of.isoformat(),
        "grace_days": grace,
        "years": grid["years"],
        "counts": cov.counts(grid),
        "issuers_total": len(grid["issuers"]),
        "issuers": issuers[:GRID_PER_PAGE],
        "page": page_number(),
        "more": len(issuers) > GRID_PER_PAGE,
    }
    return respond(
        "coverage.html", data, states=cov.STATES, legend=cov.LEGEND, mark=cov.INCONSISTENT
    )


GRID_CACHE = 16
"""Grids kept (per filter), each until what its cells are made of changes."""


def _grid(region: str | None, as_of: date, grace: int, start: int | None, end: int | None) -> dict:
    """The grid for these filters: built from one grouped query, and reused while the
    file (device, inode) and its reports and findings are the same
    (``Views.version("coverage")``, read before the cells: a change between the two
    reads is built again next time, never kept): a crawl's commits that store pages and
    touch reports do not rebuild it."""
    cache = current_app.extensions.setdefault("nianbao_grids", {})
    with open_store() as store:
        views = Views(store.db)
        stat = os.stat(store.path)
        filters = (region, as_of, grace, start, end)
        key = (stat.st_dev, stat.st_ino, views.version("coverage"), *filters)
        if key in cache:
            return cache[key]
        rows = views.coverage_cells(region)
    grid = cov.grid(rows, as_of, grace, start, end)
    if len(cache) >= GRID_CACHE:
        cache.clear()
    cache[key] = grid
    return grid


def _cell_text(value: object) -> str:
    """A page's text for a spreadsheet cell: never a formula (``=``, ``+``, ``-``, ``@``).

    >>> _cell_text("=HYPERLINK(1)"), _cell_text("启东市")
    ("'=HYPERLINK(1)", '启东市')
    """
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(grid: dict) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["地区", "发布机关", "门户", *grid["years"]])
    for line in grid["issuers"]:
        cells = [line["cells"][str(y)]["label"] for y in grid["years"]]
        texts = [line["region"], line["issuer"], line["portal_id"]]
        writer.writerow([*(_cell_text(t) for t in texts), *cells])
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=coverage.csv"
    return response
