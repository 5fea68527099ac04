"""``nianbao browse``: the database in Datasette, read-only, with titles and canned queries.

Datasette is an optional extra (``pip install 'nianbao[browse]'``); without it the command
exits 2 with that hint. Datasette opens the file with ``mode=ro`` (never ``immutable``: a
running daemon may be writing, and an immutable connection would not see its WAL), and the
file is checked here over a read-only connection too, so browsing never migrates or writes.

Canned queries (``/DB/QUERY``, JSON at ``/DB/QUERY.json``): latest events, reports per
region and year, one issuer's history (``:issuer``), open findings, and full-text search
(``:q``) over the ``version_search`` FTS5 trigram index. Tables holding subscribers'
addresses or secrets are hidden, and bound to anything but loopback, arbitrary SQL is off.

May import: monitor.cli.util, monitor.store (schema constants), datasette (lazily).
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

import click

from monitor.cli.util import BadInput, db_option
from monitor.store import APPLICATION_ID

HINT = "nianbao browse needs Datasette, an optional extra: pip install 'nianbao[browse]'"
SECRET_COLUMNS = {"token", "email", "address", "secret", "target"}
"""A table with a column of these names holds subscribers' addresses or secrets: hidden."""
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

QUERIES = {
    "latest_events": {
        "title": "最新变动 · Latest events",
        "description": "最近发现的 200 条变动（新增、修改、删除、迁移、恢复、数据问题）。"
        " The 200 most recent change events.",
        "sql": "SELECT id, kind, detected_at, region, issuer, year, title, url, report_id, "
        "old_version_id, new_version_id FROM events ORDER BY id DESC LIMIT 200",
    },
    "reports_by_region_year": {
        "title": "各地区各年度年报数 · Reports per region and year",
        "description": "每个地区、每个年度找到的年报，仍在发布的和已删除的。"
        " Reports found per region and year, still published and removed.",
        "sql": "SELECT COALESCE(NULLIF(region, ''), '（未知）') AS region, year, "
        "COUNT(*) AS reports, SUM(status != 'removed') AS published, "
        "SUM(status = 'removed') AS removed FROM reports "
        "GROUP BY 1, year ORDER BY 1, year DESC",
    },
    "issuer_history": {
        "title": "发布机关历史 · One issuer's history",
        "description": "名称包含 :issuer 的发布机关的全部年报及其每个版本、对应的变动。"
        " Every report and version of the issuers whose name contains :issuer.",
        "sql": "SELECT r.issuer, r.year, r.id AS report_id, r.title, r.status, "
        "v.id AS version_id, v.fetched_at, v.url, v.text_sha, v.raw_sha, "
        "length(v.text) AS chars, (SELECT group_concat(e.kind || ' #' || e.id, ', ') "
        "FROM events e WHERE e.new_version_id = v.id) AS events "
        "FROM reports r JOIN versions v ON v.report_id = r.id "
        "WHERE instr(r.issuer, :issuer) > 0 ORDER BY r.year DESC, r.id, v.id",
    },
    "open_findings": {
        "title": "未解决的问题 · Open findings",
        "description": "仍然成立的问题：报告现行版本中仍有的数据不一致，以及仍未发布的年报。"
        " Findings that still hold: inconsistencies the current version of a report still"
        " has, and reports still missing (late ones are history: see the findings table).",
        "sql": 'SELECT f.id, f.kind, f.region, f.issuer, f.year, f.rule, f."column", '
        "f.expected, f.found, f.detail, f.detected_at, f.report_id, f.version_id, f.event_id "
        "FROM findings f LEFT JOIN reports r ON r.id = f.report_id WHERE f.partial = 0 AND ("
        "(f.kind = 'inconsistent' AND EXISTS (SELECT 1 FROM version_stats s, "
        "json_each(s.findings) j WHERE s.version_id = r.current_version_id "
        "AND json_extract(j.value, '$.kind') = 'inconsistent' "
        "AND json_extract(j.value, '$.rule') = f.rule "
        "AND json_extract(j.value, '$.column') IS f.\"column\" "
        "AND json_extract(j.value, '$.expected') = f.expected "
        "AND json_extract(j.value, '$.found') = f.found)) OR "
        "(f.kind = 'missing' AND NOT EXISTS (SELECT 1 FROM reports x "
        "WHERE x.issuer = f.issuer AND x.year = f.year))) ORDER BY f.id DESC",
    },
    "search": {
        "title": "全文搜索 · Full-text search",
        "description": "在每个版本的规范化文本中搜索 :q，最新的版本在前（至少 3 个字；简体，"
        "繁体或更短的查询请用 nianbao search）。Substring search (3+ characters, simplified)"
        " over every version's normalised text with the FTS5 trigram index, newest first.",
        # The excerpt is cut with instr/substr: FTS5's snippet() tokenizes each whole text
        # again (~5 ms per 20,000-character version), instr finds the first hit in µs.
        "sql": "SELECT v.id AS version_id, v.report_id, r.issuer, r.region, v.year, "
        "v.fetched_at, replace(substr(v.text, max(1, instr(v.text, :q) - 30), 90), :q, "
        "'【' || :q || '】') AS snippet "
        "FROM version_search JOIN versions v ON v.id = version_search.rowid "
        "JOIN reports r ON r.id = v.report_id "
        "WHERE version_search MATCH '\"' || replace(:q, '\"', '\"\"') || '\"' "
        "ORDER BY version_search.rowid DESC LIMIT 100",
    },
}

