"""The issue-13 reproductions over HTTP (items 1, 4, 5): each is a clear 4xx with its stable code,
stores nothing, and the read models keep up afterwards; `/health` names a stopped projection."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from domain.project import Project
from projections.history import history_view
from projections.runtime import ProjectionRunner
from tests.conftest import OFFICER
from tests.e2e.conftest import Api, project_read_models
from tests.e2e.test_errors import assert_error
from tests.integration.test_projection_hardening import Exploding


def _head(api: Api) -> int:
    return int(api.app.state.ledger.recorder.max_notification_id() or 0)


def _refused(api: Api, path: str, body: Any, status: int, code: str, **kw: Any) -> None:
    api.auth(kw.get("role", "admin"), kw.get("association_id"))  # the user's account first
    before = _head(api)
    if isinstance(body, str):  # a body json.dumps wrote (a lone surrogate cannot be encoded)
        r = api.post(path, content=body, headers={"Content-Type": "application/json"}, **kw)
    else:
        r = api.post(path, body, **kw)
    assert_error(r, status, code)
    assert _head(api) == before, "a refused request stored an event"


def _producing(api: Api) -> tuple[str, str, str]:
    association = api.association()
    project = api.signed_project(association)
    r = api.post(
        f"/projects/{project}/funds",
        {"occurred_on": "2023-06-01", "amount": "100.00", "currency": "CNY"},
    )
    assert r.status_code == 201, r.text
    arrival = r.json()["arrival_id"]
    r = api.post(
        f"/projects/{project}/production", {"occurred_on": "2023-07-01", "milestone": "started"}
    )
    assert r.status_code == 201, r.text
    return association, project, arrival


def _read_models_keep_up(api: Api) -> None:
    project = api.project(name="之后的项目")
    project_read_models(api)
    assert project in {i["project_id"] for i in api.get("/projects?size=100").json()["items"]}
    assert api.get("/health").json() == {"status": "ok"}


def test_item_1_no_request_can_stop_the_read_models(api: Api) -> None:
    association, project, _ = _producing(api)
    activity = {"kind": "promotion", "occurred_on": "2023-08-01", "description": "推介会"}
    _refused(
        api,
        f"/associations/{association}/activities",
        {**activity, "count": 10**30},
        422,
        "out_of_range",
        role="liaison",
        association_id=association,
    )
    funds = f"/projects/{project}/funds"
    huge = {"occurred_on": "2023-08-01", "amount": "999999999999999.99"}
    _refused(api, funds, {**huge, "currency": "USD", "rate_to_cny": "99999"}, 422, "out_of_range")
    _refused(api, funds, {**huge, "currency": "CNY"}, 422, "out_of_range")
    # The largest accepted amounts, many times over, are projected exactly.
    for _ in range(3):
        r = api.post(funds, {**huge, "amount": "10000000000000.00", "currency": "CNY"})
        assert r.status_code == 201, r.text
    project_read_models(api)
    assert api.get(f"/projects/{project}").json()["funds_total_cny"] == "30000000000100.00"
    _read_models_keep_up(api)


def test_item_4_no_500s(api: Api) -> None:
    _, project, arrival = _producing(api)
    assert_error(api.get("/follow-ups/due?as_of=0001-01-01"), 422, "out_of_range", "as_of")
    referral = {
        "name": "a\ud800b",
        "investor": "华科实业有限公司",
        "industry": "C",
        "project_type": "ordinary",
        "origin": "other_province",
        "city": "changsha",
        "planned_investment": "100000000.00",
        "referrals": [{"association_id": api.association("长沙校友会", "alumni"), "share": 100}],
        "occurred_on": "2022-06-01",
    }
    _refused(api, "/projects", json.dumps(referral), 422, "invalid_text")
    _refused(
        api,
        f"/projects/{project}/funds",
        {
            "occurred_on": "2023-08-01",
            "amount": "999999999999999.99",
            "currency": "USD",
            "rate_to_cny": "999999999999999.999999",
        },
        422,
        "out_of_range",
    )
    correction = {
        "occurred_on": "2023-05-31",
        "amount": "90.00",
        "currency": "CNY",
        "reason": "回单",
    }
    _refused(
        api,
        f"/projects/{project}/funds/{arrival}/corrections",
        correction,
        409,
        "date_before_arrival",
    )
    _refused(
        api,
        f"/projects/{project}/funds/{arrival}/void",
        {"occurred_on": "2023-05-31", "reason": "重复"},
        409,
        "date_before_arrival",
    )
    _read_models_keep_up(api)


def test_item_4_time_travel_tolerates_old_corrections_before_their_arrival(api: Api) -> None:
    """Events of that shape were stored before the rule: as of a day between the correction and
    its arrival, neither has happened."""
    _, project, arrival = _producing(api)
    ledger = api.app.state.ledger
    state = ledger.get_project(project)
    ctx = ledger.context(OFFICER)
    state._trigger(  # as the old code did, without the date check
        Project.FundsArrivalCorrected,
        ctx,
        date(2023, 5, 20),
        arrival_id=arrival,
        amount=Decimal("90.00"),
        currency="CNY",
        rate_to_cny=Decimal(1),
        arrived_on=date(2023, 6, 1),
        reason="旧数据",
    )
    ledger.save_or_conflict(state)
    r = api.get(f"/projects/{project}?as_of=2023-05-25")
    assert r.status_code == 200, r.text
    assert r.json()["funds_total_cny"] == "0.00"
    assert api.get(f"/projects/{project}?as_of=2023-06-02").json()["funds_total_cny"] == "90.00"
    view = history_view(ledger, project, as_of="2023-05-25")
    assert view.mode == "as_of"
    project_read_models(api)
    assert api.get("/health").json() == {"status": "ok"}


def test_item_5_garbage_is_refused(api: Api) -> None:
    _, project, _ = _producing(api)
    follow_up = {"occurred_on": "2023-08-01", "operating_status": "normal"}
    path = f"/projects/{project}/follow-ups"
    _refused(api, path, {**follow_up, "employees": 10**30}, 422, "out_of_range")
    _refused(api, path, {**follow_up, "output_value": "１００.００"}, 422, "invalid_amount")
    _refused(api, path, {**follow_up, "tax": "١٠٠"}, 422, "invalid_amount")
    association = api.association("长沙校友会", "alumni")
    referral = {
        "investor": "华科实业有限公司",
        "industry": "C",
        "project_type": "ordinary",
        "origin": "other_province",
        "city": "changsha",
        "planned_investment": "100000000.00",
        "referrals": [{"association_id": association, "share": 100}],
        "occurred_on": "2022-06-01",
    }
    _refused(api, "/projects", {**referral, "name": "\u200b\u200b\u200b"}, 422, "invalid_text")
    _refused(api, "/projects", {**referral, "name": "新\x1b[2J\x1b[31m项目"}, 422, "invalid_text")
    _read_models_keep_up(api)


def test_health_names_a_stopped_projection(sqlite_api: Api) -> None:
    api = sqlite_api
    api.signed_project()
    ProjectionRunner(api.app.state.ledger, [Exploding()]).run_once()
    r = api.get("/health", role=None)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "degraded"
    [stopped] = body["stopped_projections"]
    assert (stopped["name"], stopped["event_type"], stopped["version"]) == (
        "exploding",
        "Project.Signed",
        2,
    )
