"""The one SQLAlchemy URL: how the event store and the read models reach the same database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from eventsourcing.persistence import JSONTranscoder
from eventsourcing_sqlalchemy.datastore import transactions as event_store_transactions
from sqlalchemy import Connection, Engine, event

from adapters.decoding import StateDecoder
from domain.application import Ledger, utc_now
from domain.integrity import ChainedMapper


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Every SQLite connection: wait up to 30 s for the write lock instead of failing, and in
    WAL mode sync at checkpoints rather than at every commit (no corruption on power loss; the
    last commits may be lost — production runs on PostgreSQL)."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def ledger_env(url: str) -> dict[str, str]:
    """The eventsourcing environment for an application stored at `url`."""
    return {
        "PERSISTENCE_MODULE": "adapters.recorder:Factory",
        "SQLALCHEMY_URL": normalise_url(url),
        # Recently used aggregates stay in memory and are fast-forwarded with one query on each
        # load, instead of replaying their whole history (DESIGN §10: project page reads).
        "AGGREGATE_CACHE_MAXSIZE": "2000",
    }


def open_ledger(url: str, clock: Callable[[], datetime] = utc_now) -> Ledger:
    ledger = Ledger(ledger_env(url), clock=clock)
    use_compiled_decoder(ledger)
    return ledger


def use_compiled_decoder(ledger: Ledger) -> None:
    """Replay, history and verify decode stored state with msgspec (`adapters.decoding`)."""
    mapper = ledger.mapper
    assert isinstance(mapper, ChainedMapper) and isinstance(mapper.transcoder, JSONTranscoder)
    mapper.state_decoder = StateDecoder(mapper.transcoder).decode_topic


@contextmanager
def connection_for(engine: Engine, *, write: bool) -> Iterator[Connection]:
    """A connection for a store beside the event store (users, sessions, throttle): inside an
    open event-store transaction (a keyed, idempotent request) that transaction's own
    connection, so the rows commit or roll back with the events and SQLite's one writer never
    waits for itself; otherwise a transaction (`write`) or a connection of its own."""
    try:
        transaction = event_store_transactions.get()
    except LookupError:
        transaction = None
    if transaction is not None and transaction.session.get_bind() is engine:
        yield transaction.session.connection()
        return
    if write:
        with engine.begin() as conn:
            yield conn
    else:
        with engine.connect() as conn:
            yield conn
