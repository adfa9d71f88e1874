"""Rewards over HTTP: the settlement's life (freeze, refuse a second, revise with a reason,
approve, pay, audit), the reward figures exported as CSV and XLSX, and the policies listing."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook

from tests.e2e.conftest import Api

SETTLEMENTS = "/settlements/hunan-2022/2023"
STAMP = {"by": "财务处 王处长", "reference": "湘商务〔2024〕12号"}


def rewarded_year(api: Api) -> dict[str, str]:
    """One association, one attested project with 25,000,000 yuan arrived in 2023 (reward
    25,000.00), and a second association on a joint project below the threshold."""
    api.at("2024-01-20")
    x = api.association("北京湖南商会")
    y = api.association("上海湖南商会")
    p = api.signed_project(x)
    r = api.post(
        f"/projects/{p}/funds",
        {"occurred_on": "2023-06-01", "amount": "25000000.00", "currency": "CNY"},
        role="officer",
    )
    assert r.status_code == 201, r.text
    arrival = r.json()["arrival_id"]
    q = api.signed_project(x, y)
    r = api.post(
        f"/projects/{q}/funds",
        {
            "occurred_on": "2023-07-01",
            "amount": "2000000.00",
            "currency": "USD",
            "rate_to_cny": "7.1",
        },
        role="officer",
    )
    assert r.status_code == 201, r.text
    for project in (p, q):
        r = api.post(
            f"/projects/{project}/attestations",
            {
                "kind": "positive_local_impact",
                "occurred_on": "2023-12-01",
                "granted": True,
                "reason": "对当地经济社会发展起到积极作用",
            },
            role="staff",
        )
        assert r.status_code == 201, r.text
    return {"X": x, "Y": y, "P": p, "Q": q, "arrival": arrival}


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()["error"]
    assert body["code"] == code, r.text
    return body


def test_settlement_lifecycle(api: Api) -> None:
    ids = rewarded_year(api)

    # Freeze 2023: 201 with the frozen figures.
    r = api.post("/settlements", {"policy": "hunan-2022", "year": 2023}, role="staff")
    assert r.status_code == 201, r.text
    settled = r.json()
    assert settled["revision"] == 0 and settled["settled_on"] == "2024-01-20"
    assert settled["total"] == "25000.00" and settled["document_intact"] is True
    assert settled["approval"] is None and settled["payment"] is None
    assert {t["association_id"]: t["total"] for t in settled["totals"]} == {
        ids["X"]: "25000.00",
        ids["Y"]: "0.00",
    }
    figures = {a["association_id"]: a for a in settled["figures"]["associations"]}
    assert figures[ids["X"]]["total"] == "25000.00"

    # Once per (policy, year); a revision needs a reason.
    again = api.post("/settlements", {"policy": "hunan-2022", "year": 2023}, role="staff")
    error(again, 409, "settlement_exists")
    no_reason = api.post(
        "/settlements", {"policy": "hunan-2022", "year": 2023, "revise": True}, role="staff"
    )
    assert error(no_reason, 422, "validation_error")["field"] == "reason"
    blank = api.post(
        "/settlements",
        {"policy": "hunan-2022", "year": 2023, "revise": True, "reason": "  "},
        role="staff",
    )
    assert error(blank, 422, "validation_error")["field"] == "reason"
    nothing_to_revise = api.post(
        "/settlements",
        {"policy": "hunan-2022", "year": 2022, "revise": True, "reason": "无"},
        role="staff",
    )
    error(nothing_to_revise, 404, "not_found")

    # The bank slip shows less arrived: the audit recomputes and names the correcting event.
    api.at("2024-02-10")
    r = api.post(
        f"/projects/{ids['P']}/funds/{ids['arrival']}/corrections",
        {
            "occurred_on": "2024-02-10",
            "amount": "18000000.00",
            "currency": "CNY",
            "reason": "银行回单为18,000,000元",
        },
        role="officer",
    )
    assert r.status_code == 201, r.text
    correction_version = r.json()["version"]
    audit = api.get(f"{SETTLEMENTS}/audit", role="auditor")
    assert audit.status_code == 200, audit.text
    body = audit.json()
    assert body["settled"]["revision"] == 0 and body["settled"]["total"] == "25000.00"
    assert body["recomputed"]["total"] == "0.00"
    assert body["recomputed"]["position"] > body["settled"]["position"]
    [difference] = body["differences"]
    assert difference["association_id"] == ids["X"]
    assert (difference["settled_total"], difference["recomputed_total"]) == ("25000.00", "0.00")
    assert difference["difference"] == "-25000.00"
    assert difference["caused_by"] == [
        {"project_id": ids["P"], "version": correction_version, "type": "funds_arrival_corrected"}
    ]

    # Revised with its reason: revision 1, and the audit then finds nothing.
    r = api.post(
        "/settlements",
        {"policy": "hunan-2022", "year": 2023, "revise": True, "reason": "2024-02-10 银行回单更正"},
        role="staff",
    )
    assert r.status_code == 201, r.text
    revised = r.json()
    assert revised["revision"] == 1 and revised["total"] == "0.00"
    assert revised["reason"] == "2024-02-10 银行回单更正"
    assert [rev["revision"] for rev in revised["revisions"]] == [0, 1]
    assert api.get(f"{SETTLEMENTS}/audit", role="auditor").json()["differences"] == []

    # Paid only once approved; approved once per revision.
    early = api.post(f"{SETTLEMENTS}/payment", {"occurred_on": "2024-02-10", **STAMP}, role="staff")
    error(early, 409, "stage_order")
    r = api.post(f"{SETTLEMENTS}/approval", {"occurred_on": "2024-02-10", **STAMP}, role="staff")
    assert r.status_code == 201, r.text
    twice = api.post(
        f"{SETTLEMENTS}/approval", {"occurred_on": "2024-02-10", **STAMP}, role="staff"
    )
    error(twice, 409, "settlement_approved")
    before_settlement = api.post(
        f"{SETTLEMENTS}/payment", {"occurred_on": "2024-02-01", **STAMP}, role="staff"
    )
    assert before_settlement.status_code == 409, before_settlement.text
    r = api.post(f"{SETTLEMENTS}/payment", {"occurred_on": "2024-02-10", **STAMP}, role="staff")
    assert r.status_code == 201, r.text

    r = api.get(SETTLEMENTS, role="auditor")
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["revision"] == 1 and "figures" not in state
    assert state["approval"] == {
        "by": STAMP["by"],
        "on": "2024-02-10",
        "reference": STAMP["reference"],
    }
    assert state["payment"] == state["approval"]
    with_figures = api.get(SETTLEMENTS, params={"figures": "true"}, role="auditor").json()
    assert with_figures["figures"]["year"] == 2023

    # The officer may not settle; a settlement of a year nobody settled is 404.
    error(api.post("/settlements", {"year": 2023}, role="officer"), 403, "forbidden")
    error(api.get("/settlements/hunan-2022/2022", role="auditor"), 404, "not_found")
    error(api.get("/settlements/hunan-2022/2022/audit", role="auditor"), 404, "not_found")


def test_settling_an_unknown_policy_is_404(sqlite_api: Api) -> None:
    r = sqlite_api.post("/settlements", {"policy": "nowhere-2030", "year": 2023}, role="staff")
    assert error(r, 404, "not_found")["field"] == "policy"
    r = sqlite_api.get("/rewards/2023", params={"policy": "nowhere-2030"})
    assert error(r, 404, "not_found")["field"] == "policy"


HEADERS = [
    "商协会",
    "商协会奖励合计（元）",
    "是否封顶",
    "项目名称",
    "引荐占比（%）",
    "当年实际到位资金（元）",
    "资格状态",
    "项目奖励（元）",
    "本会所得（元）",
    "商协会编号",
    "项目编号",
]


def test_reward_figures_as_csv_and_xlsx(sqlite_api: Api) -> None:
    api = sqlite_api
    ids = rewarded_year(api)
    body = api.get("/rewards/2023", role="auditor").json()
    expected_rows = {
        (a["association_id"], p["project_id"]): (a, p)
        for a in body["associations"]
        for p in a["projects"]
    }
    assert set(expected_rows) == {(ids["X"], ids["P"]), (ids["X"], ids["Q"]), (ids["Y"], ids["Q"])}

    # CSV: UTF-8 with a BOM (so Excel reads the Chinese), Chinese headers, amounts with the fen.
    r = api.get("/rewards/2023", params={"format": "csv"}, role="auditor")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="rewards-hunan-2022-2023.csv"; ')
    assert (
        "filename*=UTF-8''%E5%A5%96%E5%8A%B1%E6%B5%8B%E7%AE%97-hunan-2022-2023.csv" in disposition
    )
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == HEADERS
    assert len(rows) == 1 + len(expected_rows)
    names = {a["id"]: a["name"] for a in api.get("/associations").json()["items"]}
    for row in rows[1:]:
        association, project = expected_rows[(row[9], row[10])]
        assert row[0] == names[row[9]]  # names, not ids, first
        assert row[1] == association["total"]
        assert row[2] == ("是" if association["capped"] else "否")
        assert row[5] == project["funds_in_year"]
        assert row[7] == project["project_reward"] and row[8] == project["reward"]
    x_on_p = next(row for row in rows[1:] if row[9] == ids["X"] and row[10] == ids["P"])
    assert x_on_p[5:9] == ["25000000.00", "符合奖励条件", "25000.00", "25000.00"]

    # XLSX: openpyxl reads it; amounts are numbers shown with two decimals.
    r = api.get("/rewards/2023", params={"format": "xlsx"}, role="auditor")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    workbook = load_workbook(io.BytesIO(r.content))
    sheet = workbook["奖励测算"]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == HEADERS
    assert len(values) == 1 + len(expected_rows)
    money_columns = [i for i, h in enumerate(HEADERS) if "（元）" in h]
    for excel_row, row in zip(sheet.iter_rows(min_row=2), values[1:], strict=True):
        association, project = expected_rows[(row[9], row[10])]
        assert isinstance(row[4], int | float)  # the share is a number
        for index in money_columns:
            cell = excel_row[index]
            assert isinstance(cell.value, int | float), (HEADERS[index], cell.value)
            assert cell.number_format == "#,##0.00"
        assert Decimal(str(row[1])) == Decimal(association["total"])
        assert Decimal(str(row[5])) == Decimal(project["funds_in_year"])
        assert Decimal(str(row[7])) == Decimal(project["project_reward"])
        assert Decimal(str(row[8])) == Decimal(project["reward"])

    # JSON is the default and the same body; an unknown format is refused.
    assert api.get("/rewards/2023", params={"format": "json"}, role="auditor").json() == body
    r = api.get("/rewards/2023", params={"format": "pdf"}, role="auditor")
    assert error(r, 422, "validation_error")["field"] == "format"


def test_policies_listing(sqlite_api: Api) -> None:
    r = sqlite_api.get("/policies", role="auditor")
    assert r.status_code == 200, r.text
    body = r.json()
    policies = {p["id"]: p for p in body["items"]}
    hunan = policies["hunan-2022"]
    assert hunan["valid"] is True and hunan["errors"] == []
    assert hunan["jurisdiction"]["level"] == "province"
    assert hunan["validity"] == {"from": "2022-09-01", "to": "2024-08-31"}
    assert hunan["versions"][0]["effective_from"] == "2022-09-01"
    assert hunan["file"].endswith("hunan-2022.yaml")
    assert all(set(p) >= {"id", "file", "valid", "errors"} for p in body["items"])
    [rules] = [e for e in body["evaluation_rules"] if e["id"] == "hunan-2022-evaluation"]
    assert rules["valid"] is True and rules["provisional"] is True and rules["version"] >= 1
