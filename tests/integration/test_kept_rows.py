"""The live runner's kept rows (`projections.runtime.KeptRows`), on SQLite and PostgreSQL: a
project written again is taken from what the last batch wrote, not read back; another
runner's batch in between or a failed write means reading the rows back; and the read models
stay what a fresh fold of the log makes them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event

from domain.application import Ledger
from projections.consistency import verify_read_models
from projections.queries import ReadModels
from projections.runtime import ConcurrentProjectionError, ProjectionRunner
from services.bootstrap import Services
from tests import factories
from tests.conftest import OFFICER, services_for

# Each projection that keeps rows, and its table of stored documents.
DOCUMENT_TABLES = {
    "ledger": "projects",
    "progress": "projects",
    "figures": "projects",
    "rewards": "facts",
}


@contextmanager
def documents_read(engine: Engine, runner: ProjectionRunner) -> Iterator[list[str]]:
    """The names of the projections whose stored documents are read meanwhile."""
    tables = {
        p.name: p.tables[DOCUMENT_TABLES[p.name]].name
        for p in runner.projections
        if p.name in DOCUMENT_TABLES
    }
    read: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        for name, table in tables.items():
            if statement.lstrip().upper().startswith("SELECT") and f"{table}.doc" in statement:
                read.append(name)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield read
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def _visit(ledger: Ledger, project_id: str, day: str = "2023-02-01") -> None:
    ledger.record_visit(ledger.context(OFFICER), project_id, occurred_on=day)


def _funds(ledger: Ledger, project_id: str, amount: str) -> None:
    ledger.record_funds_arrival(
        ledger.context(OFFICER),
        project_id,
        occurred_on="2023-05-01",
        amount=amount,
        currency="CNY",
    )


def _row(services: Services, project_id: str) -> dict[str, Any]:
    row = ReadModels(services.engine).ledger_row(project_id)
    assert row is not None
    return row


@pytest.fixture
def services(ledger: Ledger, database_url: str) -> Services:
    return services_for(ledger, database_url)


def test_a_project_written_again_is_not_read_back(ledger: Ledger, services: Services) -> None:
    project_id = str(factories.signed_project(ledger))
    runner = services.runner
    runner.run_once()
    _funds(ledger, project_id, "30000000.00")
    with documents_read(services.engine, runner) as read:
        runner.run_once()
    assert read == []
    _funds(ledger, project_id, "12000000.00")
    _visit(ledger, project_id)
    with documents_read(services.engine, runner) as read:
        runner.run_once()
    assert read == []
    row = _row(services, project_id)
    assert (row["funds_total_fen"], row["visits"]) == (4_200_000_000, 1)
    report = verify_read_models(runner)
    assert report.ok, report.as_dict()


def test_another_runners_batch_between_means_reading_the_rows_back(
    ledger: Ledger, services: Services, database_url: str
) -> None:
    project_id = str(factories.signed_project(ledger))
    runner = services.runner
    runner.run_once()
    _visit(ledger, project_id)
    other = services_for(ledger, database_url).runner  # as in another process
    assert other is not runner
    other.run_once()
    _visit(ledger, project_id, "2023-03-01")
    with documents_read(services.engine, runner) as read:
        runner.run_once()
    assert sorted(set(read)) == ["figures", "ledger", "progress", "rewards"]
    assert _row(services, project_id)["visits"] == 2
    report = verify_read_models(runner)
    assert report.ok, report.as_dict()


def test_a_failed_write_leaves_no_kept_row_behind(
    ledger: Ledger, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id = str(factories.signed_project(ledger))
    runner = services.runner
    runner.run_once()
    _visit(ledger, project_id)
    write_rows = runner._write_rows
    failures = [1]

    def fails_once(projection: Any, *args: Any) -> None:
        if failures and projection.name == "ledger":
            failures.pop()
            raise ConcurrentProjectionError(projection.name)  # rolled back, retried
        write_rows(projection, *args)

    monkeypatch.setattr(runner, "_write_rows", fails_once)
    with documents_read(services.engine, runner) as read:
        runner.run_once()
    assert not failures
    assert "ledger" in read  # the retry read the row back: the failed batch had changed it
    assert _row(services, project_id)["visits"] == 1
    report = verify_read_models(runner)
    assert report.ok, report.as_dict()
