"""``nianbao stats`` (a report's standard tables as data, STATS.md) and ``nianbao stats
export`` (one row per report × key); ``nianbao findings`` is in ``monitor.cli.findings``.

``nianbao stats TARGET`` is ``nianbao stats show TARGET``: TARGET is a stored report
(id or URL, parsed from its current version's raw bytes) or a file or URL, read as
``nianbao extract`` reads it.

May import: crawler.stats, crawler.extract, monitor.store, monitor.alerts.cells,
monitor.cli.util (and ``monitor.cli.fetch_target``, at call time).
"""

from __future__ import annotations

import csv
import io
import json
import sys
import unicodedata
from pathlib import Path

import click

from crawler.stats import keys
from monitor.cli.util import (
    BadInput,
    db_option,
    echo_json,
    json_option,
    open_store,
)


def parse_record(body: bytes, url: str, content_type: str, text: str) -> dict:
    """``crawler.stats.parse_record``, loaded on first use (the table readers are heavy)."""
    from crawler.stats import parse_record as parse

    return parse(body, url, content_type, text)


APPLY_HEAD = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计")
APPEAL_HEAD = ("结果维持", "结果纠正", "其他结果", "尚未审结", "总计")
APPEAL_BLOCKS = {
    "review": "行政复议",
    "suit_direct": "行政诉讼·未经复议直接起诉",
    "suit_after_review": "行政诉讼·复议后起诉",
}
EXPORT_FIELDS = (
    "report_id",
    "issuer",
    "region",
    "year",
    "template",
    "url",
    "version_id",
    "key",
    "value",
    "printed",
)


class StatsGroup(click.Group):
    """``stats TARGET`` runs ``stats show TARGET``; ``stats export`` the export."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=StatsGroup)
def stats() -> None:
    """The standard tables of a report as data (keys of STATS.md): ``nianbao stats
    REPORT_ID|URL|PATH [--json]``, or ``nianbao stats export``."""


def _stored(target: str, db: Path) -> dict | None:
    if not Path(db).exists():
        return None
    with open_store(db) as store:
        report = store.reports.find(target)
        if report is None or report.current_version_id is None:
            return None
        sources = store.stats.sources([report.current_version_id])
    if not sources:
        return None
    src = sources[0]
    record = parse_record(src["raw"], src["url"] or "", src["content_type"] or "", src["text"])
    return {"report_id": report.id, "version_id": src["id"], "url": report.url, **record}


def _from_target(target: str) -> dict:
    from crawler.extract import judge
    from monitor.cli import fetch_target  # the group module: imported at call time

    body, url, ctype = fetch_target(target)
    text = judge(body, url, content_type=ctype).text
    return {
        "report_id": None,
        "version_id": None,
        "url": url,
        **parse_record(body, url, ctype, text),
    }


@stats.command("show")
@click.argument("target")
@db_option
@json_option
def show(target, db, as_json) -> None:
    """The record of one report: a stored report (REPORT_ID or URL) or a file or URL."""
    data = _stored(target, db) or _from_target(target)
    if as_json:
        echo_json(data)
        return
    click.echo("\n".join(render_tables(data)))


def _cell(data: dict, key: str) -> str:
    if key not in data["cells"]:
        return ""
    value = data["cells"][key]
    return "·" if value is None else str(value)


def _width(text: str) -> int:
    """Columns a string takes on a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _table(head: tuple[str, ...], rows: list[tuple[str, list[str]]]) -> list[str]:
    width = max(_width(label) for label, _ in rows)
    out = [" " * width + "  " + " | ".join(head)]
    for label, cells in rows:
        values = " | ".join(c.rjust(_width(h)) for c, h in zip(cells, head, strict=True))
        out.append(label + " " * (width - _width(label)) + "  " + values)
    return out


