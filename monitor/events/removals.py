"""The mass-removal guard (issue 13): removals a portal's own view makes suspect are held.

Report by report, a page gone (404/410, soft 404) and unlisted on ``removal_runs``
consecutive healthy runs is ``removed``. A portal's view adds two holds:

- the portal is ``broken`` (``monitor.events.health``): every report found gone is held;
- in one healthy run, more than ``share`` of the portal's active reports (and at least
  ``minimum``) would be removed at once: those removals are held.

A held removal is no event: no subscriber hears of it. It becomes ``removed`` once the
portal is healthy again and the report is still gone on ``removal_runs`` healthy runs; it
is dropped when the report answers again. ``confirm`` turns a portal's held removals into
``removed`` events now; ``dismiss`` drops them.

May import: monitor.store, monitor.models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.events import about
from monitor.models import Event, EventKind, now_iso
from monitor.store import Store
from monitor.store.rows import HeldRemoval, Report

MASS_MINIMUM = 3  # fewer removals at once are never a mass removal


def is_mass_removal(removing: int, active: int, share: float, minimum: int = MASS_MINIMUM) -> bool:
    """Whether removing ``removing`` of ``active`` reports in one run is suspect.

    >>> is_mass_removal(1, 1, 0.5), is_mass_removal(2, 3, 0.5), is_mass_removal(3, 8, 0.5)
    (False, False, False)
    >>> is_mass_removal(5, 8, 0.5), is_mass_removal(8, 8, 0.5), is_mass_removal(3, 4, 0.5)
    (True, True, True)
    """
    return removing >= minimum and removing > share * active


@dataclass
class PortalGuard:
    """The removal judgement of one portal in one run.

    ``state`` is ``healthy`` (removals judged), ``broken`` (gone reports are held, with
    ``reason``) or ``unhealthy`` (nothing judged, as today for a failed portal). Feed it the
    reports ``seen`` and ``gone`` in the run, then ``settle``.
    """

    store: Store
    run_id: int
    portal_id: str
    state: str
    active: int
    removal_runs: int = 2
    share: float = 0.5
    reason: str = ""
    held: dict[int, HeldRemoval] = field(default_factory=dict)
    _gone: list[Report] = field(default_factory=list)
    _back: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.held = {h.report_id: h for h in self.store.reports.held(self.portal_id)}

    def seen(self, report: Report) -> None:
        """The report answered in this run: a hold on it is dropped."""
        if report.id in self.held:
            self._back.append(report.id)

    def gone(self, report: Report) -> None:
        """The report's page is gone and unlisted in this run."""
        self._gone.append(report)

    def settle(self, remove: Callable[[Report], None]) -> None:
        """Hold, count or remove what was gone; ``remove`` records one ``removed`` event."""
        reports = self.store.reports
        reports.release(self._back)
        if self.state == "broken":
            fresh = [r for r in self._gone if r.id not in self.held]
            reports.hold(fresh, self.run_id, self.reason or "portal broken", now_iso())
            return
        if self.state != "healthy":
            return
        due, counted, candidates = [], [], []
        for report in self._gone:
            hold = self.held.get(report.id)
            if hold is not None:
                (due if hold.healthy_runs + 1 >= self.removal_runs else counted).append(report)
                continue
            runs = report.gone_runs + 1
            reports.update(report.id, gone_runs=runs)
            if runs >= self.removal_runs:
                candidates.append(report)
        reports.count_held_run(r.id for r in counted)
        if is_mass_removal(len(candidates), self.active, self.share):
            why = f"mass removal: {len(candidates)} of {self.active} reports gone at once"
            reports.hold(candidates, self.run_id, f"一次删除过多 / {why}", now_iso())
            candidates = []
        reports.release(r.id for r in due)
        for report in due + candidates:
            remove(report)


def mark_removed(store: Store, report: Report, run_id: int | None) -> Event:
    """Mark ``report`` removed and record its ``removed`` event (returned)."""
    store.reports.update(report.id, status="removed", removed_at=now_iso())
    event = about(EventKind.REMOVED, report, run_id, old_version_id=report.current_version_id)
    event.id = store.events.add(event)
    return event


def confirm(store: Store, portal_id: str) -> list[Event]:
    """Turn a portal's held removals into ``removed`` events now; return the events."""
    events = []
    with store.immediate():
        held = store.reports.held(portal_id)
        reports = store.reports.by_id(h.report_id for h in held)
        for h in held:
            report = reports.get(h.report_id)
            if report is not None and report.status == "active":
                events.append(mark_removed(store, report, h.run_id))
        store.reports.release(h.report_id for h in held)
    return events


def dismiss(store: Store, portal_id: str) -> int:
    """Drop a portal's held removals (the reports stay active); return how many."""
    with store.immediate():
        held = store.reports.held(portal_id)
        for h in held:
            store.reports.update(h.report_id, gone_runs=0)
        return store.reports.release(h.report_id for h in held)
