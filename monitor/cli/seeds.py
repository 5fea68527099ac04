"""``nianbao seeds check``: does each portal's list work? A list-only crawl, per portal:
the adapter chosen, list pages read, report links found, years covered, problems.

Runs ``crawler.adapters.check`` in a child process (a reactor runs once per process);
fetches no report and writes no database. Exit 1 when a portal found no report link,
2 for bad seeds. May import: crawler.seeds, crawler.adapters, monitor.cli.util.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from crawler.adapters import help_text
from crawler.seeds import Seed
from monitor.cli.util import (
    JobFailed,
    db_option,
    echo_json,
    json_option,
    seeds_option,
    settings_option,
)


def run_check(seeds: list[Seed], settings: dict, timeout: float = 1800) -> list[dict]:
    """List-only crawl of ``seeds`` in a child process: one dict per list page read."""
    with tempfile.TemporaryDirectory(prefix="nianbao-check-") as tmp:
        job = Path(tmp) / "job.json"
        job.write_text(
            json.dumps(
                {"seeds": [s.to_dict() for s in seeds], "settings": settings}, ensure_ascii=False
            ),
            encoding="utf-8",
        )
        done = subprocess.run(
            [sys.executable, "-m", "crawler.adapters.check", str(job)],
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
    if done.returncode != 0:
        raise JobFailed(
            f"the check crawl failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}"
        )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def summarise(seed: Seed, pages: list[dict]) -> dict:
    """One portal's verdict from its list pages."""
    mine = [p for p in pages if p["portal"] == seed.id]
    links = sorted({u for p in mine for u in p["links"]})
    adapters = [p["adapter"] for p in mine if p["ok"] and p["adapter"]]
    return {
        "portal_id": seed.id,
        "name": seed.name,
        "adapter": max(set(adapters), key=adapters.count) if adapters else (seed.cms or ""),
        "adapter_from": "seed" if seed.cms else "detected",
        "list_pages": sum(p["ok"] for p in mine),
        "list_pages_failed": sum(not p["ok"] for p in mine),
        "report_links": len(links),
        "years": sorted({y for p in mine for y in p["years"]}),
        "problems": [f"{p['url']}: {p['detail']}" for p in mine if not p["ok"]],
        "ok": bool(links),
    }


def line(row: dict) -> str:
    years = row["years"]
    span = f"{years[0]}–{years[-1]} ({len(years)} years)" if years else "no years"
    mark = "ok    " if row["ok"] else "NO REPORTS"
    return (
        f"{mark} {row['portal_id']:<16} {row['adapter'] or '?':<8} ({row['adapter_from']}) "
        f"{row['list_pages']} list pages, {row['report_links']} report links, {span}"
    )


@click.group()
def seeds() -> None:
    """Work with seed files (the portals nianbao watches)."""


@seeds.command(
    help="Read each portal's list pages (no reports fetched, nothing stored) and say what "
    "was found.\n\nAdapters: " + "; ".join(f"{k}: {v}" for k, v in help_text().items())
)
@seeds_option
@settings_option
@db_option
@json_option
def check(seeds: list[Seed], settings: dict, db, as_json) -> None:
    # --db is accepted like on every command; a check stores nothing.
    pages = run_check(seeds, settings)
    rows = [summarise(seed, pages) for seed in seeds]
    if as_json:
        echo_json(rows)
    else:
        for row in rows:
            click.echo(line(row))
            for problem in row["problems"][:5]:
                click.echo(f"         {problem}")
    if not all(row["ok"] for row in rows):
        sys.exit(1)