def render_tables(data: dict) -> list[str]:
    """The three tables as text (· an unknown cell), then the findings."""
    out = [f"url: {data['url']}", f"template: {data['template']}"]
    if data["template"] not in ("2019", "2021"):
        return [*out, "(no standard tables)"]
    from monitor.alerts.cells import ACTIVE_ROWS  # the row names mails use, too

    active = keys.ACTIVE_2021 if data["template"] == "2021" else keys.ACTIVE_2019
    out.append("二、主动公开")
    for row, columns in active.items():
        cells = ", ".join(f"{c} {_cell(data, f'active.{row}.{c}')}" for c in columns)
        out.append(f"  {ACTIVE_ROWS[row]}: {cells}")
    out.append("三、申请")
    rows = [
        (row, [_cell(data, f"apply.{row}.{c}") for c in keys.APPLY_COLUMNS])
        for row in keys.apply_rows(data["template"])
    ]
    out += ["  " + line for line in _table(APPLY_HEAD, rows)]
    out.append("四、行政复议、行政诉讼")
    rows = [
        (APPEAL_BLOCKS[b], [_cell(data, f"appeal.{b}.{c}") for c in keys.APPEAL_COLUMNS])
        for b in keys.APPEAL_BLOCKS
    ]
    out += ["  " + line for line in _table(APPEAL_HEAD, rows)]
    for f in data["findings"]:
        mark = " (partial)" if f["partial"] else ""
        out.append(f"{f['rule']} {f['column']}: expected {f['expected']}, found {f['found']}{mark}")
    return out


@stats.command("export")
@click.option(
    "--format",
    "fmt",
    default="csv",
    show_default=True,
    type=click.Choice(["csv", "json", "parquet"]),
    help="Output format.",
)
@click.option("--region", help="Only reports of this region.")
@click.option("--year", type=int, help="Only reports of this year.")
@click.option("--template", type=click.Choice(["2019", "2021"]), help="Only this template.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: stdout).",
)
@db_option
def export(fmt, region, year, template, out, db) -> None:
    """One row per report × key of each stored report's current version: issuer, region,
    year, template, url, version id, value and printed text. CSV is UTF-8 with a BOM
    (Excel keeps the Chinese); Parquet (with --out; pip install 'nianbao[parquet]') has
    the same columns, typed."""
    if fmt == "parquet":
        parquet = _pyarrow()
        if out is None:
            raise BadInput("--format parquet: give the file to write with --out FILE")
    with open_store(db) as store:
        rows = list(store.stats.export_rows(region, year, template))
    if fmt == "parquet":
        _write_parquet(parquet, rows, out)
        return
    text = _csv(rows) if fmt == "csv" else json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    if out:
        out.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    elif fmt == "csv":
        sys.stdout.buffer.write(("\ufeff" + text).encode("utf-8"))
    else:
        click.echo(text, nl=False)


PARQUET_TYPES = {
    "report_id": "int64",
    "issuer": "string",
    "region": "string",
    "year": "int64",
    "template": "string",
    "url": "string",
    "version_id": "int64",
    "key": "string",
    "value": "float64",  # integers and amounts (18651.06) alike; null when unknown
    "printed": "string",
}


def _pyarrow():
    """``(pyarrow, pyarrow.parquet)``, or exit 2 saying how to install them."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise BadInput("--format parquet needs pyarrow: pip install 'nianbao[parquet]'") from None
    return pyarrow, pyarrow.parquet


def _write_parquet(parquet, rows: list[dict], out: Path) -> None:
    """The export's rows as a typed Parquet file (the CSV's columns), written whole or not
    at all (a temporary file beside ``out``, then renamed)."""
    pa, pq = parquet
    schema = pa.schema([(name, getattr(pa, PARQUET_TYPES[name])()) for name in EXPORT_FIELDS])
    table = pa.Table.from_pylist([{k: row[k] for k in EXPORT_FIELDS} for row in rows], schema)
    partial = out.with_name(out.name + ".partial")
    try:
        pq.write_table(table, partial)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: row[k] for k in EXPORT_FIELDS} for row in rows)
    return buffer.getvalue()
