"""When the daemon's crawls run: the default schedule, a seed's schedule key, first runs.

Pure functions over APScheduler 3.x triggers, in Beijing time (``TZ``).

May import: apscheduler triggers, crawler.seeds (``Seed``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.seeds import Seed

TZ = ZoneInfo("Asia/Shanghai")


def default_trigger() -> BaseTrigger:
    """Daily in reporting season (1 Jan – 31 Mar), weekly on Mondays otherwise; 06:00 Beijing."""
    return OrTrigger(
        [
            CronTrigger(month="1-3", hour=6, minute=0, timezone=TZ),
            CronTrigger(month="4-12", day_of_week="mon", hour=6, minute=0, timezone=TZ),
        ]
    )


def schedule_key(seed: Seed, every: float | None) -> str:
    """The schedule a seed follows: ``every:30``, ``cron:0 6 * * *`` or ``default``."""
    if every:
        return f"every:{every:g}"
    return f"cron:{seed.schedule}" if seed.schedule else "default"


def trigger_for(key: str) -> BaseTrigger:
    if key.startswith("every:"):
        return IntervalTrigger(seconds=float(key[6:]), timezone=TZ)
    if key.startswith("cron:"):
        return CronTrigger.from_crontab(key[5:], timezone=TZ)
    return default_trigger()


def first_run(key: str, last_started: datetime | None, now: datetime) -> datetime:
    """When a group first runs: now if it never ran or a run fell due while we were down
    (coalesced: one run, not one per missed slot), else its next scheduled time."""
    if last_started is None:
        return now
    if key.startswith("every:"):
        due = last_started + timedelta(seconds=float(key[6:]))
    else:
        due = trigger_for(key).get_next_fire_time(None, last_started + timedelta(seconds=1))
    return now if due is None or due <= now else due
