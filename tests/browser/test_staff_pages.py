"""Staff pages in a real browser (DESIGN §17, issue 20): the quarterly dispatch with its three
charts drawn by ECharts and their tables, and its Excel download with Chinese headers."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pytest

from domain.values import SHANGHAI
from tests.browser.conftest import DESKTOP, PHONE, Live, screenshot, signed_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def dispatched(live: Live) -> dict[str, Any]:
    ids = []
    for name, city in (("北京湖南商会", "北京"), ("香港湖南商会", "香港")):
        ids.append(
            live.api(
                "POST",
                "/associations",
                json={"name": name, "kind": "domestic_chamber", "based_in": city},
            ).json()["id"]
        )
    for n, (association, city, amount) in enumerate(
        [
            (ids[0], "changsha", "30000000.00"),
            (ids[1], "yueyang", "12000000.00"),
            (ids[0], "loudi", "8000000.00"),
        ]
    ):
        project = live.api(
            "POST",
            "/projects",
            json={
                "name": f"示范项目{n + 1}",
                "investor": f"投资方{n + 1}",
                "industry": "C",
                "project_type": "ordinary",
                "origin": "other_province",
                "city": city,
                "planned_investment": "100000000.00",
                "referrals": [{"association_id": association, "share": 100}],
                "occurred_on": "2025-07-03",
            },
        ).json()["id"]
        for path, body in (
            ("visits", {"occurred_on": "2025-07-10"}),
            (
                "signing",
                {"occurred_on": "2025-08-01", "contract_amount": "90000000.00", "currency": "CNY"},
            ),
            ("funds", {"occurred_on": "2025-09-15", "amount": amount, "currency": "CNY"}),
        ):
            assert (
                live.api(
                    "POST", f"/projects/{project}/{path}", role="officer", json=body
                ).status_code
                == 201
            )
    live.wait_for_read_models()
    made = live.app.state.services.background().catch_up(datetime(2025, 10, 2, 2, tzinfo=UTC))
    assert "2025Q3" in [d.period for d in made if d.kind == "dispatch"]
    return {"associations": ids}


def test_staff_open_a_dispatch_with_its_charts_and_tables(
    browser: Any, live: Live, dispatched: dict[str, Any]
) -> None:
    page = signed_in(browser, live, "staff", DESKTOP)
    page.goto(f"{live.base_url}/app/dispatches")
    page.click("text=2025Q3")
    assert "2025Q3 季度工作调度" in page.inner_text("h1")
    page.wait_for_selector("div.chart[data-drawn=true] svg", timeout=15000)
    page.locator("div.chart[data-drawn=true]").nth(2).wait_for()  # all three drawn
    for chart in page.locator("div.chart").all():
        assert chart.locator("svg path, svg rect").count() > 3  # drawn with content
    cities = page.locator("section", has=page.locator("h2", has_text="各市州")).inner_text()
    assert "长沙市" in cities and "3,000.00" in cities  # 30,000,000 yuan = 3,000 万元
    associations = page.locator("section", has=page.locator("h2", has_text="各商协会")).inner_text()
    assert "北京湖南商会" in associations and "3,800.00" in associations
    screenshot(page, "staff-dispatch-desktop")

    href = page.get_attribute("a:has-text('下载 Excel')", "href")
    assert href is not None
    download = page.request.get(live.base_url + href)  # the browser's own session and headers
    assert download.ok and "spreadsheetml" in download.headers["content-type"]
    workbook = openpyxl.load_workbook(io.BytesIO(download.body()))
    headers = [c.value for c in next(workbook.worksheets[0].iter_rows(max_row=1))]
    assert any(isinstance(h, str) and any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in headers)

    phone = signed_in(browser, live, "staff", PHONE)
    phone.goto(f"{live.base_url}/app/dispatches/2025Q3")
    phone.locator("div.chart[data-drawn=true]").nth(2).wait_for()
    screenshot(phone, "staff-dispatch-phone")


def test_staff_freeze_and_approve_a_settlement(
    browser: Any, live: Live, dispatched: dict[str, Any]
) -> None:
    page = signed_in(browser, live, "staff", PHONE)
    page.goto(f"{live.base_url}/app/settlements")
    page.select_option("select[name=policy]", "hunan-2022")
    page.fill("input[name=year]", "1999")
    page.click("form.event-form button[type=submit]")
    assert page.locator("#e-year").count() == 1  # the schema's refusal, beside the year
    page.fill("input[name=year]", "2024")  # the scheduler froze it on 2025-01-15 already
    page.click("form.event-form button[type=submit]")
    assert "2024" in page.locator("#e-year").inner_text()  # settlement_exists, beside the year
    page.check("#f-revise")
    page.fill("textarea[name=reason]", "补录 2024 年第四季度到位资金")
    page.click("form.event-form button[type=submit]")
    assert page.url.endswith("/app/settlements/hunan-2022/2024"), page.inner_text("main")
    assert "待审批" in page.inner_text("main")
    today = datetime.now(SHANGHAI).date().isoformat()  # approved the day it was frozen
    page.fill("#form-approval input[name=occurred_on]", today)
    page.fill("#form-approval input[name=by]", "财务处 王处长")
    page.fill("#form-approval input[name=reference]", "湘商务〔2026〕12号")
    page.click("#form-approval button[type=submit]")
    assert "财务处 王处长" in page.inner_text("main")
    body = live.api("GET", "/settlements/hunan-2022/2024").json()
    assert body["approval"]["reference"] == "湘商务〔2026〕12号" and body["revision"] == 1
    screenshot(page, "staff-settlement-phone")
