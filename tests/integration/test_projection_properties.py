"""Property: applying events one at a time and rebuilding from zero give identical tables."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.database import open_ledger
from domain.application import Ledger
from projections.catalogue import all_projections
from projections.runtime import ProjectionRunner
from projections.snapshot import table_contents
from tests import factories
from tests.conftest import fresh_postgres_database
from tests.unit.test_replay_properties import COMMANDS, _run


@contextlib.contextmanager
def fresh_database(kind: str, tmp_path: Path, n: int) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / f'property-{n}.db'}"
    else:
        yield from fresh_postgres_database()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_one_by_one_equals_rebuild(kind: str, tmp_path: Path) -> None:
    examples = iter(range(10_000))

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(commands=COMMANDS, joint=st.booleans())
    def check(commands: list[tuple[str, int, Any]], joint: bool) -> None:
        with fresh_database(kind, tmp_path, next(examples)) as url:
            ledger: Ledger = open_ledger(url, clock=lambda: datetime(2025, 3, 1, tzinfo=UTC))
            try:
                runner = ProjectionRunner(ledger, all_projections(), batch_size=1)
                associations = [
                    factories.association(ledger),
                    factories.association(ledger, "新加坡湖南商会"),
                ]
                project_id = factories.project(
                    ledger, *(associations if joint else associations[:1])
                )
                for command, offset, amount in commands:
                    _run(ledger, project_id, command, offset, amount)
                    runner.run_once()  # one event per batch, interleaved with the writes
                runner.run_once()
                one_by_one = {p.name: table_contents(runner.engine, p) for p in runner.projections}
                for projection in runner.projections:
                    runner.rebuild(projection)
                    assert table_contents(runner.engine, projection) == one_by_one[projection.name]
            finally:
                ledger.close()

    check()
