"""``nianbao seeds``: work with seed files.

``seeds check``: does each portal's list work? A list-only crawl, per portal: the adapter
chosen, list pages read, report links found, years covered, problems. Runs
``crawler.adapters.check`` in a child process (a reactor runs once per process); fetches
no report and writes no database. Exit 1 when a portal found no report link, 2 for bad
seeds.

``seeds discover``: from a portal's home page, find its 年报 columns
(``crawler.discover``) and print, or append to a file, one ``[[portal]]`` table each.
``seeds list``: every portal of the seed files, marked when unconfirmed or not crawled.

May import: crawler.seeds, crawler.adapters, crawler.discover, crawler.settings,
monitor.config, monitor.cli.util, monitor.cli.textout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from crawler import settings as crawl_settings
from crawler.adapters import help_text
from crawler.seeds import Seed, SeedError, load_seed_file, load_seeds
from monitor.cli.textout import terminal_safe
from monitor.cli.util import (
    DEFAULT_SEEDS,
    BadInput,
    JobFailed,
    db_option,
    echo_json,
    json_option,
    seeds_option,
    settings_option,
)
from monitor.config import crawl_env

if TYPE_CHECKING:  # discovery (requests) loads with the commands that fetch
    from crawler.discover.fetch import Fetcher


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


def fetcher(settings: dict) -> Fetcher:
    """A polite fetcher with the crawl's User-Agent, delay, timeout and robots.txt rule
    (the crawl defaults, then the environment, then ``-s`` overrides)."""
    from crawler.discover.fetch import Fetcher

    values = {
        "USER_AGENT": crawl_settings.USER_AGENT,
        "DOWNLOAD_DELAY": crawl_settings.DOWNLOAD_DELAY,
        "DOWNLOAD_TIMEOUT": crawl_settings.DOWNLOAD_TIMEOUT,
        "ROBOTSTXT_OBEY": crawl_settings.ROBOTSTXT_OBEY,
        "NIANBAO_CONTACT": "",
    }
    values |= crawl_env() | settings
    try:
        return Fetcher(
            str(values["USER_AGENT"]).replace("{contact}", str(values["NIANBAO_CONTACT"] or "")),
            delay=float(values["DOWNLOAD_DELAY"]),
            timeout=float(values["DOWNLOAD_TIMEOUT"]),
            obey_robots=str(values["ROBOTSTXT_OBEY"]).lower() not in ("false", "0"),
        )
    except (TypeError, ValueError) as exc:
        raise BadInput(f"--set: {exc}") from None


def _known(path: Path) -> tuple[set[str], dict[str, str]]:
    """Ids and start URLs already in ``path`` and in the other seed files beside it
    (a clash there would stop the directory from loading)."""
    ids: set[str] = set()
    urls: dict[str, str] = {}
    for other in sorted(path.parent.glob("*.toml")):
        try:
            portals = tomllib.loads(other.read_text(encoding="utf-8-sig")).get("portal", [])
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue  # not a seed file we can read: not ours to judge
        for portal in portals if isinstance(portals, list) else []:
            if isinstance(portal, dict):
                ids.add(str(portal.get("id")))
                for url in portal.get("start_urls") or []:
                    urls[str(url)] = other.name
    return ids, urls


def append_entries(path: Path, entries: list[dict]) -> tuple[list[dict], list[str]]:
    """Append the entries whose id and start URL are new to ``path`` (created if
    missing), atomically; the file must stay valid TOML that the seed loader accepts.
    Returns (written, skipped reasons)."""
    from crawler import discover as finder

    try:
        text = path.read_text(encoding="utf-8-sig") if path.exists() else ""  # BOM: not TOML
        tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path}: not a readable TOML file ({exc}); nothing written") from None
    ids, urls = _known(path)
    written, skipped = [], []
    for entry in entries:
        clash = next((urls[u] for u in entry["start_urls"] if u in urls), None)
        if entry["id"] in ids or clash:
            why = f"id {entry['id']!r} is taken" if entry["id"] in ids else f"in {clash}"
            skipped.append(f"{entry['start_urls'][0]}: {why}")
            continue
        ids.add(entry["id"])
        written.append(entry)
    if not written:
        return written, skipped
    if not text:
        text = "# Found by `nianbao seeds discover`; check each column before confirmed = true.\n"
    text += "" if text.endswith("\n") else "\n"
    text += "".join("\n" + finder.toml_table(e) for e in written)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        load_seed_file(tmp)
        os.replace(tmp, path)
    except SeedError as exc:
        raise JobFailed(
            f"{path} would not load after the append ({exc.msg}); nothing written"
        ) from None
    except OSError as exc:
        raise JobFailed(f"cannot write {path}: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return written, skipped


@seeds.command()
@click.argument("url")
@click.option(
    "--write",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the entries to this seed file (created if missing; duplicates refused).",
)
@click.option(
    "--max-pages",
    type=click.IntRange(1, 2000),
    default=60,
    show_default=True,
    help="Fetch at most this many pages.",
)
@settings_option
@db_option
@json_option
def discover(url: str, write: Path | None, max_pages: int, settings: dict, db, as_json) -> None:
    """Find the 年报 column(s) from a portal's home page and print a [[portal]] entry each.

    Follows 政府信息公开 / 政务公开 / 法定主动公开内容 / 指南 menus (links, script-built
    menus, data-url attributes) and 部门 lists (one entry per department with its own
    column), one polite request at a time (robots.txt, DOWNLOAD_DELAY, the crawl's
    User-Agent). Exit 1 when no column is found, 2 on a bad URL.
    """
    from crawler import discover as finder

    # --db is accepted like on every command; discovery stores nothing.
    problem = finder.url_problem(url)
    if problem:
        raise BadInput(f"URL {url!r}: {problem}")
    fetch = fetcher(settings)
    fetch.stay_on = lambda target: finder.same_site(target, url)
    found = finder.walk(url, fetch, max_pages=max_pages)
    when = datetime.now(UTC).date().isoformat()
    taken: set[str] = set()
    entries = [finder.seed_entry(c, url, found.site, when, taken) for c in found.columns]
    if not entries:
        tried = "; ".join(f"{u} ({why})" for u, why in list(found.tried.items())[:12])
        raise JobFailed(
            terminal_safe(
                f"no 年报 column found from {url} after {len(found.tried)} pages "
                f"(looked for 政府信息公开 / 政务公开 / 法定主动公开内容 / 指南 / 部门 menus and "
                f"年报 / 年度报告 links): {tried or 'nothing fetched'}"
            )
        )
    written, skipped = append_entries(write, entries) if write else (entries, [])
    if as_json:
        echo_json(entries)
    else:
        click.echo("\n".join(terminal_safe(finder.toml_table(e)) for e in entries), nl=False)
    if write:
        click.echo(f"{write}: {len(written)} written, {len(skipped)} skipped", err=True)
        for reason in skipped:
            click.echo(terminal_safe(f"  skipped {reason}"), err=True)


@seeds.command(name="list")
@click.option(
    "--seeds",
    "seed_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Seed file or directory (repeatable). Default: seeds/.",
)
@db_option
@json_option
def list_seeds(seed_paths: tuple[Path, ...], db, as_json) -> None:
    """List every portal of the seed files, crawl = false ones too, with marks:
    ``unconfirmed`` (the address is not known to be the 年报 column) and ``not crawled``
    (a starting point for `seeds discover`, left out of crawl unless named with --portal)."""
    try:
        found = load_seeds(list(seed_paths or (DEFAULT_SEEDS,)), include_uncrawled=True)
    except SeedError as exc:
        raise BadInput(str(exc)) from None
    rows = [
        {
            "portal_id": s.id,
            "name": s.name,
            "region": s.region,
            "start_url": s.start_urls[0],
            "cms": s.cms,
            "confirmed": s.confirmed,
            "crawl": s.crawl,
            "file": s.file,
        }
        for s in found
    ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        marks = ", ".join(
            m
            for m, on in (("unconfirmed", not row["confirmed"]), ("not crawled", not row["crawl"]))
            if on
        )
        click.echo(
            terminal_safe(
                f"{row['portal_id']:<18} {row['name']:<14} {row['start_url']}"
                + (f"  [{marks}]" if marks else "")
            )
        )
