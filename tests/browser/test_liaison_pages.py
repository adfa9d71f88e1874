"""A liaison's pages in a real browser (DESIGN §17, issue 20): its association's page with its
projects and their stages, recording an activity and referring a project with its own
association, and nothing of other associations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import PHONE, Live, screenshot, signed_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def two_associations(live: Live) -> dict[str, str]:
    ids = {}
    for key, name in (("own", "新加坡湖南商会"), ("other", "东京湖南同乡会")):
        ids[key] = live.api(
            "POST",
            "/associations",
            json={
                "name": name,
                "kind": "overseas_chamber",
                "based_in": name[:2],
                "occurred_on": "2026-01-05",
            },
        ).json()["id"]
    live.wait_for_read_models()
    return ids


def test_a_liaison_records_an_activity_refers_a_project_and_sees_only_its_own(
    browser: Any, live: Live, two_associations: dict[str, str]
) -> None:
    own, other = two_associations["own"], two_associations["other"]
    page = signed_in(browser, live, "liaison", PHONE, own)
    page.goto(f"{live.base_url}/app/associations")
    assert page.url.endswith(f"/app/associations/{own}")  # straight to its own
    page.click("text=记录活动")
    page.select_option("select[name=kind]", "promotion")
    page.fill("input[name=occurred_on]", "2026-11-18")
    page.fill("textarea[name=description]", "新加坡湖南籍企业家座谈会推介湖南营商环境")
    page.fill("input[name=count]", "85")
    page.click("form.event-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#activities").count() == 1, page.inner_text("main")
    assert "新加坡湖南籍企业家座谈会" in page.inner_text("#activities")
    assert len(live.api("GET", f"/associations/{own}").json()["activities"]) == 1

    page.click("text=登记引荐项目")
    assert page.input_value("select[name='referrals[0].association_id']") == own
    page.fill("input[name=name]", "狮城冷链物流中心")
    page.fill("input[name=investor]", "狮城物流私人有限公司")
    page.select_option("select[name=industry]", "G")
    page.select_option("select[name=project_type]", "ordinary")
    page.select_option("select[name=origin]", "overseas")
    page.select_option("select[name=city]", "yueyang")
    page.fill("input[name=planned_investment]", "300000000.00")
    page.fill("input[name=occurred_on]", "2026-11-19")
    page.check("#d-fortune_global_500")
    screenshot(page, "liaison-refer-phone")
    page.click("form.event-form button[type=submit]")
    assert "狮城冷链物流中心" in page.inner_text("h1")
    project = page.url.rsplit("/", 1)[-1]
    state = live.api("GET", f"/projects/{project}").json()
    assert state["referrals"] == [{"association_id": own, "share": 100}]
    assert [d["kind"] for d in state["designations"]] == ["fortune_global_500"]
    live.wait_for_read_models()
    page.goto(f"{live.base_url}/app/associations/{own}")
    assert "狮城冷链物流中心" in page.inner_text("#projects") and "已引荐" in page.inner_text(
        "#projects"
    )
    screenshot(page, "liaison-association-phone")

    refused = page.goto(f"{live.base_url}/app/associations/{other}")
    assert refused is not None and refused.status == 403
    assert live.api("GET", f"/associations/{other}").json()["activities"] == []
