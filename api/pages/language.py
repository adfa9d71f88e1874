"""The pages' language switch (DESIGN §16): zh-CN or English, kept in the browser's
`i18n.LANGUAGE_COOKIE` and honoured by every page and by the API's messages in that browser;
without a choice, `Accept-Language` decides.

The choice is a cookie, not a field of the account: it needs no event in the accounts' log, it
works on the login page before anyone is signed in, and a shared office computer keeps the
language its user picked. It records nothing, so it needs no CSRF token; at worst a forged post
changes the language a page is shown in.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.pages.forms import SubmittedForm
from api.pages.login import safe_next
from i18n import LANGUAGE_COOKIE, LANGUAGES, normalise_language

router = APIRouter(prefix="/app", include_in_schema=False)

YEAR_SECONDS = 366 * 24 * 3600


@router.post("/language")
def switch_language(request: Request, form: SubmittedForm) -> Response:
    """Keep the chosen language (`lang`: `zh` or `en`) and go back to the page (`next`)."""
    raw = form.get("lang")
    chosen = normalise_language(raw if isinstance(raw, str) else None)
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    if chosen in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            chosen,
            max_age=YEAR_SECONDS,
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response
