"""FactsFold: Project events → ProjectFacts, one event at a time, pure and serialisable."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.domain import Aggregate

from domain.application import Ledger
from domain.project import Project
from projections.policy import (
    FactsFold,
    ProjectFactsState,
    UnhandledEvent,
    evaluate,
    facts_from_events,
    load_policies,
)
from projections.policy.fold import HANDLERS
from tests import factories
from tests.conftest import OFFICER, STAFF
from tests.unit.policy_support import d


def _history(app: Ledger, clock: list[datetime]) -> tuple[Any, dict[str, str]]:
    """A project with every kind of event that enters the facts."""
    clock[0] = datetime(2025, 6, 30, 2, tzinfo=UTC)
    x, y = factories.association(app, "X商会"), factories.association(app, "Y商会")
    staff, officer = app.context(STAFF), app.context(OFFICER)
    project_id = factories.project(
        app,
        x,
        county="浏阳市",
        park="经开区",
        designations=[{"kind": "fortune_global_500", "source": "《财富》2023"}, "little_giant"],
    )
    app.sign(
        officer,
        project_id,
        occurred_on="2023-01-10",
        contract_amount="10000000.00",
        currency="USD",
        rate_to_cny="7.1",
    )
    ids = {}
    ids["a1"], _ = app.record_funds_arrival(
        officer, project_id, occurred_on="2023-03-01", amount="3000000.00", currency="USD",
        rate_to_cny="7.12345",
    )  # fmt: skip
    ids["a2"], _ = app.record_funds_arrival(
        officer, project_id, occurred_on="2023-12-30", amount="5000000.00", currency="CNY"
    )
    ids["dup"], _ = app.record_funds_arrival(
        officer, project_id, occurred_on="2023-12-30", amount="5000000.00", currency="CNY",
        source="overseas",
    )  # fmt: skip
    app.correct_funds_arrival(
        officer, project_id, ids["a2"], occurred_on="2024-01-05", amount="6000000.00",
        currency="CNY", arrived_on="2024-01-02", reason="bank slip",
    )  # fmt: skip
    app.void_funds_arrival(officer, project_id, ids["dup"], occurred_on="2024-01-05", reason="dup")
    for amount in ("1000000.00", "1500000.00"):  # the later report for 2023 replaces the first
        app.report_fixed_asset_investment(
            officer, project_id, year=2023, amount=amount, currency="CNY", occurred_on="2024-01-10"
        )
    app.record_production(officer, project_id, "started", "2023-06-01")
    for day, tax in (("2023-07-01", "100.50"), ("2023-12-01", "200.25"), ("2024-02-01", "7.00")):
        app.record_follow_up_visit(
            officer, project_id, occurred_on=day, operating_status="normal", tax=tax,
            issues=[{"category": "用地", "description": "需协调"}],
        )  # fmt: skip
    app.record_follow_up_visit(
        officer, project_id, occurred_on="2024-03-01", operating_status="normal"
    )
    app.record_attestation(
        staff, project_id, kind="positive_local_impact", occurred_on="2023-12-01", granted=True,
        reason="积极作用",
    )  # fmt: skip
    app.record_attestation(
        staff, project_id, kind="positive_local_impact", occurred_on="2023-11-01", granted=False,
        reason="撤销",
    )  # fmt: skip
    app.change_attribution(
        staff, project_id, occurred_on="2023-09-01",
        referrals=[{"association_id": x, "share": "60"}, {"association_id": y, "share": "40"}],
        reason="joint", approver="处长",
    )  # fmt: skip
    app.change_attribution(
        staff, project_id, occurred_on="2023-03-01",  # back-dated: sorts before the first change
        referrals=[{"association_id": y, "share": "100"}], reason="fix", approver="处长",
    )  # fmt: skip
    app.reclassify(
        staff, project_id, occurred_on="2024-01-01", industry="I", reason="r", approver="处长"
    )
    app.change_status(officer, project_id, occurred_on="2024-04-01", status="stalled", reason="s")
    return project_id, {"x": x, "y": y, **{k: str(v) for k, v in ids.items()}}


def test_the_facts_of_a_full_history(memory_ledger: Ledger, clock: list[datetime]) -> None:
    project_id, ids = _history(memory_ledger, clock)
    events = memory_ledger.project_events(project_id)
    facts = facts_from_events(events)
    assert facts.project_id == str(project_id) and facts.version == len(events)
    assert (facts.industry, facts.project_type, facts.city, facts.county, facts.park) == (
        "I",
        "ordinary",
        "changsha",
        "浏阳市",
        "经开区",
    )
    assert facts.designations == ("fortune_global_500", "little_giant")
    assert facts.planned_investment_cny == Decimal("100000000.00")
    assert (facts.signed_on, facts.contract_amount_cny) == (d("2023-01-10"), Decimal("71000000.00"))
    assert [(a.arrival_id, a.arrived_on, a.amount_cny, a.source) for a in facts.arrivals] == [
        (ids["a1"], d("2023-03-01"), Decimal("21370350.00"), "other_province"),
        (ids["a2"], d("2024-01-02"), Decimal("6000000.00"), "other_province"),
    ]
    first = facts.arrivals[0]
    assert (first.amount, first.currency, first.rate_to_cny) == (
        Decimal("3000000.00"),
        "USD",
        Decimal("7.12345"),
    )
    assert facts.fixed_asset_investment_cny == {2023: Decimal("1500000.00")}
    assert facts.tax_reported_cny == {2023: Decimal("300.75"), 2024: Decimal("7.00")}
    assert [(a.granted, a.occurred_on) for a in facts.attestations] == [
        (True, d("2023-12-01")),
        (False, d("2023-11-01")),
    ]
    assert facts.attestation_in_force() == facts.attestations[-1]  # latest recorded
    assert [a.effective_on for a in facts.attributions] == [
        d("2022-06-01"),
        d("2023-03-01"),
        d("2023-09-01"),
    ]
    assert facts.shares_on(d("2023-12-31")) == (
        (ids["x"], Decimal("60")),
        (ids["y"], Decimal("40")),
    )
    assert facts.status == "stalled"


def test_the_state_round_trips_through_json(memory_ledger: Ledger, clock: list[datetime]) -> None:
    project_id, _ = _history(memory_ledger, clock)
    fold = FactsFold()
    fold.fold_all(memory_ledger.project_events(project_id))
    row = json.loads(json.dumps(fold.dump(str(project_id))))
    restored = FactsFold()
    restored.load(row)
    assert restored.facts(str(project_id)) == fold.facts(str(project_id))
    assert ProjectFactsState.from_json(row).to_json() == row
    with pytest.raises(ValueError, match="schema"):
        ProjectFactsState.from_json({**row, "schema": 99})


def test_a_restored_state_keeps_folding(memory_ledger: Ledger, clock: list[datetime]) -> None:
    project_id, _ = _history(memory_ledger, clock)
    events = memory_ledger.project_events(project_id)
    whole = FactsFold()
    whole.fold_all(events)
    first, rest = FactsFold(), FactsFold()
    first.fold_all(events[:7])
    rest.load(json.loads(json.dumps(first.dump(str(project_id)))))
    rest.fold_all(events)  # the first seven are skipped as already folded
    assert rest.facts(str(project_id)) == whole.facts(str(project_id))


def test_one_event_at_a_time_across_projects_and_other_aggregates(
    memory_ledger: Ledger, clock: list[datetime]
) -> None:
    app = memory_ledger
    p1 = factories.signed_project(app)
    p2 = factories.signed_project(app)
    for project_id, amount in ((p1, "30000000.00"), (p2, "10.00"), (p1, "1.00")):
        app.record_funds_arrival(
            app.context(OFFICER), project_id, occurred_on="2023-05-01", amount=amount,
            currency="CNY",
        )  # fmt: skip
    log = [app.decode(row) for row in app.recorder.select_notifications(start=1, limit=1000)]
    fold = FactsFold()
    for event in log:  # association events included: they are ignored
        fold.fold(event)
    fold.fold_all(log)  # a second pass changes nothing
    assert set(fold.states) == {str(p1), str(p2)}
    assert fold.facts(str(p1)) == facts_from_events(app.project_events(p1))
    assert [a.amount_cny for a in fold.facts(str(p1)).arrivals] == [
        Decimal("30000000.00"),
        Decimal("1.00"),
    ]
    report = evaluate(load_policies().get("hunan-2022"), 2023, fold.all_facts())
    assert sorted(r.project_id for a in report.associations for r in a.rows) == sorted(
        [str(p1), str(p2)]
    )


def test_every_project_event_type_has_its_method() -> None:
    event_classes = {
        value
        for value in vars(Project).values()
        if isinstance(value, type)
        and issubclass(value, Project.Event)
        and value is not Project.Event
    }
    # Creation events (Referred, and the library's generated Project.Created) start the state.
    assert {c for c in event_classes if not issubclass(c, Aggregate.Created)} == set(HANDLERS)


def test_an_unknown_project_event_type_is_refused(memory_ledger: Ledger) -> None:
    project_id = factories.project(memory_ledger)
    fold = FactsFold()
    fold.fold_all(memory_ledger.project_events(project_id))

    class Renamed(Project.Event):
        pass

    event = object.__new__(Renamed)
    object.__setattr__(event, "originator_id", project_id)
    object.__setattr__(event, "originator_version", 2)
    with pytest.raises(UnhandledEvent, match="Renamed"):
        fold.fold(event)
