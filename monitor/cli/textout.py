"""Plain-text rendering for the terminal: crawl summaries, report tables, events, progress.

Everything printed from crawled strings goes through ``terminal_safe``: a page title
carrying an escape sequence (an OSC window title, a CSI colour or cursor move) or a
control character is printed without it, whatever an older version stored.

May import: monitor.models. (Alert mail and feeds render in monitor.alerts.render.)
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

from monitor.models import Event
from monitor.store.rows import ReportSummary

ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST (window title, hyperlink)
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"  # DCS / PM / APC / SOS ... ST
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI ... final byte
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # one-byte CSI
    r"|\x1b[ -/]*[0-~]?"  # other escapes
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # the other C0 and C1 controls (tab, newline kept)
)


def terminal_safe(text: object) -> str:
    """``text`` as a string without escape sequences or control characters.

    >>> terminal_safe("年报\\x1b]0;owned\\x07标题\\x1b[2J\\x01\\n下一行")
    '年报标题\\n下一行'
    """
    return ESCAPES.sub("", str(text))


def crawl_summary(result: dict) -> str:
    """The lines printed after a crawl (``result`` is ``CrawlResult.to_json()``)."""
    lines = [
        f"Crawl run {result['run_id']}: {result['status']}"
        + (f" ({result['detail']})" if result.get("detail") else ""),
        f"  portals ok {result['portals_ok']}, failed {result['portals_failed']}; "
        f"pages fetched {result['pages_fetched']}; reports found {result['reports_found']}",
        f"  new {result['new']}, edited {result['edited']}, removed {result['removed']}, "
        f"moved {result['moved']}, restored {result['restored']}; errors {result['errors']}",
    ]
    for p in result["portals"]:
        mark = p["status"] if p["status"] in ("ok", "broken") else p["status"].upper()
        lines.append(
            f"  {'[' + mark + ']':>10} {p['portal_id']:<16} {p.get('name') or '':<16} list pages {p['listings_ok']}"
            f"/{p['listings_ok'] + p['listings_failed']}, pages {p['pages']}, reports {p['reports']}, "
            f"problems {p['problems']}" + (f" — {p['detail']}" if p.get("detail") else "")
        )
    kinds: dict[str, int] = {}
    for problem in result["problems"]:
        kinds[problem["kind"]] = kinds.get(problem["kind"], 0) + 1
    if kinds:
        lines.append(
            "  problems by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        )
        for problem in result["problems"][:10]:
            lines.append(f"    {problem['kind']:<11} {problem['url']}  {problem['detail'][:80]}")
        if len(result["problems"]) > 10:
            lines.append(
                f"    … {len(result['problems']) - 10} more (nianbao crawl --json shows all)"
            )
    if result.get("log_file"):
        lines.append(f"  log: {result['log_file']}")
    return terminal_safe("\n".join(lines))


def report_table(rows: list[ReportSummary]) -> str:
    if not rows:
        return "No reports yet."
    lines = [f"{'id':>4}  {'year':<4}  {'versions':>8}  {'status':<7}  issuer / title / url"]
    for r in rows:
        lines.append(
            f"{r.id:>4}  {r.year or '????':<4}  {r.versions:>8}  {r.status:<7}  "
            f"{r.issuer or ''} | {r.title or ''}\n{'':>32}{r.url}"
        )
    return terminal_safe("\n".join(lines))


def event_line(e: Event) -> str:
    where = f"{e.old_url} → {e.url}" if e.old_url else e.url
    return terminal_safe(
        f"#{e.id} [{e.label} {e.kind}] {e.detected_at} {e.issuer} {e.year or ''} {e.title}\n    {where}"
    )


def event_detail(e: Event, max_lines: int | None = None) -> str:
    lines = [event_line(e)]
    if e.run_id is not None:
        lines.append(f"    run {e.run_id}; versions {e.old_version_id} → {e.new_version_id}")
    if e.note:
        lines.append("    " + e.note)
    if e.sections:
        lines.append("    变动章节: " + "、".join(e.sections))
    for n in e.numbers:
        lines.append(f"    {n.label} {n.before} → {n.after}")
    if e.diff:
        diff_lines = e.diff.splitlines()
        if max_lines and len(diff_lines) > max_lines:
            diff_lines = diff_lines[:max_lines] + [
                f"… ({len(e.diff.splitlines()) - max_lines} more lines)"
            ]
        lines.extend("    " + line for line in diff_lines)
    return terminal_safe("\n".join(lines))


class Progress:
    """A one-line progress display on a terminal (silent otherwise)."""

    def __init__(self, stream: TextIO = sys.stderr, enabled: bool | None = None):
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.shown = False

    def __call__(self, p: dict) -> None:
        if not self.enabled:
            return
        self.stream.write(
            f"\r  fetched {p['responses']} pages · new versions {p['reports']} · unchanged "
            f"{p['unchanged'] + p['same']} · not reports {p['not_reports']} · problems {p['problems']}   "
        )
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
