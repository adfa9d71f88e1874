"""Purchased service and designations on the in-memory store: caps, refusals, idempotence."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import pytest

from domain import errors
from domain.application import Ledger
from domain.association import Association
from domain.service_contract import ServiceContract, service_contract_id
from projections.evaluation import load_evaluation_rules
from tests import factories
from tests.conftest import STAFF


def events_of(app: Ledger, stream: UUID | str) -> list[object]:
    return list(app.events.get(stream if isinstance(stream, UUID) else UUID(stream)))


class TestServiceContract:
    def test_the_contract_is_capped_at_three_million_a_year(self, memory_ledger: Ledger) -> None:
        ctx = memory_ledger.context(STAFF)
        with pytest.raises(errors.OverCap) as caught:
            memory_ledger.create_service_contract(
                ctx, 2024, "湖南省商会联合会", "3000000.01", "2024-02-01"
            )
        assert (caught.value.code, caught.value.field) == ("over_cap", "amount")
        assert isinstance(caught.value, errors.Conflict)  # 409
        assert events_of(memory_ledger, service_contract_id(2024)) == []
        contract_id, version = memory_ledger.create_service_contract(
            ctx, 2024, "湖南省商会联合会", "3000000.00", "2024-02-01"
        )
        assert (contract_id, version) == (service_contract_id(2024), 1)
        contract = memory_ledger.service_contract(2024)
        assert contract["amount"] == Decimal("3000000.00")
        assert contract["annual_cap"] == Decimal("3000000.00")
        assert (contract["paid_total"], contract["remaining"]) == (Decimal(0), Decimal("3000000"))

    def test_the_cap_is_a_parameter_read_from_the_rules(self, memory_ledger: Ledger) -> None:
        cap = load_evaluation_rules(paths=[]).purchased_service_cap
        assert cap == Decimal("3000000.00")
        ctx = memory_ledger.context(STAFF)
        with pytest.raises(errors.OverCap):
            memory_ledger.create_service_contract(
                ctx, 2023, "某服务单位", "2000000.01", "2023-02-01", cap="2000000.00"
            )
        memory_ledger.create_service_contract(
            ctx, 2023, "某服务单位", "2000000.00", "2023-02-01", cap="2000000.00"
        )
        assert memory_ledger.service_contract(2023)["annual_cap"] == Decimal("2000000.00")

    def test_one_contract_a_year(self, memory_ledger: Ledger) -> None:
        ctx = memory_ledger.context(STAFF)
        memory_ledger.create_service_contract(ctx, 2024, "甲单位", "1000000.00", "2024-02-01")
        with pytest.raises(errors.Conflict) as caught:
            memory_ledger.create_service_contract(ctx, 2024, "乙单位", "500000.00", "2024-03-01")
        assert caught.value.code == "service_contract_exists"
        assert memory_ledger.service_contract(2024)["provider"] == "甲单位"
        assert len(events_of(memory_ledger, service_contract_id(2024))) == 1
        # another year is another contract
        memory_ledger.create_service_contract(ctx, 2025, "乙单位", "500000.00", "2025-02-01")

    def test_invalid_input_is_refused_before_the_state_is_looked_at(
        self, memory_ledger: Ledger
    ) -> None:
        ctx = memory_ledger.context(STAFF)
        cases = [
            ({"amount": 1000.5}, "invalid_amount"),
            ({"amount": "-1.00"}, "invalid_amount"),
            ({"amount": "1.001"}, "invalid_amount"),
            ({"year": "2024"}, "validation_error"),
            ({"provider": " "}, "validation_error"),
            ({"occurred_on": "2025-03-02"}, "date_in_future"),  # the clock says 2025-03-01
        ]
        for change, code in cases:
            fields = {
                "year": 2024,
                "provider": "甲单位",
                "amount": "1000.00",
                "occurred_on": "2024-02-01",
                **change,
            }
            with pytest.raises(errors.InvalidInput) as caught:
                memory_ledger.create_service_contract(ctx, **fields)
            assert caught.value.code == code, change

    def test_subsidies_stay_within_the_contract(self, memory_ledger: Ledger) -> None:
        ctx = memory_ledger.context(STAFF)
        a = factories.association(memory_ledger, "北京湖南商会")
        b = factories.association(memory_ledger, "香港湖南商会", "overseas_chamber")
        memory_ledger.create_service_contract(ctx, 2024, "甲单位", "1000000.00", "2024-02-01")
        first, version = memory_ledger.pay_subsidy(
            ctx, 2024, a, "600000.00", "2024-12-10", "2024年度评价第1名"
        )
        assert version == 2
        memory_ledger.pay_subsidy(ctx, 2024, b, "399999.99", "2024-12-10", "2024年度评价第2名")
        with pytest.raises(errors.OverCap) as caught:
            memory_ledger.pay_subsidy(ctx, 2024, b, "0.02", "2024-12-11", "补发")
        assert caught.value.code == "over_cap" and "0.01 remaining" in caught.value.message
        assert len(events_of(memory_ledger, service_contract_id(2024))) == 3  # nothing stored
        memory_ledger.pay_subsidy(ctx, 2024, b, "0.01", "2024-12-11", "补发")  # exactly the rest
        contract = memory_ledger.service_contract(2024)
        assert contract["paid_total"] == Decimal("1000000.00")
        assert contract["remaining"] == Decimal("0.00")
        assert [s["association_id"] for s in contract["subsidies"]] == [a, b, b]
        assert contract["subsidies"][0]["subsidy_id"] == first
        assert all(isinstance(s["amount"], Decimal) for s in contract["subsidies"])

    def test_a_subsidy_needs_a_known_association_and_a_contract(
        self, memory_ledger: Ledger
    ) -> None:
        ctx = memory_ledger.context(STAFF)
        a = factories.association(memory_ledger)
        with pytest.raises(errors.NotFound):
            memory_ledger.pay_subsidy(ctx, 2024, a, "1.00", "2024-12-10", "x")
        memory_ledger.create_service_contract(ctx, 2024, "甲单位", "1000.00", "2024-02-01")
        for unknown in ("5b0e8a36-0000-4000-8000-000000000000", "not-an-id"):
            with pytest.raises(errors.UnknownAssociation) as caught:
                memory_ledger.pay_subsidy(ctx, 2024, unknown, "1.00", "2024-12-10", "x")
            assert (caught.value.code, caught.value.field) == (
                "unknown_association",
                "association_id",
            )
            assert isinstance(caught.value, errors.InvalidInput)  # 422
        # A project id is not an association either.
        project_id = factories.project(memory_ledger, a)
        with pytest.raises(errors.UnknownAssociation):
            memory_ledger.pay_subsidy(ctx, 2024, project_id, "1.00", "2024-12-10", "x")
        with pytest.raises(errors.Conflict) as before:
            memory_ledger.pay_subsidy(ctx, 2024, a, "1.00", "2024-01-31", "x")
        assert before.value.code == "date_before_contract"
        memory_ledger.deactivate_association(ctx, a, occurred_on="2024-06-01", reason="注销")
        with pytest.raises(errors.AssociationInactive):
            memory_ledger.pay_subsidy(ctx, 2024, a, "1.00", "2024-12-10", "x")
        assert len(events_of(memory_ledger, service_contract_id(2024))) == 1

    def test_an_amendment_keeps_both_caps(self, memory_ledger: Ledger) -> None:
        ctx = memory_ledger.context(STAFF)
        a = factories.association(memory_ledger)
        memory_ledger.create_service_contract(ctx, 2024, "甲单位", "1000000.00", "2024-02-01")
        memory_ledger.pay_subsidy(ctx, 2024, a, "800000.00", "2024-12-10", "x")
        with pytest.raises(errors.OverCap):
            memory_ledger.amend_service_contract(
                ctx, 2024, amount="799999.99", occurred_on="2024-12-20", reason="减少"
            )
        with pytest.raises(errors.OverCap):
            memory_ledger.amend_service_contract(
                ctx, 2024, amount="3000000.01", occurred_on="2024-12-20", reason="增加"
            )
        version = memory_ledger.amend_service_contract(
            ctx, 2024, amount="2500000.00", occurred_on="2024-12-20", reason="补充协议"
        )
        assert version == 3
        contract = memory_ledger.service_contract(2024)
        assert contract["amount"] == Decimal("2500000.00")
        assert contract["remaining"] == Decimal("1700000.00")
        assert contract["amendments"][0]["reason"] == "补充协议"

    def test_events_carry_decimals_and_the_envelope(self, memory_ledger: Ledger) -> None:
        ctx = memory_ledger.context(STAFF, evidence=["湘商务合同〔2024〕1号"])
        memory_ledger.create_service_contract(ctx, 2024, "甲单位", "1000000.00", "2024-02-01")
        [created] = events_of(memory_ledger, service_contract_id(2024))
        assert isinstance(created, ServiceContract.Created)
        assert isinstance(created.amount, Decimal) and created.amount == Decimal("1000000.00")
        assert created.evidence == ["湘商务合同〔2024〕1号"]
        assert created.actor == {"id": "staff-1", "role": "staff"}
        assert created.clause == "三(三)"

    def test_the_stream_id_is_the_year(self) -> None:
        assert service_contract_id(2024) == service_contract_id(2024)
        assert service_contract_id(2024) != service_contract_id(2025)
        assert str(service_contract_id(2024)) == "8b532af5-3822-5346-9c92-50397e76c48e"  # stable


class TestDesignations:
    def test_awarded_as_events_and_idempotent(self, memory_ledger: Ledger) -> None:
        ctx = memory_ledger.context(STAFF)
        a = factories.association(memory_ledger, "北京湖南商会")
        b = factories.association(memory_ledger, "香港湖南商会")
        result = memory_ledger.award_designations(
            ctx, 2024, "advanced_unit", [a, b, a], occurred_on="2024-12-05", reason="评价前列"
        )
        assert result == {"awarded": [a, b], "skipped": []}
        awarded = [e for e in events_of(memory_ledger, a) if isinstance(e, Association.Event)]
        last = awarded[-1]
        assert isinstance(last, Association.DesignationAwarded)
        assert (last.year, last.designation, last.reason) == (2024, "advanced_unit", "评价前列")
        again = memory_ledger.award_designations(ctx, 2024, "advanced_unit", [b, a])
        assert again == {"awarded": [], "skipped": [b, a]}
        assert len(events_of(memory_ledger, a)) == 2
        # another designation or year is another award
        other = memory_ledger.award_designations(ctx, 2024, "liaison_station", [a])
        assert other == {"awarded": [a], "skipped": []}

    def test_an_unknown_association_stores_nothing_for_anyone(self, memory_ledger: Ledger) -> None:
        ctx = memory_ledger.context(STAFF)
        a = factories.association(memory_ledger)
        unknown = "5b0e8a36-0000-4000-8000-000000000000"
        with pytest.raises(errors.UnknownAssociation) as caught:
            memory_ledger.award_designations(ctx, 2024, "advanced_unit", [a, unknown])
        assert caught.value.field == "association_ids[1]"
        assert len(events_of(memory_ledger, a)) == 1
        with pytest.raises(errors.UnknownCode):
            memory_ledger.award_designations(ctx, 2024, "best_unit", [a])
        with pytest.raises(errors.InvalidInput):
            memory_ledger.award_designations(ctx, 1999, "advanced_unit", [a])
