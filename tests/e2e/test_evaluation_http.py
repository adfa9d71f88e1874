"""The annual evaluation (三(二)), designations from its ranking, and the purchased service
(三(三), 四(二)1) over HTTP, on an SQLite file and on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.e2e.conftest import Api, project_read_models


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()["error"]
    assert body["code"] == code, r.text
    return body


def activity(api: Api, association_id: str, kind: str, day: str = "2024-05-01") -> None:
    r = api.post(
        f"/associations/{association_id}/activities",
        {"kind": kind, "occurred_on": day, "description": "推介会"},
        role="staff",
    )
    assert r.status_code == 201, r.text


def test_evaluation_ranking_and_designations(api: Api) -> None:
    api.at("2024-12-05")
    first = api.association("甲商会")
    second = api.association("乙商会")
    idle = sorted([api.association("丙商会"), api.association("丁商会")])
    activity(api, first, "promotion")
    activity(api, first, "service")
    activity(api, first, "promotion", day="2023-11-30")  # the evaluation year before
    activity(api, second, "talent")
    api.project(first, occurred_on="2024-01-10")
    project_read_models(api)

    r = api.get("/evaluations/2024", role="auditor")
    assert r.status_code == 200, r.text
    body = r.json()
    assert {"year", "published_top_n", "tie_rule", "items"} <= set(body)
    assert body["year"] == 2024 and body["period"] == {"from": "2023-12-01", "to": "2024-11-30"}
    assert body["published_top_n"] == 40
    assert "association id" in body["tie_rule"]
    items = body["items"]
    for item in items:
        assert {"rank", "association_id", "score", "indicators", "published"} <= set(item)
        assert isinstance(item["rank"], int) and isinstance(item["published"], bool)
        points = sum(Decimal(i["points"]) for i in item["indicators"].values())
        assert Decimal(item["score"]) == points, "the score is the sum of the indicators' points"
    assert [i["rank"] for i in items] == [1, 2, 3, 4]
    assert [i["association_id"] for i in items] == [first, second, *idle]
    assert [Decimal(i["score"]) for i in items] == sorted(
        (Decimal(i["score"]) for i in items), reverse=True
    )
    assert items[0]["indicators"]["promotion_service"]["value"] == 2  # not the one of 2023-11-30
    assert items[0]["indicators"]["referrals"]["value"] == 1
    assert items[1]["indicators"]["talent_technology"]["value"] == 1
    assert items[2]["score"] == items[3]["score"] == "0.00"  # a tie, broken by id ascending
    assert all(i["published"] for i in items)

    # Designations from the ranking: the top K, once.
    r = api.post(
        "/evaluations/2024/designations",
        {"designation": "advanced_unit", "top": 2, "occurred_on": "2024-12-05"},
        role="staff",
    )
    assert r.status_code == 201, r.text
    assert r.json() == {"awarded": [first, second], "skipped": []}
    again = api.post(
        "/evaluations/2024/designations", {"designation": "advanced_unit", "top": 2}, role="staff"
    )
    assert again.status_code == 201 and again.json() == {"awarded": [], "skipped": [first, second]}
    held = api.get(f"/associations/{first}", role="auditor").json()["designations"]
    assert [(d["year"], d["designation"]) for d in held] == [(2024, "advanced_unit")]
    assert api.get(f"/associations/{idle[0]}", role="auditor").json()["designations"] == []

    # Refusals are 4xx, never 500: an unknown designation, one the rules give no count for.
    r = api.post("/evaluations/2024/designations", {"designation": "hero", "top": 1})
    assert error(r, 422, "validation_error")["field"] == "designation"
    r = api.post("/evaluations/2024/designations", {"designation": "ambassador"})
    assert error(r, 422, "validation_error")["field"] == "top"
    r = api.post(
        "/evaluations/2024/designations", {"designation": "advanced_unit", "top": 1}, role="officer"
    )
    error(r, 403, "forbidden")
    assert error(api.get("/evaluations/1999"), 422, "validation_error")["field"] == "year"


def test_purchased_service_caps(api: Api) -> None:
    api.at("2024-12-20")
    association = api.association()

    # Above the annual cap of 3,000,000: refused, and nothing is stored.
    r = api.post(
        "/service-contracts",
        {
            "year": 2024,
            "provider": "湖南省商会服务中心",
            "amount": "3000000.01",
            "occurred_on": "2024-03-01",
        },
        role="staff",
    )
    assert error(r, 409, "over_cap")["field"] == "amount"
    error(api.get("/service-contracts/2024", role="auditor"), 404, "not_found")
    r = api.post(
        "/service-contracts/2024/subsidies",
        {
            "association_id": association,
            "amount": "1.00",
            "occurred_on": "2024-12-20",
            "reason": "x",
        },
        role="staff",
    )
    error(r, 404, "not_found")

    # Exactly the cap is allowed; one contract a year.
    r = api.post(
        "/service-contracts",
        {
            "year": 2024,
            "provider": "湖南省商会服务中心",
            "amount": "3000000.00",
            "occurred_on": "2024-03-01",
        },
        role="staff",
    )
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"id", "version"}
    r = api.post(
        "/service-contracts",
        {"year": 2024, "provider": "another", "amount": "100.00", "occurred_on": "2024-03-02"},
        role="staff",
    )
    error(r, 409, "service_contract_exists")

    # Subsidies out of the contract, never beyond it.
    def subsidy(amount: str) -> Any:
        return api.post(
            "/service-contracts/2024/subsidies",
            {
                "association_id": association,
                "amount": amount,
                "occurred_on": "2024-12-20",
                "reason": "年度考评优秀",
            },
            role="staff",
        )

    first = subsidy("2000000.00")
    assert first.status_code == 201, first.text
    assert set(first.json()) == {"subsidy_id", "version"}
    assert error(subsidy("1000000.01"), 409, "over_cap")["field"] == "amount"
    assert subsidy("1000000.00").status_code == 201
    error(subsidy("0.01"), 409, "over_cap")
    r = api.post(
        "/service-contracts/2024/subsidies",
        {"association_id": "nobody", "amount": "1.00", "occurred_on": "2024-12-20", "reason": "x"},
        role="staff",
    )
    error(r, 422, "unknown_association")
    error(api.post("/service-contracts/2024/subsidies", {}, role="officer"), 403, "forbidden")

    r = api.get("/service-contracts/2024", role="auditor")
    assert r.status_code == 200, r.text
    contract = r.json()
    assert contract["year"] == 2024 and contract["amount"] == "3000000.00"
    assert contract["annual_cap"] == "3000000.00"
    assert [s["amount"] for s in contract["subsidies"]] == ["2000000.00", "1000000.00"]
    assert contract["paid_total"] == "3000000.00" and contract["remaining"] == "0.00"


def test_the_evaluation_answers_csv_and_xlsx_with_chinese_headers(api: Api) -> None:
    import csv
    import io

    from openpyxl import load_workbook

    first = api.association('=HYPERLINK("http://x","点击")')
    activity(api, first, "promotion")
    project_read_models(api)
    as_json = api.get("/evaluations/2024", role="auditor").json()

    r = api.get("/evaluations/2024?format=csv", role="auditor")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["排名", "商协会编号", "商协会名称", "总分"] and rows[0][-1] == "是否公布"
    assert rows[1][1] == first and rows[1][2] == '\'=HYPERLINK("http://x","点击")'
    assert len(rows) == len(as_json["items"]) + 1

    r = api.get("/evaluations/2024?format=xlsx", role="auditor")
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/vnd.openxmlformats"
    )
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None and ws.cell(row=1, column=1).value == "排名"
    assert ws.cell(row=2, column=3).data_type == "s"  # the name is text, never a formula
    assert ws.cell(row=2, column=4).data_type == "n"  # the score is a number


def test_an_unknown_evaluation_format_is_422_never_json(api: Api) -> None:
    r = api.get("/evaluations/2024?format=pdf", role="auditor")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "format"
