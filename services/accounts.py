"""People's accounts (DESIGN §16): the account commands of the ledger kept in step with the user
store, logins and sessions, and the throttle on failed authentication.

Every change is an `Account` event with its actor (`Ledger.create_account` …); the store holds
what a request is checked against. A new account claims its name in the store first (unique),
then records its event, and gives the name back if that is refused. A password's hash is
written to the store before the `PasswordSet` event; a token's row after its `TokenIssued`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from adapters.sessions import SessionStore
from adapters.throttle import Throttle, account_key, address_key
from adapters.users import (
    AccountRow,
    UserStore,
    hash_password,
    new_token,
    password_matches,
    token_hash,
)
from api.auth import Principal
from domain import errors
from domain.account import MAX_NAME_LENGTH
from domain.application import Ledger
from domain.events import SYSTEM, Actor, Context
from domain.passwords import MAX_PASSWORD_LENGTH, check_password
from domain.values import end_of_business_day


class InvalidCredentials(Exception):
    """A login refused: wrong password, unknown or disabled name — never told apart."""


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Login:
    user: Principal
    session_id: str  # the cookie's value (shown once)
    csrf_token: str


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    token: str  # the value, shown once
    expires_on: date | None
    version: int


class AccountService:
    def __init__(
        self,
        ledger: Ledger,
        store: UserStore,
        sessions: SessionStore,
        throttle: Throttle,
        *,
        clock: Callable[[], datetime],
        token_days: int = 90,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.sessions = sessions
        self.throttle = throttle
        self.clock = clock
        self.token_days = token_days
        self.engine = store.engine
        self._ready = False

    # ---- set-up and migration ------------------------------------------------------------

    def ensure_ready(self) -> None:
        """Create the tables and carry the users of before accounts over (once)."""
        if self._ready:
            return
        self.store.ensure_table()
        self.sessions.ensure_table()
        self.throttle.ensure_table()
        self.migrate_legacy_users()
        self._ready = True

    def migrate_legacy_users(self) -> int:
        """Each user of `zhaoshang_users` becomes an account with the same id, and its token a
        `TokenIssued` with the same hash (so it keeps working), expiring `token_days` from the
        migration. Safe to run in several processes at once: a user already carried over is
        skipped. Answers how many were carried over."""
        moved = 0
        for user in self.store.legacy_users():
            if self.store.account(user["id"]) is not None:
                continue
            ctx = self.ledger.context(SYSTEM, source="cli")
            try:
                self._create(
                    ctx,
                    user["name"],
                    user["role"],
                    user["association_id"],
                    account_id=UUID(user["id"]),
                    migrated=True,
                )
            except (errors.AccountExists, errors.VersionConflict):
                continue  # another process carried it over first
            self._issue(ctx, user["id"], user["token_sha256"], "migrated", None)
            moved += 1
        return moved

    # ---- accounts ------------------------------------------------------------------------

    def _create(
        self,
        ctx: Context,
        name: Any,
        role: Any,
        association_id: Any,
        *,
        account_id: UUID | None = None,
        migrated: bool = False,
    ) -> tuple[str, int]:
        from domain.account import parse_account_name, parse_role

        the_name = parse_account_name(name)
        the_role, association = parse_role(role, association_id)
        the_id = account_id or self.ledger.new_id()
        self.store.claim(str(the_id), the_name, the_role, association, ctx.recorded_at)
        try:
            _, version = self.ledger.create_account(
                ctx,
                name=the_name,
                role=the_role,
                association_id=association,
                account_id=the_id,
                migrated=migrated,
            )
        except BaseException:
            self.store.release(str(the_id))
            raise
        return str(the_id), version

    def create_account(
        self,
        ctx: Context,
        name: Any,
        role: Any,
        association_id: Any = None,
        password: Any = None,
        must_change: bool = True,
    ) -> tuple[str, int]:
        """A new account (an admin's): with a password, it must be changed at first login
        (unless `must_change` is false: the demo accounts `serve --demo` prints)."""
        self.ensure_ready()
        if password is not None:
            check_password(password, name=str(name))
        account_id, version = self._create(ctx, name, role, association_id)
        if password is not None:
            version = self._set_password(ctx, account_id, password, must_change=must_change)
        return account_id, version

    def create(
        self,
        name: str,
        role: str,
        association_id: str | None = None,
        *,
        password: str | None = None,
        actor: Actor = SYSTEM,
        source: str = "cli",
        token_expires: bool = True,
    ) -> tuple[Principal, str]:
        """A new account and its first token (`users create`): answer (user, token). A token
        that never expires (`token_expires=False`) is for tests whose clock moves by years."""
        ctx = self.ledger.context(actor, source=source)
        account_id, _ = self.create_account(ctx, name, role, association_id, password)
        issued = self.issue_token(ctx, account_id, name="default", expires=token_expires)
        row = self.store.account(account_id)
        assert row is not None
        return row.principal(), issued.token

    def accounts(self) -> list[AccountRow]:
        self.ensure_ready()
        return self.store.accounts()

    def account(self, account_id: str) -> AccountRow:
        self.ensure_ready()
        row = self.store.account(account_id)
        if row is None:
            raise errors.NotFound(f"no account {account_id}", field="account_id")
        return row

    def account_named(self, name: str) -> AccountRow:
        self.ensure_ready()
        found = self.store.account_named(name)
        if found is None:
            raise errors.NotFound(f"no account named {name!r}", field="name")
        return found[0]

    def disable(self, ctx: Context, account_id: str, reason: Any = None) -> int:
        """Disable an account: its tokens and sessions stop at once (every worker reads the
        store on each request)."""
        row = self.account(account_id)
        if ctx.actor.id == row.name and ctx.actor.role == row.role:
            raise errors.CannotDisableSelf("an admin cannot disable their own account")
        version = self.ledger.disable_account(ctx, row.id, reason)
        self.store.update_account(row.id, active=False)
        self.sessions.end_all(row.id, ctx.recorded_at)
        return version

    def enable(self, ctx: Context, account_id: str, reason: Any = None) -> int:
        row = self.account(account_id)
        version = self.ledger.enable_account(ctx, row.id, reason)
        self.store.update_account(row.id, active=True)
        return version

    # ---- passwords -----------------------------------------------------------------------

    def _set_password(
        self, ctx: Context, account_id: str, password: str, *, must_change: bool
    ) -> int:
        self.store.set_password_hash(account_id, hash_password(password), must_change)
        return self.ledger.record_password_set(ctx, account_id, must_change=must_change)

    def set_password(
        self, ctx: Context, account_id: str, password: Any, must_change: bool = True
    ) -> int:
        """An admin sets a password: the user changes it at first login; their sessions end."""
        row = self.account(account_id)
        check_password(password, name=row.name)
        version = self._set_password(ctx, row.id, password, must_change=must_change)
        self.sessions.end_all(row.id, ctx.recorded_at)
        return version

    def change_own_password(
        self, user: Principal, current: Any, new: Any, address: str, source: str = "api"
    ) -> int:
        """The user changes their own password; their other sessions end."""
        self.ensure_ready()
        keys = [address_key(address), account_key(user.name, address)]
        self._check_throttle(keys)
        if not isinstance(current, str) or len(current) > MAX_PASSWORD_LENGTH:
            current = ""
        if not password_matches(self.store.password_hash(user.id), current):
            self.throttle.record(keys, self.clock())
            raise InvalidCredentials
        check_password(new, name=user.name, field="new_password")
        if new == current:
            raise errors.WeakPassword("the new password is the current one", field="new_password")
        ctx = self.ledger.context(user.actor(), source=source)
        version = self._set_password(ctx, user.id, new, must_change=False)
        self.sessions.end_all(user.id, ctx.recorded_at, keep=user.session_key)
        return version

    # ---- tokens --------------------------------------------------------------------------

    def _issue(
        self,
        ctx: Context,
        account_id: str,
        sha256: str,
        name: Any,
        expires_on: Any,
        expires: bool = True,
    ) -> tuple[str, date | None, int]:
        token_id, expiry, version = self.ledger.issue_token(
            ctx,
            account_id,
            sha256=sha256,
            name=name,
            expires_on=expires_on,
            default_days=self.token_days if expires else None,
        )
        label = self.ledger.get_account(account_id).tokens[token_id].name
        self.store.add_token(
            token_id,
            str(account_id),
            label,
            sha256,
            ctx.recorded_at,
            None if expiry is None else end_of_business_day(expiry),
        )
        return token_id, expiry, version

    def issue_token(
        self,
        ctx: Context,
        account_id: str,
        name: Any = None,
        expires_on: Any = None,
        *,
        expires: bool = True,
    ) -> IssuedToken:
        """A new named API token, valid through the end of `expires_on` (Asia/Shanghai;
        default `token_days` from today). Its value is answered once."""
        row = self.account(account_id)
        token = new_token()
        token_id, expiry, version = self._issue(
            ctx, row.id, token_hash(token), name, expires_on, expires
        )
        return IssuedToken(token_id, token, expiry, version)

    def revoke_token(self, ctx: Context, account_id: str, token_id: str, reason: Any = None) -> int:
        row = self.account(account_id)
        version = self.ledger.revoke_token(ctx, row.id, str(token_id), reason)
        self.store.revoke_token(str(token_id), ctx.recorded_at)
        return version

    def revoke_all_tokens(self, ctx: Context, account_id: str, reason: Any = None) -> list[str]:
        row = self.account(account_id)
        revoked = []
        for token in self.store.tokens(row.id):
            if token.revoked_at is None:
                self.revoke_token(ctx, row.id, token.id, reason)
                revoked.append(token.id)
        return revoked

    # ---- authentication ------------------------------------------------------------------

    def _check_throttle(self, keys: list[str]) -> None:
        wait = self.throttle.retry_after(keys, self.clock())
        if wait is not None:
            raise TooManyAttempts(wait)

    def authenticate(self, token: str) -> Principal | None:
        """The user of a bearer token (no throttle: `authenticate_bearer` adds it)."""
        self.ensure_ready()
        return self.store.authenticate(token)

    def kept_bearer(self, token: str) -> Principal | None:
        """The user of a token read within the last moment (`BEARER_SECONDS`), or None; never
        a query, so the API asks it on its event loop before handing `authenticate_bearer` to
        a thread."""
        return self.store.kept_bearer(token)

    def authenticate_bearer(self, token: str, address: str) -> Principal | None:
        """The user of a token, or None (counted against the address; 10 in 10 minutes and
        the address is throttled). A valid token is never throttled: 256 random bits cannot
        be guessed, so the count only slows a scan."""
        user = self.authenticate(token)
        if user is None:
            self.failed([address_key(address)])
        return user

    def failed(self, keys: list[str]) -> None:
        """Count a failure; raise `TooManyAttempts` once a key is over the limit."""
        self.throttle.record(keys, self.clock())
        self._check_throttle(keys)

    def login(self, name: Any, password: Any, address: str) -> Login:
        """Check a name and password and open a session. A wrong password, an unknown name and
        a disabled account are the same `InvalidCredentials`, after the same argon2 work."""
        self.ensure_ready()
        text = name if isinstance(name, str) else ""
        secret = password if isinstance(password, str) else ""
        keys = [address_key(address), account_key(text[:MAX_NAME_LENGTH], address)]
        self._check_throttle(keys)
        found = self.store.account_named(text) if 0 < len(text) <= MAX_NAME_LENGTH else None
        row, stored = found if found is not None else (None, None)
        if len(secret) > MAX_PASSWORD_LENGTH:
            secret = ""
        ok = password_matches(stored, secret)
        if not ok or row is None or not row.active:
            self.throttle.record(keys, self.clock())
            raise InvalidCredentials
        self.throttle.clear([account_key(text, address)])
        session_id, csrf = self.sessions.open(row.id, self.clock(), address)
        return Login(row.principal(via="session"), session_id, csrf)

    def session_user(self, session_id: str) -> tuple[Principal, str] | None:
        """The user of a live session cookie and the session's CSRF token, or None."""
        self.ensure_ready()
        live = self.sessions.find(session_id, self.clock())
        if live is None:
            return None
        row = self.store.account(live.account_id)
        if row is None or not row.active:
            return None
        return row.principal(via="session", session_key=live.key), live.csrf_token

    def logout(self, session_key: str) -> bool:
        return self.sessions.end(session_key, self.clock())

    # Last in the class: the name `list` would shadow the built-in in later annotations.
    def list(self) -> list[Principal]:
        self.ensure_ready()
        return self.store.list()

    def close(self) -> None:
        self.store.close()


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and secrets.compare_digest(expected.encode(), given.encode())
