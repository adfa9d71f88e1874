"""Chinese first, labels beside codes, unknown parameters refused, duplicates, and search by
name, pinyin and initials — through HTTP on SQLite and PostgreSQL (DESIGN §16)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Api, project_read_models


def _referral(association_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "新材料产业园",
        "investor": "华科实业有限公司",
        "industry": "C",
        "project_type": "ordinary",
        "origin": "other_province",
        "city": "changsha",
        "planned_investment": "100000000.00",
        "referrals": [{"association_id": association_id, "share": 100}],
        "occurred_on": "2022-06-01",
    }
    return body | overrides


def _count(api: Api) -> int:
    project_read_models(api)
    return int(api.get("/projects").json()["total"])


# ---- language ---------------------------------------------------------------------------------


def test_refusals_are_in_chinese_unless_english_is_asked_for(api: Api) -> None:
    zh = api.get("/projects/not-a-uuid")
    en = api.get("/projects/not-a-uuid", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert zh.status_code == en.status_code == 404
    assert zh.json()["error"]["code"] == en.json()["error"]["code"] == "not_found"
    assert zh.json()["error"]["message"].startswith("不存在项目")
    assert en.json()["error"]["message"].startswith("no project")
    assert zh.headers["Content-Language"] == "zh-CN" and en.headers["Content-Language"] == "en"


def test_a_schema_refusal_is_in_chinese(sqlite_api: Api) -> None:
    r = sqlite_api.post("/associations", {"name": "x", "kind": "alumni"})
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "validation_error",
        "message": "此项为必填",
        "field": "based_in",
    }


# ---- labels beside codes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "label", "code"),
    [
        ("city", "娄底市", "loudi"),
        ("city", "娄底", "loudi"),
        ("city", "湘西", "xiangxi"),
        ("industry", "制造业", "C"),
        ("origin", "省外", "other_province"),
        ("project_type", "一般项目", "ordinary"),
    ],
)
def test_a_referral_takes_chinese_labels(api: Api, field: str, label: str, code: str) -> None:
    association = api.association()
    r = api.post("/projects", _referral(association, **{field: label}))
    assert r.status_code == 201, r.text
    assert api.get(f"/projects/{r.json()['id']}").json()[field] == code


def test_currencies_and_operating_statuses_take_chinese_labels(api: Api) -> None:
    project = api.signed_project()
    r = api.post(
        f"/projects/{project}/funds",
        {
            "occurred_on": "2023-02-01",
            "amount": "1000.00",
            "currency": "美元",
            "rate_to_cny": "7.1",
        },
    )
    assert r.status_code == 201, r.text
    r = api.post(
        f"/projects/{project}/production", {"occurred_on": "2023-03-01", "milestone": "投产"}
    )
    assert r.status_code == 201, r.text
    r = api.post(
        f"/projects/{project}/follow-ups",
        {
            "occurred_on": "2023-04-01",
            "operating_status": "正常",
            "output_value": "1.00",
            "tax": "1.00",
            "employees": 3,
        },
    )
    assert r.status_code == 201, r.text
    history = api.get(f"/projects/{project}/history").json()
    assert history[-3]["data"]["currency"] == "USD"
    assert history[-1]["data"]["operating_status"] == "normal"


def test_an_unknown_label_lists_the_valid_values_and_stores_nothing(api: Api) -> None:
    association = api.association()
    r = api.post("/projects", _referral(association, city="北京"))
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "validation_error" and error["field"] == "city"
    assert "loudi (娄底市)" in error["message"] and "可选值" in error["message"]
    assert _count(api) == 0


@pytest.mark.parametrize(
    ("params", "total"),
    [
        ({"city": "长沙市"}, 1),
        ({"city": "长沙"}, 1),
        ({"city": "changsha"}, 1),
        ({"city": "娄底市"}, 0),
        ({"stage": "已引荐"}, 1),
        ({"stage": "已投产"}, 0),
        ({"industry": "制造业"}, 1),
        ({"industry": "C"}, 1),
        ({"status": "正常"}, 1),
        ({"status": "停滞"}, 0),
    ],
)
def test_ledger_filters_take_labels(api: Api, params: dict[str, str], total: int) -> None:
    api.project()
    project_read_models(api)
    r = api.get("/projects", params=params)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == total


@pytest.mark.parametrize("params", [{"stage": "投产了"}, {"city": "北京"}, {"status": "x"}])
def test_an_unknown_filter_value_is_422_listing_the_valid_ones(
    sqlite_api: Api, params: dict[str, str]
) -> None:
    r = sqlite_api.get("/projects", params=params, headers={"Accept-Language": "en"})
    assert r.status_code == 422
    field = next(iter(params))
    assert r.json()["error"]["field"] == field
    assert "is not one of:" in r.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/projects", "/projects/export", "/health", "/dispatches"])
def test_an_unknown_query_parameter_is_422(sqlite_api: Api, path: str) -> None:
    r = sqlite_api.get(path, params={"cty": "长沙"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "unknown_parameter"
    assert r.json()["error"]["field"] == "cty"


# ---- duplicates -------------------------------------------------------------------------------


def test_a_second_association_of_one_name_and_city_is_409(api: Api) -> None:
    body = {"name": "深圳湖南商会", "kind": "domestic_chamber", "based_in": "深圳"}
    assert api.post("/associations", body).status_code == 201
    project_read_models(api)
    again = api.post("/associations", {**body, "based_in": "深圳市"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate_name"
    elsewhere = api.post("/associations", {**body, "based_in": "广州"})
    assert elsewhere.status_code == 201, elsewhere.text
    project_read_models(api)
    names = [a["name"] for a in api.get("/associations").json()["items"]]
    assert names.count("深圳湖南商会") == 2


def test_a_possible_duplicate_referral_is_409_unless_confirmed(api: Api) -> None:
    association = api.association()
    assert api.post("/projects", _referral(association)).status_code == 201
    assert _count(api) == 1
    again = api.post("/projects", _referral(association))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "possible_duplicate"
    assert _count(api) == 1
    assert api.post("/projects", _referral(association, city="娄底")).status_code == 201
    confirmed = api.post("/projects", _referral(association, confirm=True))
    assert confirmed.status_code == 201, confirmed.text
    assert _count(api) == 3


# ---- search -----------------------------------------------------------------------------------


@pytest.fixture
def searchable(api: Api) -> Api:
    lianxin = api.association("联新控股商会")
    other = api.association("岳麓校友会")
    for name, investor, association in [
        ("联新控股", "华科实业有限公司", other),
        ("新材料产业园", "联新控股集团", other),
        ("岳阳港物流", "湘江物流有限公司", lianxin),
        ("湖南100%_'\"园", "某某公司", other),
        ("芯片厂", "长信科技", other),
    ]:
        api.project(association, name=name, investor=investor)
    project_read_models(api)
    return api


def _found(api: Api, q: str) -> list[str]:
    r = api.get("/projects", params={"q": q})
    assert r.status_code == 200, r.text
    assert r.json()["total"] == len(r.json()["items"])
    return [item["name"] for item in r.json()["items"]]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("联新控股", ["联新控股", "新材料产业园", "岳阳港物流"]),  # exact, prefix, association
        ("lxkg", ["联新控股", "新材料产业园", "岳阳港物流"]),
        ("lianxin", ["联新控股", "新材料产业园", "岳阳港物流"]),
        ("LianXin", ["联新控股", "新材料产业园", "岳阳港物流"]),
        ("物流有限", ["岳阳港物流"]),
        ("芯片", ["芯片厂"]),  # two characters: a substring scan
        ("芯", ["芯片厂"]),
        ("zzz", []),
    ],
)
def test_search_by_chinese_pinyin_and_initials(
    searchable: Api, q: str, expected: list[str]
) -> None:
    found = _found(searchable, q)
    assert sorted(found) == sorted(expected)
    if expected and not q.isascii():  # pinyin matches rank alike, newest referral first
        assert found[0] == expected[0]


@pytest.mark.parametrize("q", ["%", "_", "'", '"', "100%", "%_'\"", "\\"])
def test_wildcards_and_quotes_are_text(searchable: Api, q: str) -> None:
    expected = [] if q == "\\" else ["湖南100%_'\"园"]
    assert _found(searchable, q) == expected


def test_search_ranks_exact_then_prefix_then_substring_then_pinyin(searchable: Api) -> None:
    api = searchable
    other = api.association("长沙商会")
    api.project(other, name="长信大厦", investor="某甲")
    api.project(other, name="城东长信", investor="某乙")
    api.project(other, name="长信", investor="某丙")
    project_read_models(api)
    found = _found(api, "长信")
    assert found[0] == "长信"  # exact
    assert set(found[1:3]) == {"长信大厦", "芯片厂"}  # prefixes (芯片厂 by its investor 长信科技)
    assert found[3:] == ["城东长信"]  # substring


def test_search_keeps_to_a_liaison_s_own_projects(searchable: Api) -> None:
    api = searchable
    mine = api.get("/associations").json()["items"]
    lianxin = next(a["id"] for a in mine if a["name"] == "联新控股商会")
    r = api.get("/projects", role="liaison", association_id=lianxin, params={"q": "物流"})
    assert [i["name"] for i in r.json()["items"]] == ["岳阳港物流"]
    r = api.get("/projects", role="liaison", association_id=lianxin, params={"q": "芯片"})
    assert r.json()["items"] == []


def test_the_ledger_workbook_has_names_labels_and_dates(sqlite_api: Api) -> None:
    import io
    from datetime import datetime

    from openpyxl import load_workbook

    api = sqlite_api
    body = {"name": "湖南商会", "kind": "domestic_chamber"}
    beijing = api.post("/associations", {**body, "based_in": "北京"}).json()["id"]
    project_read_models(api)
    shanghai = api.post("/associations", {**body, "based_in": "上海"}).json()["id"]
    api.project(beijing, shanghai)
    project_read_models(api)
    r = api.get("/projects/export", params={"format": "xlsx"})
    assert r.status_code == 200, r.text
    sheet = load_workbook(io.BytesIO(r.content))["项目台账"]
    header, row = (list(values) for values in sheet.iter_rows(values_only=True))
    line = dict(zip(header, row, strict=True))
    assert set(line["引荐商协会（占比%）"].split("；")) == {
        "湖南商会（北京）（60）",
        "湖南商会（上海）（40）",
    }
    assert line["状态"] == "推进中" and line["项目阶段"] == "已引荐"
    assert (
        isinstance(line["引荐日期"], datetime)
        and line["引荐日期"].date().isoformat() == "2022-06-01"
    )
