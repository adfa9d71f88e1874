"""Reward figures cover every event recorded before the request, and a read never applies events
itself: it waits for the one projection runner, and says so (`read_models_behind`) if the runner
does not get there within the bound. Settlements fold the log afresh, so they need no runner."""

from __future__ import annotations

import threading
import time

import pytest

from adapters.lock import SingleRunnerLock
from domain import errors
from domain.application import Ledger
from tests import factories
from tests.conftest import OFFICER, STAFF, services_for


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
    def test_without_a_runner_the_request_says_the_read_models_are_behind(
        self, ledger: Ledger, database_url: str
    ) -> None:
        services = services_for(ledger, database_url, read_models_wait_seconds=0.2)
        service = services.settlements
        services.runner.run_once()
        assert _listed(service.figures("hunan-2022", 2023)) == 0
        _funded_project(ledger)
        with pytest.raises(errors.Conflict) as caught:
            service.figures("hunan-2022", 2023)
        assert caught.value.code == "read_models_behind"
        assert services.read_models.position("rewards") < (
            ledger.recorder.max_notification_id() or 0
        )  # the read applied nothing itself

    def test_with_a_runner_elsewhere_the_request_waits_for_it(
        self, ledger: Ledger, database_url: str
    ) -> None:
        services = services_for(ledger, database_url)
        service = services.settlements
        services.runner.run_once()
        service.figures("hunan-2022", 2023)
        runner_lock = SingleRunnerLock(database_url)
        assert runner_lock.acquire()  # "another process" runs the projections
        try:
            _funded_project(ledger)
            later = threading.Timer(0.3, services.runner.run_once)
            started = time.monotonic()
            later.start()
            figures = service.figures("hunan-2022", 2023)
            later.join()
            assert _listed(figures) == 1
            assert time.monotonic() - started >= 0.25  # it waited for the runner
            _funded_project(ledger)  # no runner applies this one
            with pytest.raises(errors.Conflict) as caught:
                service.wait_for_read_models(timeout=0.3)
            assert caught.value.code == "read_models_behind"
        finally:
            runner_lock.release()

    def test_a_settlement_folds_the_log_and_needs_no_runner(
        self, ledger: Ledger, database_url: str
    ) -> None:
        services = services_for(ledger, database_url)
        _funded_project(ledger)
        head = ledger.recorder.max_notification_id()
        body = services.settlements.settle(ledger.context(STAFF), "hunan-2022", 2023)
        assert _listed(body["figures"]) == 1
        assert body["position"] == head  # every event recorded before the request
        assert services.read_models.position("rewards") == 0  # no read model was touched
