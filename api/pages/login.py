"""Signing in and out on the pages, and changing one's own password (DESIGN §16, §17): the same
accounts service, session cookie and refusals as `POST /auth/login`, `/auth/logout` and
`/users/me/password`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from adapters.sessions import ABSOLUTE_SECONDS
from api.deps import SESSION_COOKIE, client_address
from api.pages.forms import FormState, SubmittedForm
from api.pages.projects import Input
from api.pages.render import page_language, render, words
from api.pages.session import PageUser
from domain import errors
from i18n import N_, localise_error
from services.accounts import InvalidCredentials, TooManyAttempts

router = APIRouter(prefix="/app", include_in_schema=False)

LOGIN_INPUTS = (
    Input("name", N_("User name"), required=True),
    Input("password", N_("Password"), "password", required=True),
)
PASSWORD_INPUTS = (
    Input("current_password", N_("Current password"), "password", required=True),
    Input(
        "new_password",
        N_("New password (at least 10 characters, not a common one)"),
        "password",
        required=True,
    ),
)


def safe_next(value: Any) -> str:
    """Back to a page of this app only (never to another site: `//host`, `https://…`)."""
    if isinstance(value, str) and value.startswith("/app") and not value.startswith("//"):
        return value
    return "/app/"


def _too_many(request: Request, error: TooManyAttempts) -> str:
    minutes = max(1, error.retry_after // 60)
    return words(request)("Too many attempts; try again in %(minutes)s minutes.") % {
        "minutes": minutes
    }


@router.get("/login")
def login_form(request: Request, next: str = "/app/") -> Response:
    state = FormState()
    return render(
        request,
        "app/login.html",
        {
            "page_title": words(request)("Sign in"),
            "form": state,
            "inputs": LOGIN_INPUTS,
            "next": safe_next(next),
        },
    )


@router.post("/login")
async def login(request: Request, form: SubmittedForm) -> Response:
    accounts = request.app.state.services.accounts
    name, password = form.get("name"), form.get("password")
    target = safe_next(form.get("next"))
    state = FormState(values={"name": name if isinstance(name, str) else ""})
    try:
        done = await run_in_threadpool(accounts.login, name, password, client_address(request))
    except InvalidCredentials:
        state.message = words(request)("Wrong user name or password.")
    except TooManyAttempts as e:
        state.message = _too_many(request, e)
        return _login_page(request, state, target, 429, {"Retry-After": str(e.retry_after)})
    else:
        response = RedirectResponse(
            "/app/password?next=" + target if done.user.must_change_password else target,
            status_code=303,
        )
        response.set_cookie(
            SESSION_COOKIE,
            done.session_id,
            max_age=ABSOLUTE_SECONDS,
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response
    return _login_page(request, state, target, 401)


def _login_page(
    request: Request,
    state: FormState,
    target: str,
    status: int,
    headers: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "app/login.html",
        {
            "page_title": words(request)("Sign in"),
            "form": state,
            "inputs": LOGIN_INPUTS,
            "next": target,
        },
        status=status,
        headers=headers,
    )


@router.post("/logout")
async def logout(request: Request, user: PageUser, form: SubmittedForm) -> Response:
    """Ends this session (the CSRF token checked by the authentication, as for any write)."""
    if user.session_key is not None:
        await run_in_threadpool(request.app.state.services.accounts.logout, user.session_key)
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/password")
def password_form(request: Request, user: PageUser, next: str = "/app/") -> Response:
    return _password_page(request, FormState(), safe_next(next), 200)


@router.post("/password")
async def change_password(request: Request, user: PageUser, form: SubmittedForm) -> Response:
    accounts = request.app.state.services.accounts
    target = safe_next(form.get("next"))
    state = FormState()
    try:
        await run_in_threadpool(
            accounts.change_own_password,
            user,
            form.get("current_password"),
            form.get("new_password"),
            client_address(request),
        )
    except InvalidCredentials:
        state.errors["current_password"] = words(request)("The current password is wrong.")
    except TooManyAttempts as e:
        state.message = _too_many(request, e)
    except errors.DomainError as e:
        message = localise_error(e.code, e.message, page_language(request))
        state.errors[e.field or "new_password"] = message
    else:
        return RedirectResponse(target, status_code=303)
    return _password_page(request, state, target, 422)


def _password_page(request: Request, state: FormState, target: str, status: int) -> Response:
    return render(
        request,
        "app/password.html",
        {
            "page_title": words(request)("Change password"),
            "form": state,
            "inputs": PASSWORD_INPUTS,
            "next": target,
        },
        status=status,
    )
