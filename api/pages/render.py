"""Rendering pages: one Jinja2 environment (autoescaping always on), the Content-Security-Policy
with a per-request nonce, and the page context every template gets.

User text reaches a page only through Jinja2's escaping; no template marks anything safe. Pages
load scripts and styles from the app's own origin only (DESIGN §17); a page that needs an inline
script gives it the request's nonce.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.pages.assets import asset_url
from domain.values import SHANGHAI

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def yuan(value: Any) -> str:
    """An amount for people: `12,345,678.90`; fen as int when `fen=True` is not needed."""
    if value is None or value == "":
        return "—"
    amount = Decimal(str(value))
    return f"{amount:,.2f}"


def wan(value: Any) -> str:
    """An amount in 万元 (ten thousand yuan), as officers read ledgers."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)) / 10000:,.2f}"


def shanghai_time(value: Any) -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(str(value)) if not isinstance(value, datetime) else value
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def day(value: Any) -> str:
    if not value:
        return "—"
    return value.isoformat() if isinstance(value, date) else str(value)


environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals["asset_url"] = asset_url
environment.filters["yuan"] = yuan
environment.filters["wan"] = wan
environment.filters["shanghai_time"] = shanghai_time
environment.filters["day"] = day


def nonce(request: Request) -> str:
    """This request's CSP nonce (made on first use)."""
    found: str | None = getattr(request.state, "csp_nonce", None)
    if found is None:
        found = secrets.token_urlsafe(16)
        request.state.csp_nonce = found
    return found


def unread_notifications(request: Request) -> int:
    """The signed-in user's unread notifications, for the bell in the header (DESIGN §20)."""
    user = getattr(request.state, "principal", None)
    services = getattr(request.app.state, "services", None)
    if user is None or services is None:
        return 0
    try:
        count: int = services.notifications.store.unread_count(user.id)
    except sqlalchemy.exc.SQLAlchemyError:  # the bell never breaks a page
        return 0
    return count


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page: the template with the page context, and the headers every page carries."""
    the_nonce = nonce(request)
    page = {
        "request": request,
        "nonce": the_nonce,
        "user": getattr(request.state, "principal", None),
        "csrf_token": getattr(request.state, "csrf_token", None),
        "lang": getattr(request.state, "lang", "zh"),
        "path": request.url.path,
        "query": request.url.query,
        "page_title": "",
        "unread_notifications": unread_notifications(request),
        **(context or {}),
    }
    body = environment.get_template(template).render(page)
    all_headers = {
        "Content-Security-Policy": CSP.format(nonce=the_nonce),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
        **(headers or {}),
    }
    return HTMLResponse(body, status_code=status, headers=all_headers)
