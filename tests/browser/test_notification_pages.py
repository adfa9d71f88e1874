"""Notifications in a real browser (DESIGN §20, issue 22): the bell with the unread count in
the header on a phone, the list with marking read, the channels form refusing an intranet
webhook beside its field, and an admin's failed deliveries."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, Live, log_in, person, screenshot

pytestmark = pytest.mark.browser


def test_the_bell_the_list_and_the_channels_on_a_phone(browser: Any, live: Live) -> None:
    officer = person(live, "officer")
    service = live.app.state.services.notifications
    for batch in ("b1", "b2"):
        service.notify(
            "import_finished",
            batch,
            officer.id,
            batch,
            {"file": f"{batch}.xlsx", "recorded": "3", "refused": "0"},
            "/app/",
        )
    page = log_in(browser, live, officer, PHONE)
    assert page.inner_text("#unread-count") == "2"
    # The header still fits a phone's width with the bell in it.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "notifications-bell-phone")
    page.click("li.bell a")
    assert page.url.endswith("/app/notifications")
    assert "b1.xlsx 导入完成" in page.inner_text("main")
    page.locator("form.inline button", has_text="标为已读").first.click()
    assert page.inner_text("#unread-count") == "1"
    screenshot(page, "notifications-list-phone")

    page.goto(f"{live.base_url}/app/channels")
    page.fill("input[name=wecom_webhook]", "http://192.168.1.10/hook")
    page.click("form.event-form button[type=submit]")
    assert "#" not in page.url
    assert page.inner_text("#e-wecom_webhook")  # the refusal beside its field, in Chinese
    assert page.input_value("input[name=wecom_webhook]") == "http://192.168.1.10/hook"
    page.fill("input[name=wecom_webhook]", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
    page.fill("input[name=email]", "officer@hunan.gov.cn")
    page.click("form.event-form button[type=submit]")
    assert page.url.endswith("/app/channels?saved=true")
    assert page.input_value("input[name=email]") == "officer@hunan.gov.cn"
    screenshot(page, "notifications-channels-phone")


def test_an_admin_sees_the_failed_deliveries(browser: Any, live: Live) -> None:
    admin = person(live, "admin")
    page = log_in(browser, live, admin, DESKTOP)
    page.goto(f"{live.base_url}/app/deliveries?status=failed")
    assert "通知投递" in page.inner_text("h1")
    screenshot(page, "notifications-deliveries-desktop")
