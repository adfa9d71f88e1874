"""The evaluation kept between requests (issue 23): after further events of every kind that
moves a counter, the evaluation brought forward (only the moved associations summed again)
equals the year evaluated afresh, on both databases; and the associations named as moved
include every one whose counters did move — even the referrer of an arrival corrected after
the project's attribution changed."""

from __future__ import annotations

from uuid import UUID

from adapters.reader import reader_for
from domain.application import Ledger
from projections.evaluation import evaluate
from projections.figures import associations_counted_between
from services.bootstrap import Services
from tests import factories
from tests.conftest import OFFICER, STAFF, services_for

YEAR = 2023  # 1 December 2022 – 30 November 2023


def _arrive(ledger: Ledger, project_id: UUID, day: str, amount: str) -> str:
    arrival_id, _ = ledger.record_funds_arrival(
        ledger.context(OFFICER), project_id, occurred_on=day, amount=amount, currency="CNY"
    )
    return arrival_id


def _activity(ledger: Ledger, association_id: str, kind: str, day: str) -> None:
    ledger.record_activity(
        ledger.context(STAFF), association_id, kind=kind, occurred_on=day, description=kind
    )


def _fresh(services: Services) -> dict[str, object]:
    return evaluate(services.read_models, YEAR, services.evaluation_rules).as_dict()


def _sums(services: Services) -> dict[str, dict[str, int]]:
    return services.read_models.association_sums(YEAR, services.evaluation_rules.ends_month)


class TestKeptEvaluation:
    def test_after_further_events_the_kept_evaluation_is_the_year_afresh(
        self, ledger: Ledger, database_url: str
    ) -> None:
        services = services_for(ledger, database_url)
        evaluations = services.evaluations
        a, b, c, d = (factories.association(ledger) for _ in range(4))
        p1 = factories.signed_project(ledger, a, b)
        p2 = factories.signed_project(ledger, c)
        first_arrival = _arrive(ledger, p1, "2023-02-01", "30000000.00")
        _arrive(ledger, p2, "2023-03-01", "10000000.00")
        _activity(ledger, a, "promotion", "2023-04-01")
        services.runner.run_once()
        first = evaluations.evaluation(YEAR)
        assert first.as_dict() == _fresh(services)
        before = services.read_models.position("figures")
        sums_before = _sums(services)

        # p1's referrers change to d; then its first arrival (split between a and b) is
        # corrected: the correction takes the old amount back from a and b.
        ledger.change_attribution(
            ledger.context(STAFF),
            p1,
            occurred_on="2023-05-01",
            referrals=[{"association_id": d, "share": "100"}],
            reason="引荐关系更正",
            approver="处长",
        )
        services.runner.run_once()
        middle = evaluations.evaluation(YEAR)
        assert middle.as_dict() == _fresh(services)
        after_change = services.read_models.position("figures")
        ledger.correct_funds_arrival(
            ledger.context(OFFICER),
            p1,
            first_arrival,
            occurred_on="2023-06-01",
            amount="35000000.00",
            currency="CNY",
            reason="银行回单更正",
        )
        _arrive(ledger, p2, "2023-07-01", "5000000.00")
        _activity(ledger, c, "talent", "2023-08-01")
        _activity(ledger, b, "service", "2022-06-01")  # before the year: moves no year sum
        late = factories.association(ledger, occurred_on="2023-09-01")
        p3 = factories.signed_project(ledger, late)
        _arrive(ledger, p3, "2023-09-15", "8000000.00")
        services.runner.run_once()
        now = services.read_models.position("figures")

        reader = reader_for(ledger)
        moved = associations_counted_between(reader, after_change, now, 1000)
        assert moved is not None
        assert {a, b, d, c, late} <= moved  # a and b: the correction took from them
        sums_now = _sums(services)
        changed = {x for x in {*sums_before, *sums_now} if sums_before.get(x) != sums_now.get(x)}
        assert changed and changed <= (
            associations_counted_between(reader, before, now, 1000) or set()
        )
        assert associations_counted_between(reader, before, now, 3) is None  # too many to tell

        kept = evaluations.evaluation(YEAR)
        assert kept.as_dict() == _fresh(services)
        assert kept.positions == {"figures": now, "ledger": services.read_models.position("ledger")}
        assert kept.as_dict() != first.as_dict()
        assert evaluations.evaluation(YEAR) is kept  # no move since: kept
