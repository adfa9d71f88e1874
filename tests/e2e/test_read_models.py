"""The read-model endpoints over HTTP: ledger list and exports, follow-ups due, verify, and the
frozen dispatch as JSON, CSV and XLSX."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from openpyxl import load_workbook

from tests.e2e.conftest import Api, project_read_models


def _history(api: Api) -> dict[str, str]:
    a, b = api.association("北京湖南商会"), api.association("香港湖南商会", "overseas_chamber")
    p = api.signed_project(a)
    q = api.project(b, city="yueyang", occurred_on="2023-08-01")
    api.post(
        f"/projects/{p}/funds",
        {"occurred_on": "2023-11-01", "amount": "2500000.50", "currency": "CNY"},
    )
    api.post(f"/projects/{p}/production", {"occurred_on": "2023-12-01", "milestone": "started"})
    project_read_models(api)
    return {"a": a, "b": b, "p": p, "q": q}


def test_ledger_lists_filters_and_scopes(api: Api) -> None:
    ids = _history(api)
    r = api.get("/projects")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 2 and [i["project_id"] for i in body["items"]] == [ids["q"], ids["p"]]
    p = body["items"][1]
    assert (p["stage"], p["funds_total_cny"], p["contract_amount"]) == (
        "in_production",
        "2500000.50",
        "50000000.00",
    )
    assert api.get("/projects?city=yueyang").json()["total"] == 1
    assert api.get("/projects?stage=in_production").json()["items"][0]["project_id"] == ids["p"]
    assert api.get(f"/projects?association_id={ids['b']}").json()["total"] == 1
    assert api.get("/projects?page=2&size=1").json()["items"][0]["project_id"] == ids["p"]
    bad = api.get("/projects?city=wuhan")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "city"
    liaison = api.get("/projects", role="liaison", association_id=ids["b"]).json()
    assert [i["project_id"] for i in liaison["items"]] == [ids["q"]]


def test_ledger_exports_as_csv_with_bom_and_xlsx_with_chinese_headers(api: Api) -> None:
    ids = _history(api)
    csv = api.get("/projects/export?format=csv")
    assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
    text = csv.content.decode("utf-8-sig").splitlines()
    assert text[0].startswith("项目编号,项目名称,投资方")
    assert any(ids["p"] in line and "2500000.50" in line for line in text[1:])
    xlsx = api.get("/projects/export?format=xlsx")
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    funds = header.index("累计到位资金（元）") + 1
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == ids["p"])
    assert row[funds - 1].value == 2500000.5 and row[funds - 1].number_format == "#,##0.00"
    assert api.get("/projects/export?format=pdf").status_code == 422


def test_follow_ups_due_and_verify(api: Api) -> None:
    ids = _history(api)
    due = api.get("/follow-ups/due?as_of=2024-07-01").json()
    assert [i["project_id"] for i in due["items"]] == [ids["p"]] and due["interval_days"] == 180
    assert api.get("/follow-ups/due?as_of=2024-05-01").json()["total"] == 0
    verified = api.get(f"/projects/{ids['p']}/verify", role="auditor").json()
    assert verified["ok"] is True and verified["broken_at"] is None


def test_dispatch_documents_download_in_three_formats(api: Api) -> None:
    ids = _history(api)
    services = api.app.state.services.background()
    services.catch_up(datetime(2024, 1, 10, 2, tzinfo=UTC))
    listing = api.get("/dispatches").json()
    assert [i["period"] for i in listing["items"]] == [
        "2022Q1",
        "2022Q2",
        "2022Q3",
        "2022Q4",
        "2023Q1",
        "2023Q2",
        "2023Q3",
        "2023Q4",
    ]
    doc = api.get("/dispatches/2023q4").json()
    assert doc["period"] == "2023Q4" and doc["revision"] == 0 and len(doc["content_hash"]) == 64
    figures = doc["content"]["figures"]["quarter_figures"]["province"]
    assert figures["funds_fen"] == 250_000_050 and figures["production_starts"] == 1
    assert [p["project_id"] for p in doc["content"]["progress"]] == [ids["p"]]
    csv = api.get("/dispatches/2023Q4?format=csv")
    assert csv.content.startswith("\ufeff".encode()) and "本季到位资金（元）" in csv.content.decode(
        "utf-8-sig"
    )
    book = load_workbook(io.BytesIO(api.get("/dispatches/2023Q4?format=xlsx").content))
    assert book.sheetnames == ["季调度数据", "项目进展", "签约未落地", "回访逾期"]
    assert api.get("/dispatches/2031Q1").status_code == 404
    assert api.get("/dispatches/2023Q5").json()["error"]["code"] == "validation_error"
