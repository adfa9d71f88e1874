"""The projection mechanism: one reader follows the notification log and feeds every projection.

Each projection owns tables suffixed with a generation number (`rm_ledger_projects_g3`) and a row
in `rm_projections` holding its active generation, the last notification position it has applied
and its schema version. A batch of events is applied and its rows and positions are committed in
one transaction, and the position update is guarded (`WHERE position = :old`), so an event takes
effect exactly once even if a second runner starts by mistake: the loser's transaction rolls back.

A rebuild folds every event into fresh generation tables in memory and writes them in bulk while
the active generation keeps serving, catches the new tables up to the head, then switches the
active generation in one guarded update (blue/green) and drops the old tables.

An event a projection cannot apply stops that projection alone, just before the event: it is
logged at ERROR with the stream and version and recorded in `rm_projection_faults`
(`projections.faults`), where `projections status` and `/health` show it; the others go on.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import json
import logging
import operator
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy.exc
from eventsourcing.persistence import JSONTranscoder
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.util import find_tables

from adapters.decoding import fewer_collections
from adapters.lock import write_gate
from adapters.reader import FastEventReader
from domain.application import Ledger
from projections.faults import clear_faults, faults, faults_metadata, record_fault

log = logging.getLogger("zhaoshang.projections")
# Errors that mean another runner got there first (the batch rolled back): retry, not a fault.
CONCURRENCY_ERRORS = (
    sqlalchemy.exc.IntegrityError,
    sqlalchemy.exc.OperationalError,
)

Handler = Callable[[Any], None]
RUNNER_SWITCH_INTERVAL = 0.0005  # seconds; see `ProjectionRunner.start`
# How long one projection's write of a live batch should hold the writer: the API's commands
# wait behind it (`ProjectionRunner.read_live` sizes the next batch by the last one's turns).
LIVE_TURN_SECONDS = 0.02
# How many aggregates' last written state a live projection keeps decoded (`KeptRows`): the
# projects written over and over (a busy day's few hundred) are the ones worth keeping.
KEPT_AGGREGATES = 1000


def engine_of(ledger: Ledger) -> Engine:
    """The SQLAlchemy engine the event store uses; read models share it (one database)."""
    engine = ledger.recorder.datastore.engine  # type: ignore[attr-defined]
    assert isinstance(engine, Engine)
    return engine


registry_metadata = MetaData()
projections_table = Table(
    "rm_projections",
    registry_metadata,
    Column("name", String(64), primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("schema_version", Integer, nullable=False),
)


def upsert(dialect: Dialect, table: Table, keys: Sequence[str], add: Sequence[str] = ()) -> Any:
    """INSERT … ON CONFLICT for SQLite and PostgreSQL; `add` columns accumulate, others replace.

    Made once per table: building the statement and its cache key again for every batch cost
    the runner more than the writes, inside the transaction that holds SQLite's one writer."""
    return _upsert(dialect.name, table, tuple(keys), tuple(add))


@functools.lru_cache(maxsize=256)
def _upsert(dialect: str, table: Table, keys: tuple[str, ...], add: tuple[str, ...]) -> Any:
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    updates = {
        c.name: (table.c[c.name] + insert.excluded[c.name])
        if c.name in add
        else insert.excluded[c.name]
        for c in table.columns
        if c.name not in keys
    }
    return insert.on_conflict_do_update(index_elements=list(keys), set_=updates)


# One statement, compiled once (the runner asks for each projection's row on every batch).
REGISTRATION = select(projections_table).where(projections_table.c.name == bindparam("name"))


@dataclass(frozen=True)
class Registration:
    generation: int
    position: int
    schema_version: int


class KeptRows:
    """What a live projection last wrote for each of the aggregates it wrote most recently, as
    the objects it wrote them from (decoded documents, a fold's states, the side rows drawn from
    them), so that a batch on a project written a moment ago neither reads its rows back nor
    decodes them: that was a runner's main cost on projects written again and again, growing
    with each project's size.

    Kept rows stand only at the generation and position they were written at. The runner
    `begin`s each batch at the projection's registration and `settle`s what the batch kept
    once its write has committed. A batch that finds the projection anywhere else (another
    runner went on, a rebuild switched it), or that follows a batch which never settled (its
    write failed), finds nothing kept. A batch `take`s the rows it changes out, since its
    handlers change them in place. Outside a runner's batch (a rebuild's catch-up) nothing is
    kept. `check` (set by the tests) compares each kept object with what reading its stored
    row back gives."""

    check = False

    def __init__(self, limit: int = KEPT_AGGREGATES) -> None:
        self.limit = limit
        self._kept: OrderedDict[str, Any] = OrderedDict()
        self._written: dict[str, Any] = {}
        self._at: tuple[int, int] | None = None
        self._open = False  # between `begin` and `settle`: only a runner's batch keeps rows

    def __len__(self) -> int:
        return len(self._kept)

    def begin(self, generation: int, position: int) -> None:
        if self._at != (generation, position):
            self._kept.clear()
        self._written.clear()
        self._at = None  # until the batch settles
        self._open = True

    def take(self, keys: Collection[str]) -> dict[str, Any]:
        return {key: self._kept.pop(key) for key in keys if key in self._kept}

    def keep(self, key: str, value: Any, stored: Callable[[], Any]) -> None:
        """`value`, about to be written; `stored`: what reading the written row back gives."""
        if not self._open:
            return
        if self.check and stored() != value:
            raise AssertionError(f"the kept state of {key} differs from its stored row")
        self._written[key] = value

    def settle(self, generation: int, position: int) -> None:
        self._open = False
        self._kept.update(self._written)
        self._written.clear()
        while len(self._kept) > self.limit:
            self._kept.popitem(last=False)
        self._at = (generation, position)

    def clear(self) -> None:
        self._kept.clear()
        self._written.clear()
        self._at = None
        self._open = False


