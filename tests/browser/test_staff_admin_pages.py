"""More staff and admin pages in a real browser (DESIGN §17, issue 20): staff read a reward
figure's explanation citing 四(二)3, assign an officer to a project, read the evaluation; an
admin disables an account, whose session ends and who can no longer sign in."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Live,
    log_in,
    person,
    screenshot,
    signed_in,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def rewarded(live: Live) -> dict[str, str]:
    """An association whose project had 25,000,000 yuan arrive in 2024 (reward 25,000.00 under
    the Hunan 2022 measures, in force until 2024-08-31), and a second association."""
    ids = {}
    for key, name in (("own", "长沙湖南商会"), ("other", "深圳湖南商会")):
        ids[key] = live.api(
            "POST",
            "/associations",
            json={
                "name": name,
                "kind": "domestic_chamber",
                "based_in": name[:2],
                "occurred_on": "2022-01-05",
            },
        ).json()["id"]
    project = live.api(
        "POST",
        "/projects",
        json={
            "name": "湘江新材料产业园",
            "investor": "华科实业有限公司",
            "industry": "C",
            "project_type": "ordinary",
            "origin": "other_province",
            "city": "changsha",
            "planned_investment": "100000000.00",
            "referrals": [{"association_id": ids["own"], "share": 100}],
            "occurred_on": "2023-06-01",
        },
    ).json()["id"]
    for path, body, role in (
        (
            "signing",
            {"occurred_on": "2023-07-01", "contract_amount": "90000000.00", "currency": "CNY"},
            "officer",
        ),
        (
            "funds",
            {"occurred_on": "2024-06-01", "amount": "25000000.00", "currency": "CNY"},
            "officer",
        ),
        (
            "attestations",
            {
                "kind": "positive_local_impact",
                "occurred_on": "2024-07-01",
                "granted": True,
                "reason": "对当地经济社会发展起到积极作用",
            },
            "staff",
        ),
    ):
        r = live.api("POST", f"/projects/{project}/{path}", role=role, json=body)
        assert r.status_code == 201, r.text
    small = live.api(
        "POST",
        "/projects",
        json={
            "name": "鹏城电子配套厂",
            "investor": "鹏城电子有限公司",
            "industry": "C",
            "project_type": "ordinary",
            "origin": "other_province",
            "city": "yueyang",
            "planned_investment": "30000000.00",
            "referrals": [{"association_id": ids["other"], "share": 100}],
            "occurred_on": "2023-06-01",
        },
    ).json()["id"]
    for path, body in (
        (
            "signing",
            {"occurred_on": "2023-07-01", "contract_amount": "3000000.00", "currency": "CNY"},
        ),
        ("funds", {"occurred_on": "2024-05-01", "amount": "1000000.00", "currency": "CNY"}),
    ):
        r = live.api("POST", f"/projects/{small}/{path}", role="officer", json=body)
        assert r.status_code == 201, r.text
    live.wait_for_read_models()
    return {**ids, "project": project}


def test_staff_read_a_reward_figure_explained_citing_the_clause(
    browser: Any, live: Live, rewarded: dict[str, str]
) -> None:
    page = signed_in(browser, live, "staff", DESKTOP)
    page.click("nav.sections >> text=奖励测算")
    page.wait_for_url("**/app/rewards/*")
    page.goto(f"{live.base_url}/app/rewards/2024")
    assert "2024 年度奖励测算" in page.inner_text("h1")
    assert "共 2 个商协会" in page.inner_text("main")
    page.fill("#f-q", "长沙")
    page.click("form.filters button[type=submit]")
    main = page.inner_text("main")
    assert "名称含“长沙”" in main and "共 1 个商协会" in main and "深圳湖南商会" not in main
    article = page.locator("article.reward-association", has_text="长沙湖南商会")
    assert "25,000.00" in article.inner_text()
    details = article.locator("details.explanation").first
    details.locator("summary").click()
    details.locator("ol.steps > li").nth(2).wait_for()  # read when opened (htmx)
    steps = details.locator("ol.steps > li")
    assert steps.count() >= 3  # the ordered steps
    explained = details.inner_text()
    assert "四(二)3" in explained and "起施行" in explained  # the clause, the parameters' dates
    assert "25,000" in explained
    screenshot(page, "staff-rewards-desktop")

    phone = signed_in(browser, live, "staff", PHONE)
    phone.goto(f"{live.base_url}/app/rewards/2024?q=changsha")  # pinyin finds it too
    phone.locator("details.explanation summary").first.click()
    phone.locator("details.explanation ol.steps > li").first.wait_for()
    assert "四(二)3" in phone.inner_text("details.explanation")
    screenshot(phone, "staff-rewards-phone")


def test_staff_assign_an_officer_to_a_project(
    browser: Any, live: Live, rewarded: dict[str, str]
) -> None:
    officer = person(live, "officer")
    page = signed_in(browser, live, "staff", PHONE)
    page.goto(f"{live.base_url}/app/projects/{rewarded['project']}")
    assert "尚未指派" in page.inner_text("#officers")
    page.click("#officers summary")
    page.select_option("#form-officer select[name=officer_id]", officer.id)
    page.fill("#form-officer textarea[name=reason]", "分管长沙片区")
    page.click("#form-officer button[type=submit]")
    page.wait_for_url(f"**/app/projects/{rewarded['project']}*")
    assert officer.name in page.inner_text("#officers")
    assigned = live.app.state.services.ledger.get_project(rewarded["project"]).assigned_officers
    assert assigned == [officer.id]
    screenshot(page, "staff-assign-officer-phone")

    # The officer now finds the project among its own.
    mine = live.api("GET", "/projects", role="officer", params={"officer": officer.id}).json()
    assert [p["project_id"] for p in mine["items"]] == [rewarded["project"]]


def test_an_admin_disables_an_account_which_can_no_longer_sign_in(
    browser: Any, live: Live, rewarded: dict[str, str]
) -> None:
    leaver = person(live, "liaison", rewarded["own"])
    their_page = log_in(browser, live, leaver, PHONE)  # signed in before being disabled

    admin = signed_in(browser, live, "admin", DESKTOP)
    admin.click("nav.sections >> text=账号")
    admin.click(f"#accounts >> text={leaver.name}")
    assert "正常" in admin.inner_text("#account-state")
    admin.fill("#form-disable textarea[name=reason]", "离职")
    admin.click("#form-disable button[type=submit]")
    admin.wait_for_selector("#form-enable")
    assert "已停用" in admin.inner_text("#account-state")
    screenshot(admin, "admin-account-disabled-desktop")

    their_page.goto(f"{live.base_url}/app/")  # the session ended with the account
    assert "/app/login" in their_page.url
    again = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
    again.goto(f"{live.base_url}/app/login")
    again.fill("input[name=name]", leaver.name)
    again.fill("input[name=password]", leaver.password)
    again.click("form.event-form button[type=submit]")
    assert "/app/login" in again.url and "用户名或密码错误" in again.inner_text("main")
    screenshot(again, "disabled-account-login-phone")


def test_staff_read_the_evaluation_ranking(
    browser: Any, live: Live, rewarded: dict[str, str]
) -> None:
    page = signed_in(browser, live, "staff", DESKTOP)
    page.goto(f"{live.base_url}/app/evaluations/2024")
    assert "2024 年度商协会考评" in page.inner_text("h1")
    assert "得分相同" in page.inner_text("#tie-rule")
    ranking = page.inner_text("#ranking")
    assert "长沙湖南商会" in ranking
    assert page.locator("#form-designations").count() == 1
    screenshot(page, "staff-evaluation-desktop")


def test_a_settlement_prints_on_a4_without_its_forms(
    browser: Any, live: Live, rewarded: dict[str, str]
) -> None:
    r = live.api("POST", "/settlements", role="staff", json={"policy": "hunan-2022", "year": 2024})
    assert r.status_code == 201, r.text
    page = signed_in(browser, live, "staff", DESKTOP)
    page.goto(f"{live.base_url}/app/settlements/hunan-2022/2024")
    assert page.locator("#form-approval").is_visible()
    page.emulate_media(media="print")
    assert not page.locator("#form-approval").is_visible()  # forms and navigation left out
    assert not page.locator("nav.sections").is_visible()
    assert "长沙湖南商会" in page.inner_text("main") and "25,000.00" in page.inner_text("main")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and b"/MediaBox [0 0 595" in pdf  # A4: 595 × 842 points
    screenshot(page, "staff-settlement-print")
