"""Events: pure text diffing (``diff``), the rules that turn stored versions into events
(``detect``), portal health (``health``), held removals (``removals``), statistics findings
(``stats``, ``deadlines``). ``about`` builds an event for a report, for all of them."""

from __future__ import annotations

from monitor.models import Event, EventKind, now_iso
from monitor.store.rows import Report


def about(kind: EventKind, report: Report, run_id: int | None, **fields: object) -> Event:
    """An unsaved event of ``kind`` for ``report``, detected now in run ``run_id``.

    ``fields`` fill the rest (versions, diff, note, ...) and may override ``year``.
    """
    base: dict = {
        "kind": kind.value,
        "report_id": report.id,
        "url": report.url,
        "title": report.title or "",
        "issuer": report.issuer or "",
        "region": report.region or "",
        "portal_id": report.portal_id,
        "year": report.year,
        "detected_at": now_iso(),
        "run_id": run_id,
    }
    return Event(**{**base, **fields})