class Projection:
    """Base of read models: tables per generation, one handler per event type.

    Subclasses set `name` and `schema_version`, declare tables in `define_tables`, map event
    classes to handlers in `handlers`, and load/flush the state a batch needs.
    """

    name = "projection"
    schema_version = 1
    # The runner may call `flush` on a `DeferredWrites` before taking SQLite's writer, and run
    # the writes it kept inside a short write transaction. A flush that reads what it has
    # itself written, or reaches past `execute`/`exec_driver_sql`/`dialect`, must say False.
    flush_deferrable = True
    # The event attributes the handlers read besides the stream and version (`originator_id`,
    # `originator_version`), or None: any. A rebuild in which every projection names them
    # decodes only these fields of each stored event (`FastEventReader.read`); a handler
    # reading another would fail the rebuild (tests/unit/test_event_fields.py keeps the
    # lists whole).
    event_fields: frozenset[str] | None = None

    def __init__(self) -> None:
        self.generation = 0
        self.tables: dict[str, Table] = {}
        self._handlers: dict[type, Handler] = {}
        # A rebuild into fresh tables: state piles up in memory across batches and `flush`
        # writes plain inserts; otherwise each batch loads, changes and upserts its rows.
        self.bulk = False
        self.kept = KeptRows()

    # -- tables -----------------------------------------------------------------------------

    def table_name(self, base: str, generation: int) -> str:
        return f"rm_{self.name}_{base}_g{generation}"

    def define_tables(self, metadata: MetaData, generation: int) -> dict[str, Table]:
        raise NotImplementedError

    def table_names(self, generation: int) -> list[str]:
        """The names of a generation's tables, in an order they can be dropped one by one."""
        return [t.name for t in self.define_tables(MetaData(), generation).values()]

    def bind(self, generation: int) -> None:
        self.generation = generation
        self.tables = self.define_tables(MetaData(), generation)
        self.kept.clear()

    def create_tables(self, conn: Connection) -> None:
        for table in self.tables.values():
            table.create(conn, checkfirst=True)

    def drop_tables(self, conn: Connection, generation: int) -> None:
        """A generation's tables dropped, one statement each (`table_names`). On SQLite, with
        a rebuild's `TurnTakingConnection`, each is emptied first in short statements
        (`empty_in_steps`), each a turn of its own."""
        preparer = conn.dialect.identifier_preparer
        # Only in turns: in one transaction, emptying first would only hold the writer longer.
        in_turns = isinstance(conn, TurnTakingConnection)
        for name in self.table_names(generation):
            if in_turns and conn.dialect.name == "sqlite":
                empty_in_steps(conn, name)
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {preparer.quote(name)}")

    # -- applying ---------------------------------------------------------------------------

    def handlers(self) -> dict[type, Handler]:
        raise NotImplementedError

    def handler_for(self, event_class: type) -> Handler | None:
        if not self._handlers:
            self._handlers = self.handlers()
        return self._handlers.get(event_class)

    def share_fold(self, builders: Sequence[Projection]) -> None:
        """Before a rebuild's bulk fold, with every projection being rebuilt alongside: one
        that folds the very state another one folds may take that state from it rather than
        fold it a second time (it then answers no handlers until `unshare_fold`). By default
        nothing is shared."""

    def unshare_fold(self) -> None:
        """After the bulk fold's flush: fold its own state again (a rebuild's catch-up and the
        runner's batches apply each projection's own handlers)."""

    def begin_batch(self, conn: Connection, events: Sequence[Any]) -> None:
        """Load into memory the rows the batch's events will change (not in `bulk`)."""

    def flush(self, conn: Connection) -> None:
        """Write what the batch changed, in bulk."""

    def reset(self) -> None:
        """Forget in-memory state (after a rolled-back batch)."""


