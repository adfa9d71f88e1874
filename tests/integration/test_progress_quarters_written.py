"""The progress projection writes a batch's changed quarter rows only (issue 23): a date
moved to another quarter, an arrival voided, a withdrawal — the rows a batch leaves behind
equal a rebuild's, on SQLite and PostgreSQL."""

from __future__ import annotations

from domain.application import Ledger
from projections.progress import ProgressProjection
from projections.runtime import ProjectionRunner
from projections.snapshot import table_contents
from tests import factories
from tests.conftest import OFFICER


def test_changed_quarters_only_and_the_same_rows_as_a_rebuild(ledger: Ledger) -> None:
    ctx = ledger.context(OFFICER)
    project = factories.signed_project(ledger, signed_on="2023-01-10")
    runner = ProjectionRunner(ledger, [ProgressProjection()], batch_size=1)
    runner.run_once()
    (progress,) = runner.projections

    def quarters() -> list[str]:
        # Rows as tuples in column order: project_id, quarter, …
        rows = table_contents(runner.engine, progress)["quarters"]
        return sorted(row[1] for row in rows if row[0] == str(project))

    before = quarters()
    arrival, _ = ledger.record_funds_arrival(
        ctx, project, occurred_on="2023-05-10", amount="30000000.00", currency="CNY"
    )
    runner.run_once()
    assert "2023Q2" in quarters()
    ledger.correct_funds_arrival(
        ctx,
        project,
        arrival,
        occurred_on="2023-06-01",
        amount="30000000.00",
        currency="CNY",
        reason="到账日期录错",
        arrived_on="2024-02-01",
    )
    ledger.record_visit(ctx, project, occurred_on="2024-08-01")
    runner.run_once()
    assert "2024Q1" in quarters() and "2024Q3" in quarters()
    ledger.void_funds_arrival(ctx, project, arrival, occurred_on="2024-09-01", reason="重复录入")
    runner.run_once()
    incremental = table_contents(runner.engine, progress)
    runner.rebuild(progress)
    assert table_contents(runner.engine, progress) == incremental
    assert set(before) <= set(quarters())
