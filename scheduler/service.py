"""Background services of the one process that holds the runner lock: the projection runner and
APScheduler (3.x) with its cron in Asia/Shanghai.

APScheduler's defaults would silently skip runs missed during downtime (1 s misfire grace,
coalescing, next run recomputed on start). Here that does not matter: every job is `catch_up`,
run at start-up, on a quarterly and a daily cron, and it asks the database what is missing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from adapters.documents import Document, DocumentStore
from adapters.lock import SingleRunnerLock
from domain.application import Ledger, utc_now
from domain.values import SHANGHAI
from projections.catalogue import all_projections
from projections.evaluation import follow_up_interval_days
from projections.queries import ReadModels
from projections.runtime import ProjectionRunner, engine_of
from scheduler import jobs
from scheduler.catch_up import CatchUp, settlement_job, standard_kinds
from services.settlements import SettlementService

log = logging.getLogger("zhaoshang.scheduler")


class BackgroundServices:
    def __init__(
        self,
        ledger: Ledger,
        url: str,
        *,
        scheduler_enabled: bool = True,
        follow_up_interval_days: int = 180,
        settlement_day: tuple[int, int] = (1, 15),
        clock: Callable[[], datetime] = utc_now,
        poll_interval: float = 0.5,
    ) -> None:
        self.ledger = ledger
        self.lock = SingleRunnerLock(url)
        self.scheduler_enabled = scheduler_enabled
        self.clock = clock
        self.poll_interval = poll_interval
        self.runner = ProjectionRunner(ledger, all_projections())
        engine = engine_of(ledger)
        self.read = ReadModels(engine)
        self.store = DocumentStore(engine)
        kinds = standard_kinds(self.read, follow_up_interval_days)
        self.settlements = SettlementService.for_ledger(ledger)
        jobs = [settlement_job(self.settlements, settlement_day)]
        self.catch_up = CatchUp(self.runner, self.store, self.read, kinds, jobs)
        self.scheduler: BackgroundScheduler | None = None
        self._start_up: threading.Thread | None = None
        self._catch_up_lock = threading.Lock()

    def catch_up_now(self) -> list[Document]:
        with self._catch_up_lock:
            made = self.catch_up(self.clock())
        for document in made:
            log.info(
                "generated %s %s revision %s", document.kind, document.period, document.revision
            )
        return made

    def start(self) -> bool:
        """Run projections (and the scheduler) here if no other process does; answer whether."""
        if not self.lock.acquire():
            log.info("another process runs the projections and the scheduler")
            return False
        self.runner.start(self.poll_interval)
        if self.scheduler_enabled:
            scheduler = BackgroundScheduler(timezone=SHANGHAI)
            options: dict[str, Any] = {
                "args": [self],
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
            self.scheduler = scheduler
            # At start-up too, so downtime across period ends is caught up at once.
            self._start_up = threading.Thread(
                target=jobs.catch_up_job, args=[self], name="catch-up-at-start", daemon=True
            )
            self._start_up.start()
        return True

    def stop(self) -> None:
        if self._start_up is not None:
            self._start_up.join(timeout=60)
            self._start_up = None
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        self.runner.stop()
        self.lock.release()


class _ServerServices:
    """The API server's view of the background services (see `api.lifecycle`)."""

    name = "projections-and-scheduler"

    def __init__(self, services: BackgroundServices) -> None:
        self.services = services

    def start(self) -> None:
        self.services.start()

    def stop(self) -> None:
        self.services.stop()


def background_service(ctx: Any) -> _ServerServices:
    """The projection runner always; the scheduled documents unless `--no-scheduler`."""
    return _ServerServices(
        BackgroundServices(
            ctx.ledger,
            ctx.settings.database_url,
            scheduler_enabled=ctx.scheduler_enabled,
            follow_up_interval_days=follow_up_interval_days(ctx.settings.follow_up_interval_days),
            settlement_day=parse_month_day(ctx.settings.settlement_day),
            clock=ctx.clock,
        )
    )


def parse_month_day(text: str) -> tuple[int, int]:
    """`01-15` → (1, 15): the settings' settlement day."""
    month, day = (int(part) for part in text.split("-"))
    return month, day
