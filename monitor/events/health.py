"""Portal health from the portal's view (issue 13): is a run ``broken``, judged against
the portal's last healthy run?

A portal that used to yield reports and now yields none is broken until proven otherwise.
A run whose list pages were read is ``broken`` when, compared with the last ``ok`` run:

- its list pages give no report link where they gave some before;
- the list adapter it is detected with changed and finds nothing;
- its report links all redirect to one page (a home page, a login);
- the reports it finds drop by more than half.

Portals that yielded fewer than ``MIN_YIELD`` reports are judged report by report only
(a single report deleted is not a breakage). The reason is given in Chinese and English,
with the figures before and after. A broken run is judged on nothing, as a failed one is
(``monitor.cycle``); its removals are held (``monitor.events.removals``).

May import: monitor.store.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.store import Store
from monitor.store.rows import PortalRun

MIN_YIELD = 3


@dataclass
class Figures:
    """What one portal run yielded: report links ``listed``, distinct reports ``found``,
    the list ``adapter``; ``answered`` listed links that answered at their own address and
    ``landed`` the other addresses that answered (where redirects ended)."""

    listed: int
    found: int
    adapter: str | None = None
    answered: int = 0
    landed: tuple[str, ...] = ()


def breakage(now: Figures, before: Figures | None) -> str | None:
    """Why this run is broken (Chinese / English), or None.

    >>> old = Figures(listed=8, found=8, adapter="hanweb")
    >>> breakage(Figures(0, 0, "generic"), old)
    '列表适配器由 hanweb 变为 generic，找不到报告链接（此前 8 个） / list adapter changed from hanweb to generic and finds no report link (8 before)'
    >>> breakage(Figures(0, 0, "hanweb"), old)
    '栏目页可以读取，但没有报告链接（此前 8 个） / list pages read but give no report link (8 before)'
    >>> breakage(Figures(8, 0, "hanweb", 0, ("http://x/home.html",)), old)
    '8 个报告链接都跳转到同一页面 http://x/home.html / all 8 report links redirect to one page: http://x/home.html'
    >>> breakage(Figures(8, 3, "hanweb", 3), old)
    '找到的报告减少一半以上：8 → 3 / reports found dropped by more than half: 8 → 3'
    >>> breakage(Figures(8, 5, "hanweb", 5), old), breakage(Figures(0, 0), Figures(1, 1)), breakage(Figures(0, 0), None)
    (None, None, None)
    """
    if before is None or max(before.listed, before.found) < MIN_YIELD:
        return None
    if now.listed == 0 and before.listed > 0:
        if before.adapter and now.adapter and now.adapter != before.adapter:
            return (
                f"列表适配器由 {before.adapter} 变为 {now.adapter}，找不到报告链接（此前 {before.listed} 个）"
                f" / list adapter changed from {before.adapter} to {now.adapter} and finds no"
                f" report link ({before.listed} before)"
            )
        return (
            f"栏目页可以读取，但没有报告链接（此前 {before.listed} 个） / list pages read but give"
            f" no report link ({before.listed} before)"
        )
    if now.listed >= MIN_YIELD and now.found == 0 and now.answered == 0 and len(now.landed) == 1:
        return (
            f"{now.listed} 个报告链接都跳转到同一页面 {now.landed[0]} / all {now.listed} report"
            f" links redirect to one page: {now.landed[0]}"
        )
    if now.found * 2 < before.found:
        return (
            f"找到的报告减少一半以上：{before.found} → {now.found} / reports found dropped by"
            f" more than half: {before.found} → {now.found}"
        )
    return None


def _figures(run: PortalRun) -> Figures:
    return Figures(run.listed or 0, run.found or 0, run.adapter)


def judge(store: Store, run: PortalRun, listed: int, status: str, detail: str) -> tuple[str, str]:
    """Store a portal run's figures and judge it against the portal's last healthy run.

    Returns (status, detail): ``broken`` with its reason (and the last healthy run) when
    the run's list pages were read (``ok`` or ``degraded``) but it broke; else unchanged.
    """
    store.runs.set_figures(run.run_id, run.portal_id, listed, run.reports)
    if status not in ("ok", "degraded"):
        return status, detail
    previous = store.runs.last_healthy(run.portal_id, run.run_id)
    answered, landed = store.runs.landings(run.run_id, run.portal_id)
    now = Figures(listed, run.reports, run.adapter, answered, tuple(landed))
    reason = breakage(now, _figures(previous) if previous else None)
    if reason is None:
        return status, detail
    return "broken", f"{reason} (上次正常 / last healthy: run {previous.run_id})"
