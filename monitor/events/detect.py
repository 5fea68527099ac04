"""Turn what a crawl run stored into events: new, edited, moved, removed, restored.

Rules (issue: "change events a user can trust"):
- A report's first version is ``new`` — unless it is a known report that moved: same
  portal, issuer and year, nearly the same text, and its old address was not fetched
  successfully in this run. Then it is folded into the old report: one ``moved`` event.
- A report seen at another address while its canonical address is gone (404/410, soft
  404) is ``moved`` to that address.
- A later version is ``edited``, with the diff against the version before it; a scan
  (image-only) replaced by a scan makes no event, a scan replaced by text (or back) is
  ``edited`` with a note saying so.
- A report is ``removed`` only in healthy portal runs, when its page is gone (404/410,
  soft 404) and no longer listed, on ``removal_runs`` consecutive healthy runs.
- A removed report seen again is ``restored``.
- Removals of a ``broken`` portal, or too many at once, are held as suspect, not events
  (``monitor.events.removals``).

Each step reads what it needs for the whole run in a few queries (versions with their
previous versions, reports, pages, move candidates), never a query per report; it writes
one row per event or changed report.

May import: monitor.store, monitor.events.diff, monitor.events.removals,
monitor.events.stats, monitor.models.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from monitor.events import about, removals, stats
from monitor.events.diff import diff_text, similarity
from monitor.models import Event, EventKind
from monitor.store import Store
from monitor.store.rows import Page, Report, Version

MOVE_SIMILARITY = 0.85
JUDGE_CHUNK = 1000  # versions judged at a time: detection's memory follows this, not the run
NOT_TEXT = {"image-only": "图片版", "unsupported": "无法提取的文件"}


@dataclass
class _Run:
    """One detection: the store, the run, and the events recorded so far."""

    store: Store
    run_id: int
    events: list[Event] = field(default_factory=list)
    # what the detection's chunks share (JUDGE_CHUNK versions are judged at a time):
    merged: dict[int, int] = field(default_factory=dict)  # report folded by a move → into
    taken: set[int] = field(default_factory=set)  # move candidates a report was merged into
    # the M2 pairs (issuer, region, later year) compared so far: each is compared once
    # per detection (events.stats._carried)
    compared: set[tuple] = field(default_factory=set)

    def record(self, kind: EventKind, report: Report, **fields: object) -> None:
        event = about(kind, report, self.run_id, **fields)
        event.id = self.store.events.add(event)
        self.events.append(event)


def quality_note(old: str | None, new: str | None) -> str | None:
    """ "" for two text versions, a note when a scan or unreadable file became text (or the
    reverse), None when neither version has text to compare.

    >>> quality_note("ok", "ok"), quality_note("image-only", "ok"), quality_note("image-only", "image-only")
    ('', '版本类型变化: 图片版 → 文字版', None)
    """
    before, after = NOT_TEXT.get(old or "ok"), NOT_TEXT.get(new or "ok")
    if before and after:
        return None
    if before or after:
        return f"版本类型变化: {before or '文字版'} → {after or '文字版'}"
    return ""


class _MoveFinder:
    """Which known report a newly created one is a move of: same portal, issuer and year,
    nearly the same text, and its old address was not fetched successfully in this run.
    Loads every candidate of a chunk's new reports at once; ``taken`` (the candidates a
    report of this run was merged into) is shared by the run's chunks."""

    def __init__(self, store: Store, run_id: int, new_ids: list[int], taken: set[int]):
        self.candidates = store.reports.move_candidates(new_ids, run_id)
        texts = {c.current_version_id for cs in self.candidates.values() for c in cs}
        self.texts = store.reports.versions_by_id(t for t in texts if t)
        self.taken = taken

    def moved_from(self, report: Report, text: str) -> Report | None:
        for old in self.candidates.get(report.id, []):
            if old.id in self.taken:
                continue  # merged into a report of this run: now at an address fetched in it
            previous = self.texts.get(old.current_version_id)
            if previous and similarity(previous.text, text) >= MOVE_SIMILARITY:
                self.taken.add(old.id)
                return old
        return None


