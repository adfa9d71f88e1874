"""Server-side login sessions (DESIGN §16), outside the event log.

The cookie carries a random id; only its SHA-256 is stored, so a copy of the table opens no
session. A session ends at logout, at a password change (the user's other sessions), when its
account is disabled, after 8 hours without a request, and 7 days after login whatever happens.
Its CSRF token is returned at login and must come with every cookie-authenticated write.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Engine, Float, Index, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from adapters.database import connection_for

IDLE_SECONDS = 8 * 3600
ABSOLUTE_SECONDS = 7 * 24 * 3600
# A request refreshes `last_seen_at` only when it is this old: not a write per request.
TOUCH_SECONDS = 60.0
MAX_SESSION_ID_LENGTH = 200

metadata = MetaData()
sessions_table = Table(
    "zhaoshang_sessions",
    metadata,
    Column("id_sha256", String(64), primary_key=True),
    Column("account_id", String(36), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    Column("address", String(100), nullable=True),
)
Index("ix_zhaoshang_sessions_account", sessions_table.c.account_id)


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LiveSession:
    key: str  # the stored SHA-256 of the cookie's id
    account_id: str
    csrf_token: str


class SessionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ready = False

    def ensure_table(self) -> None:
        if self._ready:
            return
        try:
            metadata.create_all(self.engine, checkfirst=True)
        except (IntegrityError, OperationalError, ProgrammingError):
            from sqlalchemy import inspect

            if not inspect(self.engine).has_table(sessions_table.name):
                raise
        self._ready = True

    def open(self, account_id: str, now: datetime, address: str | None) -> tuple[str, str]:
        """A new session: answer (the cookie's value, the CSRF token)."""
        self.ensure_table()
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        moment = now.timestamp()
        with connection_for(self.engine, write=True) as conn:
            conn.execute(
                insert(sessions_table).values(
                    id_sha256=session_hash(session_id),
                    account_id=account_id,
                    csrf_token=csrf,
                    created_at=moment,
                    last_seen_at=moment,
                    ended_at=None,
                    address=(address or "")[:100],
                )
            )
        return session_id, csrf

    def find(self, session_id: str, now: datetime) -> LiveSession | None:
        """The live session a cookie names, touched; None when unknown or ended."""
        if not session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
            return None
        self.ensure_table()
        key = session_hash(session_id)
        moment = now.timestamp()
        with connection_for(self.engine, write=False) as conn:
            row = conn.execute(
                select(sessions_table).where(sessions_table.c.id_sha256 == key)
            ).first()
        if row is None:
            return None
        r = row._mapping
        if (
            r["ended_at"] is not None
            or moment - r["last_seen_at"] > IDLE_SECONDS
            or moment - r["created_at"] > ABSOLUTE_SECONDS
        ):
            return None
        if moment - r["last_seen_at"] > TOUCH_SECONDS:
            with connection_for(self.engine, write=True) as conn:
                conn.execute(
                    update(sessions_table)
                    .where(sessions_table.c.id_sha256 == key)
                    .values(last_seen_at=moment)
                )
        return LiveSession(key=key, account_id=r["account_id"], csrf_token=r["csrf_token"])

    def end(self, key: str, now: datetime) -> bool:
        """End the session stored under `key`; False when it had already ended."""
        self.ensure_table()
        with connection_for(self.engine, write=True) as conn:
            result = conn.execute(
                update(sessions_table)
                .where(sessions_table.c.id_sha256 == key, sessions_table.c.ended_at.is_(None))
                .values(ended_at=now.timestamp())
            )
        return bool(result.rowcount)

    def end_all(self, account_id: str, now: datetime, *, keep: str | None = None) -> int:
        """End every live session of an account but `keep`; answer how many."""
        self.ensure_table()
        condition = [sessions_table.c.account_id == account_id, sessions_table.c.ended_at.is_(None)]
        if keep is not None:
            condition.append(sessions_table.c.id_sha256 != keep)
        with connection_for(self.engine, write=True) as conn:
            result = conn.execute(
                update(sessions_table).where(*condition).values(ended_at=now.timestamp())
            )
        return int(result.rowcount)
