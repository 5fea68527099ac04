"""Evidence: what a user cites for a version or an event, and the versions a WARC export
writes (issue 11).

``version_evidence`` is the one description of a stored version that the CLI (``show
--evidence``), the report page and the event page all print: address, fetch time, HTTP
status, and sha256 of the response bytes as fetched and of the normalised text, computed
from what is stored (not copied from a column). ``Evidence.for_event`` puts the two
versions of an event side by side; ``Evidence.export`` streams versions with their raw
bytes for ``nianbao export warc``, a batch at a time.

May import: monitor.models, monitor.store.base, monitor.store.rows.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from typing import Any

from monitor.models import Event
from monitor.store.base import Part
from monitor.store.rows import Version

EXPORT_BATCH = 50  # versions read per query: a few MB of raw bytes, never the whole table


def sha256(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def warc_hint(report_id: int) -> str:
    """The command that exports a report's versions as WARC records."""
    return f"nianbao export warc --report {report_id} --out report-{report_id}.warc.gz"


def unpack(version: Version) -> tuple[bytes | None, bool]:
    """The response bytes a version row keeps (zlib), and whether they are damaged: a
    damaged blob gives (None, True), a version without raw bytes (None, False)."""
    if version.raw is None:
        return None, False
    try:
        return zlib.decompress(version.raw), False
    except zlib.error:
        return None, True


def version_evidence(version: Version, raw: bytes | None) -> dict[str, Any]:
    """A version as a citation: ids, address, fetch time and status, digests.

    Args:
        version: the ``versions`` row (its text is used, its ``raw`` column is not).
        raw: the response body as fetched (decompressed), or None when it was not kept
            (or its stored blob is damaged).
    """
    return {
        "version_id": version.id,
        "report_id": version.report_id,
        "run_id": version.run_id,
        "url": version.url,
        "fetched_at": version.fetched_at,
        "status": version.status,
        "content_type": version.content_type,
        "raw_sha256": sha256(raw),
        "raw_bytes": len(raw) if raw is not None else None,
        "text_sha256": sha256(version.text.encode()),
        "chars": len(version.text),
    }


class Evidence(Part):
    """Read-only: digests of stored versions, and versions to export."""

    def version(self, version_id: int) -> tuple[Version, bytes | None] | None:
        """A version and its response bytes as fetched (None when not kept)."""
        found = self._one(Version, "SELECT * FROM versions WHERE id = ?", [version_id])
        return (found, unpack(found)[0]) if found is not None else None

    def of_version(self, version_id: int) -> dict[str, Any] | None:
        got = self.version(version_id)
        return version_evidence(*got) if got else None

    def for_event(self, event: Event) -> dict[str, Any]:
        """An event's evidence: its address(es), both versions' digests (``old`` is None for
        a new report, ``new`` None for a removal), and how to export them as WARC."""
        old = self.of_version(event.old_version_id) if event.old_version_id else None
        new = self.of_version(event.new_version_id) if event.new_version_id else None
        urls = [u for u in (event.old_url, event.url) if u]
        return {
            "event_id": event.id,
            "report_id": event.report_id,
            "urls": list(dict.fromkeys(urls)),
            "old": old,
            "new": new,
            "warc": warc_hint(event.report_id),
        }

    # ---- export ---------------------------------------------------------------------

    def _where(self, report_id: int | None, since: str | None) -> tuple[str, list]:
        where, args = ["1"], []
        if report_id is not None:
            where.append("report_id = ?")
            args.append(report_id)
        if since:
            where.append("fetched_at >= ?")
            args.append(since)
        return " AND ".join(where), args

    def count(self, report_id: int | None = None, since: str | None = None) -> int:
        where, args = self._where(report_id, since)
        return self.db.execute(f"SELECT COUNT(*) FROM versions WHERE {where}", args).fetchone()[0]

    def export(
        self, report_id: int | None = None, since: str | None = None
    ) -> Iterator[tuple[Version, bytes | None, bool]]:
        """Versions (of one report, fetched on or after ``since``), oldest first, each with
        its response bytes as fetched (None when not kept or damaged) and whether they are
        damaged (see ``unpack``); read ``EXPORT_BATCH`` at a time."""
        where, args = self._where(report_id, since)
        last = 0
        while True:
            batch = self._all(
                Version,
                f"SELECT * FROM versions WHERE {where} AND id > ? ORDER BY id LIMIT ?",
                [*args, last, EXPORT_BATCH],
            )
            for v in batch:
                yield v, *unpack(v)
            if len(batch) < EXPORT_BATCH:
                return
            last = batch[-1].id
