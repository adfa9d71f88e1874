"""The web pages under `/app/` (DESIGN §17): server-rendered with Jinja2, htmx and Pico CSS
vendored and served by the app, phone first. Pages are thin: a template, a form that names the
API's fields, the same application command and the same refusals as the API."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from api.idempotency import make_idempotent
from api.pages.session import install_login_redirect


def routers() -> list[APIRouter]:
    from api.pages import (
        accounts,
        assets,
        associations,
        audit,
        dispatches,
        imports,
        notifications,
        officers,
        projects,
        rewards,
        service_contracts,
        start,
    )

    return [
        assets.router,
        start.router,
        associations.router,  # `/app/projects/new` before `/app/projects/{id}`
        projects.router,
        audit.router,
        dispatches.router,
        imports.router,
        rewards.router,
        service_contracts.router,
        accounts.router,
        officers.router,
        notifications.router,
    ]


def install_pages(app: FastAPI) -> None:
    from api.pages import language, login

    install_login_redirect(app)
    app.include_router(login.router)  # signing in is no keyed write
    app.include_router(language.router)  # nor is choosing a language
    for router in routers():
        make_idempotent(router)  # a double tap or a resend records once
        app.include_router(router)
