"""``nianbao findings``: the findings on the reports, stored and computed: tables that do not
add up (inconsistent), figures that contradict them (mismatch), reports missing or late
past the deadline (``monitor.events.deadlines``). Without ``--as-of`` new findings are
recorded as events first.

May import: monitor.store, monitor.events.deadlines, monitor.events.stats, monitor.cli.util,
monitor.cli.textout.
"""

from __future__ import annotations

from datetime import date

import click

from monitor.cli.textout import terminal_safe
from monitor.cli.util import (
    BadInput,
    db_option,
    declared_option,
    echo_json,
    json_option,
    open_store,
)

FINDING_KINDS = ("inconsistent", "mismatch", "missing", "late")
STORED_KINDS = ("inconsistent", "mismatch")  # judged on the tables, not on a day
FINDING_FIELDS = (
    "id",
    "kind",
    "report_id",
    "issuer",
    "region",
    "year",
    "rule",
    "column",
    "cells",
    "expected",
    "found",
    "partial",
    "detail",
    "detected_at",
    "run_id",
)


@click.command("findings")
@click.option(
    "--kind",
    "kinds",
    metavar="KIND[,KIND]",
    help="Only these kinds: inconsistent, mismatch, missing, late.",
)
@click.option("--region", help="Only this region.")
@click.option("--year", type=int, help="Only this report year.")
@declared_option(
    "NIANBAO_TODAY",
    "as_of",
    metavar="DATE",
    help="Judge missing and late reports as of this day (YYYY-MM-DD); "
    "without it: today, and new missing/late findings are recorded as events.",
)
@declared_option(
    "NIANBAO_GRACE_DAYS",
    "grace",
    type=int,
    help="Days after 31 January of Y+1 before year Y's report is missing.",
)
@db_option
@json_option
def findings(kinds, region, year, as_of, grace, db, as_json) -> None:
    """Findings on the reports: tables that do not add up (inconsistent; partial when a
    cell is unknown), figures that contradict them (mismatch: section 一's prose, or last
    year's carried-out against this year's carried-in), reports not published by the
    deadline (missing) or after it (late).

    Without --as-of, new findings are recorded as events (数据不一致 / 数据不符 / 逾期未发布 /
    逾期发布) that subscribers follow with ``--kind inconsistent,mismatch,missing,late``."""
    from monitor.events import deadlines
    from monitor.events.stats import announce_findings

    wanted = [k.strip() for k in (kinds or "").split(",") if k.strip()]
    unknown = sorted(set(wanted) - set(FINDING_KINDS))
    if unknown:
        raise BadInput(
            f"--kind: unknown kind(s) {', '.join(unknown)} (known: {', '.join(FINDING_KINDS)})"
        )
    day = _parse_day(as_of)
    with open_store(db) as store:
        if as_of is None:
            with store.immediate():  # today's findings become events subscribers follow
                deadlines.record_deadlines(store, day, grace)
                announce_findings(store)
            rows = store.stats.findings(wanted, region, year)
        else:
            table_kinds = [k for k in wanted or STORED_KINDS if k in STORED_KINDS]
            stored = store.stats.findings(table_kinds, region, year) if table_kinds else []
            rows = [r for r in stored if r["detected_at"][:10] <= as_of]
            computed = deadlines.deadline_findings(store.stats.issuer_years(), day, grace)
            rows += [
                {**f, "id": None, "detected_at": None, "run_id": None}
                for f in computed
                if (not wanted or f["kind"] in wanted)
                and (region is None or f["region"] == region)
                and (year is None or f["year"] == year)
            ]
    data = [{k: r.get(k) for k in FINDING_FIELDS} for r in rows]
    if as_json:
        echo_json(data)
        return
    for r in data:
        mark = " (partial)" if r["partial"] else ""
        click.echo(
            terminal_safe(
                f"{r['kind']:<13}{r['year'] or '':<6}{r['issuer'] or '':<20}{r['detail']}{mark}"
            )
        )
    click.echo(f"{len(data)} finding(s)")


def _parse_day(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--as-of {text!r}: expected a day, YYYY-MM-DD") from None
