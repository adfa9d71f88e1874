"""The main story over HTTP, on an SQLite file and on PostgreSQL: tokens from the command line,
a referral by a liaison, the project's life recorded by an officer up to a follow-up visit with
an issue that is closed, then its history and its state as of last year."""

from __future__ import annotations

from itertools import pairwise

import pytest

from cli.main import main
from tests.e2e.conftest import Api


def cli_token(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["users", "create", *args]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    token = out[-1]
    assert token.startswith("zs_") and " " not in token
    return token


def test_the_main_story(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZHAOSHANG_DATABASE_URL", api.database_url)
    admin = {"Authorization": f"Bearer {cli_token(capsys, 'chen.admin', '--role', 'admin')}"}
    officer = {"Authorization": f"Bearer {cli_token(capsys, 'wang.li', '--role', 'officer')}"}
    c = api.client

    api.at("2024-03-14")
    r = c.post(
        "/associations",
        json={"name": "深圳湖南商会", "kind": "domestic_chamber", "based_in": "深圳"},
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["version"] == 1, r.text
    shenzhen = r.json()["id"]
    r = c.post(
        "/associations",
        json={"name": "新加坡湖南同乡会", "kind": "overseas_chamber", "based_in": "新加坡"},
        headers=admin,
    )
    singapore = r.json()["id"]
    liaison = {
        "Authorization": "Bearer "
        + cli_token(capsys, "liu.liaison", "--role", "liaison", "--association", shenzhen)
    }
    listed = c.get("/associations", headers=admin).json()
    assert [a["name"] for a in listed["items"]] == ["深圳湖南商会", "新加坡湖南同乡会"]
    assert c.get("/associations", headers=liaison).json()["total"] == 1

    # The liaison refers a project its association brought, jointly with another.
    api.at("2024-03-16")
    r = c.post(
        "/projects",
        json={
            "name": "新能源电池材料产业园",
            "investor": "华科实业有限公司",
            "industry": "C",
            "project_type": "ordinary",
            "origin": "other_province",
            "city": "changsha",
            "county": "长沙县",
            "planned_investment": "1500000000.00",
            "referrals": [
                {"association_id": shenzhen, "share": 60},
                {"association_id": singapore, "share": "40"},
            ],
            "occurred_on": "2024-03-15",
            "designations": ["china_private_500"],
        },
        headers=liaison,
    )
    assert r.status_code == 201, r.text
    assert r.headers["etag"] == '"1"' and r.headers["location"] == f"/projects/{r.json()['id']}"
    project = r.json()["id"]
    url = f"/projects/{project}"

    def step(day: str, path: str, body: dict[str, object], expect: int = 201) -> dict[str, object]:
        api.at(day)
        response = c.post(url + path, json=body, headers=officer)
        assert response.status_code == expect, response.text
        return dict(response.json())

    assert step("2024-04-03", "/visits", {"occurred_on": "2024-04-02"})["version"] == 2
    step("2024-05-11", "/negotiations", {"occurred_on": "2024-05-10", "notes": "用地"})
    step(
        "2024-06-19",
        "/signing",
        {"occurred_on": "2024-06-18", "contract_amount": "1200000000.00", "currency": "CNY"},
    )
    arrival = step(
        "2024-09-30",
        "/funds",
        {
            "occurred_on": "2024-09-30",
            "amount": "3000000.00",
            "currency": "USD",
            "rate_to_cny": "7.1234",
            "evidence": ["BOC-2024-0930-118"],
        },
    )
    assert arrival["version"] == 5 and isinstance(arrival["arrival_id"], str)
    produced = step(
        "2024-10-02", "/production", {"occurred_on": "2024-10-01", "milestone": "started"}
    )
    assert produced["version"] == 6

    # A follow-up visit that raises an issue, then the issue is closed.
    follow_up = step(
        "2025-01-11",
        "/follow-ups",
        {
            "occurred_on": "2025-01-10",
            "operating_status": "normal",
            "output_value": "86000000.00",
            "tax": "4300000.00",
            "employees": 320,
            "issues": [{"category": "用工", "description": "技术工人招聘困难"}],
        },
    )
    assert follow_up["version"] == 8 and len(follow_up["issue_ids"]) == 1  # type: ignore[arg-type]
    issue_id = follow_up["issue_ids"][0]  # type: ignore[index]
    api.at("2025-02-02")
    r = c.get(url, headers=officer)
    assert r.headers["etag"] == '"8"'
    r = c.post(
        f"{url}/issues/{issue_id}",
        json={"status": "closed", "occurred_on": "2025-02-01", "note": "人社局专场招聘会"},
        headers={**officer, "If-Match": r.headers["etag"]},
    )
    assert r.status_code == 201 and r.json() == {"version": 9}

    # The project now.
    api.at("2025-03-01")
    r = c.get(url, headers=liaison)  # the liaison reads the project it referred
    assert r.status_code == 200 and r.headers["etag"] == '"9"'
    now = r.json()
    assert now["stage"] == "in_production" and now["status"] == "active"
    assert now["funds_total_cny"] == "21370200.00"
    assert now["referrals"] == [
        {"association_id": shenzhen, "share": 60},
        {"association_id": singapore, "share": 40},
    ]
    assert now["issues"][0]["status"] == "closed" and now["open_issues"] == 0
    assert now["last_follow_up_on"] == "2025-01-10"
    assert now["signing"]["contract_amount_cny"] == "1200000000.00"

    # Its history: every event, who recorded it, chained.
    r = c.get(f"{url}/history", headers=admin)
    assert r.status_code == 200
    history = r.json()
    assert [h["type"] for h in history] == [
        "referred",
        "visit_recorded",
        "negotiation_recorded",
        "signed",
        "funds_arrived",
        "production_started",
        "follow_up_visit_recorded",
        "issue_raised",
        "issue_closed",
    ]
    assert [h["version"] for h in history] == list(range(1, 10))
    assert history[0]["actor"] == {"id": "liu.liaison", "role": "liaison"}
    assert {h["actor"]["id"] for h in history[1:]} == {"wang.li"}
    assert all(h["source"] == "api" for h in history)
    assert history[4]["evidence"] == ["BOC-2024-0930-118"]
    assert history[4]["data"]["amount"] == "3000000.00"
    assert history[0]["prev_hash"] == "0" * 64
    for before, after in pairwise(history):
        assert after["prev_hash"] == before["hash"]
    assert history[-1]["recorded_at"].startswith("2025-02-02T02:00:00")

    # As of last year: by business date, and as the record stood.
    for query in ("as_of=2024-12-31", "known_on=2024-12-31"):
        r = c.get(f"{url}?{query}", headers=admin)
        assert r.status_code == 200, r.text
        last_year = r.json()
        assert r.headers["etag"] == '"6"'
        assert last_year["version"] == 6 and last_year["stage"] == "in_production"
        assert last_year["follow_ups"] == [] and last_year["issues"] == []
        assert last_year["funds_total_cny"] == "21370200.00"
    r = c.get(f"{url}?as_of=2024-06-30", headers=admin)
    assert r.json()["stage"] == "signed" and r.json()["funds_total_cny"] == "0.00"
    r = c.get(f"{url}?as_of_version=1", headers=admin)
    assert r.json()["stage"] == "referred" and r.json()["version"] == 1
    r = c.get(f"{url}?as_of=2024-03-01", headers=admin)
    assert r.status_code == 404 and r.json()["error"]["field"] == "as_of"
