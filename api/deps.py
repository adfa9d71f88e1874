"""FastAPI dependencies shared by every router: the ledger, the current user, role checks,
and the `Writer` that runs a command with the caller's envelope and If-Match.

A router for a new area needs only these:

    from api.auth import Permission
    from api.deps import get_ledger, get_engine, require

    @router.get("/rewards/{year}")
    def rewards(
        year: int,
        user: Annotated[Principal, Depends(require(Permission.READ))],
        engine: Annotated[Engine, Depends(get_engine)],
    ) -> ...: ...
"""

# No `from __future__ import annotations` here: FastAPI reads the dependencies' annotations
# at run time, and those of the closures below name local variables.
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPBearer
from sqlalchemy import Engine

from adapters.lock import CommandLock
from adapters.throttle import address_key
from api.auth import Permission, Principal
from api.encoding import KeptAnswers
from api.errors import ApiError, forbidden, too_many_attempts, unauthenticated
from api.schemas import WriteIn
from domain import errors
from domain.application import Ledger
from domain.events import Context
from services.accounts import AccountService, TooManyAttempts, csrf_matches
from services.settings import Settings

T = TypeVar("T")

SOURCE = "api"
_VERSION = re.compile(r"\d{1,18}", re.ASCII)


# The getters below are `async` (they never block): a plain `def` dependency would cost each
# request a hand-off to the thread pool and back.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


async def get_write_lock(request: Request) -> CommandLock:
    """The process's write lock (see `Writer`), for the writes that do not go through one
    (settlements, designations, the purchased service)."""
    lock: CommandLock = request.app.state.write_lock
    return lock


async def get_users(request: Request) -> AccountService:
    """The accounts service (users, tokens, sessions; `services.accounts`)."""
    users: AccountService = request.app.state.users
    return users


async def get_kept_answers(request: Request) -> KeptAnswers:
    """Encoded answers of immutable states (`api.encoding`), this application's."""
    kept: KeptAnswers = request.app.state.kept_answers
    return kept


async def get_engine(request: Request) -> Engine:
    """An SQLAlchemy engine on the ledger's database, for read models."""
    engine: Engine = request.app.state.services.engine
    return engine


SESSION_COOKIE = "zs_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What a session whose password was set by an admin may still do: change it, or leave.
PASSWORD_CHANGE_PATHS = frozenset(
    {"/users/me", "/users/me/password", "/auth/logout", "/app/password", "/app/logout"}
)

# Declared in OpenAPI (so Swagger UI's "Authorize" works); `current_user` reads the headers.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="an API token: `zhaoshang users create` or `POST /users/{id}/tokens`",
)
session_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description="the cookie `POST /auth/login` sets; writes also need `X-CSRF-Token`",
)


def client_address(request: Request) -> str:
    """The client's address: the socket's, or the one a trusted proxy names (the
    `ProxyHeadersMiddleware` installed for `ZHAOSHANG_TRUSTED_PROXIES` rewrites it)."""
    return request.client.host if request.client else "unknown"


def _throttled(error: TooManyAttempts) -> ApiError:
    return too_many_attempts(error.retry_after)


async def current_user(
    request: Request,
    _bearer: Annotated[Any, Depends(bearer_scheme)] = None,
    _session: Annotated[Any, Depends(session_scheme)] = None,
) -> Principal:
    """The user named by `Authorization: Bearer <token>` or by the session cookie, or 401.

    A cookie-authenticated write needs the session's CSRF token (header `X-CSRF-Token` or form
    field `csrf_token`), else 403 `csrf_failed`; a bearer write does not. Bad tokens and
    cookies count against the client's address (429 `too_many_attempts` after 10 in 10 min).
    """
    accounts: AccountService = request.app.state.users
    address = client_address(request)
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthenticated("use the header Authorization: Bearer <token>")
        # A busy client's token was read a moment ago: no hand-off to a thread for it.
        user = accounts.kept_bearer(token)
        if user is None:
            try:
                user = await run_in_threadpool(accounts.authenticate_bearer, token, address)
            except TooManyAttempts as e:
                raise _throttled(e) from None
        if user is None:
            raise unauthenticated("the bearer token is not valid (令牌无效、已过期或已吊销)")
        request.state.principal = user
        return user
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise unauthenticated()
    found = await run_in_threadpool(accounts.session_user, cookie)
    if found is None:
        try:
            await run_in_threadpool(accounts.failed, [address_key(address)])
        except TooManyAttempts as e:
            raise _throttled(e) from None
        raise unauthenticated("the session has ended; sign in again (会话已结束，请重新登录)")
    user, csrf = found
    request.state.csrf_token = csrf  # pages put it in their forms
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
        if not csrf_matches(csrf, given):
            raise ApiError(
                403,
                "csrf_failed",
                "a write with the session cookie needs its CSRF token in X-CSRF-Token "
                "(缺少或错误的 CSRF 令牌)",
                field=CSRF_HEADER,
            )
    if user.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise ApiError(
            403,
            "password_change_required",
            "the password was set by an admin: change it first with POST /users/me/password "
            "(请先修改管理员设置的密码)",
        )
    request.state.principal = user
    return user


