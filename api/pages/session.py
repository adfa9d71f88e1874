"""Who is looking at a page: the same authentication as the API (`api.deps.current_user`), but a
page without a user redirects to the login and back instead of answering 401."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Permission, Principal
from api.deps import Writer, current_user
from api.errors import ApiError

LOGIN = "/app/login"
PASSWORD = "/app/password"


class PasswordChangeRequired(Exception):
    """The password was set by an admin: change it first, then go on to `next`."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class LoginRequired(Exception):
    """No session: go to the login page, then back to `next`."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


async def page_user(request: Request) -> Principal:
    try:
        return await current_user(request)
    except ApiError as e:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if e.status == 401:
            raise LoginRequired(target) from None
        if e.code == "password_change_required":
            raise PasswordChangeRequired(target) from None
        raise


PageUser = Annotated[Principal, Depends(page_user)]


def need(user: Principal, *permissions: Permission) -> None:
    """403 unless the user holds one of `permissions` (the same refusal as the API's)."""
    if not user.can(*permissions):
        raise ApiError(403, "forbidden", f"the {user.role} role may not do this")


def page_writer(request: Request, user: Principal, *permissions: Permission) -> Writer:
    """The API's `Writer` for a page form (no If-Match: the form names the state it shows)."""
    if permissions:
        need(user, *permissions)
    return Writer(
        ledger=request.app.state.ledger,
        user=user,
        if_match=None,
        lock=request.app.state.write_lock,
        services=request.app.state.services,
    )


def install_login_redirect(app: FastAPI) -> None:
    async def to_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"{LOGIN}?next={quote(exc.next_url, safe='/')}", status_code=303)

    async def to_password(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PasswordChangeRequired)
        target = f"{PASSWORD}?next={quote(exc.next_url, safe='/')}"
        return RedirectResponse(target, status_code=303)

    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(PasswordChangeRequired, to_password)
