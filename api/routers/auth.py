"""Login and logout with a server-side session (DESIGN §16): `POST /auth/login`, `/auth/logout`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from adapters.sessions import ABSOLUTE_SECONDS
from api.account_schemas import LoginIn, LoginOut
from api.deps import CSRF_HEADER, SESSION_COOKIE, client_address, get_users
from api.errors import ApiError, error_responses, too_many_attempts
from services.accounts import AccountService, InvalidCredentials, TooManyAttempts, csrf_matches

router = APIRouter(prefix="/auth", tags=["auth"])


def invalid_credentials() -> ApiError:
    return ApiError(
        401,
        "invalid_credentials",
        "the name or the password is wrong (用户名或密码错误)",
        headers={"WWW-Authenticate": "Bearer"},
    )


@router.post(
    "/login",
    summary="Sign in: sets the session cookie `zs_session`",
    responses=error_responses(401, 429),
)
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    accounts: Annotated[AccountService, Depends(get_users)],
) -> LoginOut:
    """A wrong password, an unknown name and a disabled account all answer the same 401
    `invalid_credentials`, after the same work. 10 failures for a name from an address, or
    from an address, in 10 minutes: 429 `too_many_attempts` with `Retry-After`."""
    try:
        done = accounts.login(body.name, body.password, client_address(request))
    except InvalidCredentials:
        raise invalid_credentials() from None
    except TooManyAttempts as e:
        raise too_many_attempts(e.retry_after) from None
    response.set_cookie(
        SESSION_COOKIE,
        done.session_id,
        max_age=ABSOLUTE_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    response.headers["Cache-Control"] = "no-store"
    return LoginOut(
        user_id=done.user.id,
        name=done.user.name,
        role=done.user.role,
        csrf_token=done.csrf_token,
        must_change_password=done.user.must_change_password,
    )


@router.post(
    "/logout",
    status_code=204,
    summary="Sign out: ends the cookie's session",
    response_class=Response,
    responses=error_responses(403),
)
def logout(request: Request, accounts: Annotated[AccountService, Depends(get_users)]) -> Response:
    """Ends the session the cookie names (its CSRF token is needed, 403 `csrf_failed`) and
    clears the cookie. Without a live session (already ended, replayed) it changes nothing and
    still answers 204."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = accounts.session_user(cookie)
        if found is not None:
            user, csrf = found
            if not csrf_matches(csrf, request.headers.get(CSRF_HEADER)):
                raise ApiError(
                    403,
                    "csrf_failed",
                    "logging out needs the session's CSRF token in X-CSRF-Token",
                    field=CSRF_HEADER,
                )
            assert user.session_key is not None
            accounts.logout(user.session_key)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
