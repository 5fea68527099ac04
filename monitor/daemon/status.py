"""``nianbao status``: each portal's last run, next run and health, plus the daemon and outbox.

May import: monitor.store, monitor.web.health (the daemon's liveness, shared with /healthz).
"""

from __future__ import annotations

import json
import os

from monitor.store import Store
from monitor.store.views import Views
from monitor.web.health import HEARTBEAT_STALE, liveness

__all__ = ["HEARTBEAT_STALE", "status", "status_text"]


def run_ok(run: dict) -> bool:
    """Whether a portal's part of a run was healthy.

    >>> run_ok({"run_status": "partial", "portal_status": "ok"})
    True
    >>> run_ok({"run_status": "failed", "portal_status": "ok"})
    False
    """
    return run["run_status"] in ("ok", "partial") and run["portal_status"] == "ok"


def portal_health(runs: list[dict]) -> dict:
    """Health from a portal's runs (newest first): ok / failing / running / never crawled."""
    if not runs:
        return {
            "health": "never crawled",
            "consecutive_failures": 0,
            "last_error": None,
            "last_ok_at": None,
        }
    failures = next((n for n, r in enumerate(runs) if run_ok(r)), len(runs))
    bad = next((r for r in runs if not run_ok(r)), None)
    good = next((r for r in runs if run_ok(r)), None)
    health = (
        "running" if runs[0]["run_status"] == "running" else ("ok" if failures == 0 else "failing")
    )
    if health == "running":
        failures = next((n for n, r in enumerate(runs[1:]) if run_ok(r)), len(runs) - 1)
    return {
        "health": health,
        "consecutive_failures": failures,
        "last_error": (bad["portal_detail"] or bad["run_detail"] or bad["run_status"])
        if bad
        else None,
        "last_ok_at": good["started_at"] if good else None,
    }


def health_fields(runs: list[dict], held: int = 0) -> dict:
    """``health`` (``broken`` when the latest finished run was), ``health_reason``,
    ``health_since`` (the start of the current streak) and ``held_removals``.

    >>> r = lambda s, t: {"run_status": "partial", "portal_status": s, "portal_detail": s + "!", "started_at": t, "finished_at": t}
    >>> f = health_fields([r("broken", "T3"), r("broken", "T2"), r("ok", "T1")], 8)
    >>> f["health"], f["health_reason"], f["health_since"], f["held_removals"]
    ('broken', 'broken!', 'T2', 8)
    >>> health_fields([r("ok", "T2"), r("ok", "T1")])["health_since"]
    'T1'
    """
    done = [r for r in runs if r["finished_at"]]
    out = {"health_reason": None, "health_since": None, "held_removals": held}
    if not done:
        return out
    broken = done[0]["portal_status"] == "broken"
    ok = run_ok(done[0])
    same = (
        (lambda r: r["portal_status"] == "broken")
        if broken
        else (run_ok if ok else (lambda r: not run_ok(r)))
    )
    streak = next((n for n, r in enumerate(done) if not same(r)), len(done))
    out["health_since"] = done[streak - 1]["started_at"]
    if broken:
        out["health"] = "broken"
    if not ok:
        first = done[0]
        out["health_reason"] = first["portal_detail"] or first["run_detail"] or first["run_status"]
    return out


def daemon_state(store: Store) -> dict | None:
    """The latest daemon's row, with ``running`` judged from its pid and heartbeat."""
    row = store.daemons.latest()
    if row is None:
        return None
    running = liveness(vars(row)) is None  # as /healthz judges it
    return {
        "pid": row.pid,
        "running": running,
        "started_at": row.started_at,
        "heartbeat_at": row.heartbeat_at,
        "stopped_at": row.stopped_at,
        "next_runs": json.loads(row.next_runs or "{}") if running else {},
    }