def require(*permissions: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency answering the current user if it holds one of `permissions`, else 403."""
    names = " or ".join(p.value for p in permissions)

    # `async`, as every dependency that neither blocks nor waits: FastAPI runs a plain `def`
    # in the thread pool, a hand-off (and a wait for the interpreter lock) per request.
    async def dependency(user: Annotated[Principal, Depends(current_user)]) -> Principal:
        if not user.can(*permissions):
            raise forbidden(f"the {user.role} role may not do this (needs {names})")
        return user

    return dependency


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(header: str | None) -> list[int] | None:
    """The versions an If-Match header names; None when it sets no condition (absent, `*`).

    Quotes are optional (`"7"` or `7`); a weak or unreadable tag names no version, so it
    never matches (412).
    """
    if header is None or not header.strip() or header.strip() == "*":
        return None
    versions = []
    for tag in header.split(","):
        text = tag.strip()
        if text.startswith("W/"):
            continue  # If-Match compares strongly: a weak tag never matches
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        if _VERSION.fullmatch(text):
            versions.append(int(text))
    return versions


@dataclass
class Writer:
    """Runs one command for the current user: envelope (actor, source, evidence), If-Match,
    and the process's write lock.

    Writes in one process are serialised by the lock. Both stores serialise appends anyway
    (SQLite's single writer, PostgreSQL's table lock, DESIGN §14), so it costs little and saves
    conflict retries between the API's threads.
    """

    ledger: Ledger
    user: Principal
    if_match: str | None
    lock: CommandLock

    # The composition root, for the file store when the body references files.
    services: Any = None

    def context(self, body: WriteIn) -> Context:
        files: list[dict[str, Any]] = []
        references = body.file_refs()
        if references:
            scope = project_scope(self.user, self.ledger)
            files = self.services.files.resolve(references, self.user.id, scope)
        return self.ledger.context(
            self.user.actor(), source=SOURCE, evidence=body.evidence_refs(), evidence_files=files
        )

    def _expected(self, what: str, current: Callable[[], int]) -> int | None:
        versions = parse_if_match(self.if_match)
        if versions is None:
            return None
        if len(versions) == 1:
            return versions[0]
        version = current()  # 404 before 412
        if version in versions:
            return version
        raise errors.StaleVersion(
            f"the {what} is at version {version}, which If-Match does not name", field="If-Match"
        )

    def create(self, command: Callable[..., T], body: WriteIn) -> T:
        """A command that creates an aggregate (no If-Match)."""
        with self.lock:
            return command(self.context(body), **body.fields())

    def project(self, command: Callable[..., T], project_id: str, body: WriteIn, **extra: Any) -> T:
        """A command on an existing project, honouring If-Match."""
        self.ledger.load_project(project_id)  # before the lock: a first load replays it all
        with self.lock:
            expected = self._expected(
                "project", lambda: int(self.ledger.get_project(project_id).version)
            )
            return command(
                self.context(body),
                project_id,
                expected_version=expected,
                **extra,
                **body.fields(),
            )

    def association(self, command: Callable[..., T], association_id: str, body: WriteIn) -> T:
        """A command on an existing association. Its commands take no expected version, so
        If-Match is checked against the version read under the process's write lock."""
        self.ledger.load_association(association_id)  # before the lock, as `project`
        with self.lock:
            versions = parse_if_match(self.if_match)
            if versions is not None:
                version = int(self.ledger.get_association(association_id).version)
                if version not in versions:
                    raise errors.StaleVersion(
                        f"the association is at version {version}", field="If-Match"
                    )
            return command(self.context(body), association_id, **body.fields())


IF_MATCH_DESCRIPTION = (
    'the version this write expects the aggregate to be at, e.g. "7" (quotes optional); any '
    "other version → 412 `version_conflict`"
)


def writer(*permissions: Permission, conditional: bool = True) -> Callable[..., Awaitable[Writer]]:
    """A dependency answering a `Writer` for a user holding one of `permissions`.

    `conditional` writes (to an existing aggregate) take an optional `If-Match` header, which
    OpenAPI then documents; a write that creates an aggregate has nothing to match.
    """
    allowed = require(*permissions)

    def make(request: Request, user: Principal, if_match: str | None) -> Writer:
        return Writer(
            ledger=request.app.state.ledger,
            user=user,
            if_match=if_match,
            lock=request.app.state.write_lock,
            services=request.app.state.services,
        )

    if not conditional:

        async def creating(
            request: Request, user: Annotated[Principal, Depends(allowed)]
        ) -> Writer:
            return make(request, user, None)

        return creating

    async def dependency(
        request: Request,
        user: Annotated[Principal, Depends(allowed)],
        if_match: Annotated[
            str | None, Header(alias="If-Match", description=IF_MATCH_DESCRIPTION)
        ] = None,
    ) -> Writer:
        return make(request, user, if_match)

    return dependency


def project_scope(user: Principal, ledger: Ledger) -> Callable[[str], bool]:
    """Which projects' events `user` may read, as a test on a project id: every one for the
    roles that read everything, a liaison's own (those its association refers), none else."""
    if user.can(Permission.READ):
        return lambda _project_id: True
    association_id = user.association_id
    if not user.can(Permission.READ_OWN) or not association_id:
        return lambda _project_id: False

    def may_read(project_id: str) -> bool:
        try:
            return association_id in set(ledger.get_project(project_id).association_ids())
        except errors.DomainError:  # not a project (an association's event), or gone
            return False

    return may_read
