"""The language switch in a real browser (DESIGN §16, issue 18): an officer whose browser asks
for Chinese switches to English, sees the project page and a form in English, then switches back;
the auditor uploads a checkpoint file and reads its verification. Accessibility basics on each
page visited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Live,
    assert_accessible,
    screenshot,
    signed_in,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def project(live: Live) -> str:
    association = live.api(
        "POST",
        "/associations",
        json={"name": "成都湖南商会", "kind": "domestic_chamber", "based_in": "成都"},
    ).json()["id"]
    created = live.api(
        "POST",
        "/projects",
        json={
            "name": "蜀湘冷链物流园",
            "investor": "蜀湘物流集团",
            "industry": "G",
            "project_type": "ordinary",
            "origin": "other_province",
            "city": "yueyang",
            "planned_investment": "300000000.00",
            "referrals": [{"association_id": association, "share": 100}],
            "occurred_on": "2023-04-01",
        },
    )
    assert created.status_code == 201, created.text
    project_id = str(created.json()["id"])
    r = live.api(
        "POST",
        f"/projects/{project_id}/signing",
        role="officer",
        json={"occurred_on": "2023-08-01", "contract_amount": "200000000.00", "currency": "CNY"},
    )
    assert r.status_code == 201, r.text
    live.wait_for_read_models()
    return project_id


def test_switch_to_english_and_back(browser: Any, live: Live, project: str) -> None:
    page = signed_in(browser, live, "officer", PHONE)
    page.goto(f"{live.base_url}/app/projects/{project}")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert "关键数据" not in page.inner_text("main")  # an aria-label, not shown
    assert "签约金额" in page.inner_text("main")

    page.click("form.lang-switch button[value=en]")
    page.wait_for_url(f"**/app/projects/{project}")
    assert page.get_attribute("html", "lang") == "en"
    main = page.inner_text("main")
    for words in ("Contract amount", "Funds arrivals", "About the project", "Yueyang"):
        assert words in main
    assert "签约金额" not in main and "资金到位" not in main
    assert page.inner_text("nav.sections").strip().startswith("To do")
    assert_accessible(page)
    screenshot(page, "language-project-english-phone")

    page.goto(f"{live.base_url}/app/projects/{project}/funds/new")  # still English
    assert page.inner_text("h1") == "Record a funds arrival"
    assert page.locator("label[for=f-amount]").inner_text().startswith("Amount arrived")
    page.fill("#f-occurred_on", "2999-01-01")
    page.fill("#f-amount", "1000000.00")
    page.click("form.event-form button[type=submit]")
    error = page.inner_text("#e-occurred_on")
    assert "is after today" in error  # the API's message, in English
    screenshot(page, "language-form-refused-english-phone")

    page.click("form.lang-switch button[value=zh]")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("h1") == "记录资金到位"
    page.goto(f"{live.base_url}/app/projects/{project}")
    assert "签约金额" in page.inner_text("main")
    assert_accessible(page)


def test_an_auditor_uploads_a_checkpoint_file(
    browser: Any, live: Live, project: str, tmp_path: Path
) -> None:
    from projections.integrity import generate_private_key, make_checkpoint, public_key_hex

    key = generate_private_key()
    settings = live.app.state.settings
    saved = settings.checkpoint_public_key
    settings.checkpoint_public_key = public_key_hex(key)
    try:
        document = make_checkpoint(live.app.state.services.ledger, key)
        path = tmp_path / "checkpoint-2026.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        page = signed_in(browser, live, "auditor", DESKTOP)
        page.goto(f"{live.base_url}/app/checkpoints")
        assert_accessible(page)
        page.set_input_files("#f-checkpoint_file", str(path))
        page.click("section.checkpoint-upload button[type=submit]")
        result = page.inner_text(".checkpoint-file-result")
        assert "核验通过" in result and "checkpoint-2026.json" in result
        screenshot(page, "auditor-checkpoint-file-desktop")

        page.goto(f"{live.base_url}/app/projects/{project}/verify")
        assert "凭证文件" in page.inner_text("[role=status]")
        assert_accessible(page)
    finally:
        settings.checkpoint_public_key = saved
