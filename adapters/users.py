"""API users and their bearer tokens, in the ledger's own database (SQLAlchemy Core).

A token is shown once, when the user is created; only its SHA-256 is stored. The table
`zhaoshang_users` is created on first use.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    inspect,
    select,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from adapters.database import normalise_url
from api.auth import ROLES, Principal, Role
from domain.application import utc_now

TOKEN_PREFIX = "zs_"
MAX_TOKEN_LENGTH = 200

metadata = MetaData()
users_table = Table(
    "zhaoshang_users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("association_id", String(36), nullable=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


class UserError(ValueError):
    """A user cannot be created as asked (bad name, role or association; name taken)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


AUTH_CACHE_SECONDS = 30.0  # users are only ever added; a known token stays valid this long


class UserStore:
    """Create, list and authenticate users."""

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
        # token hash → (user, when the entry expires): a request is not a database round trip.
        self._recent: dict[str, tuple[Principal, float]] = {}

    def ensure_table(self) -> None:
        if self._table_ready:
            return
        try:
            metadata.create_all(self.engine, checkfirst=True)
        except (IntegrityError, OperationalError, ProgrammingError):
            # Another process created it at the same moment.
            if not inspect(self.engine).has_table(users_table.name):
                raise
        self._table_ready = True

    def create(
        self, name: str, role: str, association_id: str | None = None
    ) -> tuple[Principal, str]:
        """Store a new user; answer it with its token (shown this once)."""
        clean = (name or "").strip()
        if not clean or len(clean) > 100 or any(ord(c) < 32 for c in clean):
            raise UserError("a user name is 1–100 printable characters")
        if role not in ROLES:
            raise UserError(f"{role!r} is not one of: {', '.join(ROLES)}")
        if role == Role.LIAISON and not association_id:
            raise UserError("a liaison needs --association (the association it acts for)")
        if role != Role.LIAISON and association_id:
            raise UserError("only a liaison acts for an association")
        self.ensure_table()
        token = new_token()
        user = Principal(
            id=str(uuid.uuid4()),
            name=clean,
            role=role,
            association_id=association_id or None,
            created_at=self.clock().astimezone(UTC),
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(users_table).values(
                        id=user.id,
                        name=user.name,
                        role=user.role,
                        association_id=user.association_id,
                        token_sha256=token_hash(token),
                        created_at=user.created_at,
                    )
                )
        except IntegrityError:
            raise UserError(f"a user named {clean!r} already exists") from None
        return user, token

    def authenticate(self, token: str) -> Principal | None:
        """The user a bearer token belongs to, or None."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = token_hash(token)
        now = time.monotonic()
        cached = self._recent.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        self.ensure_table()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(users_table).where(users_table.c.token_sha256 == digest)
            ).first()
        if row is None:
            return None
        user = _principal(row)
        if len(self._recent) > 10_000:
            self._recent.clear()
        self._recent[digest] = (user, now + AUTH_CACHE_SECONDS)
        return user

    def list(self) -> list[Principal]:
        self.ensure_table()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(users_table).order_by(users_table.c.created_at, users_table.c.name)
            ).all()
        return [_principal(r) for r in rows]

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()


def _principal(row: object) -> Principal:
    mapping = row._mapping  # type: ignore[attr-defined]
    created = mapping["created_at"]
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)  # SQLite keeps no zone; it was stored as UTC
    return Principal(
        id=mapping["id"],
        name=mapping["name"],
        role=mapping["role"],
        association_id=mapping["association_id"],
        created_at=created,
    )
