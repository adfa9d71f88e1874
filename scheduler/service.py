"""APScheduler (3.x) with its cron in Asia/Shanghai: it rings the bell, the database decides.

APScheduler's defaults would silently skip runs missed during downtime (1 s misfire grace,
coalescing, next run recomputed on start). Here that does not matter: every job is the same
catch-up, run at start-up (by `services.background`), on a quarterly and a daily cron, and it asks
the database what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from domain.values import SHANGHAI
from scheduler import jobs


def start_scheduler(catch_up_now: Callable[[], Any]) -> BackgroundScheduler:
    """A started scheduler whose jobs call `catch_up_now`."""
    scheduler = BackgroundScheduler(timezone=SHANGHAI)
    options: dict[str, Any] = {
        "args": [catch_up_now],
        "misfire_grace_time": None,
        "coalesce": True,
        "max_instances": 1,
        "replace_existing": True,
    }
    scheduler.add_job(
        jobs.catch_up_job,
        CronTrigger(month="1,4,7,10", day=1, hour=0, minute=5, timezone=SHANGHAI),
        id=jobs.CATCH_UP_QUARTERLY,
        **options,
    )
    scheduler.add_job(
        jobs.catch_up_job,
        CronTrigger(hour=1, minute=0, timezone=SHANGHAI),
        id=jobs.CATCH_UP_DAILY,
        **options,
    )
    scheduler.start()
    return scheduler
