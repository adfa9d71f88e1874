"""The app's frame: OpenAPI with an example in every schema, the background-service hook, the
users command line, and reading associations and a project's write answers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from services.bootstrap import Services
from services.settings import Settings
from tests.e2e.conftest import Api, TestClient, _client


def test_openapi_documents_every_schema_with_an_example(sqlite_api: Api) -> None:
    r = sqlite_api.client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    schemas = doc["components"]["schemas"]
    ours = [n for n in schemas if n.endswith(("In", "Out"))]
    assert {"AssociationIn", "ProjectIn", "FundsArrivalIn", "ProjectOut", "HistoryEntryOut"} <= set(
        ours
    )
    assert [n for n in ours if not schemas[n].get("examples")] == []
    for path in (
        "/projects/{project_id}/follow-ups",
        "/projects",
        "/associations/{association_id}/designations",
    ):
        assert "post" in doc["paths"][path]
    assert sqlite_api.client.get("/health").json() == {"status": "ok"}


class FakeService:
    def __init__(self, name: str, log: list[str], services: Services) -> None:
        self.name = name
        self.log = log
        self.scheduler_enabled = services.settings.scheduler_enabled

    def start(self) -> None:
        self.log.append(f"start {self.name} scheduler={self.scheduler_enabled}")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")


def test_background_services_start_and_stop_with_the_app(
    tmp_path: Path, clock: list[datetime]
) -> None:
    from api.app import create_app

    log: list[str] = []

    def projections(services: Services) -> Any:
        return FakeService("projections", log, services)

    def scheduler(services: Services) -> Any:
        enabled = services.settings.scheduler_enabled
        return FakeService("scheduler", log, services) if enabled else None

    extra = [projections, scheduler]
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    app = create_app(Settings(database_url=url), clock=lambda: clock[0], extra_services=extra)
    with TestClient(app):
        assert log == ["start projections scheduler=True", "start scheduler scheduler=True"]
        assert app.state.background_services == [
            "projections-and-scheduler",
            "projections",
            "scheduler",
        ]
    assert log[2:] == ["stop scheduler", "stop projections"]

    log.clear()
    app = create_app(
        Settings(database_url=url, scheduler_enabled=False),
        clock=lambda: clock[0],
        extra_services=extra,
    )
    with TestClient(app):
        assert app.state.scheduler_enabled is False
    assert log == ["start projections scheduler=False", "stop projections"]

    log.clear()
    app = create_app(Settings(database_url=url, background_services=False), extra_services=extra)
    with TestClient(app):
        pass
    assert log == []


def test_users_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    monkeypatch.setenv("ZHAOSHANG_DATABASE_URL", url)
    assert main(["users", "create", "zhao", "--role", "staff"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["users", "create", "zhao", "--role", "staff"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["users", "create", "qian", "--role", "liaison"]) == 1
    assert "--association" in capsys.readouterr().err
    assert main(["users", "create", "sun", "--role", "liaison", "--association", "nope"]) == 1
    assert "no association" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["users", "create", "li", "--role", "emperor"])
    capsys.readouterr()
    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert "zhao" in listing and "staff" in listing and token not in listing

    # The token works, and only its hash is stored.
    for api in _client(url, [datetime.now().astimezone()]):
        r = api.client.get("/associations", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        import sqlalchemy

        with api.app.state.users.engine.connect() as conn:
            stored = conn.execute(sqlalchemy.text("SELECT sha256 FROM zhaoshang_tokens")).all()
        assert token not in str(stored) and len(stored[0][0]) == 64


def test_associations_read_and_designations(sqlite_api: Api) -> None:
    a = sqlite_api.association()
    r = sqlite_api.post(
        f"/associations/{a}/activities",
        {"kind": "talent", "occurred_on": "2023-05-01", "description": "引进博士3名", "count": 3},
    )
    assert r.status_code == 201 and r.json()["version"] == 2 and r.json()["activity_id"]
    r = sqlite_api.post(
        f"/associations/{a}/designations",
        {"year": 2024, "designation": "advanced_unit", "occurred_on": "2024-12-20"},
        role="staff",
    )
    assert r.status_code == 201 and r.json() == {"version": 3}
    r = sqlite_api.post(
        f"/associations/{a}/designations",
        {"year": 2024, "designation": "advanced_unit", "occurred_on": "2024-12-21"},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_awarded"
    r = sqlite_api.get(f"/associations/{a}", role="officer")
    assert r.status_code == 200 and r.headers["etag"] == '"3"'
    body = r.json()
    assert body["activities"][0]["count"] == 3 and body["activities"][0]["kind"] == "talent"
    assert body["designations"][0]["designation"] == "advanced_unit"
    for i in range(3):
        sqlite_api.association(f"商会{i}")
    r = sqlite_api.get("/associations?page=2&size=2", role="auditor")
    assert r.json()["total"] == 4 and len(r.json()["items"]) == 2
    assert r.json()["items"][0]["name"] == "商会1"
    r = sqlite_api.get("/associations?size=501")
    assert r.status_code == 422 and r.json()["error"]["field"] == "size"


def test_every_project_write_answers_its_shape(sqlite_api: Api) -> None:
    """Each write endpoint of §12 once, in a life that allows it, with the answer's shape."""
    a, b = sqlite_api.association("甲"), sqlite_api.association("乙")
    project = sqlite_api.signed_project(a)
    url = f"/projects/{project}"

    def post(path: str, body: dict[str, Any], role: str = "officer") -> dict[str, Any]:
        r = sqlite_api.post(url + path, body, role=role)
        assert r.status_code == 201, (path, r.text)
        assert r.headers["etag"] == f'"{r.json()["version"]}"'
        return dict(r.json())

    assert post("/visits", {"occurred_on": "2023-01-05", "participants": "3人"}) == {"version": 3}
    post("/negotiations", {"occurred_on": "2023-01-06"})
    post("/registration", {"occurred_on": "2023-02-01", "details": "统一社会信用代码"})
    post("/construction", {"occurred_on": "2023-03-01"})
    funds = {
        "occurred_on": "2023-04-01",
        "amount": "1000000.00",
        "currency": "HKD",
        "rate_to_cny": "0.92",
        "source": "overseas",
    }
    first = post("/funds", funds)
    second = post("/funds", funds)
    assert set(first) == {"arrival_id", "version"} and first["arrival_id"] != second["arrival_id"]
    post(
        f"/funds/{first['arrival_id']}/corrections",
        {
            "occurred_on": "2023-04-10",
            "amount": "1100000.00",
            "currency": "HKD",
            "rate_to_cny": "0.92",
            "arrived_on": "2023-04-02",
            "reason": "回单金额",
        },
    )
    post(f"/funds/{second['arrival_id']}/void", {"occurred_on": "2023-04-10", "reason": "重复"})
    post(
        "/fixed-asset-investment",
        {"year": 2023, "amount": "5000000.00", "currency": "CNY", "occurred_on": "2024-01-15"},
    )
    post("/production", {"occurred_on": "2023-06-01", "milestone": "started"})
    post("/production", {"occurred_on": "2023-09-01", "milestone": "capacity_reached"})
    follow = post(
        "/follow-ups",
        {
            "occurred_on": "2023-12-01",
            "operating_status": "difficult",
            "issues": [
                {"category": "融资", "description": "贷款"},
                {"category": "用地", "description": "扩建"},
            ],
        },
    )
    assert set(follow) == {"version", "issue_ids"} and len(follow["issue_ids"]) == 2
    post(
        f"/issues/{follow['issue_ids'][0]}",
        {"status": "handling", "occurred_on": "2023-12-05", "note": "对接银行"},
    )
    post(
        "/attestations",
        {
            "kind": "positive_local_impact",
            "occurred_on": "2024-01-10",
            "granted": True,
            "reason": "带动就业",
        },
        role="staff",
    )
    post(
        "/attribution",
        {
            "occurred_on": "2024-01-11",
            "reason": "核实",
            "approver": "处长",
            "referrals": [{"association_id": a, "share": "50"}, {"association_id": b, "share": 50}],
        },
        role="staff",
    )
    post(
        "/classification",
        {
            "occurred_on": "2024-01-12",
            "project_type": "large_infrastructure",
            "reason": "规模",
            "approver": "处长",
        },
        role="staff",
    )
    post("/status", {"occurred_on": "2024-02-01", "status": "stalled", "reason": "资金"})

    p = sqlite_api.get(url).json()
    assert p["stage"] == "at_capacity" and p["status"] == "stalled"
    assert p["funds_total_cny"] == "1012000.00"  # 1,100,000 HKD × 0.92; the void counts nothing
    assert [x["voided"] for x in p["arrivals"]] == [False, True]
    assert p["arrivals"][0]["corrections"] == 1 and p["arrivals"][0]["arrived_on"] == "2023-04-02"
    assert p["fixed_asset_investment_cny"] == {"2023": "5000000.00"}
    assert p["follow_ups"][0]["operating_status"] == "difficult" and p["open_issues"] == 2
    assert [i["status"] for i in p["issues"]] == ["handling", "open"]
    assert p["attestation"]["granted"] is True and p["positive_impact_attested"] is True
    assert p["referrals"] == [
        {"association_id": a, "share": 50},
        {"association_id": b, "share": 50},
    ]
    assert p["project_type"] == "large_infrastructure"
    # A liaison of the association added by the attribution now reads the project.
    assert sqlite_api.get(url, role="liaison", association_id=b).status_code == 200
