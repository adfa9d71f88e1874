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
from api.pages.render import render
from api.pages.session import PageUser
from domain import errors
from services.accounts import InvalidCredentials, TooManyAttempts

router = APIRouter(prefix="/app", include_in_schema=False)

LOGIN_INPUTS = (
    Input("name", "用户名", required=True),
    Input("password", "密码", "password", required=True),
)
PASSWORD_INPUTS = (
    Input("current_password", "当前密码", "password", required=True),
    Input("new_password", "新密码（至少 10 位，不要用常见密码）", "password", required=True),
)


def safe_next(value: Any) -> str:
    """Back to a page of this app only (never to another site: `//host`, `https://…`)."""
    if isinstance(value, str) and value.startswith("/app") and not value.startswith("//"):
        return value
    return "/app/"


@router.get("/login")
def login_form(request: Request, next: str = "/app/") -> Response:
    state = FormState()
    return render(
        request,
        "app/login.html",
        {"page_title": "登录", "form": state, "inputs": LOGIN_INPUTS, "next": safe_next(next)},
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
        state.message = "用户名或密码错误。"
    except TooManyAttempts as e:
        state.message = f"尝试次数过多，请 {max(1, e.retry_after // 60)} 分钟后再试。"
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
        {"page_title": "登录", "form": state, "inputs": LOGIN_INPUTS, "next": target},
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
        state.errors["current_password"] = "当前密码错误。"
    except TooManyAttempts as e:
        state.message = f"尝试次数过多，请 {max(1, e.retry_after // 60)} 分钟后再试。"
    except errors.DomainError as e:
        state.errors[e.field or "new_password"] = e.message
    else:
        return RedirectResponse(target, status_code=303)
    return _password_page(request, state, target, 422)


def _password_page(request: Request, state: FormState, target: str, status: int) -> Response:
    return render(
        request,
        "app/password.html",
        {"page_title": "修改密码", "form": state, "inputs": PASSWORD_INPUTS, "next": target},
        status=status,
    )
