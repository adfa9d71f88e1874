"""Reward figures cover every event recorded before the request, without a second runner: with
no runner about they are brought up to date here, under the runner lock; with a runner holding
the lock, the request waits for it (and says so if it never comes)."""

from __future__ import annotations

import threading
import time

import pytest

from adapters.lock import SingleRunnerLock
from domain import errors
from domain.application import Ledger
from projections.catalogue import all_projections
from projections.runtime import ProjectionRunner
from services.settlements import SettlementService
from tests import factories
from tests.conftest import OFFICER


def _funded_project(ledger: Ledger) -> None:
    project_id = factories.signed_project(ledger)
    ledger.record_funds_arrival(
        ledger.context(OFFICER),
        project_id,
        occurred_on="2023-05-01",
        amount="25000000.00",
        currency="CNY",
    )


def _listed(figures: dict[str, object]) -> int:
    associations = figures["associations"]
    assert isinstance(associations, list)
    return len(associations)


class TestFreshFigures:
    def test_without_a_runner_the_request_brings_the_facts_up_to_date(self, ledger: Ledger) -> None:
        service = SettlementService.for_ledger(ledger)
        assert _listed(service.figures("hunan-2022", 2023)) == 0
        _funded_project(ledger)
        assert _listed(service.figures("hunan-2022", 2023)) == 1

    def test_with_a_runner_elsewhere_the_request_waits_for_it(
        self, ledger: Ledger, database_url: str
    ) -> None:
        service = SettlementService.for_ledger(ledger)
        service.figures("hunan-2022", 2023)
        runner_lock = SingleRunnerLock(database_url)
        assert runner_lock.acquire()  # "another process" runs the projections
        try:
            _funded_project(ledger)
            runner = ProjectionRunner(ledger, all_projections())
            later = threading.Timer(0.3, runner.run_once)
            started = time.monotonic()
            later.start()
            figures = service.figures("hunan-2022", 2023)
            later.join()
            assert _listed(figures) == 1
            assert time.monotonic() - started >= 0.25  # it waited for the runner
            _funded_project(ledger)  # no runner applies this one
            with pytest.raises(errors.Conflict) as caught:
                service.bring_up_to_date(timeout=0.3)
            assert caught.value.code == "read_models_behind"
        finally:
            runner_lock.release()
