"""The import page in a real browser (DESIGN §19, issue 21): a staff member uploads a ledger,
reads the preview with its problem row, and confirms the fine rows."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import PHONE, Live, screenshot, signed_in
from tests.imports_support import row, workbook

pytestmark = pytest.mark.browser
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_staff_upload_preview_and_confirm_a_ledger(browser: Any, live: Live) -> None:
    r = live.api(
        "POST",
        "/associations",
        json={"name": "北京湖南商会", "kind": "domestic_chamber", "based_in": "北京"},
    )
    assert r.status_code == 201, r.text
    live.wait_for_read_models()
    data = workbook([row(1), row(2), row(3, **{"引荐日期": "2023年2月30日"})])

    page = signed_in(browser, live, "staff", PHONE)
    page.goto(f"{live.base_url}/app/")
    page.click("nav.sections a:has-text('导入台账')")
    page.set_input_files("#f-file", files=[{"name": "台账.xlsx", "mimeType": XLSX, "buffer": data}])
    page.click("#upload-form button[type=submit]")
    result = page.locator("#import-result").inner_text()
    assert "预览（尚未导入）" in result and "可导入 2 行" in result
    problems = page.locator("#import-rows").inner_text()
    assert "4" in problems and "引荐日期" in problems and "2023年2月30日" in problems
    screenshot(page, "staff-import-preview-phone")

    page.check("input[name=fine_rows_only]")
    page.click("#confirm-form button[type=submit]")
    assert "已导入 2 个项目" in page.locator("#import-result").inner_text()
    assert "台账.xlsx" in page.locator("section", has_text="导入记录").inner_text()
    batches = live.api("GET", "/imports").json()
    assert batches["total"] == 1 and batches["items"][0]["rows_recorded"] == 2
    screenshot(page, "staff-import-recorded-phone")
