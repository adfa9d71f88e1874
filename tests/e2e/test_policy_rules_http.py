"""The policy engine's second step through HTTP: the test policies of `tests/policies/` served by
the real app (`ZHAOSHANG_POLICY_PATH`), the hand-computed figures of
`liuyang-openness-2024`, a project whose only figure is a fixed-asset investment report, and
`POST /policies/reload`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Api, _client

TEST_POLICIES = Path(__file__).resolve().parents[1] / "policies"


@pytest.fixture
def dropped(tmp_path: Path) -> Path:
    folder = tmp_path / "dropped"
    folder.mkdir()
    return folder


@pytest.fixture
def policy_api(database_url: str, clock: list[datetime], dropped: Path) -> Iterator[Api]:
    yield from _client(database_url, clock, policy_path=f"{TEST_POLICIES}:{dropped}")


def _association(api: Api, name: str) -> str:
    return api.association(name)


def _project(api: Api, association_id: str, **fields: Any) -> str:
    project_id = api.project(association_id, occurred_on="2023-06-01", **fields)
    r = api.post(
        f"/projects/{project_id}/signing",
        {"occurred_on": "2023-07-01", "contract_amount": "50000000.00", "currency": "CNY"},
        role="officer",
    )
    assert r.status_code == 201, r.text
    return project_id


def _funds(
    api: Api, project_id: str, day: str, amount: str, currency: str = "CNY", **extra: Any
) -> None:
    body = {"occurred_on": day, "amount": amount, "currency": currency, **extra}
    r = api.post(f"/projects/{project_id}/funds", body, role="officer")
    assert r.status_code == 201, r.text


def _rows(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["project_id"]: r for a in body["associations"] for r in a["projects"]}


def test_second_step_figures_over_http(policy_api: Api) -> None:
    api = policy_api
    api.at("2025-01-15")
    x1, x2 = _association(api, "北京湖南商会"), _association(api, "深圳湖南商会")
    domestic = _project(api, x1, county="浏阳")
    # 60,000,000 × 0.005 (v1) + 60,000,000 × 0.006 (v2) = 300,000 + 360,000 = 660,000.00
    _funds(api, domestic, "2024-03-01", "60000000.00")
    _funds(api, domestic, "2024-09-01", "60000000.00")
    overseas = _project(
        api, x2, county="浏阳市", origin="overseas", designations=["fortune_global_500"]
    )
    # USD 15,000,000 × 7.1 = 106,500,000 and USD 10,000,000 × 7.2 = 72,000,000; band by USD
    # 25,000,000 → 0.015: 1,597,500 + 1,080,000 = 2,677,500; + bonus 100,000 = 2,777,500.00
    _funds(api, overseas, "2024-04-01", "15000000.00", "USD", rate_to_cny="7.1", source="overseas")
    _funds(api, overseas, "2024-10-01", "10000000.00", "USD", rate_to_cny="7.2", source="overseas")
    elsewhere = _project(api, x1, county="长沙县")
    _funds(api, elsewhere, "2024-05-01", "150000000.00")
    r = api.get("/rewards/2024", params={"policy": "liuyang-openness-2024"}, role="auditor")
    assert r.status_code == 200, r.text
    got = {p: (row["status"], row["reward"]) for p, row in _rows(r.json()).items()}
    assert got == {domestic: ("eligible", "660000.00"), overseas: ("eligible", "2777500.00")}
    steps = _rows(r.json())[overseas]["explanation"]
    table = next(s for s in steps if s["kind"] == "amount.decision_table")
    assert table["inputs"]["row"] == "overseas" and "决策表" in table["text_zh"]


def test_a_project_with_only_a_fixed_asset_report_is_listed(policy_api: Api) -> None:
    api = policy_api
    api.at("2024-02-01")
    association = _association(api, "北京湖南商会")
    project = _project(api, association)
    r = api.post(
        f"/projects/{project}/fixed-asset-investment",
        {"year": 2023, "amount": "200000000.00", "currency": "CNY", "occurred_on": "2024-01-20"},
        role="officer",
    )
    assert r.status_code == 201, r.text
    r = api.get("/rewards/2023", params={"policy": "changsha-fai-2023"}, role="auditor")
    assert r.status_code == 200, r.text
    # 200,000,000 lies in [1亿, 5亿): × 0.002 = 400,000.00 (below the 800,000 band cap)
    [row] = _rows(r.json()).values()
    assert (row["project_id"], row["status"], row["reward"]) == (project, "eligible", "400000.00")


def test_reload_picks_up_a_dropped_file_and_is_for_admins(policy_api: Api, dropped: Path) -> None:
    api = policy_api
    assert api.post("/policies/reload", role="staff").status_code == 403
    ids = {p["id"] for p in api.get("/policies", role="auditor").json()["items"]}
    assert "gaoxin-copy-2023" not in ids
    text = (TEST_POLICIES / "gaoxin-overseas-2023.yaml").read_text(encoding="utf-8")
    (dropped / "copy.yaml").write_text(
        text.replace("id: gaoxin-overseas-2023", "id: gaoxin-copy-2023"), encoding="utf-8"
    )
    (dropped / "broken.yaml").write_text(
        text.replace("id: gaoxin-overseas-2023", "id: broken-2023\nnotes: {a: 1}"), encoding="utf-8"
    )
    r = api.post("/policies/reload")
    assert r.status_code == 200, r.text
    body = r.json()
    assert "gaoxin-copy-2023" in body["policies"] and "broken-2023" not in body["policies"]
    assert [(e["path"], e["reason"]) for e in body["refused"] if "broken" in e["file"]] == [
        ("notes", "expected a text or a list of texts, found a mapping")
    ]
    listed = {p["id"]: p for p in api.get("/policies", role="auditor").json()["items"]}
    assert listed["gaoxin-copy-2023"]["valid"] is True and listed["broken-2023"]["valid"] is False
    r = api.get("/rewards/2023", params={"policy": "gaoxin-copy-2023"}, role="auditor")
    assert r.status_code == 200, r.text
    shutil.rmtree(dropped)