def _versions(job: _Run) -> None:
    """Judge every version no detection has judged yet (this run's, and those a dead or
    failed run left), in order, and mark them judged in the caller's transaction.

    ``JUDGE_CHUNK`` versions at a time (each chunk marked judged before the next is read),
    so the versions, their predecessors and records of a 100,000-page crawl are never all
    in memory at once."""
    while versions := job.store.reports.unjudged_versions(job.run_id, limit=JUDGE_CHUNK):
        _judge(job, versions)


def _judge(job: _Run, versions: list[Version]) -> None:
    """Judge one chunk of versions, oldest first."""
    store, merged = job.store, job.merged
    prev_ids = store.reports.previous_ids_of(v.id for v in versions)
    previous = store.reports.versions_by_id(prev_ids.values())
    reports = store.reports.by_id({v.report_id for v in versions})
    new_ids = [v.report_id for v in versions if v.id not in prev_ids]
    moves = _MoveFinder(store, job.run_id, new_ids, job.taken) if new_ids else None
    judged = stats.judge_stats(store, versions, prev_ids)  # one STATS.md record per version
    for version in versions:
        if version.report_id in merged:  # a later version of a report merged just now
            reports[version.report_id] = store.reports.get(merged[version.report_id])
        report = reports[version.report_id]
        prev = previous.get(prev_ids.get(version.id, 0))
        if prev is None:
            old = moves.moved_from(report, version.text)
            if old is None:
                job.record(EventKind.NEW, report, new_version_id=version.id)
            else:
                _merge_move(job, report, old, version)
                merged[report.id] = old.id
            continue
        _edit(job, report, prev, version, judged.note(version.id))
    stats.record_findings(job, versions, judged)
    store.search.index((v.id, v.text) for v in versions)  # searchable with its events
    store.reports.mark_judged((v.id for v in versions), job.run_id)


def _merge_move(job: _Run, report: Report, old: Report, version: Version) -> None:
    store = job.store
    store.reports.merge(report.id, old.id)
    store.reports.update(
        old.id,
        url=report.url,
        current_version_id=version.id,
        text_sha=version.text_sha,
        last_seen_run=job.run_id,
        gone_runs=0,
    )
    prev = store.reports.previous_version(old.id, version.id)
    d = diff_text(prev.text, version.text)
    job.record(
        EventKind.MOVED,
        store.reports.get(old.id),
        old_url=old.url,
        old_version_id=prev.id,
        new_version_id=version.id,
        diff=d.diff,
        sections=d.sections,
        numbers=d.numbers,
    )


def _edit(job: _Run, report: Report, prev: Version, version: Version, keys: str = "") -> None:
    """An ``edited`` event; ``keys`` names the STATS.md keys whose values changed."""
    note = quality_note(prev.quality, version.quality)
    if note is None:
        return  # a scan replaced by a scan: its text (the title line) says nothing
    d = diff_text(prev.text, version.text)
    if keys and d.changed:
        note = f"{note}\n{keys}" if note else keys
    if d.changed or note:
        job.record(
            EventKind.EDITED,
            report,
            old_version_id=prev.id,
            new_version_id=version.id,
            diff=d.diff,
            sections=d.sections,
            numbers=d.numbers,
            note=note,
        )


def _restorations(job: _Run, removed: list[Report]) -> list[Report]:
    """Restore the removed reports seen again in this run; return them (now active)."""
    restored = []
    for report in removed:
        if report.last_seen_run == job.run_id:
            job.store.reports.update(report.id, status="active", removed_at=None, gone_runs=0)
            report = replace(report, status="active", removed_at=None, gone_runs=0)
            job.record(EventKind.RESTORED, report, new_version_id=report.current_version_id)
            restored.append(report)
    return restored


