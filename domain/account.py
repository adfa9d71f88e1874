"""The Account aggregate: a person's or a machine's account and every change to it, with its actor.

No secret enters the log (DESIGN §16): `PasswordSet` records only that a password was set and
whether it must be changed at the next login (the argon2id hash lives in the user store); a
token event holds the token's id and SHA-256, never its value. Sessions live outside the log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import errors
from domain.copying import TreeCopied
from domain.events import Context, EnvelopedEvent, envelope
from domain.values import parse_date, parse_text

# The roles of DESIGN §11 (the API's permission table, `api/auth.py`, names the same ones).
ACCOUNT_ROLES = ("admin", "staff", "officer", "liaison", "auditor")
MAX_NAME_LENGTH = 100
MAX_TOKEN_DAYS = 366  # a machine's token lives at most a year, then is issued anew
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass
class TokenRecord:
    token_id: str
    name: str
    sha256: str
    issued_on: date
    expires_on: date | None
    revoked_on: date | None = None
    revoke_reason: str = ""


def parse_account_name(value: Any, field: str = "name") -> str:
    """A login name: 1–100 characters, no control characters and no spaces inside."""
    name = parse_text(value, field, limit=MAX_NAME_LENGTH)
    if any(c.isspace() for c in name):
        raise errors.InvalidInput("a name has no spaces (用户名不能含空格)", field=field)
    return name


def parse_role(value: Any, association_id: Any) -> tuple[str, str | None]:
    if value not in ACCOUNT_ROLES:
        raise errors.UnknownCode(
            f"{value!r} is not one of: {', '.join(ACCOUNT_ROLES)}", field="role"
        )
    association = None if association_id in (None, "") else str(association_id)
    if value == "liaison" and association is None:
        raise errors.InvalidInput(
            "a liaison needs the association it acts for (联络员须指定所属商协会)",
            field="association_id",
        )
    if value != "liaison" and association is not None:
        raise errors.InvalidInput("only a liaison acts for an association", field="association_id")
    return str(value), association


class Account(TreeCopied, Aggregate):
    """Who may sign in, as what, with which tokens."""

    class_version = 1

    def __init__(self) -> None:
        pass

    class Event(EnvelopedEvent):
        pass

    class Created(Event, Aggregate.Created):
        name: str
        role: str
        association_id: str | None
        migrated: bool  # carried over from the user table of before accounts (issue 15)

        def apply(self, aggregate: Account) -> None:
            aggregate.name = self.name
            aggregate.role = self.role
            aggregate.association_id = self.association_id
            aggregate.opened_on = self.occurred_on
            aggregate.active = True
            aggregate.has_password = False
            aggregate.must_change_password = False
            aggregate.tokens = {}

    class RoleChanged(Event):
        role: str
        association_id: str | None

        def apply(self, aggregate: Account) -> None:
            aggregate.role = self.role
            aggregate.association_id = self.association_id

    class PasswordSet(Event):
        must_change: bool  # set by an admin: changed at the next login

        def apply(self, aggregate: Account) -> None:
            aggregate.has_password = True
            aggregate.must_change_password = self.must_change

    class Disabled(Event):
        reason: str

        def apply(self, aggregate: Account) -> None:
            aggregate.active = False

    class Enabled(Event):
        reason: str

        def apply(self, aggregate: Account) -> None:
            aggregate.active = True

    class TokenIssued(Event):
        token_id: str
        name: str
        sha256: str
        expires_on: date | None

        def apply(self, aggregate: Account) -> None:
            aggregate.tokens[self.token_id] = TokenRecord(
                self.token_id, self.name, self.sha256, self.occurred_on, self.expires_on
            )

    class TokenRevoked(Event):
        token_id: str
        reason: str

        def apply(self, aggregate: Account) -> None:
            token = aggregate.tokens[self.token_id]
            token.revoked_on = self.occurred_on
            token.revoke_reason = self.reason

    name: str
    role: str
    association_id: str | None
    opened_on: date
    active: bool
    has_password: bool
    must_change_password: bool
    tokens: dict[str, TokenRecord]

    @classmethod
    def create(
        cls,
        ctx: Context,
        *,
        account_id: UUID,
        name: Any,
        role: Any,
        association_id: Any = None,
        migrated: bool = False,
    ) -> Account:
        the_name = parse_account_name(name)
        the_role, association = parse_role(role, association_id)
        return cls._create(
            cls.Created,
            id=account_id,
            **envelope(ctx, ctx.today),
            name=the_name,
            role=the_role,
            association_id=association,
            migrated=migrated,
        )

    def change_role(self, ctx: Context, role: Any, association_id: Any = None) -> None:
        the_role, association = parse_role(role, association_id)
        if (the_role, association) == (self.role, self.association_id):
            raise errors.Conflict(f"the account is already {the_role}", code="unchanged")
        self.trigger_event(
            self.RoleChanged, **envelope(ctx, ctx.today), role=the_role, association_id=association
        )

    def record_password_set(self, ctx: Context, *, must_change: bool) -> None:
        self.trigger_event(self.PasswordSet, **envelope(ctx, ctx.today), must_change=must_change)

    def disable(self, ctx: Context, reason: Any = None) -> None:
        text = parse_text(reason, "reason", required=False)
        if not self.active:
            raise errors.AccountDisabled("the account is already disabled (账户已停用)")
        self.trigger_event(self.Disabled, **envelope(ctx, ctx.today), reason=text)

    def enable(self, ctx: Context, reason: Any = None) -> None:
        text = parse_text(reason, "reason", required=False)
        if self.active:
            raise errors.Conflict("the account is not disabled", code="account_enabled")
        self.trigger_event(self.Enabled, **envelope(ctx, ctx.today), reason=text)

    def issue_token(
        self,
        ctx: Context,
        *,
        token_id: str,
        sha256: str,
        name: Any = None,
        expires_on: Any = None,
        default_days: int | None = 90,
    ) -> date | None:
        """Record a new token (its hash only); answer the day it expires (the end of that
        Shanghai day is its last moment)."""
        label = parse_text(name, "name", required=False, limit=MAX_NAME_LENGTH) or "token"
        if not _SHA256.fullmatch(sha256):
            raise errors.InvalidInput("a token's SHA-256 is 64 hex digits", field="sha256")
        today = ctx.today
        if expires_on is None:
            expiry = None if default_days is None else today + timedelta(days=default_days)
        else:
            expiry = parse_date(expires_on, "expires_on")
            if expiry <= today:
                raise errors.InvalidInput(
                    f"{expiry} is not after today ({today})", field="expires_on"
                )
            if expiry > today + timedelta(days=MAX_TOKEN_DAYS):
                raise errors.OutOfRange(
                    f"a token lives at most {MAX_TOKEN_DAYS} days", field="expires_on"
                )
        if not self.active:
            raise errors.AccountDisabled("the account is disabled (账户已停用)")
        if token_id in self.tokens:
            raise errors.Conflict(f"token {token_id} exists", code="token_exists")
        self.trigger_event(
            self.TokenIssued,
            **envelope(ctx, today),
            token_id=token_id,
            name=label,
            sha256=sha256,
            expires_on=expiry,
        )
        return expiry

    def revoke_token(self, ctx: Context, token_id: str, reason: Any = None) -> None:
        text = parse_text(reason, "reason", required=False)
        token = self.tokens.get(str(token_id))
        if token is None:
            raise errors.NotFound(f"no token {token_id}", field="token_id")
        if token.revoked_on is not None:
            raise errors.TokenAlreadyRevoked("the token was already revoked (令牌已吊销)")
        self.trigger_event(
            self.TokenRevoked, **envelope(ctx, ctx.today), token_id=token.token_id, reason=text
        )
