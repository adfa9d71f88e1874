"""The scheduled jobs: thin functions with explicit ids that call into the services."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduler.service import BackgroundServices

log = logging.getLogger("zhaoshang.scheduler")

CATCH_UP_QUARTERLY = "catch_up_quarterly"
CATCH_UP_DAILY = "catch_up_daily"


def catch_up_job(services: BackgroundServices) -> None:
    """Generate whatever closed periods lack their document (the database decides what)."""
    try:
        services.catch_up_now()
    except Exception:  # the next tick catches up again; keep the scheduler alive
        log.exception("catch-up failed")
