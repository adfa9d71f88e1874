"""People's accounts over HTTP (DESIGN §12a, §16): who am I, one's own password, and (admin)
the accounts, their passwords and tokens; an auditor reads them and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict

from adapters.lock import CommandLock
from api.account_schemas import (
    AccountEventOut,
    AccountIn,
    AccountOut,
    OwnPasswordIn,
    PasswordIn,
    ReasonIn,
    TokenCreatedOut,
    TokenIn,
)
from api.auth import Permission, Principal
from api.deps import SOURCE, client_address, current_user, get_users, get_write_lock, require
from api.errors import ApiError, error_responses, too_many_attempts
from api.schemas import CreatedOut, VersionOut, WriteIn
from domain.events import Context
from services.accounts import AccountService, InvalidCredentials, TooManyAttempts

router = APIRouter(prefix="/users", tags=["users"])

Admin = Annotated[Principal, Depends(require(Permission.USERS))]
Reader = Annotated[Principal, Depends(require(Permission.USERS, Permission.READ_ACCOUNTS))]
Accounts = Annotated[AccountService, Depends(get_users)]
Lock = Annotated[CommandLock, Depends(get_write_lock)]


class UserOut(BaseModel):
    """A user (never its token)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "c0a8012e-7f4b-4d3a-9e21-5b6c7d8e9f01",
                    "name": "liu.liaison",
                    "role": "liaison",
                    "association_id": "3f1c2b9e-5d7a-4c1e-9a8b-2d4f6e8a0b1c",
                    "permissions": ["own_activities", "read_own", "refer_own_project"],
                    "created_at": "2024-03-14T02:00:00Z",
                    "must_change_password": False,
                }
            ]
        }
    )

    id: str
    name: str
    role: str
    association_id: str | None
    permissions: list[str]
    created_at: datetime | None
    must_change_password: bool = False

    @classmethod
    def of(cls, user: Principal) -> UserOut:
        return cls(
            id=user.id,
            name=user.name,
            role=user.role,
            association_id=user.association_id,
            permissions=sorted(p.value for p in user.permissions),
            created_at=user.created_at,
            must_change_password=user.must_change_password,
        )


def _context(request: Request, user: Principal, body: WriteIn) -> Context:
    ledger = request.app.state.ledger
    context: Context = ledger.context(user.actor(), source=SOURCE, evidence=body.evidence_refs())
    return context


@router.get("/me", response_model=UserOut, summary="The user the token or session belongs to")
def me(user: Annotated[Principal, Depends(current_user)]) -> UserOut:
    return UserOut.of(user)


@router.post(
    "/me/password",
    status_code=201,
    summary="Change one's own password (ends one's other sessions)",
    responses=error_responses(429),
)
def change_own_password(
    body: OwnPasswordIn,
    request: Request,
    user: Annotated[Principal, Depends(current_user)],
    accounts: Accounts,
) -> VersionOut:
    """A wrong `current_password` is 422 `invalid_credentials` and counts towards the throttle;
    a weak new one 422 `weak_password`."""
    try:
        version = accounts.change_own_password(
            user,
            body.current_password,
            body.new_password,
            client_address(request),
        )
    except InvalidCredentials:
        raise ApiError(
            422,
            "invalid_credentials",
            "the current password is wrong (当前密码错误)",
            field="current_password",
        ) from None
    except TooManyAttempts as e:
        raise too_many_attempts(e.retry_after) from None
    return VersionOut(version=version)


@router.get("", response_model=list[AccountOut], summary="Every account (admin, auditor)")
def list_users(user: Reader, accounts: Accounts) -> list[AccountOut]:
    return [AccountOut.of(a, accounts.store.tokens(a.id)) for a in accounts.accounts()]


@router.post("", status_code=201, summary="Create an account (admin)")
def create_user(
    body: AccountIn, request: Request, user: Admin, accounts: Accounts, lock: Lock
) -> CreatedOut:
    """With `password`, the user must change it at first login; tokens: `POST
    /users/{id}/tokens`. A taken name is 409 `account_exists`, a weak password 422
    `weak_password`."""
    with lock:
        account_id, version = accounts.create_account(
            _context(request, user, body),
            body.name,
            body.role.value,
            body.association_id,
            body.password,
        )
    return CreatedOut(id=account_id, version=version)  # type: ignore[arg-type]


@router.get("/{user_id}", response_model=AccountOut, summary="An account (admin, auditor)")
def get_user(user_id: str, user: Reader, accounts: Accounts) -> AccountOut:
    account = accounts.account(user_id)
    return AccountOut.of(account, accounts.store.tokens(account.id))


@router.get(
    "/{user_id}/history",
    response_model=list[AccountEventOut],
    summary="An account's events with their actors (admin, auditor); no secret is in them",
)
def user_history(user_id: str, user: Reader, accounts: Accounts) -> list[AccountEventOut]:
    account = accounts.account(user_id)
    return [
        AccountEventOut(
            version=e.version,
            type=e.type,
            occurred_on=e.occurred_on,
            recorded_at=e.recorded_at,
            actor=e.actor,
            source=e.source,
            data=e.data,
        )
        for e in accounts.ledger.account_events(account.id)
    ]


@router.post("/{user_id}/disable", status_code=201, summary="Disable an account (admin)")
def disable_user(
    user_id: str, body: ReasonIn, request: Request, user: Admin, accounts: Accounts, lock: Lock
) -> VersionOut:
    """Its tokens and sessions stop at once, in every worker."""
    with lock:
        version = accounts.disable(_context(request, user, body), user_id, body.reason)
    return VersionOut(version=version)


@router.post("/{user_id}/enable", status_code=201, summary="Enable a disabled account (admin)")
def enable_user(
    user_id: str, body: ReasonIn, request: Request, user: Admin, accounts: Accounts, lock: Lock
) -> VersionOut:
    with lock:
        version = accounts.enable(_context(request, user, body), user_id, body.reason)
    return VersionOut(version=version)


@router.post(
    "/{user_id}/password",
    status_code=201,
    summary="Set an account's password (admin); the user changes it at first login",
)
def set_password(
    user_id: str, body: PasswordIn, request: Request, user: Admin, accounts: Accounts, lock: Lock
) -> VersionOut:
    with lock:
        version = accounts.set_password(_context(request, user, body), user_id, body.password)
    return VersionOut(version=version)


@router.post(
    "/{user_id}/tokens", status_code=201, summary="Issue a named API token (admin), shown once"
)
def issue_token(
    user_id: str, body: TokenIn, request: Request, user: Admin, accounts: Accounts, lock: Lock
) -> TokenCreatedOut:
    with lock:
        issued = accounts.issue_token(
            _context(request, user, body), user_id, body.name, body.expires_on
        )
    return TokenCreatedOut(
        token_id=issued.token_id,
        token=issued.token,
        expires_on=issued.expires_on,
        version=issued.version,
    )


@router.post(
    "/{user_id}/tokens/{token_id}/revoke",
    status_code=201,
    summary="Revoke a token (admin): it stops at once, in every worker",
)
def revoke_token(
    user_id: str,
    token_id: str,
    body: ReasonIn,
    request: Request,
    user: Admin,
    accounts: Accounts,
    lock: Lock,
) -> VersionOut:
    with lock:
        version = accounts.revoke_token(
            _context(request, user, body), user_id, token_id, body.reason
        )
    return VersionOut(version=version)