class DeferredWrites:
    """A connection for a projection's `flush` outside SQLite's writer: reads run at once on
    the batch's read connection, writes are kept and `run` later in the write transaction.

    A flush that read a table it had already written to would see the rows before its own
    writes; that is refused rather than answered wrongly."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.dialect = conn.dialect
        self._writes: list[tuple[bool, Any, Any]] = []
        self._written: set[str] = set()

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        if isinstance(statement, TextClause):
            if not _READ_SQL.match(statement.text):
                raise RuntimeError("a deferred flush runs only reads as text")
            read = {name for name in self._written if name in statement.text}
        elif getattr(statement, "is_select", False):
            read = {table.name for table in find_tables(statement, include_crud=True)}
        else:
            self._written.add(statement.table.name)
            self._writes.append((False, statement, parameters))
            return None
        if read & self._written:
            raise RuntimeError(f"a deferred flush reads {sorted(read)} after writing to it")
        return self._conn.execute(statement, parameters)

    def exec_driver_sql(self, statement: str, parameters: Any = None) -> Any:
        if _READ_SQL.match(statement):
            read = {name for name in self._written if name in statement}
            if read:
                raise RuntimeError(f"a deferred flush reads {sorted(read)} after writing to it")
            return self._conn.exec_driver_sql(statement, parameters)
        into = _INSERT_INTO.match(statement)
        if into is None:
            raise RuntimeError("a deferred flush runs only reads and INSERT INTO … as driver SQL")
        self._written.add(into.group(1))
        self._writes.append((True, statement, parameters))

    def run(self, conn: Connection) -> None:
        """The kept writes, in order, on `conn` (the write transaction)."""
        for driver, statement, parameters in self._writes:
            if driver:
                conn.exec_driver_sql(statement, parameters)
            else:
                conn.execute(statement, parameters)


_READ_SQL = re.compile(r"\s*(SELECT|WITH)\b(?!.*\b(INSERT|UPDATE|DELETE)\b)", re.I | re.S)
_INSERT_INTO = re.compile(r'\s*INSERT INTO "?(\w+)"?')


# At most this many rows in one bulk INSERT statement (`insert_values`, the search's grams).
BULK_STATEMENT_ROWS = 1_000


class TurnTakingConnection:
    """A connection for a rebuild's writes into tables nothing reads yet: each statement runs
    in a transaction of its own, in a turn at SQLite's writer (`turn`), committed as the
    statement ends (the rows it answers read first), so that the writer is never held while
    the caller builds its next rows.

    Holding it across statements for a moment (10 ms) was tried: a statement that ended within
    its moment kept the writer through whatever the caller computed next, up to 1 s at province
    scale; committing each one holds it 15–21 s in all over a province rebuild rather than
    25 s, no turn over 62 ms, and the rebuild is no slower (issue 23)."""

    def __init__(
        self, engine: Engine, turn: Callable[[], contextlib.AbstractContextManager[None]]
    ) -> None:
        self._engine = engine
        self._turn = turn
        self.dialect = engine.dialect
        self._stack: contextlib.ExitStack | None = None
        self._conn: Connection | None = None
        self._turn_taken = 0.0
        # How long the last statement held the writer, from its turn taken to its commit.
        self.held_seconds = 0.0

    def _current(self) -> Connection:
        self._commit()
        with contextlib.ExitStack() as stack:  # the turn let go if the transaction cannot begin
            stack.enter_context(self._turn())
            self._turn_taken = time.monotonic()
            self._conn = stack.enter_context(self._engine.begin())
            self._stack = stack.pop_all()
        return self._conn

    def _commit(self) -> None:
        stack, self._stack, self._conn = self._stack, None, None
        if stack is not None:
            stack.close()
            self.held_seconds = time.monotonic() - self._turn_taken

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self._after(self._current().execute(statement, parameters))

    def exec_driver_sql(self, statement: str, parameters: Any = None) -> Any:
        return self._after(self._current().exec_driver_sql(statement, parameters))

    def _after(self, result: Any) -> Any:
        if result.returns_rows:
            # Read at once, so that the turn is not held while the caller goes through them.
            result = result.freeze()()
        self._commit()
        return result

    def __enter__(self) -> TurnTakingConnection:
        return self

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        stack, self._stack, self._conn = self._stack, None, None
        if stack is not None:
            stack.__exit__(kind, error, traceback)


# About how long one of `empty_in_steps`'s statements runs.
EMPTYING_STEP_SECONDS = 0.02


def empty_in_steps(conn: Connection, name: str) -> None:
    """Delete the rows of the ordinary SQLite table `name` in statements of about
    `EMPTYING_STEP_SECONDS` each, its triggers dropped first (a virtual table, or none at all,
    is left as it is).

    Dropping a table frees every page it holds in that one statement: the old generation's
    largest tables, 50–80 MiB at province scale, held SQLite's writer 0.3–0.7 s each. Emptied
    a step at a time, each step frees a part of them and the drop that follows is instant."""
    preparer = conn.dialect.identifier_preparer
    definition = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).scalar()
    if not definition or definition.lstrip().upper().startswith("CREATE VIRTUAL"):
        return
    triggers = conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (name,)
    ).all()
    for (trigger,) in triggers:  # a search index's triggers would index every deletion
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {preparer.quote(trigger)}")
    table = preparer.quote(name)
    key = "rowid"
    if "WITHOUT ROWID" in definition.upper():  # the search's fragments: its primary key
        columns = conn.exec_driver_sql(
            "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (name,)
        ).all()
        key = ", ".join(preparer.quote(column) for (column,) in columns) or key
    statement = f"DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} LIMIT ?)"
    rows = 500
    while True:
        started = time.monotonic()
        deleted = conn.exec_driver_sql(statement, (rows,)).rowcount
        if deleted < rows:
            return
        # As many rows as fill a step at the rate just seen (row sizes differ by table), at
        # most twice as many as the last step. In turns, the rate is that of the turn alone:
        # counting the wait for it too (up to `WriteGate.YIELD_SECONDS` while commands write)
        # shrank the steps to a hundred rows, and the emptying to minutes.
        took = (
            conn.held_seconds
            if isinstance(conn, TurnTakingConnection)
            else time.monotonic() - started
        )
        rate = rows / max(took, 1e-4)
        rows = max(100, min(2 * rows, int(rate * EMPTYING_STEP_SECONDS)))


def stream_ids(events: Iterable[Any]) -> list[str]:
    return sorted({str(e.originator_id) for e in events})


class ProjectionRunner:
    """Follows the notification log and applies new events to every projection, exactly once."""

    def __init__(
        self,
        ledger: Ledger,
        projections: Sequence[Projection],
        batch_size: int = 2000,
        live_batch_size: int | None = None,
        live_batch_aggregates: int | None = None,
    ):
        """`batch_size` events at most in a batch; `live_batch_size` (default: the same) in
        one of `run_once`'s, which the API's commands wait behind, not a rebuild's, and those
        on `live_batch_aggregates` aggregates at most (default: no bound but the events)."""
        self.ledger = ledger
        self.engine = engine_of(ledger)
        self.projections = list(projections)
        self.batch_size = batch_size
        self.live_batch_size = live_batch_size or batch_size
        self.live_batch_aggregates = live_batch_aggregates or self.live_batch_size
        # The aggregates the next live batch may touch: at most `live_batch_aggregates`, fewer
        # where their rows took longer to write (`_fit_live_batch`).
        self.live_batch_fitting = self.live_batch_aggregates
        self.live_turn_seconds = LIVE_TURN_SECONDS
        self.events_table: Table = ledger.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
        assert isinstance(ledger.mapper.transcoder, JSONTranscoder)
        self.reader = FastEventReader(self.engine, self.events_table, ledger.mapper.transcoder)
        self.write_gate = write_gate(self.engine)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The runner's thread and a caller bringing the read models up to date (the scheduler's
        # catch-up) share these projections' in-memory state: one pass at a time.
        self._passes = threading.Lock()
        self.last_error: BaseException | None = None
        # Another process may create it at the same moment.
        with contextlib.suppress(sqlalchemy.exc.DatabaseError):
            registry_metadata.create_all(self.engine, checkfirst=True)
        with contextlib.suppress(sqlalchemy.exc.DatabaseError):
            faults_metadata.create_all(self.engine, checkfirst=True)
        self.ensure_registered()

    # -- registry ---------------------------------------------------------------------------

    def registration(self, conn: Connection, name: str) -> Registration | None:
        row = conn.execute(REGISTRATION, {"name": name}).mappings().first()
        if row is None:
            return None
        return Registration(row["generation"], row["position"], row["schema_version"])

    def register_missing(self) -> None:
        """Create the first generation of each projection never registered, and nothing more
        (no rebuild): cheap enough for a process that only serves reads to call at start-up,
        so that its first request finds every read model, empty or not, while the runner's
        own process is still starting (issue 23: the runner runs in a process of its own)."""
        with self.engine.connect() as conn:
            if all(self.registration(conn, p.name) is not None for p in self.projections):
                return
        self.ensure_registered(rebuild_changed=False)

    def ensure_registered(self, rebuild_changed: bool = True) -> None:
        """Create each projection's first generation; rebuild one whose schema changed."""
        for projection in self.projections:
            try:
                with self.engine.begin() as conn:
                    reg = self.registration(conn, projection.name)
                    if reg is None:
                        projection.bind(1)
                        projection.create_tables(conn)
                        conn.execute(
                            projections_table.insert().values(
                                name=projection.name,
                                generation=1,
                                position=0,
                                schema_version=projection.schema_version,
                            )
                        )
                        continue
            except sqlalchemy.exc.DatabaseError:
                # Another process registered it (or created its tables) at the same moment. On
                # SQLite its tables show before its registration row does (pysqlite commits DDL
                # at once), so give that row a moment to appear.
                reg = self._registration_soon(projection.name)
                if reg is None:
                    raise
            projection.bind(reg.generation)
            if rebuild_changed and reg.schema_version != projection.schema_version:
                try:
                    self.rebuild(projection)
                except ConcurrentProjectionError:
                    with self.engine.connect() as conn:
                        reg = self.registration(conn, projection.name)
                    assert reg is not None
                    projection.bind(reg.generation)

    def _registration_soon(self, name: str, seconds: float = 10.0) -> Registration | None:
        deadline = time.monotonic() + seconds
        while True:
            with self.engine.connect() as conn:
                reg = self.registration(conn, name)
            if reg is not None or time.monotonic() > deadline:
                return reg
            time.sleep(0.05)

    def positions(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                p.name: reg.position
                for p in self.projections
                if (reg := self.registration(conn, p.name)) is not None
            }

    # -- reading ----------------------------------------------------------------------------

    def read(
        self,
        after: int,
        limit: int,
        upto: int | None = None,
        fields: frozenset[str] | None = None,
    ) -> list[Any]:
        """(notification id, decoded event) pairs after `after`, in order (see `reader`)."""
        return self.reader.read(after, limit, upto, fields)

    def read_live(self, after: int, upto: int) -> list[Any]:
        """The next of `run_once`'s batches: the events after `after` (up to `upto`), at most
        `live_batch_size` of them, and only as far as they stay on `live_batch_aggregates`
        aggregates.

        A projection writes about a row per aggregate a batch touches, however many of its
        events the batch holds, and the API's commands wait behind those writes: so the
        aggregates bound a batch, not its events. Many events on few aggregates (a project's
        arrivals recorded in a stream) go in one batch, each document decoded and encoded once
        for all of them, instead of once for every few events; the runner then keeps up where
        it fell further behind with every batch. But a row's write grows with its document
        (a project's arrivals), so the bound is `live_batch_fitting`: fewer aggregates where
        the last batch's turns took longer than `live_turn_seconds`. Read in steps, so a batch
        cut short decodes few events it leaves for the next."""
        bound = self.live_batch_fitting
        batch: list[Any] = []
        aggregates: set[Any] = set()
        while len(batch) < self.live_batch_size:
            # At least 50 a read: a bound of a few aggregates with many events on each would
            # otherwise take a query for every few events.
            step = min(max(bound, 50), self.live_batch_size - len(batch))
            chunk = self.read(batch[-1][0] if batch else after, step, upto=upto)
            for index, (_, event) in enumerate(chunk):
                aggregates.add(event.originator_id)
                if len(aggregates) > bound:
                    return batch + chunk[:index]
            batch.extend(chunk)
            if len(chunk) < step:
                break
        return batch

    def _fit_live_batch(self, batch: Sequence[tuple[int, Any]], longest_write: float) -> None:
        """The next live batch's bound on aggregates, from this one's: as many as its longest
        projection write (`longest_write` seconds) would have written in `live_turn_seconds`,
        at most the setting. Only where commands wait behind those writes: on PostgreSQL (no
        write gate) the runner's rows block no command's insert, and the bound stays."""
        if self.write_gate is None or longest_write <= 0:
            return
        touched = len({event.originator_id for _, event in batch})
        fitting = int(touched * self.live_turn_seconds / longest_write)
        self.live_batch_fitting = max(1, min(self.live_batch_aggregates, fitting))

    # -- applying ---------------------------------------------------------------------------

    def apply_batch(
        self,
        batch: Sequence[tuple[int, Any]],
        projections: Sequence[Projection],
        after: int | None = None,
    ) -> float:
        """Apply a batch to the projections behind it; each projection's rows with its position.
        `after`: the position the batch was read from (it holds no event at or before it).
        Answers how long the longest projection's write held the writer, in seconds.

        The events are folded first, in a read-only transaction (the rows they change are
        loaded, the handlers run); only then are each projection's rows and position written,
        in a short write-only transaction of its own. So the database's writer (SQLite has one,
        which the API's commands need too) is held for one projection's writes at a time, never
        while handlers run. The guarded position update still makes the batch take effect
        exactly once for each projection: a runner that lost the race rolls that projection's
        writes back, and a projection left behind by a failure is simply behind (the next
        batch starts from the lowest position and skips what each projection has)."""
        last = batch[-1][0]
        folded: list[tuple[Projection, Registration]] = []
        try:
            with self.engine.connect() as conn:
                for projection in projections:
                    reg = self.registration(conn, projection.name)
                    assert reg is not None
                    if reg.generation != projection.generation:
                        projection.bind(reg.generation)  # a rebuild elsewhere switched it
                    if after is not None and reg.position < after:
                        # Switched since the positions were read, to a generation that stands
                        # before this batch (a rebuild may switch behind the head): the events
                        # between are not in it. Read the positions again.
                        raise ConcurrentProjectionError(projection.name)
                    events = [e for (n, e) in batch if n > reg.position]
                    if not events:
                        continue
                    folded.append((projection, reg))
                    projection.kept.begin(reg.generation, reg.position)
                    projection.begin_batch(conn, events)
                    for domain_event in events:
                        handler = projection.handler_for(type(domain_event))
                        if handler is not None:
                            handler(domain_event)
                # Rows built (documents encoded, stored counters read) before the writer is
                # taken: the write transaction below only runs the statements.
                deferred: dict[str, DeferredWrites] = {}
                for projection, _ in folded:
                    if projection.flush_deferrable:
                        deferred[projection.name] = DeferredWrites(conn)
                        projection.flush(deferred[projection.name])  # type: ignore[arg-type]
            # One short transaction per projection (its rows with its position): the writer
            # is let go between them, so an API command waits for one projection's rows at
            # most, never for the whole batch's.
            longest_write = 0.0
            for projection, reg in folded:
                with self._write_turn():
                    began = time.monotonic()
                    self._write_rows(projection, reg, deferred.get(projection.name), last)
                    projection.kept.settle(reg.generation, last)
                    longest_write = max(longest_write, time.monotonic() - began)
        except BaseException:
            for projection, _ in folded:
                projection.reset()
            raise
        return longest_write

    def _write_rows(
        self,
        projection: Projection,
        reg: Registration,
        deferred: DeferredWrites | None,
        last: int,
    ) -> None:
        """A projection's rows and its position `last`, in a transaction of their own (the
        caller holds the writer)."""
        with self.engine.begin() as conn:
            if deferred is not None:
                deferred.run(conn)
            else:
                projection.flush(conn)
            result = conn.execute(
                projections_table.update()
                .where(projections_table.c.name == projection.name)
                .where(projections_table.c.generation == reg.generation)
                .where(projections_table.c.position == reg.position)
                .values(position=last)
            )
            if result.rowcount != 1:
                # Someone else applied these events first: undo ours.
                raise ConcurrentProjectionError(projection.name)

    def _write_turn(self) -> contextlib.AbstractContextManager[None]:
        """SQLite's writer, taken after every command waiting for it (`adapters.lock`)."""
        return (
            self.write_gate.yielding() if self.write_gate is not None else contextlib.nullcontext()
        )

    def stopped(self) -> set[str]:
        """The names of this runner's projections stopped on an event (`projections.faults`)."""
        with self.engine.connect() as conn:
            return set(faults(conn)) & {p.name for p in self.projections}

    def run_once(self) -> int:
        """Apply every event recorded so far to every projection not stopped; answer how many
        events were applied.

        Only those recorded before the call: events recorded meanwhile wait for the next call
        (the next poll), so that under a stream of writes the runner applies larger batches
        a poll apart instead of chasing each new event in a batch of its own — each batch costs
        its queries and write transactions whatever its size, and took SQLite's writer from
        the API's commands several times a second more."""
        # Folding allocates a few objects an event, and the documents a batch loads stay alive
        # through it: the collector runs less often (a full collection walked them all, up to
        # 450 ms, tens of times a minute under steady writes).
        with self._passes, fewer_collections():
            return self._run_once()

    def _run_once(self) -> int:
        head = self.ledger.recorder.max_notification_id() or 0
        applied = 0
        collisions = 0
        while True:
            positions = self.positions()
            stopped = self.stopped()
            running = [p for p in self.projections if p.name not in stopped]
            start = min((positions.get(p.name, 0) for p in running), default=0)
            batch = self.read_live(start, upto=head) if running else []
            if not batch:
                return applied
            behind = [p for p in running if positions.get(p.name, 0) < batch[-1][0]]
            try:
                longest_write = self.apply_batch(batch, behind, after=start)
            except (ConcurrentProjectionError, *CONCURRENCY_ERRORS):
                # Another runner got there first (on PostgreSQL its rows can collide with ours,
                # or deadlock with them, before the guarded position update does); our
                # transaction rolled back: re-read the positions and go on.
                for projection in behind:
                    projection.reset()
                collisions += 1
                if collisions > 3 and self.positions() == positions:
                    raise
                continue
            except Exception:
                # Some projection cannot apply some event of the batch: find which, apply each
                # projection alone, and stop the failing one just before its event.
                for projection in behind:
                    projection.reset()
                self._isolate(batch, behind, start)
                continue
            collisions = 0
            applied += len(batch)
            self._fit_live_batch(batch, longest_write)

    def _isolate(
        self, batch: Sequence[tuple[int, Any]], projections: Sequence[Projection], after: int
    ) -> None:
        for projection in projections:
            try:
                self.apply_batch(batch, [projection], after)
            except (ConcurrentProjectionError, *CONCURRENCY_ERRORS):
                projection.reset()
                raise
            except Exception:
                projection.reset()
                self._stop_at_failing_event(batch, projection, after)

    def _stop_at_failing_event(
        self, batch: Sequence[tuple[int, Any]], projection: Projection, after: int
    ) -> None:
        """Apply the batch's events one at a time up to the one that fails, and stop there."""
        for notification_id, event in batch:
            try:
                self.apply_batch([(notification_id, event)], [projection], after)
            except (ConcurrentProjectionError, *CONCURRENCY_ERRORS):
                projection.reset()
                raise
            except Exception as error:
                projection.reset()
                with self.engine.begin() as conn:
                    fault = record_fault(conn, projection.name, notification_id, event, error)
                log.error(
                    "projection %s stopped: it cannot apply %s of stream %s version %s "
                    "(notification %s); the other projections go on",
                    fault.name,
                    fault.event_type,
                    fault.stream_id,
                    fault.version,
                    fault.notification_id,
                    exc_info=error,
                )
                return

    # -- background -------------------------------------------------------------------------

    def start(self, interval: float = 0.2) -> None:
        """Poll the log in a thread (SQLite has no LISTEN/NOTIFY; polling works on both)."""

        def loop() -> None:
            # The runner folds in pure Python, holding the GIL; a request thread that released
            # it for I/O waits up to the switch interval (5 ms by default) to get it back, many
            # times a request. A shorter interval keeps the API's latency while a burst or a
            # catch-up is being projected in the same process.
            sys.setswitchinterval(min(sys.getswitchinterval(), RUNNER_SWITCH_INTERVAL))
            while not self._stop.is_set():
                try:
                    self.run_once()
                    self.last_error = None
                except Exception as error:  # keep serving; the next poll retries the batch
                    if repr(error) != repr(self.last_error):  # loudly, once per new error
                        log.error("projection runner: %s; retrying", error, exc_info=error)
                    self.last_error = error
                self._stop.wait(interval)

        # A new runner (perhaps with fixed code) tries the stopped projections again.
        with self.engine.begin() as conn:
            clear_faults(conn, [p.name for p in self.projections])
        self._stop.clear()
        self._thread = threading.Thread(target=loop, name="projection-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    # -- rebuild ----------------------------------------------------------------------------

    def rebuild(
        self,
        projection: Projection,
        progress: Callable[[int, int], None] | None = None,
        chunk: int = 5_000,
    ) -> int:
        """Rebuild one projection (see `rebuild_many`)."""
        return self.rebuild_many([projection], progress, chunk)

    def rebuild_many(
        self,
        projections: Sequence[Projection],
        progress: Callable[[int, int], None] | None = None,
        chunk: int = 5_000,
    ) -> int:
        """Fold every event into new generations in memory — one reader feeding every
        projection named — write them in bulk, catch them up, and switch to them atomically;
        the old generations serve reads until the switch. Answers the events read."""
        old_generations = {}
        builders = []
        with self.engine.connect() as conn:
            for projection in projections:
                reg = self.registration(conn, projection.name)
                assert reg is not None
                old_generations[projection.name] = reg.generation
                builder = type(projection)()
                builder.bind(_next_generation(reg.generation))
                builders.append(builder)
        with self.engine.begin() as conn:
            for builder in builders:
                builder.drop_tables(conn, builder.generation)
                builder.create_tables(conn)
                builder.bulk = True
        head = self.ledger.recorder.max_notification_id() or 0
        position = 0
        done = 0
        for builder in builders:
            builder.share_fold(builders)
        dispatch = _dispatcher(builders)
        fields = fields_read(builders)
        with fewer_collections():  # the folded rows stay alive: see `fewer_collections`
            while position < head:
                batch = self.read(position, chunk, upto=head, fields=fields)
                if not batch:
                    break
                for notification_id, domain_event in batch:
                    for handler in dispatch(type(domain_event)):
                        try:
                            handler(domain_event)
                        except Exception as error:
                            raise ProjectionEventError(notification_id, domain_event) from error
                position = batch[-1][0]
                done += len(batch)
                if progress:
                    progress(done, head)
        # The bulk writes build millions of row values with the folded state still alive: the
        # collector is held back while they do, as while folding. The new tables serve nothing
        # until the switch below, so their rows need not commit together: they go in
        # transactions of a moment each, taking turns with the API's commands (`_write_turn`),
        # and SQLite's one writer is let go between them.
        with fewer_collections():
            # Every builder flushes before any forgets its state: some share what they folded.
            for builder in builders:
                with TurnTakingConnection(self.engine, self._write_turn) as conn:
                    builder.flush(conn)  # type: ignore[arg-type]
            for builder in builders:
                builder.reset()
                builder.unshare_fold()
                builder.bulk = False
        # Catch the new generations up with events recorded meanwhile, then switch them all.
        # Commands may go on recording as fast as a round applies (the rebuild runs at a lower
        # priority): the catch-up ends once a round finds less than a batch, or leaves no fewer
        # events behind than the round before; the runner serving the projections applies the
        # rest after the switch (it rebinds to the new generation at its position).
        left: int | None = None
        while True:
            batch = self.read(position, self.batch_size)
            if batch:
                # Folded, and the rows built, before the writer is taken (as `apply_batch`).
                deferred: list[tuple[Projection, DeferredWrites | None]] = []
                with self.engine.connect() as conn:
                    for builder in builders:
                        builder.begin_batch(conn, [e for _, e in batch])
                        for _, domain_event in batch:
                            apply = builder.handler_for(type(domain_event))
                            if apply is not None:
                                apply(domain_event)
                        kept = DeferredWrites(conn) if builder.flush_deferrable else None
                        if kept is not None:
                            builder.flush(kept)  # type: ignore[arg-type]
                        deferred.append((builder, kept))
                # The new tables serve nothing until the switch: as in the bulk flush, each
                # statement takes a turn of its own, and what a flush that cannot be deferred
                # (the search's) computes between two of them holds no one up.
                with TurnTakingConnection(self.engine, self._write_turn) as writer:
                    for builder, kept in deferred:
                        if kept is not None:
                            kept.run(writer)  # type: ignore[arg-type]
                        else:
                            builder.flush(writer)  # type: ignore[arg-type]
                        builder.reset()
                position = batch[-1][0]
                behind = (self.ledger.recorder.max_notification_id() or 0) - position
                if len(batch) == self.batch_size and (left is None or behind < left):
                    left = behind
                    continue
            with self._write_turn(), self.engine.begin() as conn:
                for projection, builder in zip(projections, builders, strict=True):
                    result = conn.execute(
                        projections_table.update()
                        .where(projections_table.c.name == projection.name)
                        .where(projections_table.c.generation == old_generations[projection.name])
                        .values(
                            generation=builder.generation,
                            position=position,
                            schema_version=builder.schema_version,
                        )
                    )
                    if result.rowcount != 1:
                        raise ConcurrentProjectionError(projection.name)
                clear_faults(conn, [p.name for p in projections])
                break
        for projection, builder in zip(projections, builders, strict=True):
            projection.reset()
            projection.bind(builder.generation)
        # Switched: the old generations serve nothing now. Each of their tables is dropped in
        # a turn of its own, after the switch: dropping a large SQLite table frees every page
        # it holds (at province scale the old tables together held the writer 1.8–4 s when
        # they were dropped in the switch's transaction).
        with TurnTakingConnection(self.engine, self._write_turn) as conn:
            for projection in projections:
                projection.drop_tables(conn, old_generations[projection.name])  # type: ignore[arg-type]
        return done


def _dispatcher(builders: Sequence[Projection]) -> Callable[[type], list[Handler]]:
    """Event class → the handlers of every builder for it (looked up once per class)."""
    cache: dict[type, list[Handler]] = {}

    def handlers(event_class: type) -> list[Handler]:
        found = cache.get(event_class)
        if found is None:
            found = [h for b in builders if (h := b.handler_for(event_class)) is not None]
            cache[event_class] = found
        return found

    return handlers


def fields_read(projections: Sequence[Projection]) -> frozenset[str] | None:
    """The event fields any of the projections reads (None: any field, if one says so)."""
    fields: set[str] = set()
    for projection in projections:
        if projection.event_fields is None:
            return None
        fields |= projection.event_fields
    return frozenset(fields)


def _next_generation(generation: int) -> int:
    return generation + 1


class ConcurrentProjectionError(RuntimeError):
    """Another runner advanced the projection first; this batch was rolled back."""


class ProjectionEventError(RuntimeError):
    """A rebuild met an event it cannot apply; nothing was switched."""

    def __init__(self, notification_id: int, event: Any) -> None:
        super().__init__(
            f"cannot apply {type(event).__qualname__} of stream {event.originator_id} "
            f"version {event.originator_version} (notification {notification_id})"
        )


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """A plain INSERT of many rows (every row with the same keys).

    On SQLite the rows go straight to the driver's `executemany` as tuples, each value through
    its column's bind processing: SQLAlchemy's per-row parameter handling took about a tenth
    of a rebuild. On PostgreSQL SQLAlchemy batches an INSERT of many rows itself."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(table.insert(), list(rows))
        return
    names = list(rows[0])
    values = operator.itemgetter(*names)
    if len(names) == 1:
        insert_values(conn, table, names, [(row[names[0]],) for row in rows])
    else:
        insert_values(conn, table, names, [values(row) for row in rows])


def insert_values(
    conn: Connection, table: Table, names: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """A plain INSERT of many rows given as tuples of the columns `names` (see
    `insert_rows`)."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in rows])
        return
    preparer = conn.dialect.identifier_preparer
    statement = (
        f"INSERT INTO {preparer.format_table(table)} "
        f"({', '.join(preparer.quote(name) for name in names)}) "
        f"VALUES ({', '.join('?' for _ in names)})"
    )
    processors = [table.c[name].type.bind_processor(conn.dialect) for name in names]
    parameters = rows
    if any(processors):
        parameters = _bind_converter(processors)(rows)
    # In statements of a bounded size: a rebuild's turn-taking connection lets the writer go
    # between two of them (`TurnTakingConnection`), so no statement holds it for long.
    for start in range(0, len(parameters), BULK_STATEMENT_ROWS):
        conn.exec_driver_sql(statement, parameters[start : start + BULK_STATEMENT_ROWS])


def _bind_converter(
    processors: Sequence[Callable[[Any], Any] | None],
) -> Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]]:
    """The rows with each value through its column's bind processor (None: as it is), as one
    comprehension over positions: a rebuild converts millions of rows this way."""
    values = ", ".join(
        f"p{index}(row[{index}])" if processor is not None else f"row[{index}]"
        for index, processor in enumerate(processors)
    )
    scope: dict[str, Any] = {
        f"p{index}": processor for index, processor in enumerate(processors) if processor
    }
    exec(f"def convert(rows):\n    return [({values},) for row in rows]\n", scope)
    convert: Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]] = scope["convert"]
    return convert


