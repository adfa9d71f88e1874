"""The background work of the one process that holds the runner lock: the projection runner and
the scheduler (DESIGN §6, §9).

Under `zhaoshang serve` that process is `zhaoshang background` (`cli/background.py`), started
beside the API processes, which run none of it; an app made with `background_services` (tests,
an embedding) starts and stops it in its lifespan. Built by the composition root
(`services.bootstrap.Services.background`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from adapters.documents import Document, DocumentStore
from adapters.lock import SingleRunnerLock
from projections.runtime import ProjectionRunner

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

    from scheduler.catch_up import CatchUp
    from services.notifications import NotificationSender
    from services.settlements import SettlementService

log = logging.getLogger("zhaoshang.background")


class BackgroundWork:
    """Runs the projections (and the scheduler) here if no other process does."""

    name = "projections-and-scheduler"

    def __init__(
        self,
        *,
        lock_url: str,
        runner: ProjectionRunner,
        catch_up: CatchUp,
        settlements: SettlementService,
        clock: Callable[[], datetime],
        scheduler_enabled: bool,
        poll_interval: float,
        notifications: NotificationSender | None = None,
    ) -> None:
        self.lock = SingleRunnerLock(lock_url)
        self.runner = runner
        self.catch_up = catch_up
        self.settlements = settlements
        self.store: DocumentStore = catch_up.store
        self.clock = clock
        self.scheduler_enabled = scheduler_enabled
        self.poll_interval = poll_interval
        self.scheduler: BackgroundScheduler | None = None
        self._start_up: threading.Thread | None = None
        self._catch_up_lock = threading.Lock()
        self.notifications = notifications  # the outbox's sender (DESIGN §20)

    def catch_up_now(self) -> list[Document]:
        """Make every missing document as of the clock's now (what each scheduler tick does)."""
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
        if self.notifications is not None:
            self.notifications.start()
        if self.scheduler_enabled:
            from scheduler.service import start_scheduler

            self.scheduler = start_scheduler(self.catch_up_now)
            # At start-up too, so downtime across period ends is caught up at once.
            self._start_up = threading.Thread(
                target=self._catch_up_logged, name="catch-up-at-start", daemon=True
            )
            self._start_up.start()
        return True

    def _catch_up_logged(self) -> None:
        from scheduler.jobs import catch_up_job

        catch_up_job(self.catch_up_now)

    def stop(self) -> None:
        if self._start_up is not None:
            self._start_up.join(timeout=60)
            self._start_up = None
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        if self.notifications is not None:
            self.notifications.stop()
        self.runner.stop()
        self.lock.release()
