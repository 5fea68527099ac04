"""The read-only commands of ``nianbao``: events, show, reports, history.

May import: monitor.cli.util, monitor.cli.textout (and through them monitor.store).
"""

from __future__ import annotations

import json

import click

from monitor.cli.textout import event_detail, report_table, terminal_safe
from monitor.cli.util import BadInput, db_option, echo_json, json_option, open_store


@click.command()
@click.option("--since", help="Only events detected on or after this ISO date.")
@click.option("--kind", type=click.Choice(["new", "edited", "removed", "moved", "restored"]))
@click.option("--limit", type=int, default=None, help="At most this many events.")
@db_option
@json_option
def events(since, kind, limit, db, as_json) -> None:
    """List change events, newest first."""
    with open_store(db) as store:
        found = store.events.search(since=since, kind=kind, limit=limit)
    if as_json:
        echo_json([e.to_json() for e in found])
        return
    if not found:
        click.echo("No events.")
    for e in found:
        click.echo(event_detail(e, max_lines=12))


@click.command()
@click.argument("event_id", type=int)
@click.option(
    "--evidence",
    is_flag=True,
    help="Also print what to cite: URLs, fetch times, sha256 of both responses and texts.",
)
@db_option
@json_option
def show(event_id, evidence, db, as_json) -> None:
    """Print one event with its full diff (``--json`` adds its ``evidence``)."""
    with open_store(db) as store:
        event = store.events.get(event_id)
        if event is None:
            raise BadInput(f"no event {event_id} in {db}")
        cited = store.evidence.for_event(event)
    if as_json:
        click.echo(json.dumps({**event.to_json(), "evidence": cited}, ensure_ascii=False, indent=2))
        return
    click.echo(event_detail(event))
    if evidence:
        click.echo(terminal_safe(evidence_text(cited)))


def evidence_text(cited: dict) -> str:
    """``store.evidence.for_event`` as lines for the terminal (the event page shows the same)."""
    lines = [f"Evidence (证据) for event {cited['event_id']}, report {cited['report_id']}:"]
    lines += [f"  URL: {u}" for u in cited["urls"]]
    for side in ("old", "new"):
        v = cited[side]
        if v is None:
            continue
        raw = f"{v['raw_sha256']}  ({v['raw_bytes']} bytes)" if v["raw_sha256"] else "(not kept)"
        lines += [
            f"  {side} version {v['version_id']}: fetched {v['fetched_at']}, "
            f"HTTP {v['status'] or '?'}, run {v['run_id']}",
            f"    url             {v['url']}",
            f"    response sha256 {raw}",
            f"    text sha256     {v['text_sha256']}  ({v['chars']} chars)",
        ]
    lines.append(f"  WARC: {cited['warc']}")
    return "\n".join(lines)


@click.command()
@click.option("--portal", help="Only this portal's reports.")
@db_option
@json_option
def reports(portal, db, as_json) -> None:
    """List the reports known, with their version counts."""
    with open_store(db) as store:
        rows = store.reports.summaries(portal)
    if as_json:
        echo_json([r.to_json() for r in rows])
    else:
        click.echo(report_table(rows))


@click.command()
@click.argument("ref")
@db_option
@json_option
def history(ref, db, as_json) -> None:
    """List a report's versions (REF is a report id or any URL it was seen at)."""
    with open_store(db) as store:
        report = store.reports.find(ref)
        if report is None:
            raise BadInput(f"no report {ref!r} in {db}")
        versions = store.reports.history(report.id)
    if as_json:
        echo_json({"report": report.to_json(), "versions": [v.to_json() for v in versions]})
        return
    click.echo(
        terminal_safe(
            f"#{report.id} {report.issuer} {report.year} {report.title}\n    {report.url}"
        )
    )
    for v in versions:
        click.echo(
            f"  v{v.id}  run {v.run_id}  {v.fetched_at}  text {v.text_sha[:12]}  "
            f"raw {(v.raw_sha or '')[:12]}  {v.chars} chars  {v.url}"
        )
