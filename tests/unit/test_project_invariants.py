"""Every invariant of DESIGN §4 refuses with its stable code and records nothing (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain import errors
from domain.application import Ledger
from tests import factories
from tests.conftest import OFFICER, STAFF


def refused(app: Ledger, project_id: Any, code: str, call: Any) -> errors.DomainError:
    """Run a command expected to be refused; check the code and that nothing was stored."""
    before = app.get_project(project_id).version if project_id else None
    events_before = app.recorder.max_notification_id()
    with pytest.raises(errors.DomainError) as caught:
        call()
    assert caught.value.code == code, caught.value.message
    assert app.recorder.max_notification_id() == events_before
    if project_id:
        assert app.get_project(project_id).version == before
    return caught.value


@pytest.fixture
def app(memory_ledger: Ledger) -> Ledger:
    return memory_ledger


def test_referral_starts_at_version_one_in_stage_referred(app: Ledger) -> None:
    project_id = factories.project(app)
    project = app.get_project(project_id)
    assert project.version == 1
    assert project.stage == "referred"
    assert project.referrals[0]["share"] == Decimal(100)


@pytest.mark.parametrize(
    ("shares", "code"),
    [
        (["60", "30"], "shares_must_total_100"),
        (["100.01", "-0.01"], "shares_must_total_100"),
        (["0", "100"], "shares_must_total_100"),
        (["33.333", "66.667"], "invalid_amount"),
    ],
)
def test_shares_must_be_positive_two_places_and_total_100(
    app: Ledger, shares: list[str], code: str
) -> None:
    a, b = (
        factories.association(app),
        factories.association(app, "香港湖南商会", "overseas_chamber"),
    )
    error = refused(app, None, code, lambda: factories.project(app, a, b, shares=shares))
    assert error.field is not None and error.field.startswith("referrals")


def test_referral_to_an_unknown_association_is_refused(app: Ledger) -> None:
    refused(
        app,
        None,
        "unknown_association",
        lambda: factories.project(app, "00000000-0000-4000-8000-000000000000"),
    )


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("industry", "Z", "unknown_industry"),
        ("industry", "c", "unknown_industry"),
        ("city", "wuhan", "validation_error"),
        ("project_type", "huge", "validation_error"),
        ("origin", "mars", "validation_error"),
        ("planned_investment", 1.5, "invalid_amount"),
        ("planned_investment", "12.345", "invalid_amount"),
        ("planned_investment", "-5", "invalid_amount"),
        ("occurred_on", "2025-03-02", "date_in_future"),
        ("occurred_on", "2025-13-01", "validation_error"),
    ],
)
def test_referral_input_is_validated(app: Ledger, field: str, value: Any, code: str) -> None:
    association_id = factories.association(app)
    error = refused(
        app, None, code, lambda: factories.project(app, association_id, **{field: value})
    )
    assert error.field == field


def test_city_may_be_given_by_its_chinese_name(app: Ledger) -> None:
    project_id = factories.project(app, city="湘西土家族苗族自治州")
    assert app.get_project(project_id).city == "xiangxi"


def test_stage_order_no_funds_or_production_before_signing(app: Ledger) -> None:
    project_id = factories.project(app)
    ctx = app.context(OFFICER)
    refused(
        app,
        project_id,
        "stage_order",
        lambda: app.record_funds_arrival(
            ctx, project_id, occurred_on="2023-01-01", amount="100.00", currency="CNY"
        ),
    )
    refused(
        app,
        project_id,
        "stage_order",
        lambda: app.record_production(ctx, project_id, "started", "2023-01-01"),
    )
    refused(
        app,
        project_id,
        "stage_order",
        lambda: app.register_company(ctx, project_id, occurred_on="2023-01-01"),
    )
    refused(
        app,
        project_id,
        "stage_order",
        lambda: app.start_construction(ctx, project_id, occurred_on="2023-01-01"),
    )


def test_no_capacity_before_production_and_no_follow_up_before_production(app: Ledger) -> None:
    project_id = factories.signed_project(app)
    ctx = app.context(OFFICER)
    refused(
        app,
        project_id,
        "stage_order",
        lambda: app.record_production(ctx, project_id, "capacity_reached", "2023-05-01"),
    )
    refused(
        app,
        project_id,
        "stage_order",
        lambda: app.record_follow_up_visit(
            ctx, project_id, occurred_on="2023-05-01", operating_status="normal"
        ),
    )


def test_funds_dated_before_the_signing_are_refused(app: Ledger) -> None:
    project_id = factories.signed_project(app, signed_on="2023-01-10")
    refused(
        app,
        project_id,
        "stage_order",
        lambda: app.record_funds_arrival(
            app.context(OFFICER),
            project_id,
            occurred_on="2023-01-09",
            amount="100.00",
            currency="CNY",
        ),
    )


def test_signing_twice_is_refused(app: Ledger) -> None:
    project_id = factories.signed_project(app)
    refused(
        app,
        project_id,
        "stage_order",
        lambda: app.sign(
            app.context(OFFICER),
            project_id,
            occurred_on="2023-02-01",
            contract_amount="1.00",
            currency="CNY",
        ),
    )


def test_dates_in_the_future_or_before_the_referral(app: Ledger) -> None:
    project_id = factories.project(app)  # referred 2022-06-01, today is 2025-03-01
    ctx = app.context(OFFICER)
    refused(
        app,
        project_id,
        "date_in_future",
        lambda: app.record_visit(ctx, project_id, occurred_on="2025-03-02"),
    )
    refused(
        app,
        project_id,
        "date_before_referral",
        lambda: app.record_visit(ctx, project_id, occurred_on="2022-05-31"),
    )
    assert app.record_visit(ctx, project_id, occurred_on="2025-03-01") == 2


def test_today_is_the_shanghai_business_date(app: Ledger, clock: list[datetime]) -> None:
    project_id = factories.project(app)
    clock[0] = datetime(2025, 3, 1, 17, 0, tzinfo=UTC)  # already 2 March in Shanghai
    assert app.record_visit(app.context(OFFICER), project_id, occurred_on="2025-03-02") == 2


@pytest.mark.parametrize(
    ("amount", "currency", "rate", "code", "field"),
    [
        ("0", "CNY", None, "invalid_amount", "amount"),
        ("-1.00", "CNY", None, "invalid_amount", "amount"),
        ("1.001", "CNY", None, "invalid_amount", "amount"),
        (1000.5, "CNY", None, "invalid_amount", "amount"),
        ("NaN", "CNY", None, "invalid_amount", "amount"),
        ("abc", "CNY", None, "invalid_amount", "amount"),
        ("100.00", "XYZ", None, "invalid_currency", "currency"),
        ("100.00", "usd", None, "invalid_currency", "currency"),
        ("100.00", "USD", None, "rate_required", "rate_to_cny"),
        ("100.00", "USD", "0", "invalid_amount", "rate_to_cny"),
        ("100.00", "USD", "-7.1", "invalid_amount", "rate_to_cny"),
        ("100.00", "CNY", "2", "validation_error", "rate_to_cny"),
    ],
)
def test_money_rules(
    app: Ledger, amount: Any, currency: str, rate: Any, code: str, field: str
) -> None:
    project_id = factories.signed_project(app)
    error = refused(
        app,
        project_id,
        code,
        lambda: app.record_funds_arrival(
            app.context(OFFICER),
            project_id,
            occurred_on="2023-03-01",
            amount=amount,
            currency=currency,
            rate_to_cny=rate,
        ),
    )
    assert error.field == field


def test_foreign_arrival_is_converted_at_its_rate_half_up(app: Ledger) -> None:
    project_id = factories.signed_project(app)
    app.record_funds_arrival(
        app.context(OFFICER),
        project_id,
        occurred_on="2023-03-01",
        amount="3000000.00",
        currency="USD",
        rate_to_cny="7.1234",
    )
    app.record_funds_arrival(
        app.context(OFFICER),
        project_id,
        occurred_on="2023-03-02",
        amount="0.05",
        currency="JPY",
        rate_to_cny="0.1",
    )  # 0.005 → 0.01
    assert app.get_project(project_id).funds_total_cny == Decimal("21370200.01")


def test_correction_and_void_are_new_events_and_change_the_totals(app: Ledger) -> None:
    project_id = factories.signed_project(app)
    ctx = app.context(OFFICER)
    a1, _ = app.record_funds_arrival(
        ctx, project_id, occurred_on="2023-03-01", amount="25000000.00", currency="CNY"
    )
    a2, _ = app.record_funds_arrival(
        ctx, project_id, occurred_on="2023-04-01", amount="1000.00", currency="CNY"
    )
    app.correct_funds_arrival(
        ctx,
        project_id,
        a1,
        occurred_on="2024-02-10",
        amount="18000000.00",
        currency="CNY",
        reason="bank slip",
        arrived_on="2023-12-31",
    )
    version = app.void_funds_arrival(
        ctx, project_id, a2, occurred_on="2024-02-10", reason="duplicate"
    )
    project = app.get_project(project_id)
    assert version == 6
    assert project.funds_total_cny == Decimal("18000000.00")
    assert project.arrivals[a1].arrived_on.isoformat() == "2023-12-31"
    types = [h.type for h in app.history(project_id)]
    assert types[-2:] == ["funds_arrival_corrected", "funds_arrival_voided"]
    refused(
        app,
        project_id,
        "arrival_voided",
        lambda: app.void_funds_arrival(
            ctx, project_id, a2, occurred_on="2024-02-11", reason="again"
        ),
    )
    refused(
        app,
        project_id,
        "not_found",
        lambda: app.void_funds_arrival(
            ctx, project_id, "nope", occurred_on="2024-02-11", reason="x"
        ),
    )


def test_withdrawn_project_accepts_only_reactivation(app: Ledger) -> None:
    project_id = factories.signed_project(app)
    ctx = app.context(STAFF)
    app.change_status(
        ctx, project_id, occurred_on="2024-01-01", status="withdrawn", reason="投资方放弃"
    )
    refused(
        app,
        project_id,
        "project_withdrawn",
        lambda: app.record_visit(ctx, project_id, occurred_on="2024-02-01"),
    )
    refused(
        app,
        project_id,
        "project_withdrawn",
        lambda: app.change_status(
            ctx, project_id, occurred_on="2024-02-01", status="stalled", reason="x"
        ),
    )
    app.change_status(ctx, project_id, occurred_on="2024-03-01", status="active", reason="重新启动")
    assert app.get_project(project_id).status == "active"
    assert app.record_visit(ctx, project_id, occurred_on="2024-03-02") == 5


def test_follow_up_with_two_issues_records_three_events(app: Ledger) -> None:
    project_id = factories.producing_project(app)
    version, issue_ids = app.record_follow_up_visit(
        app.context(OFFICER),
        project_id,
        occurred_on="2023-09-01",
        operating_status="difficult",
        tax="120000.00",
        employees=85,
        issues=[
            {"category": "用地", "description": "二期用地未落实"},
            {"category": "融资", "description": "贷款难"},
        ],
    )
    assert version == 6 and len(issue_ids) == 2
    ctx = app.context(OFFICER)
    app.update_issue(
        ctx,
        project_id,
        issue_ids[0],
        status="handling",
        occurred_on="2023-09-05",
        note="协调自然资源局",
    )
    app.update_issue(
        ctx, project_id, issue_ids[0], status="closed", occurred_on="2023-10-01", note="已供地"
    )
    project = app.get_project(project_id)
    assert [i.status for i in project.open_issues()] == ["open"]
    assert (
        project.last_follow_up_on is not None
        and project.last_follow_up_on.isoformat() == "2023-09-01"
    )
    refused(
        app,
        project_id,
        "issue_closed",
        lambda: app.update_issue(
            ctx, project_id, issue_ids[0], status="closed", occurred_on="2023-10-02", note="x"
        ),
    )
    refused(
        app,
        project_id,
        "stage_order",
        lambda: app.update_issue(
            ctx, project_id, issue_ids[1], status="closed", occurred_on="2023-08-01", note="x"
        ),
    )


def test_attestation_attribution_and_reclassification(app: Ledger) -> None:
    a, b = (
        factories.association(app),
        factories.association(app, "新加坡湖南商会", "overseas_chamber"),
    )
    project_id = factories.project(app, a)
    ctx = app.context(STAFF)
    app.record_attestation(
        ctx,
        project_id,
        kind="positive_local_impact",
        occurred_on="2023-12-01",
        granted=True,
        reason="带动就业",
    )
    app.change_attribution(
        ctx,
        project_id,
        occurred_on="2024-01-05",
        referrals=[{"association_id": a, "share": "70"}, {"association_id": b, "share": "30"}],
        reason="共同引荐",
        approver="处长",
    )
    app.reclassify(
        ctx, project_id, occurred_on="2024-01-06", industry="K", reason="实为地产", approver="处长"
    )
    project = app.get_project(project_id)
    assert project.positive_impact_attested
    assert [r["share"] for r in project.referrals] == [Decimal(70), Decimal(30)]
    assert project.industry == "K" and project.project_type == "ordinary"
    refused(
        app,
        project_id,
        "validation_error",
        lambda: app.reclassify(ctx, project_id, occurred_on="2024-01-06", reason="r", approver="a"),
    )


def test_stage_is_derived_in_order(app: Ledger) -> None:
    project_id = factories.project(app)
    ctx = app.context(OFFICER)
    seen = [app.get_project(project_id).stage]
    app.record_visit(ctx, project_id, occurred_on="2022-07-01")
    seen.append(app.get_project(project_id).stage)
    app.record_negotiation(ctx, project_id, occurred_on="2022-08-01")
    seen.append(app.get_project(project_id).stage)
    app.sign(ctx, project_id, occurred_on="2022-09-01", contract_amount="1000.00", currency="CNY")
    seen.append(app.get_project(project_id).stage)
    app.register_company(ctx, project_id, occurred_on="2022-09-10")
    seen.append(app.get_project(project_id).stage)
    app.start_construction(ctx, project_id, occurred_on="2022-10-01")
    seen.append(app.get_project(project_id).stage)
    app.record_production(ctx, project_id, "started", "2023-05-01")
    seen.append(app.get_project(project_id).stage)
    app.record_production(ctx, project_id, "capacity_reached", "2023-12-01")
    seen.append(app.get_project(project_id).stage)
    assert seen == [
        "referred",
        "visited",
        "negotiating",
        "signed",
        "registered",
        "under_construction",
        "in_production",
        "at_capacity",
    ]


def test_envelope_records_actor_source_evidence_and_injected_clock(
    app: Ledger, clock: list[datetime]
) -> None:
    project_id = factories.signed_project(app)
    clock[0] = datetime(2025, 2, 1, 3, 4, 5, tzinfo=UTC)
    ctx = app.context(OFFICER, source="import:batch-7", evidence=["银行回单 2023-001"])
    app.record_funds_arrival(
        ctx, project_id, occurred_on="2023-03-01", amount="5.00", currency="CNY"
    )
    entry = app.history(project_id)[-1]
    assert entry.recorded_at == clock[0]
    assert entry.actor == {"id": "officer-1", "role": "officer"}
    assert entry.source == "import:batch-7"
    assert entry.evidence == ["银行回单 2023-001"]


def test_unknown_project_is_not_found(app: Ledger) -> None:
    with pytest.raises(errors.NotFound):
        app.get_project("00000000-0000-4000-8000-000000000000")
    with pytest.raises(errors.NotFound):
        app.get_project("not-a-uuid")


def test_association_activity_and_designation(app: Ledger) -> None:
    association_id = factories.association(app)
    ctx = app.context(STAFF)
    app.record_activity(
        ctx,
        association_id,
        kind="promotion",
        occurred_on="2023-05-01",
        description="推介会",
        count=120,
    )
    app.award_designation(
        ctx, association_id, year=2023, designation="advanced_unit", occurred_on="2023-12-20"
    )
    with pytest.raises(errors.DomainError) as caught:
        app.award_designation(
            ctx, association_id, year=2023, designation="advanced_unit", occurred_on="2023-12-21"
        )
    assert caught.value.code == "already_awarded"
    app.deactivate_association(ctx, association_id, occurred_on="2024-01-01", reason="注销")
    with pytest.raises(errors.AssociationInactive):
        app.record_activity(
            ctx, association_id, kind="service", occurred_on="2024-02-01", description="x"
        )
    association = app.get_association(association_id)
    assert len(association.activities) == 1 and association.activities[0].count == 120
