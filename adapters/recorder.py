"""The event store's persistence: `eventsourcing_sqlalchemy`, with bulk inserts.

The stock recorder adds one ORM object per event; this one inserts a save's events with a
single multi-row INSERT … RETURNING, which is what lets a bulk load keep up with DESIGN §10.
Same tables, same rows, same locking as the stock recorder.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.persistence import StoredEvent
from eventsourcing_sqlalchemy.datastore import transactions as event_store_transactions
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import Engine, Select, bindparam, insert, select
from sqlalchemy.orm import Session

from adapters.files import ensure_tables, reference_rows, references_table
from adapters.lock import write_gate


class BulkApplicationRecorder(SQLAlchemyApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stream_queries: dict[tuple[bool, bool, bool, bool], Select[Any]] = {}

    def insert_events(
        self, stored_events: Sequence[StoredEvent], *, session: Session | None = None, **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert and commit with SQLite's writer taken before the projection runner's next
        turn (`adapters.lock.WriteGate`). Not inside a longer transaction (a keyed request, a
        document stored with its event): that one may hold the writer already, and waiting for
        the gate then would make the runner, holding the gate, wait for us in turn."""
        engine = self.datastore.engine
        assert isinstance(engine, Engine)
        gate = write_gate(engine) if session is None and not _in_transaction() else None
        if gate is None:
            return super().insert_events(stored_events, session=session, **kwargs)
        with gate.priority():
            return super().insert_events(stored_events, session=session, **kwargs)

    def create_table(self) -> None:
        super().create_table()
        engine = self.datastore.engine
        assert isinstance(engine, Engine)
        ensure_tables(engine, [references_table])

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        if not stored_events:
            return []
        self._lock_table(session)
        if session.get_bind().dialect.name == "sqlite":
            ids = self._insert_sqlite(session, stored_events)
        else:
            table = self.events_record_cls.__table__
            rows = [
                {
                    "originator_id": e.originator_id,
                    "originator_version": e.originator_version,
                    "topic": e.topic,
                    "state": e.state,
                }
                for e in stored_events
            ]
            result = session.execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
            )
            ids = [row[0] for row in result]
        # The file references index commits with the events that make it (adapters/files.py).
        references = reference_rows(stored_events)
        if references:
            session.execute(insert(references_table), references)
        self._notify_channel(session)
        # An enclosing transaction that rolls back later (api/idempotency.py) must know which
        # streams the application believes saved.
        session.info.get("saved_streams", set()).update(e.originator_id for e in stored_events)
        return ids

    def _insert_sqlite(self, session: Session, stored_events: Sequence[StoredEvent]) -> list[int]:
        """One executemany on the DBAPI cursor. SQLite has one writer and this transaction holds
        the write lock, so the rows get consecutive ids ending at last_insert_rowid()."""
        table = self.events_record_cls.__table__
        connection = session.connection()
        to_db = table.c.originator_id.type.bind_processor(connection.dialect)
        cache: dict[Any, Any] = {}

        def stream(value: Any) -> Any:
            if value not in cache:
                cache[value] = to_db(value) if to_db else value
            return cache[value]

        cursor = connection.connection.cursor()
        try:
            cursor.executemany(
                f"INSERT INTO {table.name} (originator_id, originator_version, topic, state)"
                " VALUES (?, ?, ?, ?)",
                [
                    (stream(e.originator_id), e.originator_version, e.topic, e.state)
                    for e in stored_events
                ],
            )
            last = cursor.execute("SELECT last_insert_rowid()").fetchone()[0]
        except sqlite3.IntegrityError as e:
            raise sqlalchemy.exc.IntegrityError("INSERT INTO events", None, e) from e
        finally:
            cursor.close()
        return list(range(last - len(stored_events) + 1, last + 1))

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """One stream's events with a Core SELECT (the stock recorder builds ORM objects, which
        costs more than the query when a cached aggregate is fast-forwarded on every load)."""
        query = self._stream_query(gt is not None, lte is not None, desc, limit is not None)
        parameters = {"originator_id": originator_id, "gt": gt, "lte": lte, "limit": limit}
        with self.transaction(commit=False) as session:
            rows = session.execute(query, parameters).all()
        return [StoredEvent(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def _stream_query(self, gt: bool, lte: bool, desc: bool, limit: bool) -> Select[Any]:
        """The SELECT of one stream's events in this shape, built once: a statement built anew
        for every load cost more than the SQLite query (a cached aggregate's fast-forward runs
        one on every load)."""
        shape = (gt, lte, desc, limit)
        query = self._stream_queries.get(shape)
        if query is None:
            table = self.events_record_cls.__table__
            version = table.c.originator_version
            query = select(table.c.originator_id, version, table.c.topic, table.c.state).where(
                table.c.originator_id == bindparam("originator_id")
            )
            if gt:
                query = query.where(version > bindparam("gt"))
            if lte:
                query = query.where(version <= bindparam("lte"))
            query = query.order_by(version.desc() if desc else version)
            if limit:
                query = query.limit(bindparam("limit"))
            query = self._stream_queries.setdefault(shape, query)
        return query


def _in_transaction() -> bool:
    try:
        return event_store_transactions.get() is not None
    except LookupError:
        return False


class Factory(SQLAlchemyFactory):
    application_recorder_class = BulkApplicationRecorder
