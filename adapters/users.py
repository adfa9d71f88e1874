"""The user store: what authentication needs, in the ledger's own database (SQLAlchemy Core).

The account aggregate (`domain/account.py`) is the record of every change; these tables are
what a request is checked against, kept in step by `services.accounts`:

- `zhaoshang_accounts`: name (unique, case-insensitively), role, association, whether active,
  the argon2id password hash (never in the log, the API or exports) and whether it must change;
- `zhaoshang_tokens`: each API token's SHA-256 (a token is 256 random bits, so an unsalted hash
  is right), expiry and revocation. A token's value is shown once, never stored.

Every request reads these rows (one indexed query): a revocation or a disabled account takes
effect at once in every worker, with no cache to outlive it. `zhaoshang_users`, the table of
before accounts, is read once to migrate its users (`legacy_users`) and left as it was.
Times that are compared (expiry, revocation) are UNIX seconds, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from adapters.database import connection_for, normalise_url
from api.auth import Principal
from domain import errors
from domain.application import utc_now

TOKEN_PREFIX = "zs_"
MAX_TOKEN_LENGTH = 200
# How long a good bearer token's answer is kept (DESIGN §16: a revocation or a disabled
# account takes effect in every worker within 1 s), and how many are kept at most.
BEARER_SECONDS = 0.5
BEARERS_KEPT = 10_000

metadata = MetaData()
legacy_users_table = Table(
    "zhaoshang_users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("association_id", String(36), nullable=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
accounts_table = Table(
    "zhaoshang_accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name_key", String(100), nullable=False, unique=True),  # casefolded name
    Column("name", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("association_id", String(36), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("password_hash", String(200), nullable=True),
    Column("must_change_password", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
tokens_table = Table(
    "zhaoshang_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False),
    Column("name", String(100), nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),  # null: never (set only by hand)
    Column("revoked_at", Float, nullable=True),
)
Index("ix_zhaoshang_tokens_account", tokens_table.c.account_id)

# Parameters of argon2id: the library's defaults (RFC 9106's second recommendation).
_HASHER = PasswordHasher()
# Verified when no account has the name, so an unknown name costs what a wrong password does.
_DUMMY_HASH = _HASHER.hash("not the password of anyone")


class UserError(ValueError):
    """A user cannot be created as asked (bad name, role or association; name taken)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Whether `password` is the one hashed; the same work when there is no hash."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def epoch(moment: datetime) -> float:
    return moment.timestamp()


@dataclass(frozen=True)
class AccountRow:
    id: str
    name: str
    role: str
    association_id: str | None
    active: bool
    has_password: bool
    must_change_password: bool
    created_at: datetime | None

    def principal(self, **extra: Any) -> Principal:
        fields: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "association_id": self.association_id,
            "created_at": self.created_at,
            "must_change_password": self.must_change_password,
        }
        fields.update(extra)
        return Principal(**fields)


