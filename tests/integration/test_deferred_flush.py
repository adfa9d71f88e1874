"""Writes kept short for SQLite's one writer, on SQLite and PostgreSQL: a projection's flush
outside the writer (`DeferredWrites`) and a rebuild's bulk writes a moment at a time
(`TurnTakingConnection`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import sqlalchemy.exc
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
    text,
)

from adapters.database import normalise_url
from projections.runtime import DeferredWrites, TurnTakingConnection, insert_rows

metadata = MetaData()
counters = Table(
    "t_deferred_counters", metadata, Column("key", String, primary_key=True), Column("n", Integer)
)
documents = Table(
    "t_deferred_documents", metadata, Column("key", String, primary_key=True), Column("doc", String)
)


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(normalise_url(database_url))
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(counters), [{"key": "a", "n": 1}])
    yield engine
    engine.dispose()


def test_reads_run_at_once_and_writes_only_when_run(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as reading:
        deferred = DeferredWrites(reading)
        assert deferred.dialect is reading.dialect
        (stored,) = deferred.execute(select(counters.c.n).where(counters.c.key == "a")).one()
        assert stored == 1
        assert deferred.execute(counters.update().values(n=stored + 1)) is None
        insert_rows(deferred, documents, [{"key": "a", "doc": "{}"}, {"key": "b", "doc": "[]"}])  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert conn.execute(select(counters.c.n)).scalar_one() == 1  # nothing written yet
        assert conn.execute(select(documents)).all() == []
    with engine.begin() as conn:
        deferred.run(conn)
    with engine.connect() as conn:
        assert conn.execute(select(counters.c.n)).scalar_one() == 2
        assert sorted(conn.execute(select(documents.c.key))) == [("a",), ("b",)]


def test_a_read_of_a_table_already_written_is_refused(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as reading:
        deferred = DeferredWrites(reading)
        deferred.execute(select(documents))  # before any write: fine
        deferred.execute(counters.update().values(n=5))
        deferred.execute(select(documents))  # another table: fine
        with pytest.raises(RuntimeError, match="t_deferred_counters"):
            deferred.execute(select(counters))
        with pytest.raises(RuntimeError, match="t_deferred_counters"):
            deferred.execute(text("SELECT n FROM t_deferred_counters"))
        with pytest.raises(RuntimeError, match="only reads"):
            deferred.execute(text("DELETE FROM t_deferred_documents"))
        with pytest.raises(RuntimeError, match="INSERT INTO"):
            deferred.exec_driver_sql("DELETE FROM t_deferred_documents")
        # Driver SQL: a read runs at once, but not of a table already written either.
        read = deferred.exec_driver_sql("SELECT count(*) FROM t_deferred_documents")
        assert read.scalar_one() == 0
        with pytest.raises(RuntimeError, match="t_deferred_counters"):
            deferred.exec_driver_sql("SELECT n FROM t_deferred_counters")
    with engine.connect() as conn:
        assert conn.execute(select(counters.c.n)).scalar_one() == 1


def test_a_rebuilds_bulk_writes_commit_each_statement_in_a_turn_of_its_own(
    engine: Engine,
) -> None:
    turns: list[str] = []

    @contextlib.contextmanager
    def turn() -> Iterator[None]:
        turns.append("taken")
        yield
        turns.append("let go")

    writer = TurnTakingConnection(engine, turn)
    with writer:
        writer.execute(insert(documents), [{"key": "a", "doc": "1"}])
        # Committed as the statement ended: not held while the caller builds its next rows.
        assert turns == ["taken", "let go"]
        with engine.connect() as conn:
            assert sorted(conn.execute(select(documents.c.key))) == [("a",)]
        writer.execute(insert(documents), [{"key": "b", "doc": "2"}])
        found = writer.execute(select(documents.c.key).order_by(documents.c.key))
        # Rows answered: read at once, and the turn let go before the caller goes through them.
        assert turns == ["taken", "let go"] * 3
        writer.execute(insert(documents), [{"key": "c", "doc": "3"}])
        assert list(found) == [("a",), ("b",)]
        writer.exec_driver_sql("INSERT INTO t_deferred_documents (key, doc) VALUES ('d', '4')")
    assert turns == ["taken", "let go"] * 5
    with pytest.raises(sqlalchemy.exc.IntegrityError), writer:
        writer.execute(insert(documents), [{"key": "e", "doc": "5"}])
        writer.execute(insert(documents), [{"key": "a", "doc": "again"}])
    with engine.connect() as conn:  # the failing moment's rows rolled back, earlier ones kept
        keys = sorted(conn.execute(select(documents.c.key)))
    assert keys == [("a",), ("b",), ("c",), ("d",), ("e",)]
