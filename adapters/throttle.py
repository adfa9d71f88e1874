"""The throttle on failed authentication (DESIGN §16), shared by every worker (a table).

Each failed login or bad token is a row per key: the client address, and for a login the
(account name, address) pair. A key with `limit` failures in the last `window` seconds is
throttled until its oldest one leaves the window (429 `too_many_attempts`, `Retry-After`).
Keys are per address, so a stranger elsewhere can never lock someone out of their account.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from adapters.database import connection_for

LIMIT = 10
WINDOW_SECONDS = 600

metadata = MetaData()
failures_table = Table(
    "zhaoshang_auth_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),
    Column("at", Float, nullable=False),
)
Index("ix_zhaoshang_auth_failures_key_at", failures_table.c.key, failures_table.c.at)


def address_key(address: str) -> str:
    return f"address:{address}"[:300]


def account_key(name: str, address: str) -> str:
    return f"account:{name.casefold()}@{address}"[:300]


class Throttle:
    def __init__(
        self, engine: Engine, *, limit: int = LIMIT, window_seconds: int = WINDOW_SECONDS
    ) -> None:
        self.engine = engine
        self.limit = limit
        self.window = window_seconds
        self._ready = False

    def ensure_table(self) -> None:
        if self._ready:
            return
        try:
            metadata.create_all(self.engine, checkfirst=True)
        except (IntegrityError, OperationalError, ProgrammingError):
            from sqlalchemy import inspect

            if not inspect(self.engine).has_table(failures_table.name):
                raise
        self._ready = True

    def retry_after(self, keys: Iterable[str], now: datetime) -> int | None:
        """Seconds until every key may try again, or None when none is throttled."""
        self.ensure_table()
        moment = now.timestamp()
        since = moment - self.window
        wait = 0.0
        with connection_for(self.engine, write=False) as conn:
            for key in keys:
                count, oldest = conn.execute(
                    select(func.count(), func.min(failures_table.c.at)).where(
                        failures_table.c.key == key, failures_table.c.at > since
                    )
                ).one()
                if count >= self.limit:
                    # The oldest of the last `limit` failures decides when one more is allowed.
                    edge = conn.execute(
                        select(failures_table.c.at)
                        .where(failures_table.c.key == key, failures_table.c.at > since)
                        .order_by(failures_table.c.at.desc())
                        .offset(self.limit - 1)
                        .limit(1)
                    ).scalar()
                    wait = max(wait, (edge if edge is not None else oldest) + self.window - moment)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def record(self, keys: Iterable[str], now: datetime) -> None:
        """Count a failure against every key (and forget failures older than the window)."""
        self.ensure_table()
        moment = now.timestamp()
        with connection_for(self.engine, write=True) as conn:
            conn.execute(insert(failures_table), [{"key": k, "at": moment} for k in keys])
            conn.execute(delete(failures_table).where(failures_table.c.at <= moment - self.window))

    def clear(self, keys: Iterable[str]) -> None:
        """Forget the failures of `keys` (after a successful login from that address)."""
        self.ensure_table()
        with connection_for(self.engine, write=True) as conn:
            conn.execute(delete(failures_table).where(failures_table.c.key.in_(list(keys))))
