"""The staff pages over HTTP (DESIGN §17, issue 20): rewards with their explanations, the
evaluation and designations, the purchased service, officer assignment, accounts and each role's
start page — what each shows, and each page's refusals: the roles that may not see or write it,
the schema's and the command's refusals beside their fields, the CSRF check of a session's form.
Pages answer to the same bearer tokens as the API, so most of these use them."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Api, _client, project_read_models
from tests.e2e.test_rewards_http import error, rewarded_year

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def page(api: Api, path: str, role: str = "staff", **kw: Any) -> Any:
    return api.get(path, role=role, follow_redirects=False, **kw)


def post_form(api: Api, path: str, data: dict[str, str], role: str = "staff", **kw: Any) -> Any:
    return api.request("POST", path, role, data=data, follow_redirects=False, **kw)


def refusal_beside(html: str, field: str) -> str:
    """The refusal shown beside `field` (`<small id="e-field" …>`), or ""."""
    found = re.search(rf'<small id="e-{re.escape(field)}"[^>]*>([^<]*)</small>', html)
    return found.group(1) if found else ""


def test_rewards_page_shows_each_figure_with_its_clause_cited_explanation(api: Api) -> None:
    ids = rewarded_year(api)
    r = page(api, "/app/rewards/2023")
    assert r.status_code == 200, r.text
    html = r.text
    assert "北京湖南商会" in html and "25,000.00" in html  # the reward of P
    assert "共 2 个商协会" in html
    links = re.findall(r'hx-get="(/app/rewards/2023/explanation\?[^"]+)"', html)
    assert len(links) == 3  # P; Q under each of its two referrers
    link = next(u for u in links if ids["P"] in u).replace("&amp;", "&")
    steps = page(api, link, headers={"HX-Request": "true"}).text
    assert steps.lstrip().startswith('<ol class="steps">')  # only the steps, inside the page
    assert "四(二)3" in steps and "起施行" in steps  # clauses cited, parameters' dates
    assert "25,000,000.00" in steps
    whole = page(api, link).text
    assert "<nav" in whole and "本会所得" in whole and "四(二)3" in whole  # a page by itself

    searched = page(api, "/app/rewards/2023", params={"q": "上海"}).text
    assert "共 1 个商协会" in searched and "北京湖南商会" not in searched
    by_pinyin = page(api, "/app/rewards/2023", params={"q": "shanghai"}).text
    assert "共 1 个商协会" in by_pinyin
    nothing = page(api, "/app/rewards/2023", params={"q": "不存在的商会"}).text
    assert "没有符合条件的商协会" in nothing

    below = page(api, "/app/rewards/2023", params={"status": "below_threshold"}).text
    assert "上海湖南商会" in below
    # The same figures as the API's page of the same service.
    body = api.get("/rewards/2023", params={"page": 1}, role="staff").json()
    totals = {a["association_id"]: a["total"] for a in body["associations"]}
    assert totals[ids["X"]] == "25000.00"

    assert page(api, "/app/rewards").headers["location"].startswith("/app/rewards/")


def test_rewards_page_refusals(sqlite_api: Api) -> None:
    api = sqlite_api
    rewarded_year(api)
    association = api.association("广州湖南商会")
    r = page(api, "/app/rewards/2023", role="liaison", association_id=association)
    error(r, 403, "forbidden")
    error(page(api, "/app/rewards/1999"), 422, "validation_error")
    error(page(api, "/app/rewards/2023", params={"status": "nope"}), 422, "validation_error")
    error(page(api, "/app/rewards/2023", params={"policy": "no-such-policy"}), 404, "not_found")
    unknown = page(
        api,
        "/app/rewards/2023/explanation",
        params={"association_id": association, "project_id": "nope"},
    )
    error(unknown, 404, "not_found")
    missing = page(api, "/app/rewards/2023/explanation", params={"project_id": "nope"})
    error(missing, 422, "validation_error")
    explained = page(
        api,
        "/app/rewards/2023/explanation",
        role="liaison",
        association_id=association,
        params={"association_id": association, "project_id": "x"},
    )
    error(explained, 403, "forbidden")


def test_the_evaluation_page_counts_every_association_and_shows_the_published_places(
    sqlite_api: Api,
) -> None:
    api = sqlite_api
    api.at("2024-12-10")
    for n in range(41):  # one more than the 40 published places
        api.association(f"第{n}湖南商会")
    project_read_models(api)
    html = page(api, "/app/evaluations/2024", role="auditor").text
    assert "41 个" in html  # evaluated: all of them
    assert len(re.findall(r"第\d+湖南商会", html)) == 40  # shown: the published places
    everyone = page(api, "/app/evaluations/2024", role="auditor", params={"all": "true"}).text
    assert "41 个" in everyone
    assert len(re.findall(r"第\d+湖南商会", everyone)) == 41


def test_evaluation_page_and_the_designation_form(sqlite_api: Api) -> None:
    api = sqlite_api
    api.at("2024-12-10")
    ids = [api.association(name) for name in ("北京湖南商会", "上海湖南商会")]
    r = api.post(
        f"/associations/{ids[0]}/activities",
        {"kind": "promotion", "occurred_on": "2024-03-01", "description": "推介会", "count": 3},
        role="staff",
    )
    assert r.status_code == 201, r.text
    project_read_models(api)
    assert page(api, "/app/evaluations").headers["location"] == "/app/evaluations/2024"
    api.at("2024-11-30")  # the 2024 evaluation year is still open: the last closed is 2023
    assert page(api, "/app/evaluations").headers["location"] == "/app/evaluations/2023"
    api.at("2024-12-10")
    html = page(api, "/app/evaluations/2024", role="auditor").text
    assert "前 40 名" in html and "得分相同" in html  # the published top N and the tie rule
    assert html.index("北京湖南商会") < html.index("上海湖南商会")  # ranked
    assert "按排名授予称号" not in html  # an auditor writes nothing

    refused = post_form(
        api,
        "/app/evaluations/2024/designations",
        {"designation": "advanced_unit", "top": "0"},
    )
    assert refused.status_code == 422 and refusal_beside(refused.text, "top")
    unknown = post_form(api, "/app/evaluations/2024/designations", {"designation": "champion"})
    assert unknown.status_code == 422 and refusal_beside(unknown.text, "designation")
    done = post_form(
        api, "/app/evaluations/2024/designations", {"designation": "advanced_unit", "top": "1"}
    )
    assert done.status_code == 303, done.text
    held = api.get(f"/associations/{ids[0]}").json()["designations"]
    assert [(d["year"], d["designation"]) for d in held] == [(2024, "advanced_unit")]
    live = page(api, "/app/evaluations/2024").text
    assert "服务湖南招商引资先进单位" in live and "尚未冻结" in live
    made = api.app.state.services.background().catch_up(api.clock[0])
    assert "2024" in [d.period for d in made if d.kind == "evaluation"]
    frozen = page(api, "/app/evaluations/2024").text
    source = re.search(r"evaluation-source\">([^<]*)<", frozen)
    assert source is not None and "冻结（原版）" in source.group(1), source
    assert "北京湖南商会" in frozen  # the published document
    for role in ("auditor", "officer"):
        forbidden = post_form(
            api, "/app/evaluations/2024/designations", {"designation": "advanced_unit"}, role
        )
        error(forbidden, 403, "forbidden")


def test_purchased_service_page_forms_and_the_cap(sqlite_api: Api) -> None:
    api = sqlite_api
    api.at("2024-06-01")
    association = api.association("北京湖南商会")
    project_read_models(api)
    assert page(api, "/app/service-contracts").headers["location"] == "/app/service-contracts/2024"
    html = page(api, "/app/service-contracts/2024").text
    assert "尚无购买服务合同" in html and "3,000,000.00" in html  # the annual cap

    over = post_form(
        api,
        "/app/service-contracts/2024",
        {"provider": "湖南省商会服务中心", "amount": "3000000.01", "occurred_on": "2024-03-01"},
    )
    assert over.status_code == 422 and "上限" in refusal_beside(over.text, "amount")
    assert "3000000.01" in over.text  # the input kept
    made = post_form(
        api,
        "/app/service-contracts/2024",
        {"provider": "湖南省商会服务中心", "amount": "100000.00", "occurred_on": "2024-03-01"},
    )
    assert made.status_code == 303, made.text
    again = post_form(
        api,
        "/app/service-contracts/2024",
        {"provider": "另一家", "amount": "1.00", "occurred_on": "2024-03-02"},
    )
    assert again.status_code == 422 and "2024" in again.text  # exists: the form's message

    beyond = post_form(
        api,
        "/app/service-contracts/2024/subsidies",
        {
            "association_id": association,
            "amount": "100000.01",
            "occurred_on": "2024-05-01",
            "reason": "年度考评优秀",
        },
    )
    assert beyond.status_code == 422 and refusal_beside(beyond.text, "amount")
    paid = post_form(
        api,
        "/app/service-contracts/2024/subsidies",
        {
            "association_id": association,
            "amount": "40000.00",
            "occurred_on": "2024-05-01",
            "reason": "年度考评优秀",
        },
    )
    assert paid.status_code == 303, paid.text
    html = page(api, "/app/service-contracts/2024", role="auditor").text
    assert "60,000.00" in html and "年度考评优秀" in html  # what remains, the subsidy
    assert 'id="form-subsidy"' not in html  # an auditor writes nothing
    assert api.get("/service-contracts/2024").json()["remaining"] == "60000.00"
    error(
        post_form(
            api,
            "/app/service-contracts/2025",
            {"provider": "x", "amount": "1.00", "occurred_on": "2024-03-01"},
            role="officer",
        ),
        403,
        "forbidden",
    )
    liaison = page(api, "/app/service-contracts/2024", role="liaison", association_id=association)
    error(liaison, 403, "forbidden")


def test_officer_assignment_on_the_project_page(sqlite_api: Api) -> None:
    api = sqlite_api
    api.at("2024-06-01")
    project = api.project()
    officer = api.post("/users", {"name": "zhou", "role": "officer"}).json()["id"]
    auditor = api.post("/users", {"name": "qian", "role": "auditor"}).json()["id"]
    html = page(api, f"/app/projects/{project}").text
    assert "尚未指派" in html and 'id="form-officer"' in html and "zhou" in html
    assert 'id="form-officer"' not in page(api, f"/app/projects/{project}", role="officer").text

    wrong = post_form(api, f"/app/projects/{project}/officers", {"officer_id": auditor})
    assert wrong.status_code == 422 and refusal_beside(wrong.text, "officer_id")
    done = post_form(api, f"/app/projects/{project}/officers", {"officer_id": officer})
    assert done.status_code == 303, done.text
    assert api.app.state.ledger.get_project(project).assigned_officers == [officer]
    twice = post_form(api, f"/app/projects/{project}/officers", {"officer_id": officer})
    assert twice.status_code == 422 and refusal_beside(twice.text, "officer_id")
    forbidden = post_form(
        api, f"/app/projects/{project}/officers", {"officer_id": officer}, role="officer"
    )
    error(forbidden, 403, "forbidden")
    removed = post_form(
        api, f"/app/projects/{project}/officers", {"officer_id": officer, "remove": "true"}
    )
    assert removed.status_code == 303, removed.text
    assert api.app.state.ledger.get_project(project).assigned_officers == []
    assert "尚未指派" in page(api, f"/app/projects/{project}").text


def test_accounts_pages_for_an_admin_and_their_refusals(sqlite_api: Api) -> None:
    api = sqlite_api
    association = api.association("北京湖南商会")
    project_read_models(api)
    weak = post_form(
        api,
        "/app/accounts",
        {"name": "liu", "role": "liaison", "association_id": association, "password": "123"},
        role="admin",
    )
    assert weak.status_code == 422 and refusal_beside(weak.text, "password")
    made = post_form(
        api,
        "/app/accounts",
        {
            "name": "liu",
            "role": "liaison",
            "association_id": association,
            "password": "岳麓山下-爱晚亭前红叶",
        },
        role="admin",
    )
    assert made.status_code == 303, made.text
    account_id = made.headers["location"].rsplit("/", 1)[1]
    listing = page(api, "/app/accounts", role="admin").text
    assert "liu" in listing and "北京湖南商会" in listing and "待修改初始密码" in listing
    taken = post_form(api, "/app/accounts", {"name": "liu", "role": "staff"}, role="admin")
    assert taken.status_code == 422 and refusal_beside(taken.text, "name")

    issued = post_form(
        api, f"/app/accounts/{account_id}/tokens", {"name": "报送接口"}, role="admin"
    )
    assert issued.status_code == 201, issued.text
    token = re.search(r"<code class=\"hash\">(zs_[^<]+)</code>", issued.text)
    assert token is not None
    me = api.client.get("/users/me", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert me.status_code == 200 and me.json()["name"] == "liu"
    token_id = api.get(f"/users/{account_id}").json()["tokens"][0]["id"]
    revoked = post_form(
        api, f"/app/accounts/{account_id}/tokens/{token_id}/revoke", {}, role="admin"
    )
    assert revoked.status_code == 303, revoked.text
    gone = api.client.get("/users/me", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert gone.status_code == 401

    disabled = post_form(
        api, f"/app/accounts/{account_id}/disable", {"reason": "离职"}, role="admin"
    )
    assert disabled.status_code == 303, disabled.text
    assert api.get(f"/users/{account_id}").json()["active"] is False
    assert "已停用" in page(api, f"/app/accounts/{account_id}", role="admin").text
    enabled = post_form(api, f"/app/accounts/{account_id}/enable", {}, role="admin")
    assert enabled.status_code == 303 and api.get(f"/users/{account_id}").json()["active"]
    weak_reset = post_form(
        api, f"/app/accounts/{account_id}/password", {"password": "liu"}, role="admin"
    )
    assert weak_reset.status_code == 422 and refusal_beside(weak_reset.text, "password")

    # An auditor reads the accounts and writes nothing; staff and liaisons see none of it.
    read_only = page(api, f"/app/accounts/{account_id}", role="auditor").text
    assert "liu" in read_only and 'id="form-disable"' not in read_only
    error(
        post_form(api, f"/app/accounts/{account_id}/disable", {}, role="auditor"), 403, "forbidden"
    )
    for role in ("staff", "officer"):
        error(page(api, "/app/accounts", role=role), 403, "forbidden")
    error(page(api, "/app/accounts", role="liaison", association_id=association), 403, "forbidden")


def test_a_session_form_without_its_csrf_token_is_refused(sqlite_api: Api) -> None:
    api = sqlite_api
    made = api.post(
        "/users", {"name": "wang", "role": "admin", "password": "湘江北去-橘子洲头看"}
    ).json()["id"]
    ctx = api.app.state.ledger.context(_admin_actor(), source="cli")
    api.app.state.services.accounts.set_password(
        ctx, made, "湘江北去-橘子洲头看", must_change=False
    )
    login = api.client.post("/auth/login", json={"name": "wang", "password": "湘江北去-橘子洲头看"})
    assert login.status_code == 200, login.text
    target = api.post("/users", {"name": "li", "role": "officer"}).json()["id"]
    r = api.client.post(f"/app/accounts/{target}/disable", data={"reason": "x"})
    error(r, 403, "csrf_failed")
    assert api.get(f"/users/{target}").json()["active"] is True
    ok = api.client.post(
        f"/app/accounts/{target}/disable",
        data={"reason": "x", "csrf_token": login.json()["csrf_token"]},
        follow_redirects=False,
    )
    assert ok.status_code == 303, ok.text
    assert api.get(f"/users/{target}").json()["active"] is False


def _admin_actor() -> Any:
    from domain.events import Actor

    return Actor("test-admin", "admin")


def test_start_pages_of_staff_auditor_and_liaison(sqlite_api: Api) -> None:
    api = sqlite_api
    ids = rewarded_year(api)
    api.at("2024-01-20")
    r = api.post("/settlements", {"policy": "hunan-2022", "year": 2023}, role="staff")
    assert r.status_code == 201, r.text
    stalled = api.signed_project(ids["X"], signed_on="2023-06-01")  # no funds, no works
    project_read_models(api)
    made = api.app.state.services.background().catch_up(api.clock[0])
    assert "2023Q4" in [d.period for d in made if d.kind == "dispatch"]

    staff = page(api, "/app/", role="staff").text
    assert "结算待审批" in staff and "2023 年度奖励结算" in staff
    assert "签约未落地" in staff and f"/app/projects/{stalled}" in staff
    assert "最近的季度调度" in staff and 'href="/app/dispatches/2023Q4"' in staff
    auditor = page(api, "/app/", role="auditor").text
    assert "最近的结算" in auditor and "/app/settlements/hunan-2022/2023/audit" in auditor
    assert "最近的检查点" in auditor and "签约未落地" not in auditor
    liaison = page(api, "/app/", role="liaison", association_id=ids["Y"]).text
    assert "本会引荐项目（1）" in liaison and f"/app/projects/{ids['Q']}" in liaison
    assert f"/app/projects/{ids['P']}" not in liaison  # another association's project

    # Navigation: the links each role may follow, and no others.
    assert 'href="/app/rewards"' in staff and 'href="/app/accounts"' not in staff
    assert 'href="/app/accounts"' in auditor
    assert 'href="/app/rewards"' not in liaison and 'href="/app/accounts"' not in liaison


def test_a_policy_chooser_when_several_policies_are_in_force(
    tmp_path: Path, clock: list[datetime]
) -> None:
    policies = Path(__file__).resolve().parent.parent / "policies"
    url = f"sqlite:///{tmp_path / 'policies.db'}"
    for api in _client(url, clock, policy_path=str(policies)):
        rewarded_year(api)
        html = page(api, "/app/rewards/2023").text
        chooser = re.search(r'<select id="f-policy" name="policy">(.*?)</select>', html, re.S)
        assert chooser is not None
        assert "hunan-2022" in chooser.group(1) and "changsha-fai-2023" in chooser.group(1)
        assert "政策 hunan-2022" in html  # the province's measures first
        other = page(api, "/app/rewards/2023", params={"policy": "changsha-fai-2023"}).text
        assert "政策 changsha-fai-2023" in other
        only_one = page(api, "/app/rewards/2022").text  # only the measures were in force
        assert 'id="f-policy"' not in only_one
