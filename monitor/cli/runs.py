"""``nianbao runs``: the latest crawl runs, newest first, and how each ended.

A run still marked ``running`` whose process is gone is shown ``interrupted`` (the next
crawl or daemon start records it so; see ``monitor.children.recover``).

May import: monitor.cli.util, monitor.store (rows, locks).
"""

from __future__ import annotations

import click

from monitor.cli.util import db_option, echo_json, json_option, open_store
from monitor.store.locks import process_alive
from monitor.store.rows import Run


def run_line(run: Run) -> dict:
    """A run as ``nianbao runs`` shows it (the ``--json`` fields)."""
    line = run.summary()
    if run.status == "running" and not process_alive(run.pid, run.pid_token, run.host):
        line["status"] = "interrupted"
        line["detail"] = f"parent pid {run.pid} gone (recorded at the next crawl)"
    return line


def runs_table(lines: list[dict]) -> str:
    if not lines:
        return "No runs."
    out = [f"{'id':>5}  {'started':<20}  {'finished':<20}  {'status':<11}  {'trigger':<7}  portals"]
    for r in lines:
        out.append(
            f"{r['id']:>5}  {r['started']:<20}  {r['finished'] or '-':<20}  {r['status']:<11}  "
            f"{r['trigger'] or '-':<7}  {', '.join(r['portals'])}"
        )
        if r["detail"]:
            out.append(f"{'':>7}{r['detail']}")
    return "\n".join(out)


@click.command()
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="At most this many runs.",
)
@db_option
@json_option
def runs(limit: int, db, as_json: bool) -> None:
    """List crawl runs, newest first: started, finished, status (running, ok, partial,
    failed, interrupted), trigger, portals and what went wrong."""
    with open_store(db) as store:
        lines = [run_line(r) for r in store.runs.latest(limit)]
    if as_json:
        echo_json(lines)
    else:
        click.echo(runs_table(lines))
