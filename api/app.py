"""The FastAPI application factory.

    app = create_app(Settings(), ledger=..., clock=...)

`create_app` opens the ledger (unless given one), the users store, installs the one error
mapping (`api/errors.py`) and the request-size limit, and includes the router of every module
in `api/routers/`. Its lifespan starts and stops the background services of `api/lifecycle.py`
(when `settings.background_services`) and closes what it opened.

`app_from_env` is the factory uvicorn's workers call (`serve --workers N`), reading `Settings`
from the `ZHAOSHANG_*` environment.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from api.errors import BodyLimitMiddleware, document_errors, install_error_handlers
from api.idempotency import IdempotencyMiddleware, document_header, make_idempotent
from api.lifecycle import BackgroundServices, ServiceContext
from api.routers import routers
from api.settings import Settings
from api.users import UserStore
from domain.application import Ledger, utc_now
from projections.database import open_ledger

DESCRIPTION = """
An event-sourced, auditable ledger of investment referrals (Hunan 2022 measures).

JSON in and out; money as decimal strings; dates `YYYY-MM-DD`; `Authorization: Bearer <token>`
(`zhaoshang users create NAME --role ROLE`). Errors:
`{"error": {"code": "<stable_snake_case>", "message": "...", "field": "<path or null>"}}`.
Writes to a project accept `If-Match: "<version>"`; `GET /projects/{id}` answers with its ETag.
"""


def create_app(
    settings: Settings | None = None,
    *,
    ledger: Ledger | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    settings = settings if settings is not None else Settings()
    if clock is None:
        clock = ledger.clock if ledger is not None else utc_now
    owns_ledger = ledger is None
    the_ledger = ledger if ledger is not None else open_ledger(settings.database_url, clock=clock)
    users = UserStore(settings.database_url, clock=clock)
    run_clock = clock

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services: BackgroundServices | None = None
        if settings.background_services:
            services = BackgroundServices(
                ServiceContext(
                    settings=settings,
                    ledger=the_ledger,
                    clock=run_clock,
                    scheduler_enabled=settings.scheduler_enabled,
                )
            )
            app.state.background_services = services.start()
        try:
            yield
        finally:
            if services is not None:
                services.stop()
            users.close()
            if owns_ledger:
                the_ledger.close()

    app = FastAPI(
        title="zhaoshang",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.ledger = the_ledger
    app.state.users = users
    app.state.clock = clock
    # Re-entrant: a keyed POST holds it around the endpoint that takes it again (idempotency).
    app.state.write_lock = threading.RLock()
    app.state.scheduler_enabled = settings.scheduler_enabled
    app.state.background_services = []

    install_error_handlers(app)
    app.add_middleware(IdempotencyMiddleware)  # inside the body limit: added first
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)

    @app.get("/health", tags=["health"], summary="Liveness (no token needed)")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    for router in routers():
        document_errors(router)
        make_idempotent(router)
        app.include_router(router)
    document_header(app)
    return app


def app_from_env() -> FastAPI:
    """The app as configured by the environment (uvicorn factory for several workers)."""
    return create_app(Settings())
