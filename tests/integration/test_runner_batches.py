"""The runner follows the log in batches of at most `projection_batch_events` events on at most
`projection_batch_aggregates` aggregates (issue 23: a batch's writes, about a row per aggregate,
are what an API command can wait behind), on SQLite and PostgreSQL; a rebuild keeps its own,
larger batches (`batch_size`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, MetaData, Table

from domain.application import Ledger
from domain.project import Project
from projections.ledger import LedgerProjection
from projections.queries import ReadModels
from projections.runtime import Handler, Projection, ProjectionRunner, engine_of
from services import bootstrap
from services.settings import Settings
from tests import factories
from tests.conftest import OFFICER


class Batches(Projection):
    """Remembers the size of every batch it is given."""

    name = "batches"

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def define_tables(self, metadata: MetaData, generation: int) -> dict[str, Table]:
        return {}

    def handlers(self) -> dict[type, Handler]:
        return {}

    def begin_batch(self, conn: Connection, events: Sequence[Any]) -> None:
        self.sizes.append(len(events))


def _events(ledger: Ledger, visits: int) -> int:
    association = factories.association(ledger, "北京湖南商会")
    project_id = factories.project(ledger, association)
    project: Project = ledger.repository.get(project_id)  # a copy, to change
    for _ in range(visits):
        project.record_visit(ledger.context(OFFICER), "2023-01-10")
    ledger.save_or_conflict(project)
    return int(ledger.recorder.max_notification_id() or 0)


def test_the_runner_follows_the_log_in_batches_of_at_most_the_setting(ledger: Ledger) -> None:
    head = _events(ledger, 10)  # 12 events: the association, the referral, 10 visits
    batches = Batches()
    runner = ProjectionRunner(ledger, [LedgerProjection(), batches], live_batch_size=5)
    assert runner.run_once() == head
    assert batches.sizes == [5, 5, head - 10]
    assert runner.positions() == {"ledger": head, "batches": head}
    row = ReadModels(engine_of(ledger)).ledger_page(size=10).items[0]
    assert row["visits"] == 10


def _projects(ledger: Ledger, projects: int, visits: int) -> None:
    """`projects` referrals, then `visits` visits on each, project after project."""
    association = factories.association(ledger, "北京湖南商会")
    ids = [factories.project(ledger, association) for _ in range(projects)]
    for project_id in ids:
        project: Project = ledger.repository.get(project_id)
        for _ in range(visits):
            project.record_visit(ledger.context(OFFICER), "2023-01-10")
        ledger.save_or_conflict(project)


def test_a_batch_ends_before_an_aggregate_beyond_the_setting(ledger: Ledger) -> None:
    # 1 association + 4 referrals, then 4 × 6 visits: 29 events on 5 aggregates.
    _projects(ledger, 4, 6)
    head = int(ledger.recorder.max_notification_id() or 0)
    batches = Batches()
    runner = ProjectionRunner(
        ledger, [LedgerProjection(), batches], live_batch_size=1000, live_batch_aggregates=3
    )
    runner.live_turn_seconds = 60.0  # no write here is slow enough to shrink a batch
    assert runner.run_once() == head == 29
    # In the log: the association, the four referrals, then each project's six visits. The
    # first batch stops before the third referral (a fourth aggregate), the second before the
    # second project's visits; the third holds the last three projects' visits.
    assert batches.sizes == [3, 2 + 6, 6 * 3]
    rows = ReadModels(engine_of(ledger)).ledger_page(size=10).items
    assert sorted(r["visits"] for r in rows) == [6, 6, 6, 6]


def test_events_on_few_aggregates_go_in_one_batch_up_to_the_events_bound(ledger: Ledger) -> None:
    head = _events(ledger, 40)  # 42 events on 2 aggregates
    batches = Batches()
    runner = ProjectionRunner(
        ledger, [LedgerProjection(), batches], live_batch_size=30, live_batch_aggregates=2
    )
    assert runner.run_once() == head
    assert batches.sizes == [30, head - 30]


class SlowWrites(Batches):
    """Holds the writer 10 ms for every aggregate of its batch, as rows of large documents do."""

    name = "slow_writes"
    flush_deferrable = False  # its flush runs in the write transaction, where it is timed

    def begin_batch(self, conn: Connection, events: Sequence[Any]) -> None:
        super().begin_batch(conn, events)
        self.aggregates = len({event.originator_id for event in events})

    def flush(self, conn: Connection) -> None:
        time.sleep(0.01 * self.aggregates)


def test_a_batch_whose_writes_held_the_writer_long_makes_the_next_smaller(ledger: Ledger) -> None:
    # The association, ten referrals, then one visit on each project: 21 events.
    _projects(ledger, 10, 1)
    head = int(ledger.recorder.max_notification_id() or 0)
    slow = SlowWrites()
    runner = ProjectionRunner(ledger, [slow], live_batch_size=1000, live_batch_aggregates=4)
    runner.live_turn_seconds = 0.02
    assert runner.run_once() == head == 21
    if runner.write_gate is None:  # PostgreSQL: no command waits behind the runner's rows
        assert slow.sizes[:2] == [4, 4]
        assert runner.live_batch_fitting == 4
        return
    # 4 aggregates took 40 ms to write: the next batches hold one aggregate each (10 ms).
    assert slow.sizes == [4] + [1] * 17
    assert runner.live_batch_fitting == 1


def test_batches_whose_writes_were_quick_stay_at_the_setting(ledger: Ledger) -> None:
    _projects(ledger, 10, 1)
    batches = Batches()
    runner = ProjectionRunner(ledger, [batches], live_batch_size=1000, live_batch_aggregates=4)
    runner.live_turn_seconds = 60.0
    runner.run_once()
    assert runner.live_batch_fitting == 4
    assert batches.sizes[:2] == [4, 4]


def test_the_settings_reach_the_runner(database_url: str) -> None:
    services = bootstrap.Services(
        Settings(
            database_url=database_url, projection_batch_events=7, projection_batch_aggregates=3
        )
    )
    try:
        assert services.runner.live_batch_size == 7
        assert services.runner.live_batch_aggregates == 3
        assert services.runner.batch_size == 2000
    finally:
        services.close()
