"""An old generation's SQLite tables are emptied in short statements before they are dropped
(`projections.runtime.empty_in_steps`), so that a rebuild's `TurnTakingConnection` lets the
writer go between them; dropping a large table frees every page it holds in one statement.
(PostgreSQL drops a table by unlinking its files: it is dropped as it is.)"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from projections import runtime
from projections.runtime import TurnTakingConnection, empty_in_steps


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'steps.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE plain (id INTEGER PRIMARY KEY, doc TEXT)")
        conn.exec_driver_sql(
            "CREATE TABLE keyed (gram TEXT, number INTEGER, PRIMARY KEY (gram, number))"
            " WITHOUT ROWID"
        )
        conn.exec_driver_sql("CREATE TABLE removals (id INTEGER)")
        conn.exec_driver_sql(
            "CREATE TRIGGER plain_ad AFTER DELETE ON plain"
            " BEGIN INSERT INTO removals VALUES (old.id); END"
        )
        conn.exec_driver_sql("CREATE VIRTUAL TABLE found USING fts5(haystack)")
        numbers = "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 1000)"
        conn.exec_driver_sql(f"{numbers} INSERT INTO plain SELECT v, printf('%0500d', v) FROM n")
        conn.exec_driver_sql(f"{numbers} INSERT INTO keyed SELECT 'g' || (v % 7), v FROM n")
        conn.exec_driver_sql("INSERT INTO found (haystack) VALUES ('湖南 长沙')")
    yield engine
    engine.dispose()


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_table_is_emptied_in_many_short_turns_its_triggers_dropped_first(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "EMPTYING_STEP_SECONDS", 0.0)  # the smallest steps: 100 rows
    turns: list[str] = []

    @contextlib.contextmanager
    def turn() -> Iterator[None]:
        turns.append("taken")
        yield

    with TurnTakingConnection(engine, turn) as conn:
        empty_in_steps(conn, "plain")  # type: ignore[arg-type]
        empty_in_steps(conn, "keyed")  # type: ignore[arg-type]
    assert _count(engine, "plain") == 0
    assert _count(engine, "keyed") == 0
    # The trigger would have recorded each deletion (a search index's trigger indexes them).
    assert _count(engine, "removals") == 0
    # Steps of 500 rows, then of 100 (the least), and the one that finds none: 7 turns a table
    # for its deletions alone.
    assert len(turns) >= 2 * 7


def test_a_virtual_table_or_none_at_all_is_left_to_the_drop(engine: Engine) -> None:
    with engine.begin() as conn:
        empty_in_steps(conn, "found")
        empty_in_steps(conn, "absent")
    assert _count(engine, "found") == 1


def test_the_steps_grow_with_the_time_in_the_turn_not_the_wait_for_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each turn here is had after 50 ms of waiting (as behind commands that keep writing):
    counted in, that wait made the rate look 10,000 rows/s and every step 200 rows."""
    monkeypatch.setattr(runtime, "EMPTYING_STEP_SECONDS", 0.02)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE many (id INTEGER PRIMARY KEY, doc TEXT)")
        conn.exec_driver_sql(
            "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 20000)"
            " INSERT INTO many SELECT v, printf('%020d', v) FROM n"
        )
    given: list[float] = []  # when each turn was had, its wait over

    @contextlib.contextmanager
    def turn() -> Iterator[None]:
        time.sleep(0.05)
        given.append(time.monotonic())
        yield

    with TurnTakingConnection(engine, turn) as conn:
        empty_in_steps(conn, "many")  # type: ignore[arg-type]
        # The last statement's time from its turn had, its 50 ms of waiting left out.
        assert 0 < conn.held_seconds <= time.monotonic() - given[-1]
    assert _count(engine, "many") == 0
    # Two reads of the schema, then steps doubling from 500 rows: 20,000 rows in 6 of them
    # where the machine deletes 8,000 in 20 ms, in more where it is slower; with the wait
    # counted in, a hundred steps of 200 rows.
    assert len(given) <= 40
