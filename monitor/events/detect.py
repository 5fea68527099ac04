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

May import: monitor.store, monitor.events.diff, monitor.models.
"""

from __future__ import annotations

from monitor.events.diff import diff_text, similarity
from monitor.models import Event, EventKind, now_iso
from monitor.store import Store

MOVE_SIMILARITY = 0.85


def _event(kind: EventKind, report: dict, run_id: int, **fields: object) -> Event:
    return Event(
        kind=kind.value,
        report_id=report["id"],
        url=report["url"],
        title=report["title"] or "",
        issuer=report["issuer"] or "",
        region=report["region"] or "",
        portal_id=report["portal_id"],
        year=report["year"],
        detected_at=now_iso(),
        run_id=run_id,
        **fields,
    )


def _record(store: Store, events: list[Event], event: Event) -> None:
    event.id = store.add_event(event)
    events.append(event)


def _moved_from(store: Store, report: dict, text: str, run_id: int) -> dict | None:
    """The known report this newly created one is a move of, if any."""
    for old in store.move_candidates(report):
        page = store.page(old["url"])
        if page and page.get("last_ok_run") == run_id:
            continue  # the old address still answers: a different report
        previous = store.version(old["current_version_id"]) if old["current_version_id"] else None
        if previous and similarity(previous["text"], text) >= MOVE_SIMILARITY:
            return old
    return None


NOT_TEXT = {"image-only": "图片版", "unsupported": "无法提取的文件"}


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


def _versions(store: Store, run_id: int, events: list[Event]) -> None:
    for version in store.versions_in_run(run_id):
        report = store.report(version["report_id"])
        prev = store.previous_version(version["report_id"], version["id"])
        if prev is None:
            old = _moved_from(store, report, version["text"], run_id)
            if old is None:
                _record(
                    store,
                    events,
                    _event(EventKind.NEW, report, run_id, new_version_id=version["id"]),
                )
                continue
            store.merge_report(report["id"], old["id"])
            store.set_report(
                old["id"],
                url=report["url"],
                current_version_id=version["id"],
                text_sha=version["text_sha"],
                last_seen_run=run_id,
                gone_runs=0,
            )
            prev = store.previous_version(old["id"], version["id"])
            d = diff_text(prev["text"], version["text"])
            _record(
                store,
                events,
                _event(
                    EventKind.MOVED,
                    store.report(old["id"]),
                    run_id,
                    old_url=old["url"],
                    old_version_id=prev["id"],
                    new_version_id=version["id"],
                    diff=d.diff,
                    sections=d.sections,
                    numbers=d.numbers,
                ),
            )
            continue
        note = quality_note(prev["quality"], version["quality"])
        if note is None:
            continue  # a scan replaced by a scan: its text (the title line) says nothing
        d = diff_text(prev["text"], version["text"])
        if d.changed or note:
            _record(
                store,
                events,
                _event(
                    EventKind.EDITED,
                    report,
                    run_id,
                    old_version_id=prev["id"],
                    new_version_id=version["id"],
                    diff=d.diff,
                    sections=d.sections,
                    numbers=d.numbers,
                    note=note,
                ),
            )


def _aliases_and_absences(
    store: Store, run_id: int, portal_id: str, healthy: bool, removal_runs: int, events: list[Event]
) -> None:
    gone = store.gone_urls(run_id)
    for report in store.portal_reports(portal_id):
        page = store.page(report["url"]) or {}
        if page.get("last_ok_run") == run_id:
            continue  # seen where it should be
        seen_at = [u for u in store.seen_urls(report["id"], run_id) if u != report["url"]]
        if seen_at and report["url"] in gone:
            store.set_report(report["id"], url=seen_at[0], gone_runs=0)
            _record(
                store,
                events,
                _event(
                    EventKind.MOVED,
                    store.report(report["id"]),
                    run_id,
                    old_url=report["url"],
                    new_version_id=report["current_version_id"],
                ),
            )
            continue
        if not healthy or report["url"] not in gone or page.get("last_listed_run") == run_id:
            continue
        runs = report["gone_runs"] + 1
        if runs < removal_runs:
            store.set_report(report["id"], gone_runs=runs)
            continue
        store.set_report(report["id"], gone_runs=runs, status="removed", removed_at=now_iso())
        _record(
            store,
            events,
            _event(EventKind.REMOVED, report, run_id, old_version_id=report["current_version_id"]),
        )


def _restorations(store: Store, run_id: int, portal_id: str, events: list[Event]) -> None:
    for report in store.portal_reports(portal_id, status="removed"):
        if report["last_seen_run"] == run_id:
            store.set_report(report["id"], status="active", removed_at=None, gone_runs=0)
            _record(
                store,
                events,
                _event(
                    EventKind.RESTORED,
                    store.report(report["id"]),
                    run_id,
                    new_version_id=report["current_version_id"],
                ),
            )


def detect(
    store: Store, run_id: int, healthy: dict[str, bool] | None = None, removal_runs: int = 2
) -> list[Event]:
    """Record the events this run implies, and return them.

    Args:
        healthy: per portal id, whether this run of it was healthy; removals are only
            judged for healthy portals. None: every portal in the run counts as healthy.
        removal_runs: consecutive healthy runs a page must be gone before ``removed``.
    """
    events: list[Event] = []
    with store.atomic():
        _versions(store, run_id, events)
        for row in store.portal_runs(run_id):
            portal_id = row["portal_id"]
            ok = True if healthy is None else healthy.get(portal_id, False)
            _restorations(store, run_id, portal_id, events)
            _aliases_and_absences(store, run_id, portal_id, ok, removal_runs, events)
    return events
