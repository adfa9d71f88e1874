"""Request and response bodies of accounts, logins and officers (DESIGN §12a, §16)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from adapters.users import AccountRow, TokenRow
from api.auth import Principal, Role
from api.schemas import Day, In, Line100, Note, WriteIn

_PASSWORD = "at least 10 characters, not a common password, not containing the name"


class LoginIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "chen", "password": "湘江北去-橘子洲头看"}]},
    )

    name: str = Field(description="the login name")
    password: str


class LoginOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "c0a8012e-7f4b-4d3a-9e21-5b6c7d8e9f01",
                    "name": "chen",
                    "role": "staff",
                    "csrf_token": "Vq3…",
                    "must_change_password": False,
                }
            ]
        }
    )

    user_id: str
    name: str
    role: str
    csrf_token: str = Field(description="send it as `X-CSRF-Token` with every write")
    must_change_password: bool = Field(
        description="the password was set by an admin: only `POST /users/me/password` "
        "(and logout) work until it is changed"
    )


class AccountIn(WriteIn):
    """A new account (admin). With `password`, the user must change it at first login."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "zhou", "role": "officer", "password": "初始密码-请尽快修改它"}]
        },
    )

    name: Line100
    role: Role
    association_id: str | None = Field(default=None, description="a liaison's association")
    password: str | None = Field(default=None, description=_PASSWORD)


class ReasonIn(WriteIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "离职"}]})

    reason: Note | None = None


class PasswordIn(WriteIn):
    """An admin sets a password; the user changes it at first login."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"password": "初始密码-请尽快修改它"}]}
    )

    password: str = Field(description=_PASSWORD)


class OwnPasswordIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "current_password": "初始密码-请尽快修改它",
                    "new_password": "岳麓山下-爱晚亭前红叶",
                }
            ]
        },
    )

    current_password: str
    new_password: str = Field(description=_PASSWORD)


class TokenIn(WriteIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "数据报送接口", "expires_on": "2025-12-31"}]},
    )

    name: Line100 | None = None
    expires_on: Day | None = Field(
        default=None,
        description="the last day it works (Asia/Shanghai); default today + "
        "ZHAOSHANG_TOKEN_DAYS (90), at most 366 days ahead",
    )


class TokenCreatedOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token_id": "5b0e6d1c-2f3a-4b5c-8d9e-0f1a2b3c4d5e",
                    "token": "zs_…",
                    "expires_on": "2025-05-30",
                    "version": 4,
                }
            ]
        }
    )

    token_id: str
    token: str = Field(description="shown only this once; only its SHA-256 is kept")
    expires_on: date | None
    version: int


class TokenOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5b0e6d1c-2f3a-4b5c-8d9e-0f1a2b3c4d5e",
                    "name": "数据报送接口",
                    "created_at": "2025-03-01T02:00:00Z",
                    "expires_at": "2025-05-30T15:59:59.999999Z",
                    "revoked_at": None,
                }
            ]
        }
    )

    id: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: TokenRow) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
        )


class AccountOut(BaseModel):
    """An account as an admin sees it: never a password hash, never a token's value."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "c0a8012e-7f4b-4d3a-9e21-5b6c7d8e9f01",
                    "name": "zhou",
                    "role": "officer",
                    "association_id": None,
                    "active": True,
                    "has_password": True,
                    "must_change_password": True,
                    "created_at": "2025-03-01T02:00:00Z",
                    "tokens": [],
                }
            ]
        }
    )

    id: str
    name: str
    role: str
    association_id: str | None
    active: bool
    has_password: bool
    must_change_password: bool
    created_at: datetime | None
    tokens: list[TokenOut]

    @classmethod
    def of(cls, account: AccountRow, tokens: list[TokenRow]) -> AccountOut:
        return cls(
            id=account.id,
            name=account.name,
            role=account.role,
            association_id=account.association_id,
            active=account.active,
            has_password=account.has_password,
            must_change_password=account.must_change_password,
            created_at=account.created_at,
            tokens=[TokenOut.of(t) for t in tokens],
        )


class AccountEventOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": 3,
                    "type": "token_revoked",
                    "occurred_on": "2025-03-01",
                    "recorded_at": "2025-03-01T02:00:00Z",
                    "actor": {"id": "chen", "role": "admin"},
                    "source": "api",
                    "data": {"token_id": "5b0e6d1c-2f3a-4b5c-8d9e-0f1a2b3c4d5e", "reason": "离职"},
                }
            ]
        }
    )

    version: int
    type: str
    occurred_on: date
    recorded_at: datetime
    actor: dict[str, str]
    source: str
    data: dict[str, Any]


class OfficerIn(WriteIn):
    """Assign an officer to the project, or with `remove` unassign one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "officer_id": "c0a8012e-7f4b-4d3a-9e21-5b6c7d8e9f01",
                    "occurred_on": "2025-03-01",
                    "reason": "分管长沙片区",
                }
            ]
        },
    )

    officer_id: str = Field(max_length=100)
    occurred_on: Day | None = Field(default=None, description="default today")
    reason: Note | None = None
    remove: bool = False


def principal_view(user: Principal) -> dict[str, Any]:
    return {"user_id": user.id, "name": user.name, "role": user.role}
