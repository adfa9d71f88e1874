"""Rendering pages: one Jinja2 environment (autoescaping always on), the Content-Security-Policy
with a per-request nonce, and the page context every template gets.

User text reaches a page only through Jinja2's escaping; no template marks anything safe. Pages
load scripts and styles from the app's own origin only (DESIGN §17); a page that needs an inline
script gives it the request's nonce.

Pages speak the reader's language (DESIGN §16): `page_language` (the switch's cookie, else
`Accept-Language`, else zh-CN). Templates write English and translate it with Jinja2's i18n
extension, `{{ _("Sign in") }}` or `{{ _("Version %(n)s", n=e.version) }}` (escaped on output);
Python-side words (form labels, titles) are marked `N_("…")` and translated where shown
(`{{ _(input.label) }}`) or with `words(request)`. `python -m i18n.extract` finds both.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from api.pages.assets import asset_url
from domain.values import SHANGHAI
from i18n import ZH, language_from_request, translator

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


def file_size(value: Any) -> str:
    """A file's size for people: `812 B`, `34.5 KiB`, `2.1 MiB`."""
    size = int(value or 0)
    if size < 1024:
        return f"{size} B"
    if size < 1 << 20:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1 << 20):.1f} MiB"


environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
# `_("… %(name)s …", name=value)`: the translation is formatted with the values, escaped.
environment.newstyle_gettext = True  # type: ignore[attr-defined]
environment.globals["asset_url"] = asset_url
environment.filters["yuan"] = yuan
environment.filters["wan"] = wan
environment.filters["shanghai_time"] = shanghai_time
environment.filters["day"] = day
environment.filters["file_size"] = file_size


def page_language(request: Request) -> str:
    """The language this page is shown in: `zh` or `en` (see `i18n.language_from_request`)."""
    found: str | None = getattr(request.state, "lang", None)
    if found is None:
        found = language_from_request(request)
        request.state.lang = found
    return found


def words(request: Request) -> Callable[[str], str]:
    """The gettext of the page's language, for words a route puts together itself."""
    return translator(page_language(request)).gettext


def _template_gettext(lang: str) -> Callable[..., str]:
    """Jinja2's new-style gettext for `lang`: translate, then fill in the values. The answer
    is plain text, escaped on output like any other: no translation is ever marked safe, so
    `_(label)` is harmless even if a label were someone's input."""
    plain = translator(lang).gettext

    def gettext(text: str, **values: Any) -> str:
        found = plain(text)
        return found % values if values else found

    return gettext


def _template_ngettext(lang: str) -> Callable[..., str]:
    plain = translator(lang).ngettext

    def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
        return plain(singular, plural, n) % {"num": n, **values}

    return ngettext


def label_in(
    lang: str, labels: Mapping[str, str], code: Any, english: Mapping[str, str] = {}
) -> str:
    """A code in words: its Chinese label from `labels` (the domain's), or in English the
    `english` word for it, else the code itself with spaces (`other_province` → other province)."""
    text = "" if code is None else str(code)
    if lang == "en":
        return english.get(text, text.replace("_", " "))
    return labels.get(text, text)


@pass_context
def _label(
    context: Context, labels: Mapping[str, str], code: Any, english: Mapping[str, str] = {}
) -> str:
    """`{{ label(choices, code) }}`: a code in the page's language."""
    return label_in(context.get("lang", ZH), labels, code, english)


environment.globals["label"] = _label

_GETTEXT = {lang: _template_gettext(lang) for lang in ("zh", "en")}
_NGETTEXT = {lang: _template_ngettext(lang) for lang in ("zh", "en")}


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
    lang = page_language(request)
    page = {
        "request": request,
        "nonce": the_nonce,
        "user": getattr(request.state, "principal", None),
        "csrf_token": getattr(request.state, "csrf_token", None),
        "lang": lang,
        "gettext": _GETTEXT[lang],
        "ngettext": _NGETTEXT[lang],
        "path": request.url.path,
        "query": request.url.query,
        "page_title": "",
        "unread_notifications": unread_notifications(request),
        **(context or {}),
    }
    body = environment.get_template(template).render(page)
    all_headers = {
        "Content-Language": "zh-CN" if lang == ZH else lang,
        "Content-Security-Policy": CSP.format(nonce=the_nonce),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
        **(headers or {}),
    }
    return HTMLResponse(body, status_code=status, headers=all_headers)