TABLES = {
    "reports": "年报：每份一行，url 为规范地址。One row per report; url is its canonical address.",
    "versions": "版本：每个不同的规范化文本，raw 为抓取到的原始字节（zlib 压缩）。"
    "Every distinct normalised text of a report; raw is the body as fetched (zlib).",
    "events": "变动：新增、修改、删除、迁移、恢复，附差异。Change events, with diffs.",
    "portals": "门户：每个种子门户一行。One row per seed portal.",
    "crawl_runs": "抓取运行。One row per crawl.",
    "problems": "抓取问题：错误、验证页、软 404 等。Fetches that gave no content.",
    "findings": "问题：数据不一致、逾期未发布、逾期发布。Inconsistent / missing / late findings.",
}


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True)
@db_option
def browse(host, port, db) -> None:
    """Open the database read-only in Datasette, with canned queries (optional extra)."""
    try:
        from datasette.cli import cli as datasette
    except ImportError:
        raise BadInput(HINT) from None
    name, hidden = check(Path(db))
    metadata = build_metadata(name, hidden, allow_sql=host in LOOPBACK)
    with tempfile.TemporaryDirectory(prefix="nianbao-browse-") as tmp:
        meta_path = Path(tmp) / "metadata.json"
        meta_path.write_text(json.dumps(metadata, ensure_ascii=False), encoding="utf-8")
        args = ["serve", str(db), "--metadata", str(meta_path), "--host", host]
        args += ["--port", str(port), "--setting", "allow_download", "off"]
        args += ["--setting", "sql_time_limit_ms", "5000"]
        datasette.main(args, prog_name="nianbao browse", standalone_mode=False)


def check(db: Path) -> tuple[str, list[str]]:
    """The Datasette name of ``db`` and its tables to hide, read over a read-only
    connection; a missing or foreign file exits 2."""
    if not db.is_file():
        raise BadInput(f"{db}: no such database")
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            hidden = [
                t
                for t in tables
                if SECRET_COLUMNS & {c[1] for c in conn.execute(f"PRAGMA table_info([{t}])")}
            ]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"{db}: cannot read the database: {exc}") from None
    if app_id != APPLICATION_ID and "versions" not in tables:
        raise BadInput(f"{db}: not a nianbao database")
    return db.stem, sorted(hidden)


def build_metadata(name: str, hidden: list[str], allow_sql: bool) -> dict:
    """Datasette metadata: titles and descriptions (中文 + English), the canned queries,
    ``versions`` searchable through ``version_search``, and the hidden tables."""
    tables: dict[str, dict] = {t: {"description": d} for t, d in TABLES.items()}
    tables["versions"].update(fts_table="version_search", fts_pk="id")
    for table in hidden:
        tables[table] = {"hidden": True, "allow": False}
    database = {
        "title": "年报监测数据库 · nianbao database",
        "description": "政府信息公开工作年度报告的版本、变动与问题（只读）。"
        " Versions, change events and findings of government information-disclosure"
        " annual reports (read-only).",
        "tables": tables,
        "queries": QUERIES,
    }
    if not allow_sql:
        database["allow_sql"] = False
    return {
        "title": "nianbao 年报监测",
        "description": "只读浏览 · read-only browsing",
        "databases": {name: database},
    }
