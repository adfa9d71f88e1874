"""The auditor's pages in a real browser (DESIGN §17, issue 19): a project's history with every
event's hash, the project as of last year and as known on an earlier day, verify in words, a
settlement audit whose difference a late correction caused (with a link to that event), and a
tampered row shown as the broken link. The auditor is shown nothing that records an event."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select, update

from tests.browser.conftest import DESKTOP, PHONE, Live, screenshot, signed_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def settled(live: Live) -> dict[str, Any]:
    association = live.api(
        "POST",
        "/associations",
        json={"name": "广州湖南商会", "kind": "domestic_chamber", "based_in": "广州"},
    ).json()["id"]
    project = live.api(
        "POST",
        "/projects",
        json={
            "name": "湘粤智能制造基地",
            "investor": "粤港智造集团",
            "industry": "C",
            "project_type": "ordinary",
            "origin": "other_province",
            "city": "zhuzhou",
            "planned_investment": "600000000.00",
            "referrals": [{"association_id": association, "share": 100}],
            "occurred_on": "2023-02-01",
        },
    ).json()["id"]
    steps = [
        (
            "signing",
            {"occurred_on": "2023-03-01", "contract_amount": "300000000.00", "currency": "CNY"},
        ),
        ("funds", {"occurred_on": "2023-05-01", "amount": "50000000.00", "currency": "CNY"}),
    ]
    arrival = None
    for path, body in steps:
        r = live.api("POST", f"/projects/{project}/{path}", role="officer", json=body)
        assert r.status_code == 201, r.text
        arrival = r.json().get("arrival_id", arrival)
    attested = live.api(
        "POST",
        f"/projects/{project}/attestations",
        role="staff",
        json={
            "kind": "positive_local_impact",
            "occurred_on": "2023-12-01",
            "granted": True,
            "reason": "带动就业，纳税良好",
        },
    )
    assert attested.status_code == 201, attested.text
    r = live.api("POST", "/settlements", role="staff", json={"policy": "hunan-2022", "year": 2023})
    assert r.status_code == 201, r.text
    late = live.api(
        "POST",
        f"/projects/{project}/funds/{arrival}/corrections",
        role="officer",
        json={
            "occurred_on": "2026-03-01",
            "amount": "45000000.00",
            "currency": "CNY",
            "reason": "银行回单复核，金额更正",
        },
    )
    assert late.status_code == 201, late.text
    live.wait_for_read_models()
    return {"project": project, "correction_version": late.json()["version"]}


def test_history_points_in_time_and_verify(
    browser: Any, live: Live, settled: dict[str, Any]
) -> None:
    project = settled["project"]
    page = signed_in(browser, live, "auditor", DESKTOP)
    page.goto(f"{live.base_url}/app/projects/{project}/history")
    events = page.locator("article.event")
    assert events.count() == 5
    assert page.locator("code.hash").count() == 10  # every event's hash and its predecessor's
    assert "哈希链完整" in page.inner_text("main")
    assert "广州湖南商会（广州）" in page.inner_text("main")  # names, not ids
    headings = [h.inner_text() for h in page.locator("h1, h2").all()]
    assert headings[0] == "项目历史" and page.locator("h1").count() == 1  # headings in order
    for field in page.locator("input:not([type=hidden])").all():  # every input is labelled
        label_id = field.get_attribute("id")
        labelled = label_id and page.locator(f"label[for='{label_id}']").count() == 1
        assert labelled or field.get_attribute("aria-label")
    screenshot(page, "auditor-history-desktop")

    page.fill("#p-as-of", "2023-12-31")
    page.locator("form.point", has=page.locator("#p-as-of")).locator("button").click()
    assert "截至业务日期 2023-12-31" in page.inner_text("main")
    assert page.locator("article.event").count() == 4  # the 2026 correction occurred later
    assert "与当前状态相比有变化的数据" in page.inner_text("main")
    assert "funds_total_cny" in page.inner_text("table.changed")
    screenshot(page, "auditor-as-of-desktop")

    page.goto(f"{live.base_url}/app/projects/{project}/history?known_on=2020-01-01")
    assert page.locator("article.event").count() == 0  # nothing was recorded by then

    page.goto(f"{live.base_url}/app/projects/{project}/verify")
    assert "完整" in page.inner_text("[role=status]")

    page.goto(f"{live.base_url}/app/projects/{project}")
    assert page.locator("text=记录回访").count() == 0 and page.locator("text=记录事项").count() == 0


def test_a_settlement_audit_links_the_late_correction(
    browser: Any, live: Live, settled: dict[str, Any]
) -> None:
    page = signed_in(browser, live, "auditor", PHONE)
    page.goto(f"{live.base_url}/app/settlements/hunan-2022/2023")
    assert "待审批" in page.inner_text("main")
    page.click("text=审计：按事件日志重新计算")
    assert "差异（1）" in page.inner_text("main")
    assert "结算 50,000.00 元 → 重算 45,000.00 元" in page.inner_text("article.difference")
    screenshot(page, "auditor-settlement-audit-phone")
    page.click(f"a[href$='#v{settled['correction_version']}']")
    assert page.url.endswith(f"/history#v{settled['correction_version']}")
    assert "资金到位更正" in page.inner_text(f"#v{settled['correction_version']}")


def test_a_tampered_row_shows_as_the_broken_link(
    browser: Any, live: Live, settled: dict[str, Any]
) -> None:
    project = settled["project"]
    ledger = live.app.state.services.ledger
    table = ledger.recorder.events_record_cls.__table__
    with live.app.state.services.engine.begin() as conn:  # as an intruder would
        row = conn.execute(
            select(table.c.id, table.c.state).where(
                table.c.originator_id == UUID(project), table.c.originator_version == 3
            )
        ).one()
        state = bytes(row.state)
        assert b"50000000.00" in state
        conn.execute(
            update(table)
            .where(table.c.id == row.id)
            .values(state=state.replace(b"50000000.00", b"90000000.00"))
        )
    page = signed_in(browser, live, "auditor", DESKTOP)
    page.goto(f"{live.base_url}/app/projects/{project}/verify")
    status = page.inner_text("[role=status]")
    assert "发现篡改迹象" in status and "第 3 版" in status and "event_altered" in status
    screenshot(page, "auditor-verify-broken-desktop")
