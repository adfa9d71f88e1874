"""The FastAPI application factory.

    app = create_app(Settings(), ledger=..., clock=...)

`create_app` takes its services from the composition root (`services.bootstrap`), installs the
one error mapping (`api/errors.py`) and the request-size limit, and includes the routers listed
in `api/routers/`. Its lifespan starts and stops the process's background work (the projection
runner and the scheduler, `services.background`) when `settings.background_services`, and
closes the services.

`app_from_env` is the factory uvicorn's workers call (`serve --workers N`), reading `Settings`
from the `ZHAOSHANG_*` environment.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Protocol

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.encoding import KeptAnswers
from api.errors import BodyLimitMiddleware, document_errors, install_error_handlers
from api.health import HealthOut, health_report
from api.idempotency import IdempotencyMiddleware, document_header, make_idempotent
from api.pages import install_pages
from api.pages.assets import asset_url
from api.query_params import refuse_unknown_query_parameters
from api.routers import routers
from domain.application import Ledger
from services.bootstrap import Services, bootstrap
from services.settings import Settings

DESCRIPTION = """
An event-sourced, auditable ledger of investment referrals (Hunan 2022 measures).

JSON in and out; money as decimal strings; dates `YYYY-MM-DD`; `Authorization: Bearer <token>`
(`zhaoshang users create NAME --role ROLE`, "Authorize" above) or the session cookie of
`POST /auth/login` (writes then need `X-CSRF-Token`). Errors:
`{"error": {"code": "<stable_snake_case>", "message": "...", "field": "<path or null>"}}`.
Writes to a project accept `If-Match: "<version>"`; `GET /projects/{id}` answers with its ETag.
"""


class BackgroundService(Protocol):
    """Work that lives as long as the server: `start` returns promptly, `stop` ends it."""

    name: str

    def start(self) -> object: ...

    def stop(self) -> None: ...


# More background work for the server beside the projections and the scheduler (tests use it).
ServiceFactory = Callable[[Services], BackgroundService | None]


def create_app(
    settings: Settings | None = None,
    *,
    ledger: Ledger | None = None,
    clock: Callable[[], datetime] | None = None,
    services: Services | None = None,
    extra_services: Sequence[ServiceFactory] = (),
) -> FastAPI:
    if services is None:
        services = bootstrap(settings, clock=clock, ledger=ledger)
    the_services = services
    settings = the_services.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running: list[BackgroundService] = []
        try:
            # The account tables, and the users of before accounts carried over.
            the_services.accounts.ensure_ready()
            if settings.background_services:
                candidates: list[BackgroundService | None] = [the_services.background()]
                candidates += [factory(the_services) for factory in extra_services]
                for service in candidates:
                    if service is not None:
                        service.start()
                        running.append(service)
            app.state.background_services = [s.name for s in running]
            # What start-up made (modules, routes, the services) lives as long as the process:
            # frozen out of the collector's sight, a full collection no longer walks it all
            # again, which paused every request for 0.1–0.5 s (issue 23).
            gc.freeze()
            yield
        finally:
            gc.unfreeze()  # an app made and stopped in a longer process (tests) leaves no trace
            while running:
                running.pop().stop()
            the_services.close()

    app = FastAPI(
        title="zhaoshang",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below with the app's own assets: no CDN on an intranet
        redoc_url=None,
        dependencies=[Depends(refuse_unknown_query_parameters)],
    )
    app.state.services = the_services
    app.state.settings = settings
    app.state.ledger = the_services.ledger
    app.state.users = the_services.accounts
    app.state.clock = the_services.clock
    # Re-entrant: a keyed POST holds it around the endpoint that takes it again (idempotency).
    app.state.write_lock = the_services.command_lock
    app.state.kept_answers = KeptAnswers()
    app.state.scheduler_enabled = settings.scheduler_enabled
    app.state.background_services = []

    install_error_handlers(app)
    app.add_middleware(IdempotencyMiddleware)  # inside the body limit: added first
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        page_limit=settings.max_upload_bytes + settings.max_body_bytes,
    )
    proxies = settings.trusted_proxy_list()
    if proxies:
        # The client's address and scheme from X-Forwarded-For/-Proto, only from these.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    install_docs(app)

    @app.get(
        "/health",
        tags=["health"],
        summary="Liveness and stopped read models (no token needed)",
        response_model_exclude_none=True,
    )
    def health() -> HealthOut:
        return health_report(the_services.engine)

    for router in routers():
        document_errors(router)
        make_idempotent(router)
        app.include_router(router)
    # After the API: routes are matched in order, and no page path (`/`, `/app/…`, `/static/…`)
    # is an API path, so a busy client's requests no longer try every page route first.
    install_pages(app)
    document_header(app)
    return app


def install_docs(app: FastAPI) -> None:
    """`/docs` (Swagger UI) and `/redoc` with assets served by the app (`api/static/vendor/`,
    at content-hashed URLs like every page asset,
    from the npm packages named in its README): they work without internet."""

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="zhaoshang — API",
            swagger_js_url=asset_url("vendor/swagger-ui/swagger-ui-bundle.js"),
            swagger_css_url=asset_url("vendor/swagger-ui/swagger-ui.css"),
            swagger_favicon_url=asset_url("vendor/swagger-ui/favicon-32x32.png"),
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="zhaoshang — API",
            redoc_js_url=asset_url("vendor/redoc/redoc.standalone.js"),
            redoc_favicon_url=asset_url("vendor/swagger-ui/favicon-32x32.png"),
            with_google_fonts=False,
        )


def app_from_env() -> FastAPI:
    """The app as configured by the environment (uvicorn factory for several workers)."""
    return create_app(Settings())
