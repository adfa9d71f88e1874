"""Projections that stopped on an event they cannot apply (DESIGN §21), kept in the database so
that every process sees them: the runner that stopped one, `zhaoshang projections status` and
`GET /health` of any worker.

A stopped projection keeps its position just before the event; the others go on. A runner that
starts (a restart, perhaps with fixed code) tries a stopped projection again, and a successful
`projections rebuild` clears it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    delete,
    inspect,
    select,
)

faults_metadata = MetaData()
faults_table = Table(
    "rm_projection_faults",
    faults_metadata,
    Column("name", String(64), primary_key=True),
    Column("notification_id", BigInteger, nullable=False),
    Column("stream_id", String(36), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("error", Text, nullable=False),
    Column("stopped_at", String(32), nullable=False),
)


@dataclass(frozen=True)
class Fault:
    """Where a projection stopped, and why."""

    name: str
    notification_id: int
    stream_id: str
    version: int
    event_type: str
    error: str
    stopped_at: str

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def record_fault(
    conn: Connection, name: str, notification_id: int, event: Any, error: Any
) -> Fault:
    fault = Fault(
        name=name,
        notification_id=notification_id,
        stream_id=str(event.originator_id),
        version=int(event.originator_version),
        event_type=type(event).__qualname__,
        error=f"{type(error).__name__}: {error}"[:2000],
        stopped_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    conn.execute(delete(faults_table).where(faults_table.c.name == name))
    conn.execute(faults_table.insert().values(**fault.as_dict()))
    return fault


def clear_faults(conn: Connection, names: Iterable[str]) -> None:
    conn.execute(delete(faults_table).where(faults_table.c.name.in_(list(names))))


def faults(conn: Connection) -> dict[str, Fault]:
    rows = conn.execute(select(faults_table).order_by(faults_table.c.name)).mappings()
    return {row["name"]: Fault(**row) for row in rows}


def stopped_projections(engine: Engine) -> list[Fault]:
    """Every stopped projection; none where no runner has ever created the registry."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(faults_table.name):
            return []
        return list(faults(conn).values())