@dataclass
class _Seen:
    """What the run saw, for aliases and absences: gone URLs, pages, where reports answered."""

    gone: set[str]
    pages: dict[str, Page]
    seen_at: dict[int, list[str]]


def _aliases_and_absences(
    job: _Run, reports: list[Report], seen: _Seen, guard: removals.PortalGuard
) -> None:
    store, run_id = job.store, job.run_id
    for report in reports:
        page = seen.pages.get(report.url)
        if page is not None and page.last_ok_run == run_id:
            guard.seen(report)
            continue  # seen where it should be
        seen_at = [u for u in seen.seen_at.get(report.id, []) if u != report.url]
        if seen_at and report.url in seen.gone:
            guard.seen(report)
            store.reports.update(report.id, url=seen_at[0], gone_runs=0)
            job.record(
                EventKind.MOVED,
                replace(report, url=seen_at[0], gone_runs=0),
                old_url=report.url,
                new_version_id=report.current_version_id,
            )
            continue
        listed = page is not None and page.last_listed_run == run_id
        if report.url in seen.gone and not listed:
            guard.gone(report)
    guard.settle(lambda r: job.events.append(removals.mark_removed(store, r, run_id)))


def _guard(
    job: _Run,
    portal_id: str,
    active: int,
    healthy: bool,
    broken: dict[str, str],
    removal_runs: int,
    mass_removal: float,
) -> removals.PortalGuard:
    """The removal guard of one portal: held when broken, judged when healthy."""
    state = "broken" if portal_id in broken else "healthy" if healthy else "unhealthy"
    return removals.PortalGuard(
        job.store,
        job.run_id,
        portal_id,
        state,
        active,
        removal_runs,
        mass_removal,
        reason=broken.get(portal_id, ""),
    )


def _by_portal(reports: list[Report]) -> dict[str, list[Report]]:
    out: dict[str, list[Report]] = {}
    for r in reports:
        out.setdefault(r.portal_id, []).append(r)
    return out


def detect(
    store: Store,
    run_id: int,
    healthy: dict[str, bool] | None = None,
    removal_runs: int = 2,
    *,
    broken: dict[str, str] | None = None,
    mass_removal: float = 0.5,
) -> list[Event]:
    """Record the events this run implies, and return them.

    Every stored version is judged exactly once: this judges the run's versions and any
    that a dead or failed run left unjudged, and marks them judged in the same transaction
    as their events. Removals, aliases and restorations are judged for the run's portals.

    Args:
        healthy: per portal id, whether this run of it was healthy; removals are only
            judged for healthy portals. None: every portal in the run counts as healthy.
        removal_runs: consecutive healthy runs a page must be gone before ``removed``.
        broken: per broken portal id, why: its gone reports are held, not removed.
        mass_removal: the share of a portal's active reports whose removal in one run is
            held as suspect (``monitor.events.removals``).
    """
    job = _Run(store, run_id)
    with store.immediate():  # one writer: a version is judged once, with its events
        _versions(job)
        portal_ids = store.runs.portal_ids(run_id)
        active = _by_portal(store.reports.in_portals(portal_ids))
        removed = _by_portal(store.reports.in_portals(portal_ids, status="removed"))
        urls = {r.url for rs in active.values() for r in rs}
        urls |= {r.url for rs in removed.values() for r in rs}
        seen = _Seen(
            store.runs.gone_urls(run_id),
            store.reports.pages_by_url(urls),
            store.reports.seen_urls(run_id),
        )
        for portal_id in portal_ids:
            ok = True if healthy is None else healthy.get(portal_id, False)
            restored = _restorations(job, removed.get(portal_id, []))
            reports = sorted(active.get(portal_id, []) + restored, key=lambda r: r.id)
            guard = _guard(
                job, portal_id, len(reports), ok, broken or {}, removal_runs, mass_removal
            )
            _aliases_and_absences(job, reports, seen, guard)
    return job.events
