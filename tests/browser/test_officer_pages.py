"""The follow-up officer's pages in a real browser (DESIGN §17, issue 18): the 待办 start page,
the project page, a 回访 raising two issues, closing one, a funds arrival, a refusal shown beside
its field with nothing stored, a double submit recorded once, and a liaison kept out."""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

import pytest
from playwright.sync_api import expect

from domain.events import Actor
from tests.browser.conftest import DESKTOP, PHONE, Live, log_in, person, screenshot, signed_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def producing(live: Live) -> dict[str, str]:
    """An association, and one of its projects in production since 2023 (a 回访 is overdue)."""
    association = live.api(
        "POST",
        "/associations",
        json={"name": "深圳湖南商会", "kind": "domestic_chamber", "based_in": "深圳"},
    ).json()["id"]
    other = live.api(
        "POST",
        "/associations",
        json={"name": "上海湖南商会", "kind": "domestic_chamber", "based_in": "上海"},
    ).json()["id"]
    project = live.api(
        "POST",
        "/projects",
        json={
            "name": "联新控股新材料产业园",
            "investor": "联新控股有限公司",
            "industry": "C",
            "project_type": "ordinary",
            "origin": "other_province",
            "city": "changsha",
            "planned_investment": "800000000.00",
            "referrals": [{"association_id": association, "share": 100}],
            "occurred_on": "2022-05-10",
        },
    ).json()["id"]
    for path, body in (
        (
            "signing",
            {"occurred_on": "2022-09-01", "contract_amount": "500000000.00", "currency": "CNY"},
        ),
        ("production", {"occurred_on": "2023-06-01", "milestone": "started"}),
    ):
        r = live.api("POST", f"/projects/{project}/{path}", role="officer", json=body)
        assert r.status_code == 201, r.text
    live.wait_for_read_models()
    return {"association": association, "other": other, "project": project}


def _png() -> bytes:
    """A 1×1 PNG, as a phone's photo of a bank slip would be (smaller)."""
    raw = b"\x00\xff\xff\xff"

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _version(live: Live, project: str) -> int:
    return int(live.api("GET", f"/projects/{project}").json()["version"])


def test_an_officer_records_a_follow_up_and_closes_an_issue_on_a_phone(
    browser: Any, live: Live, producing: dict[str, str]
) -> None:
    project = producing["project"]
    officer = person(live, "officer")
    ctx = live.app.state.services.ledger.context(Actor("staff-1", "staff"))
    live.app.state.services.ledger.assign_officer(ctx, project, officer.id)
    live.wait_for_read_models()
    page = log_in(browser, live, officer, PHONE)
    page.goto(live.base_url + "/")
    assert page.url.endswith("/app/")
    todo = page.locator("a", has_text="联新控股新材料产业园").first
    assert "回访到期" in page.inner_text("main") and "逾期" in page.inner_text("main")
    screenshot(page, "officer-start-phone")
    page.goto(f"{live.base_url}/app/projects/{project}")
    assert "已投产" in page.inner_text(".timeline")
    screenshot(page, "officer-project-phone")

    before = _version(live, project)
    page.click("a.primary-action")
    page.select_option("select[name=operating_status]", "normal")
    page.fill("input[name=occurred_on]", "2026-11-20")
    page.fill("input[name=output_value]", "52000000.00")
    page.fill("input[name=employees]", "240")
    page.fill("input[name='issues[0].category']", "用工")
    page.fill("textarea[name='issues[0].description']", "熟练技工招聘难")
    page.fill("input[name='issues[1].category']", "融资")
    page.fill("textarea[name='issues[1].description']", "流动资金贷款到期续贷")
    screenshot(page, "officer-follow-up-form-phone")
    page.click("form.event-form button[type=submit]")
    assert page.url.endswith(f"/app/projects/{project}#issues")
    assert "未办结的问题诉求（2）" in page.inner_text("#issues")
    state = live.api("GET", f"/projects/{project}").json()
    assert state["version"] == before + 3 and state["open_issues"] == 2  # visit and two issues
    assert state["last_follow_up_on"] == "2026-11-20"

    page.locator("#issues a", has_text="办理").first.click()
    page.select_option("select[name=status]", "closed")
    page.fill("input[name=occurred_on]", "2026-11-25")
    page.fill("textarea[name=note]", "人社局专场招聘会已解决")
    page.click("form.event-form button[type=submit]")
    assert "未办结的问题诉求（1）" in page.inner_text("#issues")
    assert live.api("GET", f"/projects/{project}").json()["open_issues"] == 1
    assert todo is not None
    screenshot(page, "officer-project-after-follow-up-phone")


def test_a_funds_arrival_a_refusal_beside_its_field_and_a_double_submit(
    browser: Any, live: Live, producing: dict[str, str]
) -> None:
    project = producing["project"]
    page = signed_in(browser, live, "officer", DESKTOP)
    assert "联新控股" not in page.inner_text("main")  # not on this officer's 待办
    page.fill("input[type=search]", "lxkg")  # pinyin initials of 联新控股
    page.press("input[type=search]", "Enter")
    page.click("text=联新控股新材料产业园")
    assert page.url.endswith(f"/app/projects/{project}")
    page.goto(f"{live.base_url}/app/projects/{project}/funds/new")
    before = _version(live, project)

    page.fill("input[name=occurred_on]", "2099-01-01")  # in the future
    page.fill("input[name=amount]", "25000000.00")
    page.select_option("select[name=currency]", "CNY")
    page.click("form.event-form button[type=submit]")
    error = page.locator("#e-occurred_on")
    assert "2099-01-01 晚于今天" in error.inner_text()  # the API's Chinese date_in_future
    assert page.input_value("input[name=amount]") == "25000000.00"  # the input is kept
    assert _version(live, project) == before  # nothing stored
    screenshot(page, "officer-funds-refused-desktop")

    page.fill("input[name=occurred_on]", "2026-10-08")
    page.set_input_files(
        "input[name=evidence_file]",
        files=[{"name": "回单.png", "mimeType": "image/png", "buffer": _png()}],
    )
    page.dblclick("form.event-form button[type=submit]")  # a double tap
    # Polled, not awaited as one navigation: on a busy machine the second tap may abort the
    # first tap's navigation before the page blocks it, which is what the double tap tests.
    expect(page).to_have_url(re.compile(rf".*/app/projects/{project}$"))
    page.wait_for_load_state()
    live.wait_for_read_models()
    state = live.api("GET", f"/projects/{project}").json()
    assert state["version"] == before + 1
    assert [a["amount"] for a in state["arrivals"]] == ["25000000.00"]
    assert "25,000,000.00 CNY" in page.inner_text("#funds")
    files = live.api("GET", f"/projects/{project}/files").json()
    assert [(f["name"], f["media_type"]) for f in files] == [("回单.png", "image/png")]
    screenshot(page, "officer-project-desktop")


def test_a_liaison_cannot_open_another_associations_project(
    browser: Any, live: Live, producing: dict[str, str]
) -> None:
    page = signed_in(browser, live, "liaison", PHONE, producing["other"])
    response = page.goto(f"{live.base_url}/app/projects/{producing['project']}")
    assert response is not None and response.status == 404
    own = signed_in(browser, live, "liaison", PHONE, producing["association"])
    response = own.goto(f"{live.base_url}/app/projects/{producing['project']}")
    assert response is not None and response.status == 200