def _json_escapes(error: UnicodeError) -> tuple[str, int]:
    """The `\\uXXXX` escapes `json.dumps` writes for characters beyond ASCII (a surrogate pair
    for one beyond the basic plane)."""
    assert isinstance(error, UnicodeEncodeError)
    escapes = []
    for character in error.object[error.start : error.end]:
        code = ord(character)
        if code > 0xFFFF:
            code -= 0x10000
            escapes.append(f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}")
        else:
            escapes.append(f"\\u{code:04x}")
    return "".join(escapes), error.end


codecs.register_error("zhaoshang_json_escapes", _json_escapes)
ASCII_DOCUMENT_ENCODER = msgspec.json.Encoder()


def ascii_document_text(doc: Any) -> str:
    """A document as `json.dumps(doc, separators=(",", ":"))` writes it, to the character
    (ASCII; so rows written before and after compare equal in `verify --read-models`), encoded
    in C: about a sixth of the runner's time went to the json module's encoder."""
    text = ASCII_DOCUMENT_ENCODER.encode(doc).decode()
    if text.isascii() and "\x7f" not in text:
        return text
    # Only inside strings; the json module escapes DEL too, though it is ASCII.
    escaped = text.encode("ascii", "zhaoshang_json_escapes").decode()
    return escaped.replace("\x7f", "\\u007f")


def decode_doc(text: str) -> dict[str, Any]:
    """A read model's JSON document: msgspec's decoder (several times the json module's rate
    on the ledger's documents, same values), the json module for what msgspec refuses."""
    try:
        doc: dict[str, Any] = msgspec.json.decode(text)
    except msgspec.MsgspecError:
        doc = json.loads(text)
    return doc


def touched(events: Iterable[Any]) -> set[str]:
    return {str(e.originator_id) for e in events}


def load_docs(
    conn: Connection, table: Table, events: Sequence[Any], kept: Collection[str] = ()
) -> dict[str, Any]:
    """The JSON `doc` of every row of `table` (keyed by `project_id`) that the events touch,
    but those of `kept`."""
    ids = sorted(touched(events).difference(kept))
    docs: dict[str, Any] = {}
    for part in chunked(ids, 500):
        query = select(table.c.project_id, table.c.doc).where(table.c.project_id.in_(part))
        for project_id, doc in conn.execute(query):
            docs[project_id] = decode_doc(doc)
    return docs


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
