"""`verify --read-models`: every read model compared with a fresh fold of the event log.

The read-model tables lie outside the hash chains, so a row edited in the database would go
unnoticed by `verify`. Here each projection is folded afresh, up to the position its active
tables stand at, into scratch tables (generation 0, never an active one), and the two are
compared row by row in both directions (`EXCEPT`); every difference is reported with the table
and the row's key. The scratch tables are dropped afterwards.

The active tables are read after the fold; a runner that moves on meanwhile makes the check
report the projection as `moved` rather than as a mismatch, and it can simply be run again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, except_, select

from projections.runtime import Projection, ProjectionRunner

SCRATCH_GENERATION = 0  # never used by a live generation (they start at 1)
SHOWN_ROWS = 5  # differing rows named per table


@dataclass
class TableDifference:
    table: str
    only_in_read_model: int
    only_in_fresh_fold: int
    keys: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "only_in_read_model": self.only_in_read_model,
            "only_in_fresh_fold": self.only_in_fresh_fold,
            "keys": self.keys,
        }


@dataclass
class ProjectionCheck:
    name: str
    position: int
    status: str = "ok"  # ok | mismatch | moved
    differences: list[TableDifference] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "position": self.position,
            "status": self.status,
            "differences": [d.as_dict() for d in self.differences],
        }


@dataclass
class ReadModelReport:
    checks: list[ProjectionCheck]

    @property
    def ok(self) -> bool:
        return all(c.status == "ok" for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "projections": [c.as_dict() for c in self.checks]}


def verify_read_models(
    runner: ProjectionRunner, progress: Callable[[str], None] | None = None
) -> ReadModelReport:
    """Compare each of the runner's projections with a fresh fold up to its position."""
    checks = []
    for projection in runner.projections:
        if progress:
            progress(projection.name)
        checks.append(_check(runner, projection))
    return ReadModelReport(checks)


def _check(runner: ProjectionRunner, projection: Projection) -> ProjectionCheck:
    with runner.engine.connect() as conn:
        registration = runner.registration(conn, projection.name)
    if registration is None:
        return ProjectionCheck(projection.name, 0, "mismatch")
    position = registration.position
    fresh = type(projection)()
    fresh.bind(SCRATCH_GENERATION)
    with runner.engine.begin() as conn:
        fresh.drop_tables(conn, SCRATCH_GENERATION)
        fresh.create_tables(conn)
    try:
        fresh.bulk = True
        done = 0
        while done < position:
            batch = runner.read(done, 5_000, upto=position)
            if not batch:
                break
            for _, event in batch:
                handler = fresh.handler_for(type(event))
                if handler is not None:
                    handler(event)
            done = batch[-1][0]
        with runner.engine.begin() as conn:
            fresh.flush(conn)
        active = type(projection)()
        active.bind(registration.generation)
        with runner.engine.connect() as conn:
            differences = [
                difference
                for base, table in active.tables.items()
                if (difference := _compare(conn, table, fresh.tables[base])) is not None
            ]
            now = runner.registration(conn, projection.name)
        check = ProjectionCheck(projection.name, position, differences=differences)
        if now is None or (now.generation, now.position) != (registration.generation, position):
            check.status = "moved"
        elif differences:
            check.status = "mismatch"
        return check
    finally:
        with runner.engine.begin() as conn:
            fresh.drop_tables(conn, SCRATCH_GENERATION)


def _compare(conn: Connection, active: Table, fresh: Table) -> TableDifference | None:
    columns = [c.name for c in active.columns]
    mine = select(*(active.c[c] for c in columns))
    theirs = select(*(fresh.c[c] for c in columns))
    only_active = conn.execute(except_(mine, theirs)).all()
    only_fresh = conn.execute(except_(theirs, mine)).all()
    if not only_active and not only_fresh:
        return None
    keys = [c.name for c in active.primary_key.columns]
    named = [_key(row, columns, keys) for row in [*only_active, *only_fresh]]
    return TableDifference(
        table=active.name,
        only_in_read_model=len(only_active),
        only_in_fresh_fold=len(only_fresh),
        keys=sorted(set(named))[:SHOWN_ROWS],
    )


def _key(row: Sequence[Any], columns: list[str], keys: list[str]) -> str:
    values = dict(zip(columns, row, strict=True))
    return "/".join(str(values[k]) for k in keys)