def status(store: Store, cache: dict | None = None) -> dict:
    """The ``nianbao status --json`` document. Each portal's latest runs are read as plain
    rows, newest first, stopping once every portal has its ``HISTORY``
    (``Views.recent_runs``; no objects per run).

    ``cache`` (a dict the caller keeps, as the web app does): what the runs decide about
    each portal (``portal_states``) is kept in it and reused while the file and its runs
    are the same (``Views.version("runs")``), so a commit that only stores a page costs the
    overview a few small queries, not judging 1,000 portals' 30 runs again."""
    daemon = daemon_state(store)
    next_runs = daemon["next_runs"] if daemon else {}
    names = store.runs.names()
    locked = {r.portal_id: f"{r.owner} (pid {r.pid})" for r in store.locks.all()}
    held = store.reports.held_counts()
    portals = []
    for portal_id, state in _states(store, cache).items():
        portals.append(
            {
                "portal_id": portal_id,
                "name": names.get(portal_id),
                "last_run": dict(state["last_run"]) if state["last_run"] else None,
                "next_run": next_runs.get(portal_id),
                "locked_by": locked.get(portal_id),
                **state["health"],
                "held_removals": held.get(portal_id, 0),
            }
        )
    portals.sort(key=lambda p: p["health"] != "broken")  # broken portals first
    return {
        "daemon": daemon,
        "portals": portals,
        "outbox": store.outbox.counts(),
        "outbox_errors": [e.to_json() for e in store.outbox.errors()],
    }


def portal_states(recent: dict[str, list[dict]]) -> dict[str, dict]:
    """Per portal, what its latest runs (newest first) decide: ``last_run`` and the
    ``health`` fields (``portal_health`` and ``health_fields``, without the held removals,
    which the reports decide)."""
    out = {}
    for portal_id, runs in recent.items():
        last = runs[0] if runs else None
        health = {**portal_health(runs), **health_fields(runs)}
        health.pop("held_removals")
        out[portal_id] = {
            "last_run": None
            if last is None
            else {
                "run_id": last["run_id"],
                "started_at": last["started_at"],
                "finished_at": last["finished_at"],
                "status": last["run_status"],
                "portal_status": last["portal_status"],
                "trigger": last["trigger"],
            },
            "health": health,
        }
    return out


def _states(store: Store, cache: dict | None) -> dict[str, dict]:
    """``portal_states`` of the store, from ``cache`` when the file (device, inode) and its
    runs version are those it was judged at. The version is read before the runs: a change
    between the two reads leaves a newer judgement under an older key, judged again next
    time, never an older one kept."""
    views = Views(store.db)
    if cache is None:
        return portal_states(views.recent_runs())
    stat = os.stat(store.path)
    key = (stat.st_dev, stat.st_ino, views.version("runs"))
    kept = cache.get("portal_states")
    if kept is not None and kept[0] == key:
        return kept[1]
    states = portal_states(views.recent_runs())
    cache["portal_states"] = (key, states)  # one assignment: threads see both or neither
    return states


def status_text(doc: dict) -> str:
    """The human-readable ``nianbao status``."""
    d = doc["daemon"]
    if d is None:
        lines = ["Daemon: never started"]
    elif d["running"]:
        lines = [
            f"Daemon: running (pid {d['pid']}, since {d['started_at']}, heartbeat {d['heartbeat_at']})"
        ]
    else:
        lines = [f"Daemon: not running (last seen {d['heartbeat_at']})"]
    o = doc["outbox"]
    lines.append(
        f"Outbox: {o['pending']} pending, {o['sending']} sending/retrying, {o['sent']} sent, "
        f"{o['failed']} failed"
    )
    for err in doc["outbox_errors"]:
        lines.append(
            f"  {err['key']} ({err['events']} events, {err['attempts']} attempts, "
            f"status {err['status']}, next {err['next_attempt_at']}): {err['last_error']}"
        )
    if not doc["portals"]:
        lines.append("No portals crawled yet.")
    for p in doc["portals"]:
        last = p["last_run"]
        when = f"last run {last['started_at']} {last['status']}" if last else "never crawled"
        health = p["health"] + (
            f", {p['consecutive_failures']} failures in a row" if p["consecutive_failures"] else ""
        )
        lines.append(
            f"  {p['portal_id']:<16} {health:<28} {when}; next {p['next_run'] or '-'}"
            + (f"; locked by {p['locked_by']}" if p["locked_by"] else "")
        )
        if p["health"] == "broken":
            lines.append(f"  {'':<16} broken since {p['health_since']}: {p['health_reason']}")
        elif p["last_error"] and p["consecutive_failures"]:
            lines.append(f"  {'':<16} last error: {p['last_error'][:160]}")
        if p["held_removals"]:
            lines.append(
                f"  {'':<16} {p['held_removals']} removals held (nianbao removals confirm|"
                f"dismiss {p['portal_id']})"
            )
    return "\n".join(lines)
