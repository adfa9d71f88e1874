"""The application on a real database: the same tests on an SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from eventsourcing.persistence import StoredEvent

from adapters.database import open_ledger
from domain import errors
from domain.application import Ledger
from domain.integrity import GENESIS, PREV_HASH, stored_event_hash
from domain.project import Project
from projections.integrity import verify_project
from tests import factories
from tests.conftest import OFFICER, STAFF


class TestLedgerOnDatabase:
    def test_a_project_round_trips_with_decimals_and_dates(
        self, ledger: Ledger, database_url: str
    ) -> None:
        project_id = factories.signed_project(ledger)
        ledger.record_funds_arrival(
            ledger.context(OFFICER),
            project_id,
            occurred_on="2023-05-10",
            amount="3000000.00",
            currency="USD",
            rate_to_cny="7.1234",
        )
        reopened = open_ledger(database_url)
        try:
            project = reopened.get_project(project_id)
        finally:
            reopened.close()
        assert project.version == 3
        assert project.funds_total_cny == Decimal("21370200.00")
        assert project.signed_on is not None and project.signed_on.isoformat() == "2023-01-10"
        arrival = next(iter(project.arrivals.values()))
        assert isinstance(arrival.rate_to_cny, Decimal) and arrival.rate_to_cny == Decimal("7.1234")

    def test_concurrent_save_fails_stores_nothing_and_retry_succeeds(self, ledger: Ledger) -> None:
        project_id = factories.project(ledger)
        ctx = ledger.context(OFFICER)
        first = ledger.repository.get(project_id)
        second = ledger.repository.get(project_id)
        assert isinstance(first, Project) and isinstance(second, Project)
        first.record_visit(ctx, "2022-07-01", notes="first")
        second.record_visit(ctx, "2022-07-02", notes="second")
        ledger.save_or_conflict(first)
        with pytest.raises(errors.VersionConflict):
            ledger.save_or_conflict(second)
        history = ledger.history(project_id)
        assert [h.data.get("notes") for h in history] == [None, "first"]
        # Retrying the whole command on the fresh version succeeds.
        assert ledger.record_visit(ctx, project_id, occurred_on="2022-07-02", notes="second") == 3
        # The failed save's hashes were forgotten, so the chain written after it still holds.
        assert verify_project(ledger, project_id)["ok"] is True

    def test_the_application_retries_a_command_that_lost_a_race(self, ledger: Ledger) -> None:
        project_id = factories.project(ledger)
        ctx = ledger.context(OFFICER)
        original_save = ledger.save_or_conflict
        raced = []

        def save_after_a_competitor(*aggregates: object) -> int:
            if not raced:
                raced.append(True)
                competitor = ledger.repository.get(project_id)
                assert isinstance(competitor, Project)
                competitor.record_negotiation(ctx, "2022-07-01", notes="competitor")
                original_save(competitor)
            return original_save(*aggregates)

        ledger.save_or_conflict = save_after_a_competitor  # type: ignore[method-assign]
        version = ledger.record_visit(ctx, project_id, occurred_on="2022-07-02")
        assert version == 3
        assert [h.type for h in ledger.history(project_id)] == [
            "referred",
            "negotiation_recorded",
            "visit_recorded",
        ]

    def test_a_stale_expected_version_is_refused_not_retried(self, ledger: Ledger) -> None:
        project_id = factories.project(ledger)
        ctx = ledger.context(OFFICER)
        ledger.record_visit(ctx, project_id, occurred_on="2022-07-01", expected_version=1)
        with pytest.raises(errors.StaleVersion):
            ledger.record_visit(ctx, project_id, occurred_on="2022-07-02", expected_version=1)
        assert ledger.get_project(project_id).version == 2

    def test_time_travel_by_version_business_date_and_record_date(
        self, ledger: Ledger, clock: list[datetime]
    ) -> None:
        project_id = factories.signed_project(ledger)  # v2, recorded "now" (2025-03-01)
        clock[0] = datetime(2025, 4, 2, 1, 0, tzinfo=UTC)
        ledger.record_funds_arrival(
            ledger.context(OFFICER),
            project_id,
            occurred_on="2023-03-01",
            amount="100.00",
            currency="CNY",
        )  # back-dated entry, v3
        clock[0] = datetime(2025, 4, 3, 1, 0, tzinfo=UTC)
        ledger.record_visit(ledger.context(OFFICER), project_id, occurred_on="2022-12-01")  # v4
        assert ledger.project_as_of_version(project_id, 2).funds_total_cny == 0
        as_of = ledger.project_as_of(project_id, "2022-12-31")
        assert (as_of.version, as_of.stage, as_of.visits) == (4, "visited", 1)
        assert ledger.project_as_of(project_id, "2023-03-01").funds_total_cny == Decimal("100.00")
        assert ledger.project_known_on(project_id, "2025-04-01").version == 2
        known = ledger.project_known_on(project_id, "2025-04-02")
        assert (known.version, known.funds_total_cny, known.visits) == (3, Decimal("100.00"), 0)
        with pytest.raises(errors.NotFound):
            ledger.project_as_of(project_id, "2022-05-01")

    def test_every_stored_event_carries_its_link_in_the_chain(self, ledger: Ledger) -> None:
        project_id = factories.producing_project(ledger)
        ledger.record_follow_up_visit(
            ledger.context(OFFICER),
            project_id,
            occurred_on="2023-08-01",
            operating_status="normal",
            issues=[{"category": "用地", "description": "d"}],
        )
        rows = ledger.recorder.select_events(project_id)
        previous = GENESIS
        for row in rows:
            state = json.loads(row.state)
            assert state[PREV_HASH] == previous
            previous = stored_event_hash(row)
        history = ledger.history(project_id)
        assert history[-1].hash == previous and history[0].prev_hash == GENESIS
        assert [h.version for h in history] == [1, 2, 3, 4, 5]

    def test_an_old_shape_event_is_read_back_upcast(self, ledger: Ledger) -> None:
        project_id = factories.producing_project(ledger)
        head = ledger.recorder.select_events(project_id)[-1]
        # A follow-up visit as version 1 of the class stored it: no `employees`, no class_version.
        old_state = {
            "timestamp": {"_type_": "datetime_iso", "_data_": "2024-01-01T02:00:00+00:00"},
            "occurred_on": {"_type_": "date_iso", "_data_": "2023-07-01"},
            "actor": {"id": "legacy", "role": "officer"},
            "source": "api",
            "evidence": [],
            "operating_status": "normal",
            "output_value": None,
            "tax": {"_type_": "decimal_str", "_data_": "1000.00"},
            "notes": "",
            "issue_ids": [],
            PREV_HASH: stored_event_hash(head),
        }
        ledger.recorder.insert_events(
            [
                StoredEvent(
                    originator_id=project_id,
                    originator_version=head.originator_version + 1,
                    topic="domain.project:Project.FollowUpVisitRecorded",
                    state=json.dumps(old_state).encode(),
                )
            ]
        )
        project = ledger.get_project(project_id)
        follow_up = project.follow_ups[-1]
        assert follow_up.employees is None and follow_up.tax == Decimal("1000.00")
        assert ledger.history(project_id)[-1].data["employees"] is None

    def test_associations_persist_with_activities(self, ledger: Ledger) -> None:
        association_id = factories.association(ledger)
        ledger.record_activity(
            ledger.context(STAFF),
            association_id,
            kind="talent",
            occurred_on="2023-02-01",
            description="引进博士团队",
            count=3,
        )
        assert ledger.get_association(association_id).activities[0].kind == "talent"

    def test_demo_province_is_deterministic_and_complete(self, ledger: Ledger) -> None:
        from demo.province import generate

        summary = generate(ledger, "tiny", seed=7)
        assert summary.projects == 40 and summary.associations == 8
        assert summary.events == ledger.recorder.max_notification_id()
        again = generate(Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"}), "tiny", seed=7)
        assert again.stages == summary.stages and again.events == summary.events
