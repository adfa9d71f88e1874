"""The evaluation and the purchased service on SQLite and PostgreSQL, through the real stack."""

from __future__ import annotations

import dataclasses
import threading
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.application import AggregateNotFoundError

from adapters.database import open_ledger
from domain import errors
from domain.application import Ledger
from domain.association import Association
from domain.service_contract import service_contract_id
from projections.catalogue import all_projections
from projections.evaluation import (
    evaluate,
    load_evaluation_rules,
)
from projections.integrity import verify_all
from projections.queries import ReadModels
from projections.runtime import ProjectionRunner, engine_of
from services.designations import award_designations_from_ranking
from tests import factories
from tests.conftest import OFFICER, STAFF


def history(ledger: Ledger) -> dict[str, str]:
    """Evaluation year 2024 runs 2023-12-01 .. 2024-11-30. Scores by hand (provisional rules):

    x: activities 2 × 1.5 = 3.00; talent 1 × 3 = 3.00; referrals 2 × 3 = 6.00; visits and
       negotiations 2 × 1 = 2.00; signings 2 × 5 = 10.00; funds 20,000,000 + 60% of
       5,000,000 = 23,000,000 of the best 27,000,000 → 30 × 23/27 = 25.5555… → 25.56.  49.56
    y: technology 1 × 3 = 3.00; referrals 2 → 6.00; signings 2 → 10.00; funds 40% of 5,000,000
       + 25,000,000 = 27,000,000, the best → 30.00 (a duplicate arrival voided).      49.00
    z: referral 1 → 3.00; promotion 1 → 1.50.                                            4.50
    t: visits 3 → 3.00 (its referral was before the year); promotion 1 → 1.50.           4.50
       z and t tie on score, funds and signings; z referred more.
    w: deactivated — excluded.   v: registered after the year — excluded.
    Outside the year: x's promotion on 2023-11-30, p2's arrival on 2024-12-02.
    """
    x = factories.association(ledger, "北京湖南商会")
    y = factories.association(ledger, "香港湖南商会", "overseas_chamber")
    z = factories.association(ledger, "深圳湖南商会")
    t = factories.association(ledger, "清华大学湖南校友会", "alumni")
    w = factories.association(ledger, "已注销商会")
    v_id, _ = ledger.register_association(
        ledger.context(STAFF),
        name="新商会",
        kind="domestic_chamber",
        based_in="上海",
        occurred_on="2024-12-15",
    )
    v = str(v_id)
    staff, officer = ledger.context(STAFF), ledger.context(OFFICER)

    def activity(association_id: str, kind: str, day: str) -> None:
        ledger.record_activity(
            staff, association_id, kind=kind, occurred_on=day, description=f"{kind} {day}"
        )

    activity(x, "promotion", "2023-11-30")  # before the year
    activity(x, "promotion", "2023-12-10")
    activity(x, "service", "2024-03-01")
    activity(x, "talent", "2024-05-01")
    activity(y, "technology", "2024-10-01")
    activity(z, "promotion", "2024-04-01")
    activity(t, "promotion", "2024-04-02")
    activity(w, "promotion", "2024-04-03")

    p1 = factories.project(ledger, x, occurred_on="2024-01-05")
    ledger.record_visit(officer, p1, occurred_on="2024-02-01")
    ledger.record_negotiation(officer, p1, occurred_on="2024-02-15")
    ledger.sign(
        officer, p1, occurred_on="2024-03-10", contract_amount="50000000.00", currency="CNY"
    )
    ledger.record_funds_arrival(
        officer, p1, occurred_on="2024-04-01", amount="20000000.00", currency="CNY"
    )
    p2 = factories.project(ledger, x, y, occurred_on="2024-06-01")  # 60 / 40
    ledger.sign(
        officer, p2, occurred_on="2024-07-01", contract_amount="10000000.00", currency="CNY"
    )
    ledger.record_funds_arrival(
        officer, p2, occurred_on="2024-11-30", amount="5000000.00", currency="CNY"
    )
    ledger.record_funds_arrival(
        officer, p2, occurred_on="2024-12-02", amount="10000000.00", currency="CNY"
    )
    p3 = factories.project(ledger, y, occurred_on="2024-02-01")
    ledger.sign(
        officer, p3, occurred_on="2024-08-01", contract_amount="30000000.00", currency="CNY"
    )
    ledger.record_funds_arrival(
        officer, p3, occurred_on="2024-09-01", amount="25000000.00", currency="CNY"
    )
    duplicate, _ = ledger.record_funds_arrival(
        officer, p3, occurred_on="2024-09-01", amount="25000000.00", currency="CNY"
    )
    ledger.void_funds_arrival(officer, p3, duplicate, occurred_on="2024-09-05", reason="重复录入")
    factories.project(ledger, z, occurred_on="2024-03-01")
    p5 = factories.project(ledger, t, occurred_on="2023-06-01")
    for day in ("2024-01-10", "2024-02-10", "2024-03-10"):
        ledger.record_visit(officer, p5, occurred_on=day)
    factories.project(ledger, w, occurred_on="2024-03-01")
    ledger.deactivate_association(staff, w, occurred_on="2024-12-01", reason="注销")
    return {"x": x, "y": y, "z": z, "t": t, "w": w, "v": v}


