"""The standard tables as data: one STATS.md record per version (``version_stats``) and
the findings on them (``findings``: inconsistent, mismatch, missing, late).

Records are JSON columns (cells, raw, labels, findings); a finding is written once per
``key`` (``INSERT OR IGNORE``), so a re-judged version or a second ``findings`` run never
repeats one.

May import: monitor.store.base.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator

from monitor.store.base import IN_JSON, Part, json_list

RECORD_FIELDS = ("cells", "raw", "labels", "findings")


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Stats(Part):
    """Per-version records and the findings on them."""

    # ---- records ----------------------------------------------------------------

    def save(self, version_id: int, report_id: int, record: dict, at: str) -> None:
        """Store (or replace) the record of one version."""
        self.db.execute(
            "INSERT OR REPLACE INTO version_stats (version_id, report_id, template, cells, raw, "
            "labels, findings, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                version_id,
                report_id,
                record.get("template"),
                *(_dumps(record.get(f) or ({} if f != "findings" else [])) for f in RECORD_FIELDS),
                at,
            ],
        )

    def records(self, version_ids: Iterable[int]) -> dict[int, dict]:
        """Stored records by version id (versions never parsed are left out)."""
        rows = self.db.query(
            f"SELECT * FROM version_stats WHERE version_id IN {IN_JSON}", [json_list(version_ids)]
        )
        return {r["version_id"]: _record(r) for r in rows}

    def latest(self, report_id: int) -> tuple[int, dict] | None:
        """(version id, record) of a report's newest parsed version."""
        rows = list(
            self.db.query(
                "SELECT * FROM version_stats WHERE report_id = ? ORDER BY version_id DESC LIMIT 1",
                [report_id],
            )
        )
        return (rows[0]["version_id"], _record(rows[0])) if rows else None

    def issuer_cells(self, wanted: Iterable[tuple[str, int]]) -> dict[tuple, dict[int, tuple]]:
        """(issuer, region) → year → (report id, version id, cells) of the current versions
        with standard tables of the reports of these (issuer, year) pairs (the lowest
        report id when a year has several). Two queries for a chunk of a detection: the
        report ids by index, then the cells of those alone."""
        pairs = json.dumps(sorted({(issuer, year) for issuer, year in wanted}), ensure_ascii=False)
        first = self.db.query(
            "SELECT MIN(r.id) AS report_id FROM json_each(?) AS k "
            "JOIN reports r ON r.issuer = json_extract(k.value, '$[0]') "
            "AND r.year = json_extract(k.value, '$[1]') "
            "JOIN version_stats s ON s.version_id = r.current_version_id "
            "WHERE s.template IN ('2019', '2021') GROUP BY r.issuer, r.region, r.year",
            [pairs],
        )
        rows = self.db.query(
            "SELECT r.id AS report_id, r.issuer, r.region, r.year, s.version_id, s.cells "
            "FROM reports r JOIN version_stats s ON s.version_id = r.current_version_id "
            f"WHERE r.id IN {IN_JSON}",
            [json_list(row["report_id"] for row in first)],
        )
        out: dict[tuple, dict[int, tuple]] = {}
        for r in rows:
            by_year = out.setdefault((r["issuer"], r["region"]), {})
            by_year[r["year"]] = (r["report_id"], r["version_id"], json.loads(r["cells"]))
        return out

    def sources(self, version_ids: Iterable[int]) -> list[dict]:
        """What a record is parsed from: id, report_id, url, content_type, raw (bytes), text."""
        rows = self.db.query(
            "SELECT id, report_id, url, content_type, raw, text FROM versions "
            f"WHERE id IN {IN_JSON} ORDER BY id",
            [json_list(version_ids)],
        )
        return [{**r, "raw": zlib.decompress(r["raw"]) if r["raw"] else b""} for r in rows]

    def export_rows(
        self, region: str | None = None, year: int | None = None, template: str | None = None
    ) -> Iterator[dict]:
        """One row per report × key of each report's current version's record."""
        where, args = ["s.template IN ('2019', '2021')"], []
        for col, value in (("r.region", region), ("r.year", year), ("s.template", template)):
            if value is not None:
                where.append(f"{col} = ?")
                args.append(value)
        sql = (
            "SELECT r.id AS report_id, r.issuer, r.region, r.year, r.url, s.version_id, "
            "s.template, s.cells, s.raw FROM reports r JOIN version_stats s "
            "ON s.version_id = r.current_version_id WHERE "
            + " AND ".join(where)
            + " ORDER BY r.region, r.year, r.id"
        )
        for row in self.db.query(sql, args):
            cells, raw = json.loads(row.pop("cells")), json.loads(row.pop("raw"))
            for key, value in cells.items():
                yield {**row, "key": key, "value": value, "printed": raw.get(key, "")}

    # ---- findings ---------------------------------------------------------------

    def add_finding(self, finding: dict) -> int | None:
        """Record a finding once per ``key``; its id, or None when it was known already."""
        row = {k: finding.get(k) for k in FINDING_COLUMNS}
        for k in ("cells", "expected", "found"):
            row[k] = _dumps(row[k])
        row["partial"] = int(bool(row["partial"]))
        cur = self.db.execute(
            f"INSERT OR IGNORE INTO findings ({', '.join(f'[{c}]' for c in row)}) "
            f"VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
        return cur.lastrowid if cur.rowcount else None

    def link_event(self, finding_id: int, event_id: int) -> None:
        self.db.execute("UPDATE findings SET event_id = ? WHERE id = ?", [event_id, finding_id])

    def unannounced(self) -> list[dict]:
        """Failing (not partial) inconsistent and mismatch findings that have no event yet,
        oldest first."""
        rows = self.db.query(
            "SELECT * FROM findings WHERE kind IN ('inconsistent', 'mismatch') AND partial = 0 "
            "AND event_id IS NULL ORDER BY id"
        )
        return [_finding(r) for r in rows]

    def finding_keys(self, kinds: Iterable[str]) -> set[str]:
        """The keys of the findings of these kinds recorded so far."""
        rows = self.db.query(
            f"SELECT key FROM findings WHERE kind IN {IN_JSON}", [json_list(kinds)]
        )
        return {row["key"] for row in rows}

    def has_finding(self, key: str) -> bool:
        return bool(list(self.db.query("SELECT 1 FROM findings WHERE key = ?", [key])))

    def findings(
        self, kinds: Iterable[str] = (), region: str | None = None, year: int | None = None
    ) -> list[dict]:
        """Findings, newest first, optionally of some kinds, one region, one year."""
        where, args = ["1"], []
        kinds = list(kinds)
        if kinds:
            where.append(f"kind IN {IN_JSON}")
            args.append(json_list(kinds))
        if region is not None:
            where.append("region = ?")
            args.append(region)
        if year is not None:
            where.append("year = ?")
            args.append(year)
        rows = self.db.query(
            f"SELECT * FROM findings WHERE {' AND '.join(where)} ORDER BY id DESC", args
        )
        return [_finding(r) for r in rows]

    def issuer_years(self) -> list[dict]:
        """Every (issuer, region, year) with a report: id, published, first_seen, portal."""
        return list(
            self.db.query(
                "SELECT id AS report_id, portal_id, issuer, region, year, published, first_seen "
                "FROM reports WHERE year IS NOT NULL AND COALESCE(issuer, '') != '' ORDER BY id"
            )
        )


FINDING_COLUMNS = (
    "key",
    "kind",
    "report_id",
    "version_id",
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


def _record(row: dict) -> dict:
    record = {"template": row["template"]}
    record.update({f: json.loads(row[f]) for f in RECORD_FIELDS})
    return record


def _finding(row: dict) -> dict:
    out = dict(row)
    for k in ("cells", "expected", "found"):
        out[k] = json.loads(row[k]) if row[k] is not None else None
    out["partial"] = bool(row["partial"])
    return out
