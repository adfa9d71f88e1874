"""The event store's persistence: `eventsourcing_sqlalchemy`, with bulk inserts.

The stock recorder adds one ORM object per event; this one inserts a save's events with a
single multi-row INSERT … RETURNING, which is what lets a bulk load keep up with DESIGN §10.
Same tables, same rows, same locking as the stock recorder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import insert
from sqlalchemy.orm import Session


class BulkApplicationRecorder(SQLAlchemyApplicationRecorder):
    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        if not stored_events:
            return []
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
        self._lock_table(session)
        result = session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        )
        ids = [row[0] for row in result]
        self._notify_channel(session)
        return ids


class Factory(SQLAlchemyFactory):
    application_recorder_class = BulkApplicationRecorder