def run_projections(ledger: Ledger) -> ProjectionRunner:
    runner = ProjectionRunner(ledger, all_projections())
    runner.run_once()
    return runner


class TestEvaluationOnDatabase:
    def test_scores_and_ranking_by_hand(self, ledger: Ledger) -> None:
        ids = history(ledger)
        run_projections(ledger)
        evaluation = evaluate(ReadModels(engine_of(ledger)), 2024)
        name = {v: k for k, v in ids.items()}
        assert [(i.rank, name[i.association_id], str(i.score)) for i in evaluation.items] == [
            (1, "x", "49.56"),
            (2, "y", "49.00"),
            (3, "z", "4.50"),
            (4, "t", "4.50"),
        ]
        assert evaluation.items[3].tie_broken_by == "referrals"
        x = evaluation.items[0]
        assert x.indicator("funds").value == Decimal("23000000.00")
        assert x.indicator("funds").points == Decimal("25.56")
        assert x.indicator("promotion_service").value == 2
        assert evaluation.items[1].indicator("funds").value == Decimal("27000000.00")
        assert dict(evaluation.excluded) == {
            ids["v"]: "registered_after_the_year",
            ids["w"]: "deactivated",
        }
        doc = evaluation.as_dict()
        assert doc["items"][0]["name"] == "北京湖南商会" and doc["items"][0]["published"] is True
        positions = evaluation.as_dict(with_positions=True)["positions"]
        assert positions["figures"] == ledger.recorder.max_notification_id()
        # The next evaluation year holds p2's December arrival.
        later = evaluate(ReadModels(engine_of(ledger)), 2025)
        assert later.items[0].association_id == ids["x"]
        assert later.items[0].indicator("funds").value == Decimal("6000000.00")

    def test_only_the_top_n_are_published(self, ledger: Ledger) -> None:
        history(ledger)
        run_projections(ledger)
        top_three = dataclasses.replace(load_evaluation_rules(), published_top_n=3)
        evaluation = evaluate(ReadModels(engine_of(ledger)), 2024, top_three)
        assert [i.published for i in evaluation.items] == [True, True, True, False]

    def test_reproducible_and_unchanged_by_a_rebuild(
        self, ledger: Ledger, database_url: str
    ) -> None:
        ids = history(ledger)
        runner = run_projections(ledger)
        read = ReadModels(engine_of(ledger))
        first = evaluate(read, 2024).as_dict()
        assert evaluate(read, 2024).as_dict() == first
        for projection in runner.projections:
            runner.rebuild(projection)
        rebuilt = evaluate(ReadModels(engine_of(ledger)), 2024).as_dict()
        assert rebuilt == first
        # An event outside the year changes the positions, not the document.
        ctx = ledger.context(OFFICER)
        p = factories.project(ledger, ids["x"], occurred_on="2024-12-20")
        ledger.record_visit(ctx, p, occurred_on="2025-01-10")
        runner.run_once()
        assert evaluate(ReadModels(engine_of(ledger)), 2024).as_dict() == first
        # Another process reading the same database computes the same document.
        other = open_ledger(database_url)
        try:
            assert evaluate(ReadModels(engine_of(other)), 2024).as_dict() == first
        finally:
            other.close()

    def test_designations_are_awarded_as_events_once(self, ledger: Ledger) -> None:
        ids = history(ledger)
        run_projections(ledger)
        evaluation = evaluate(ReadModels(engine_of(ledger)), 2024)
        ctx = ledger.context(STAFF)
        result = award_designations_from_ranking(
            ledger, ctx, evaluation, "advanced_unit", top=2, occurred_on="2024-12-10"
        )
        assert result == {"awarded": [ids["x"], ids["y"]], "skipped": []}
        x = ledger.get_association(ids["x"])
        [designation] = x.designations
        assert (designation.year, designation.designation) == (2024, "advanced_unit")
        assert designation.reason.startswith("2024年度商协会评价第1名（得分49.56")
        events = list(ledger.events.get(x.id))
        assert isinstance(events[-1], Association.DesignationAwarded)
        # Again (the scheduler after a restart, or a second click): nothing new is stored.
        head = ledger.recorder.max_notification_id()
        again = award_designations_from_ranking(ledger, ctx, evaluation, "advanced_unit", top=2)
        assert again == {"awarded": [], "skipped": [ids["x"], ids["y"]]}
        assert ledger.recorder.max_notification_id() == head
        # By default the number of ranks comes from the rules (liaison stations: top 20).
        stations = award_designations_from_ranking(ledger, ctx, evaluation, "liaison_station")
        assert stations["awarded"] == [ids["x"], ids["y"], ids["z"], ids["t"]]
        run_projections(ledger)
        rows = {r["association_id"]: r for r in ReadModels(engine_of(ledger)).associations()}
        assert rows[ids["x"]]["version"] == ledger.get_association(ids["x"]).version


