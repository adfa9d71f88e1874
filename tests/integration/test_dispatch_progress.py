"""The per-quarter progress read model (`projections.progress`) draws the same quarterly
dispatches as the ledger documents did (`build_dispatch_from_ledger`, the builder before it),
and the quarterly counters the same figures as the monthly ones: on a generated province, for
every quarter and two follow-up intervals, after a rebuild and after events projected a few at
a time, late (backdated) ones included; on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from adapters.database import open_ledger
from demo.province import generate
from domain.application import Ledger
from domain.periods import quarter_months, quarters_between
from projections.catalogue import all_projections
from projections.consistency import verify_read_models
from projections.dispatch import build_dispatch, build_dispatch_from_ledger
from projections.figures import CITY_TOTAL
from projections.progress import ProgressProjection
from projections.queries import ReadModels
from projections.runtime import ProjectionRunner, engine_of
from tests.conftest import OFFICER

LATER = datetime(2026, 1, 20, 2, 0, tzinfo=UTC)
QUARTERS = quarters_between(date(2022, 1, 1), date(2025, 12, 31))


def assert_same_dispatches(ledger: Ledger) -> int:
    """Every quarter's dispatch, both builders, two intervals: identical. Answers how many
    progress rows were compared (so the comparison is known not to be empty)."""
    read = ReadModels(engine_of(ledger))
    compared = 0
    for quarter in QUARTERS:
        for interval in (180, 45):
            old = build_dispatch_from_ledger(read, quarter, interval)
            new = build_dispatch(read, quarter, interval)
            assert new == old, (quarter, interval)
            compared += len(new["progress"]) + len(new["stalled_signings"])
            compared += len(new["overdue_follow_ups"])
    return compared


def figures_from_months(read: ReadModels, quarter: str) -> dict[str, Any]:
    """The dispatch figures summed from the monthly counters, as before the quarterly ones."""
    year, months = quarter_months(quarter)
    ytd = [f"{year}-{m:02d}" for m in range(1, int(months[-1][5:]) + 1)]
    result: dict[str, Any] = {"quarter": quarter}
    for label, span in (("quarter_figures", months), ("year_to_date", ytd)):
        province: dict[str, int] = {}
        by_city: dict[str, dict[str, int]] = {}
        by_association: dict[str, dict[str, int]] = {}
        by_pair: dict[tuple[str, str], dict[str, int]] = {}
        for row in read._monthly(span):
            if row.association_id == CITY_TOTAL:
                city = by_city.setdefault(row.city, {})
                city[row.metric] = city.get(row.metric, 0) + row.value
                province[row.metric] = province.get(row.metric, 0) + row.value
            else:
                mine = by_association.setdefault(row.association_id, {})
                mine[row.metric] = mine.get(row.metric, 0) + row.value
                if row.city != CITY_TOTAL:
                    pair = by_pair.setdefault((row.association_id, row.city), {})
                    pair[row.metric] = pair.get(row.metric, 0) + row.value
        result[label] = {
            "province": province,
            "by_city": dict(sorted(by_city.items())),
            "by_association": dict(sorted(by_association.items())),
            "by_association_city": [
                {"association_id": a, "city": c, **v} for (a, c), v in sorted(by_pair.items())
            ],
        }
    return result


def assert_quarterly_figures_add_up(ledger: Ledger) -> None:
    """The quarterly counters give the figures the monthly ones do, every quarter."""
    read = ReadModels(engine_of(ledger))
    for quarter in QUARTERS:
        assert read.dispatch_figures(quarter) == figures_from_months(read, quarter), quarter


def late_events(ledger: Ledger, read: ReadModels) -> None:
    """Backdated facts that change closed quarters: funds in 2023, a correction moving an
    arrival to another quarter, a void, an issue closed, a withdrawal and a stall."""
    ctx = ledger.context(OFFICER)
    rows = read.ledger_page(status="active", size=500).items
    signed = [r["project_id"] for r in rows if r["signed_on"] and r["signed_on"] < "2023-06-01"]
    first, second, third = signed[:3]
    arrival, _ = ledger.record_funds_arrival(
        ctx, first, occurred_on="2023-07-15", amount="1234567.89", currency="CNY"
    )
    ledger.correct_funds_arrival(
        ctx,
        first,
        arrival,
        occurred_on="2025-12-30",
        amount="1234567.89",
        currency="CNY",
        reason="入账日期",
        arrived_on="2024-02-02",
    )
    late, _ = ledger.record_funds_arrival(
        ctx, second, occurred_on="2023-08-01", amount="500.00", currency="CNY"
    )
    ledger.void_funds_arrival(ctx, second, late, occurred_on="2025-12-30", reason="重复录入")
    ledger.change_status(ctx, third, occurred_on="2024-05-06", status="withdrawn", reason="撤资")
    ledger.change_status(
        ctx, signed[3], occurred_on="2025-01-02", status="stalled", reason="资金链紧张"
    )
    for issue in read.open_issues()[:3]:
        ledger.update_issue(
            ctx,
            issue["project_id"],
            issue["issue_id"],
            status="closed",
            occurred_on="2025-12-30",
            note="已办结",
        )


class TestDispatchFromTheProgressReadModel:
    def test_same_documents_after_a_rebuild_and_after_late_events(
        self, database_url: str, clock: list[datetime]
    ) -> None:
        clock[0] = LATER
        ledger = open_ledger(database_url, clock=lambda: clock[0])
        try:
            generate(ledger, "small", end=date(2025, 12, 31))
            runner = ProjectionRunner(ledger, all_projections())
            runner.rebuild_many(runner.projections)
            assert assert_same_dispatches(ledger) > 1000
            assert_quarterly_figures_add_up(ledger)

            late_events(ledger, ReadModels(engine_of(ledger)))
            # The late events a few at a time, through the runner's ordinary batches.
            ProjectionRunner(ledger, all_projections(), batch_size=3).run_once()
            assert assert_same_dispatches(ledger) > 1000
            assert_quarterly_figures_add_up(ledger)
            report = verify_read_models(runner)
            progress = next(c for c in report.checks if c.name == "progress")
            assert report.ok and progress.status == "ok", report.as_dict()
        finally:
            ledger.close()

    def test_a_project_stands_as_its_latest_row_says_between_its_quarters(
        self, database_url: str, clock: list[datetime]
    ) -> None:
        clock[0] = LATER
        ledger = open_ledger(database_url, clock=lambda: clock[0])
        try:
            generate(ledger, "tiny", end=date(2025, 12, 31))
            ProjectionRunner(ledger, all_projections(), batch_size=50).run_once()
            read = ReadModels(engine_of(ledger))
            quarters = ProgressProjection()
            quarters.bind(1)
            table = quarters.tables["quarters"]
            with read.engine.connect() as conn:
                rows = conn.execute(table.select().order_by("project_id", "quarter")).all()
            by_project: dict[str, list[str]] = {}
            for row in rows:
                by_project.setdefault(row.project_id, []).append(row.quarter)
                assert row.next_quarter is None or row.next_quarter > row.quarter
            # Each project's rows chain one to the next, the last open-ended.
            for project_id, held in by_project.items():
                nexts = [r.next_quarter for r in rows if r.project_id == project_id]
                assert nexts == [*held[1:], None]
            assert len(by_project) == 40
            assert assert_same_dispatches(ledger) > 0
        finally:
            ledger.close()
