"""The scheduled jobs: thin functions with explicit ids that call into the services."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("zhaoshang.scheduler")

CATCH_UP_QUARTERLY = "catch_up_quarterly"
CATCH_UP_DAILY = "catch_up_daily"


def catch_up_job(catch_up_now: Callable[[], Any]) -> None:
    """Generate whatever closed periods lack their document (the database decides what)."""
    try:
        catch_up_now()
    except Exception:  # the next tick catches up again; keep the scheduler alive
        log.exception("catch-up failed")
