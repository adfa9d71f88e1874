"""Background services that live as long as the server: the one place they are registered.

The projection runner and the scheduler (DESIGN §6, §9) run in exactly one process. With one
worker that is the API process itself (the app's lifespan starts and stops them); with
`serve --workers N` it is the `serve` parent process, and the workers run none
(`ZHAOSHANG_BACKGROUND_SERVICES=false`).

A service is anything with `name`, `start()` and `stop()`; `start` must return promptly (run the
work in a thread of your own) and `stop` must end it. Add one either by

- a module listed in `SERVICE_MODULES` that defines `background_service(ctx)`, answering the
  service or None (e.g. the scheduler answers None when `ctx.scheduler_enabled` is false), or
- `register(factory)` at import time (tests use this).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.application import Ledger
from services.settings import Settings

log = logging.getLogger("zhaoshang.lifecycle")

# Modules that own a background service, started in this order and stopped in reverse.
SERVICE_MODULES = ("projections.service", "scheduler.service")


@dataclass(frozen=True)
class ServiceContext:
    """What a background service is given."""

    settings: Settings
    ledger: Ledger
    clock: Callable[[], datetime]
    scheduler_enabled: bool  # false under `serve --no-scheduler`: no scheduled documents


class BackgroundService(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


ServiceFactory = Callable[[ServiceContext], BackgroundService | None]

_registered: list[ServiceFactory] = []


def register(factory: ServiceFactory) -> ServiceFactory:
    """Add a service factory (usable as a decorator)."""
    if factory not in _registered:
        _registered.append(factory)
    return factory


def unregister(factory: ServiceFactory) -> None:
    if factory in _registered:
        _registered.remove(factory)


def service_factories() -> list[ServiceFactory]:
    """The factories of `SERVICE_MODULES` that are present, then those registered."""
    found: list[ServiceFactory] = []
    for name in SERVICE_MODULES:
        try:
            present = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # the package itself is absent
            present = False
        if present:
            factory = getattr(importlib.import_module(name), "background_service", None)
            if factory is not None:
                found.append(factory)
    return found + list(_registered)


class BackgroundServices:
    """Start every service once, stop them in reverse order."""

    def __init__(self, ctx: ServiceContext, factories: list[ServiceFactory] | None = None) -> None:
        self.ctx = ctx
        self.factories = service_factories() if factories is None else factories
        self.running: list[BackgroundService] = []

    def start(self) -> list[str]:
        for factory in self.factories:
            service = factory(self.ctx)
            if service is None:
                continue
            try:
                service.start()
            except Exception:
                log.exception("background service %s failed to start", service.name)
                self.stop()
                raise
            log.info("background service %s started", service.name)
            self.running.append(service)
        return [s.name for s in self.running]

    def stop(self) -> None:
        while self.running:
            service = self.running.pop()
            try:
                service.stop()
                log.info("background service %s stopped", service.name)
            except Exception:
                log.exception("background service %s failed to stop", service.name)