@dataclass(frozen=True)
class TokenRow:
    id: str
    account_id: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class UserStore:
    """The rows authentication reads: accounts with their password hashes, and tokens."""

    def __init__(
        self,
        database_url: str | None = None,
        *,
        engine: Engine | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if engine is None:
            if database_url is None:
                raise ValueError("a database URL or an engine is needed")
            url = normalise_url(database_url)
            # A pre-ping matters for a server's connections, not for an SQLite file.
            engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
            self._owns_engine = True
        else:
            self._owns_engine = False
        self.engine = engine
        self.clock = clock
        self._table_ready = False
        # Bearer tokens recently found good: token hash → (when read, expiry, principal).
        self._bearers: dict[str, tuple[float, float | None, Principal]] = {}

    def ensure_table(self) -> None:
        if self._table_ready:
            return
        tables = [accounts_table, tokens_table]
        try:
            metadata.create_all(self.engine, tables=tables, checkfirst=True)
        except (IntegrityError, OperationalError, ProgrammingError):
            # Another process created them at the same moment.
            existing = inspect(self.engine)
            if not all(existing.has_table(t.name) for t in tables):
                raise
        self._table_ready = True

    # ---- migration -----------------------------------------------------------------------

    def legacy_users(self) -> list[dict[str, Any]]:
        """The users of the table before accounts (id, name, role, association_id,
        token_sha256, created_at), oldest first; none when there is no such table."""
        if not inspect(self.engine).has_table(legacy_users_table.name):
            return []
        with connection_for(self.engine, write=False) as conn:
            rows = conn.execute(
                select(legacy_users_table).order_by(legacy_users_table.c.created_at)
            ).mappings()
            return [dict(r) for r in rows]

    # ---- accounts ------------------------------------------------------------------------

    def claim(
        self,
        account_id: str,
        name: str,
        role: str,
        association_id: str | None,
        created_at: datetime | None = None,
    ) -> None:
        """Reserve a name for a new account (409 `account_exists` if taken)."""
        self.ensure_table()
        try:
            with connection_for(self.engine, write=True) as conn:
                conn.execute(
                    insert(accounts_table).values(
                        id=account_id,
                        name_key=name.casefold(),
                        name=name,
                        role=role,
                        association_id=association_id,
                        active=True,
                        password_hash=None,
                        must_change_password=False,
                        created_at=(created_at or self.clock()).astimezone(UTC),
                    )
                )
        except IntegrityError:
            raise errors.AccountExists(
                f"an account named {name!r} already exists (用户名已存在)", field="name"
            ) from None

    def release(self, account_id: str) -> None:
        """Undo a claim whose account could not be recorded."""
        with connection_for(self.engine, write=True) as conn:
            conn.execute(delete(accounts_table).where(accounts_table.c.id == account_id))
        self.forget_bearers()

    def update_account(self, account_id: str, **values: Any) -> None:
        """Keep a row in step with its aggregate (role, association_id, active, …)."""
        self.ensure_table()
        with connection_for(self.engine, write=True) as conn:
            conn.execute(
                update(accounts_table).where(accounts_table.c.id == account_id).values(**values)
            )
        self.forget_bearers()

    def set_password_hash(self, account_id: str, password_hash: str, must_change: bool) -> None:
        self.update_account(
            account_id, password_hash=password_hash, must_change_password=must_change
        )

    def account(self, account_id: str) -> AccountRow | None:
        self.ensure_table()
        with connection_for(self.engine, write=False) as conn:
            row = conn.execute(
                select(accounts_table).where(accounts_table.c.id == str(account_id))
            ).first()
        return None if row is None else _account(row._mapping)

    def account_named(self, name: str) -> tuple[AccountRow, str | None] | None:
        """The account of a login name (case-insensitive) with its password hash."""
        self.ensure_table()
        with connection_for(self.engine, write=False) as conn:
            row = conn.execute(
                select(accounts_table).where(accounts_table.c.name_key == name.casefold())
            ).first()
        if row is None:
            return None
        return _account(row._mapping), row._mapping["password_hash"]

    def password_hash(self, account_id: str) -> str | None:
        self.ensure_table()
        with connection_for(self.engine, write=False) as conn:
            value = conn.execute(
                select(accounts_table.c.password_hash).where(accounts_table.c.id == account_id)
            ).scalar()
        return None if value is None else str(value)

    def accounts(self) -> list[AccountRow]:
        self.ensure_table()
        with connection_for(self.engine, write=False) as conn:
            rows = conn.execute(
                select(accounts_table).order_by(accounts_table.c.created_at, accounts_table.c.name)
            ).all()
        return [_account(r._mapping) for r in rows]

    # ---- tokens --------------------------------------------------------------------------

    def add_token(
        self,
        token_id: str,
        account_id: str,
        name: str,
        sha256: str,
        created_at: datetime,
        expires_at: datetime | None,
    ) -> None:
        self.ensure_table()
        with connection_for(self.engine, write=True) as conn:
            conn.execute(
                insert(tokens_table).values(
                    id=token_id,
                    account_id=account_id,
                    name=name,
                    sha256=sha256,
                    created_at=epoch(created_at),
                    expires_at=None if expires_at is None else epoch(expires_at),
                    revoked_at=None,
                )
            )
        self.forget_bearers()

    def revoke_token(self, token_id: str, at: datetime) -> None:
        with connection_for(self.engine, write=True) as conn:
            conn.execute(
                update(tokens_table)
                .where(tokens_table.c.id == token_id, tokens_table.c.revoked_at.is_(None))
                .values(revoked_at=epoch(at))
            )
        self.forget_bearers()

    def tokens(self, account_id: str) -> list[TokenRow]:
        self.ensure_table()
        with connection_for(self.engine, write=False) as conn:
            rows = conn.execute(
                select(tokens_table)
                .where(tokens_table.c.account_id == account_id)
                .order_by(tokens_table.c.created_at, tokens_table.c.id)
            ).mappings()
            return [
                TokenRow(
                    id=r["id"],
                    account_id=r["account_id"],
                    name=r["name"],
                    created_at=_moment(r["created_at"]),
                    expires_at=_maybe_moment(r["expires_at"]),
                    revoked_at=_maybe_moment(r["revoked_at"]),
                )
                for r in rows
            ]

    def authenticate(self, token: str) -> Principal | None:
        """The user a bearer token belongs to, or None: unknown, expired, revoked, or its
        account disabled. A good token's answer is kept for `BEARER_SECONDS`, within DESIGN
        §16's promise that a revocation or a disabled account takes effect in every worker
        within 1 s (and at once in this one: its own changes forget what was kept): a busy
        client no longer costs a query per request."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = token_hash(token)
        kept = self._kept(digest)
        if kept is not None:
            return kept
        now = epoch(self.clock())
        self.ensure_table()
        read_at = time.monotonic()
        with connection_for(self.engine, write=False) as conn:
            row = conn.execute(
                select(
                    accounts_table,
                    tokens_table.c.id.label("token_id"),
                    tokens_table.c.expires_at.label("token_expires_at"),
                )
                .join(tokens_table, tokens_table.c.account_id == accounts_table.c.id)
                .where(
                    tokens_table.c.sha256 == digest,
                    tokens_table.c.revoked_at.is_(None),
                    (tokens_table.c.expires_at.is_(None)) | (tokens_table.c.expires_at > now),
                    accounts_table.c.active.is_(True),
                )
            ).first()
        if row is None:
            self._bearers.pop(digest, None)
            return None
        # A token is for machines: an admin-set password waiting to change does not stop it.
        principal = _account(row._mapping).principal(must_change_password=False, via="token")
        if len(self._bearers) >= BEARERS_KEPT:
            self._bearers.clear()
        self._bearers[digest] = (read_at, row._mapping["token_expires_at"], principal)
        return principal

    def kept_bearer(self, token: str) -> Principal | None:
        """The user of a good token read less than `BEARER_SECONDS` ago, or None (no query:
        `authenticate` then reads it)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        return self._kept(token_hash(token))

    def _kept(self, digest: str) -> Principal | None:
        kept = self._bearers.get(digest)
        if kept is None:
            return None
        read_at, expires_at, principal = kept
        if time.monotonic() - read_at >= BEARER_SECONDS:
            return None
        if expires_at is not None and expires_at <= epoch(self.clock()):
            return None
        return principal

    def forget_bearers(self) -> None:
        """After a change to accounts or tokens: read every token again."""
        self._bearers.clear()

    # Last in the class: the name `list` would shadow the built-in in later annotations.
    def list(self) -> list[Principal]:
        return [a.principal() for a in self.accounts()]

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()


def _account(mapping: Any) -> AccountRow:
    created = mapping["created_at"]
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)  # SQLite keeps no zone; it was stored as UTC
    return AccountRow(
        id=mapping["id"],
        name=mapping["name"],
        role=mapping["role"],
        association_id=mapping["association_id"],
        active=bool(mapping["active"]),
        has_password=mapping["password_hash"] is not None,
        must_change_password=bool(mapping["must_change_password"]),
        created_at=created,
    )


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _maybe_moment(seconds: float | None) -> datetime | None:
    return None if seconds is None else _moment(seconds)
