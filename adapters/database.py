"""The one SQLAlchemy URL: how the event store and the read models reach the same database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy.exc
from eventsourcing.persistence import JSONTranscoder
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.datastore import transactions as event_store_transactions
from sqlalchemy import Connection, Engine, event

from adapters.checkpoints import leave_checkpoints_to_a_checkpointer
from adapters.decoding import StateDecoder
from domain.application import Ledger, utc_now
from domain.integrity import ChainedMapper

# The write-ahead log kept on disk once it has been checkpointed and begins again: a rebuild
# leaves it at its high water (1.15 GB after the province benchmark) until the last connection
# closes; reused in place up to this size, it is cut back to it beyond.
WAL_KEPT_BYTES = 64 * 1024 * 1024


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Every SQLite connection: wait up to 30 s for the write lock instead of failing; in WAL
    mode sync at checkpoints rather than at every commit (no corruption on power loss; the
    last commits may be lost — production runs on PostgreSQL); a log cut back to
    `WAL_KEPT_BYTES` as it begins again."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute(f"PRAGMA journal_size_limit = {int(WAL_KEPT_BYTES)}")
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


def open_ledger(
    url: str, clock: Callable[[], datetime] = utc_now, *, checkpoints_in_commits: bool = True
) -> Ledger:
    """The ledger at `url`. Without `checkpoints_in_commits`, an SQLite file's commits never
    checkpoint its log: the caller runs a `WalCheckpointer` (`adapters.checkpoints`)."""
    ledger = Ledger(ledger_env(url), clock=clock)
    use_compiled_decoder(ledger)
    settle_journal_mode(ledger)
    if not checkpoints_in_commits:
        datastore = getattr(ledger.recorder, "datastore", None)
        if isinstance(datastore, SQLAlchemyDatastore) and isinstance(datastore.engine, Engine):
            leave_checkpoints_to_a_checkpointer(datastore.engine)
    return ledger


def settle_journal_mode(ledger: Ledger, attempts: int = 50) -> None:
    """Put an SQLite file in WAL mode now, waiting out other writers. The library does it on
    the application's first transaction, and `PRAGMA journal_mode` answers "database is
    locked" at once, without the busy timeout, while another connection writes: that first
    command would fail where a later one would only wait."""
    datastore = getattr(ledger.recorder, "datastore", None)
    if not isinstance(datastore, SQLAlchemyDatastore) or not datastore.is_sqlite_filedb:
        return
    for attempt in range(1, attempts + 1):
        try:
            datastore.init_sqlite_wal_mode()
            return
        except sqlalchemy.exc.OperationalError as e:
            if "locked" not in str(e) or attempt == attempts:
                raise
            time.sleep(0.01 * attempt)


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
