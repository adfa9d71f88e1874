"""The progress and ledger projections write only the rows a batch changed (issue 23): a date
moved to another quarter, an arrival voided, a withdrawal — the rows a batch leaves behind
equal a rebuild's, on SQLite and PostgreSQL."""

from __future__ import annotations

from domain.application import Ledger
from projections.catalogue import all_projections
from projections.ledger import LedgerProjection
from projections.progress import ProgressProjection
from projections.runtime import ProjectionRunner
from projections.snapshot import table_contents
from tests import factories
from tests.conftest import OFFICER, STAFF, services_for


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


def test_the_ledgers_side_rows_rewritten_only_when_changed_equal_a_rebuild(
    ledger: Ledger, database_url: str
) -> None:
    officer_ctx, staff_ctx = ledger.context(OFFICER), ledger.context(STAFF)
    accounts = services_for(ledger, database_url).accounts
    officer, _ = accounts.create("officer-side-rows", "officer", actor=STAFF)
    project = factories.producing_project(ledger, started_on="2023-06-01")
    other = factories.signed_project(ledger, signed_on="2023-02-01")
    runner = ProjectionRunner(ledger, [LedgerProjection()], batch_size=2)
    runner.run_once()
    (projection,) = runner.projections
    arrival, _ = ledger.record_funds_arrival(
        officer_ctx, project, occurred_on="2023-07-10", amount="30000000.00", currency="CNY"
    )
    _, issues = ledger.record_follow_up_visit(
        officer_ctx,
        project,
        occurred_on="2023-08-10",
        operating_status="normal",
        issues=[{"category": "用工", "description": "技工难招"}],
    )
    ledger.assign_officer(staff_ctx, project, officer.id, occurred_on="2023-08-11")
    ledger.record_visit(officer_ctx, other, occurred_on="2023-08-12")  # its side rows unchanged
    runner.run_once()
    sides = table_contents(runner.engine, projection)
    assert [row[0] for row in sides["open_issues"]] == [str(project)]
    assert len(sides["officers"]) == 1
    ledger.update_issue(
        officer_ctx, project, issues[0], status="closed", occurred_on="2023-09-01", note="已办结"
    )
    ledger.void_funds_arrival(
        officer_ctx, project, arrival, occurred_on="2023-09-02", reason="重复录入"
    )
    ledger.assign_officer(
        staff_ctx, project, officer.id, occurred_on="2023-09-03", reason="调岗", remove=True
    )
    runner.run_once()
    incremental = table_contents(runner.engine, projection)
    assert incremental["open_issues"] == [] and incremental["officers"] == []
    assert incremental["years"] == []
    runner.rebuild(projection)
    assert table_contents(runner.engine, projection) == incremental


def test_events_recorded_during_a_rebuild_are_caught_up_before_the_switch(
    ledger: Ledger,
) -> None:
    """The rebuild folds the catch-up batches outside the writer and writes them after
    (`rebuild_many`): what it switches to equals a rebuild of the whole log."""
    ctx = ledger.context(OFFICER)
    projects = [factories.signed_project(ledger, signed_on="2023-02-01") for _ in range(3)]
    runner = ProjectionRunner(ledger, all_projections(), batch_size=2)
    runner.run_once()
    recorded: list[int] = []

    def record_meanwhile(done: int, total: int) -> None:
        if recorded:
            return
        for day, project in zip(("2023-03-01", "2023-04-01", "2023-05-01"), projects, strict=True):
            recorded.append(ledger.record_visit(ctx, project, occurred_on=day))
        ledger.record_funds_arrival(
            ctx, projects[0], occurred_on="2023-06-01", amount="25000000.00", currency="CNY"
        )
        factories.project(ledger, name="重建期间引荐的项目")

    runner.rebuild_many(runner.projections, progress=record_meanwhile, chunk=1)
    assert recorded
    assert runner.run_once() == 0  # caught up before the switch
    caught_up = {p.name: table_contents(runner.engine, p) for p in runner.projections}
    runner.rebuild_many(runner.projections)
    assert {p.name: table_contents(runner.engine, p) for p in runner.projections} == caught_up
