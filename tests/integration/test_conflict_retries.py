"""Conflicts under several writers are retried with jittered back-off within a time budget
(issue 13 item 6), on an SQLite file and on PostgreSQL."""

from __future__ import annotations

import time

import pytest

import domain.application as application
from domain import errors
from domain.application import Ledger
from domain.project import Project
from tests import factories
from tests.conftest import OFFICER


def lose_races(ledger: Ledger, project_id: object, times: int | None) -> list[int]:
    """Make each save lose to a competitor's negotiation, `times` times (None: always)."""
    original_save = ledger.save_or_conflict
    lost: list[int] = []
    ctx = ledger.context(OFFICER)

    def save_after_a_competitor(*aggregates: object) -> int:
        if times is None or len(lost) < times:
            lost.append(1)
            competitor = ledger.repository.get(project_id)  # type: ignore[arg-type]
            assert isinstance(competitor, Project)
            competitor.record_negotiation(ctx, "2022-07-01", notes=f"competitor {len(lost)}")
            original_save(competitor)
        return original_save(*aggregates)

    ledger.save_or_conflict = save_after_a_competitor  # type: ignore[method-assign]
    return lost


class TestConflictRetries:
    def test_more_lost_races_than_the_old_three_attempts_still_record_once(
        self, ledger: Ledger
    ) -> None:
        project_id = factories.project(ledger)
        lost = lose_races(ledger, project_id, times=6)
        version = ledger.record_visit(ledger.context(OFFICER), project_id, occurred_on="2022-07-02")
        assert len(lost) == 6
        assert version == 8
        types = [h.type for h in ledger.history(project_id)]
        assert types.count("visit_recorded") == 1
        assert types.count("negotiation_recorded") == 6

    def test_a_command_that_always_loses_gives_up_when_the_budget_is_spent(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(application, "CONFLICT_RETRY_BUDGET", 0.3)
        project_id = factories.project(ledger)
        lost = lose_races(ledger, project_id, times=None)
        started = time.monotonic()
        with pytest.raises(errors.VersionConflict):
            ledger.record_visit(ledger.context(OFFICER), project_id, occurred_on="2022-07-02")
        # Far above the 0.3 s budget, for a loaded CI machine; a command that never gave up
        # would not finish at all.
        assert time.monotonic() - started < 10.0
        assert len(lost) > 3
        assert "visit_recorded" not in [h.type for h in ledger.history(project_id)]

    def test_with_an_expected_version_a_lost_race_is_refused_not_retried(
        self, ledger: Ledger
    ) -> None:
        project_id = factories.project(ledger)
        lost = lose_races(ledger, project_id, times=1)
        with pytest.raises(errors.VersionConflict):
            ledger.record_visit(
                ledger.context(OFFICER), project_id, occurred_on="2022-07-02", expected_version=1
            )
        assert len(lost) == 1
        assert "visit_recorded" not in [h.type for h in ledger.history(project_id)]


def test_back_off_stays_within_its_step_and_the_deadline() -> None:
    started = time.monotonic()
    assert application.back_off(0, started + 10) is True
    assert time.monotonic() - started < 0.05
    assert application.back_off(30, time.monotonic() - 1) is False