def contract_events(ledger: Ledger, year: int) -> int:
    return len(list(ledger.recorder.select_events(service_contract_id(year))))


class TestPurchasedServiceOnDatabase:
    def test_caps_hold_and_refusals_store_nothing(self, ledger: Ledger, database_url: str) -> None:
        ctx = ledger.context(STAFF)
        a = factories.association(ledger)
        cap = load_evaluation_rules().purchased_service_cap
        with pytest.raises(errors.OverCap):
            ledger.create_service_contract(ctx, 2024, "甲单位", "3000000.01", "2024-02-01", cap=cap)
        assert contract_events(ledger, 2024) == 0
        ledger.create_service_contract(ctx, 2024, "甲单位", "3000000.00", "2024-02-01", cap=cap)
        ledger.pay_subsidy(ctx, 2024, a, "2999999.99", "2024-12-10", "评价第1名")
        with pytest.raises(errors.OverCap):
            ledger.pay_subsidy(ctx, 2024, a, "0.02", "2024-12-10", "补发")
        assert contract_events(ledger, 2024) == 2
        reopened = open_ledger(database_url)
        try:
            contract = reopened.service_contract(2024)
        finally:
            reopened.close()
        assert contract["paid_total"] == Decimal("2999999.99")
        assert contract["remaining"] == Decimal("0.01")
        assert isinstance(contract["subsidies"][0]["amount"], Decimal)
        report = verify_all(ledger)
        assert report.ok and report.streams == 2  # the association and the contract

    def test_concurrent_creation_of_one_year_yields_exactly_one(
        self, ledger: Ledger, database_url: str
    ) -> None:
        apps = [open_ledger(database_url, clock=ledger.clock) for _ in range(4)]
        barrier = threading.Barrier(len(apps))
        outcomes: list[Any] = [None] * len(apps)

        def create(index: int) -> None:
            barrier.wait()
            try:
                outcomes[index] = apps[index].create_service_contract(
                    apps[index].context(STAFF), 2024, f"单位{index}", "1000000.00", "2024-02-01"
                )
            except Exception as e:
                outcomes[index] = e

        threads = [threading.Thread(target=create, args=(i,)) for i in range(len(apps))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for app in apps:
            app.close()
        created = [o for o in outcomes if isinstance(o, tuple)]
        refused = [o for o in outcomes if isinstance(o, errors.Conflict)]
        assert len(created) == 1 and len(refused) == 3, outcomes
        assert {e.code for e in refused} == {"service_contract_exists"}
        assert contract_events(ledger, 2024) == 1
        assert verify_all(ledger).ok

    def test_a_creation_that_loses_the_race_after_checking_is_a_conflict(
        self, ledger: Ledger, database_url: str
    ) -> None:
        late = open_ledger(database_url, clock=ledger.clock)
        try:
            ctx = ledger.context(STAFF)

            def not_there_yet(*args: Any, **kwargs: Any) -> Any:
                # The check ran before the competitor saved: it saw no contract.
                ledger.create_service_contract(ctx, 2024, "先到单位", "1000.00", "2024-02-01")
                raise AggregateNotFoundError

            late.repository.get = not_there_yet  # type: ignore[method-assign]
            with pytest.raises(errors.Conflict) as caught:
                late.create_service_contract(ctx, 2024, "后到单位", "2000.00", "2024-02-01")
            assert caught.value.code == "service_contract_exists"
        finally:
            late.close()
        assert ledger.service_contract(2024)["provider"] == "先到单位"
        assert contract_events(ledger, 2024) == 1

    def test_concurrent_subsidies_never_exceed_the_contract(
        self, ledger: Ledger, database_url: str
    ) -> None:
        ctx = ledger.context(STAFF)
        a = factories.association(ledger)
        ledger.create_service_contract(ctx, 2024, "甲单位", "1000000.00", "2024-02-01")
        apps = [open_ledger(database_url, clock=ledger.clock) for _ in range(4)]
        barrier = threading.Barrier(len(apps))
        outcomes: list[Any] = [None] * len(apps)

        def pay(index: int) -> None:
            barrier.wait()
            try:
                outcomes[index] = apps[index].pay_subsidy(
                    apps[index].context(STAFF), 2024, a, "400000.00", "2024-12-10", f"第{index}笔"
                )
            except Exception as e:
                outcomes[index] = e

        threads = [threading.Thread(target=pay, args=(i,)) for i in range(len(apps))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for app in apps:
            app.close()
        paid = [o for o in outcomes if isinstance(o, tuple)]
        refused = [o for o in outcomes if isinstance(o, errors.OverCap)]
        assert len(paid) == 2 and len(refused) == 2, outcomes
        contract = ledger.service_contract(2024)
        assert contract["paid_total"] == Decimal("800000.00")
        assert contract_events(ledger, 2024) == 3
        assert verify_all(ledger).ok  # the losers' retries left the hash chain whole
