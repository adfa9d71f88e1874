"""DESIGN §11's role table, enforced per endpoint: every role against every endpoint.

Allowed → neither 401 nor 403 (the request may still be refused for what it says);
not allowed → 403 `forbidden` (a project it may not see: 404 `not_found`); no token or a wrong one → 401 `unauthenticated`.
A liaison acts for one association: it reads that association and the projects it refers,
records that association's activities and refers projects only with it among the referrals.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.throttle import address_key
from tests.conftest import NOW
from tests.e2e.conftest import ROLES, Api, _client, project_read_models

ALL = frozenset(ROLES)
STAFF = frozenset({"admin", "staff"})
EVENTS = frozenset({"admin", "staff", "officer"})
NOT_LIAISON = ALL - {"liaison"}


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: dict[str, Any] | None
    allowed: frozenset[str]


# Reads a liaison may make, but not of another association's project: 404, as for no project.
HIDDEN_FROM_A_LIAISON = {"read another project", "another project's history"}


def referral(association: str) -> dict[str, Any]:
    return {
        "name": "智能装备基地",
        "investor": "某某机械",
        "industry": "C",
        "project_type": "ordinary",
        "origin": "overseas",
        "city": "zhuzhou",
        "planned_investment": "80000000.00",
        "referrals": [{"association_id": association, "share": 100}],
        "occurred_on": "2024-01-05",
    }


DAY = {"occurred_on": "2024-02-01"}
CASES = [
    Case("who am I", "GET", "/users/me", None, ALL),
    Case("list users", "GET", "/users", None, frozenset({"admin", "auditor"})),
    Case("list associations", "GET", "/associations", None, ALL),
    Case("read own association", "GET", "/associations/{A}", None, ALL),
    Case("read another association", "GET", "/associations/{B}", None, NOT_LIAISON),
    Case(
        "register association",
        "POST",
        "/associations",
        {"name": "广州湖南商会", "kind": "domestic_chamber", "based_in": "广州"},
        STAFF,
    ),
    Case(
        "own activity",
        "POST",
        "/associations/{A}/activities",
        {"kind": "promotion", "occurred_on": "2024-02-01", "description": "推介会"},
        STAFF | {"liaison"},
    ),
    Case(
        "another's activity",
        "POST",
        "/associations/{B}/activities",
        {"kind": "service", "occurred_on": "2024-02-01", "description": "走访企业"},
        STAFF,
    ),
    Case(
        "designation",
        "POST",
        "/associations/{A}/designations",
        {"year": 2024, "designation": "ambassador", "occurred_on": "2024-12-01"},
        STAFF,
    ),
    Case("refer with own association", "POST", "/projects", {"ref": "A"}, STAFF | {"liaison"}),
    Case("refer without own association", "POST", "/projects", {"ref": "B"}, STAFF),
    Case("read own project", "GET", "/projects/{P}", None, ALL),
    Case("read own project as of", "GET", "/projects/{P}?as_of=2023-12-31", None, ALL),
    Case("read another project", "GET", "/projects/{Q}", None, NOT_LIAISON),
    Case("own project history", "GET", "/projects/{P}/history", None, ALL),
    Case("another project's history", "GET", "/projects/{Q}/history", None, NOT_LIAISON),
    Case("visit", "POST", "/projects/{P}/visits", DAY, EVENTS),
    Case("negotiation", "POST", "/projects/{P}/negotiations", DAY, EVENTS),
    Case(
        "signing",
        "POST",
        "/projects/{Q}/signing",
        {"occurred_on": "2024-02-01", "contract_amount": "100.00", "currency": "CNY"},
        EVENTS,
    ),
    Case("registration", "POST", "/projects/{P}/registration", DAY, EVENTS),
    Case("construction", "POST", "/projects/{P}/construction", DAY, EVENTS),
    Case(
        "funds",
        "POST",
        "/projects/{P}/funds",
        {"occurred_on": "2024-02-01", "amount": "100.00", "currency": "CNY"},
        EVENTS,
    ),
    Case(
        "funds correction",
        "POST",
        "/projects/{P}/funds/{arrival}/corrections",
        {"occurred_on": "2024-02-01", "amount": "90.00", "currency": "CNY", "reason": "回单"},
        EVENTS,
    ),
    Case(
        "funds void",
        "POST",
        "/projects/{P}/funds/{spare_arrival}/void",
        {"occurred_on": "2024-02-01", "reason": "重复"},
        EVENTS,
    ),
    Case(
        "fixed-asset investment",
        "POST",
        "/projects/{P}/fixed-asset-investment",
        {"year": 2024, "amount": "100.00", "currency": "CNY", "occurred_on": "2024-02-01"},
        EVENTS,
    ),
    Case(
        "production",
        "POST",
        "/projects/{P}/production",
        {"occurred_on": "2024-02-01", "milestone": "capacity_reached"},
        EVENTS,
    ),
    Case(
        "follow-up",
        "POST",
        "/projects/{P}/follow-ups",
        {"occurred_on": "2024-02-01", "operating_status": "normal"},
        EVENTS,
    ),
    Case(
        "issue",
        "POST",
        "/projects/{P}/issues/{issue}",
        {"status": "handling", "occurred_on": "2024-02-01", "note": "协调中"},
        EVENTS,
    ),
    Case(
        "status",
        "POST",
        "/projects/{Q}/status",
        {"occurred_on": "2024-02-01", "status": "stalled", "reason": "资金"},
        EVENTS,
    ),
    Case(
        "attestation",
        "POST",
        "/projects/{P}/attestations",
        {
            "kind": "positive_local_impact",
            "occurred_on": "2024-02-01",
            "granted": True,
            "reason": "带动就业",
        },
        STAFF,
    ),
    Case(
        "attribution",
        "POST",
        "/projects/{P}/attribution",
        {
            "occurred_on": "2024-02-01",
            "referrals": [{"association_id": "{A}", "share": 100}],
            "reason": "核实",
            "approver": "处长",
        },
        STAFF,
    ),
    Case(
        "classification",
        "POST",
        "/projects/{P}/classification",
        {"occurred_on": "2024-02-01", "industry": "D", "reason": "主营", "approver": "处长"},
        STAFF,
    ),
    Case("ledger", "GET", "/projects", None, ALL),
    Case("ledger filtered", "GET", "/projects?city=changsha&stage=in_production", None, ALL),
    Case("ledger export", "GET", "/projects/export?format=csv", None, ALL),
    Case("follow-ups due", "GET", "/follow-ups/due?as_of=2024-12-31", None, ALL),
    Case("verify a project", "GET", "/projects/{P}/verify", None, NOT_LIAISON),
    # A JSON body is not an upload (422) once the role may upload: every role but auditors.
    Case("upload a file", "POST", "/files", {"file": "x"}, ALL - {"auditor"}),
    Case("download a file", "GET", "/files/{sha256}", None, ALL),
    Case("a project's files", "GET", "/projects/{P}/files", None, ALL),
    Case("list dispatches", "GET", "/dispatches", None, NOT_LIAISON),
    Case("read a dispatch", "GET", "/dispatches/2023Q4", None, NOT_LIAISON),
    Case("policies", "GET", "/policies", None, NOT_LIAISON),
    Case("reload policies", "POST", "/policies/reload", None, frozenset({"admin"})),
    Case("rewards", "GET", "/rewards/2023", None, NOT_LIAISON),
    Case("settle", "POST", "/settlements", {"policy": "hunan-2022", "year": 2022}, STAFF),
    Case("read a settlement", "GET", "/settlements/hunan-2022/2022", None, NOT_LIAISON),
    Case(
        "approve a settlement",
        "POST",
        "/settlements/hunan-2022/2022/approval",
        {"occurred_on": "2025-03-01", "by": "处长", "reference": "批复1号"},
        STAFF,
    ),
    Case(
        "pay a settlement",
        "POST",
        "/settlements/hunan-2022/2022/payment",
        {"occurred_on": "2025-03-01", "by": "财务处", "reference": "付款1号"},
        STAFF,
    ),
    Case("audit a settlement", "GET", "/settlements/hunan-2022/2022/audit", None, NOT_LIAISON),
    Case("evaluation", "GET", "/evaluations/2023", None, NOT_LIAISON),
    Case(
        "designations from the ranking",
        "POST",
        "/evaluations/2023/designations",
        {"designation": "advanced_unit", "top": 1},
        STAFF,
    ),
    Case(
        "service contract",
        "POST",
        "/service-contracts",
        {"year": 2024, "provider": "服务中心", "amount": "100000.00", "occurred_on": "2024-03-01"},
        STAFF,
    ),
    Case(
        "subsidy",
        "POST",
        "/service-contracts/2024/subsidies",
        {"association_id": "{A}", "amount": "1.00", "occurred_on": "2024-03-02", "reason": "奖励"},
        STAFF,
    ),
    Case("read a service contract", "GET", "/service-contracts/2024", None, NOT_LIAISON),
    Case("checkpoints", "GET", "/checkpoints", None, NOT_LIAISON),
    Case("make a checkpoint", "POST", "/checkpoints", None, frozenset({"admin"})),
    # People's accounts and officers (issue 15). U is an officer's account, T its token.
    Case(
        "change own password",
        "POST",
        "/users/me/password",
        {"current_password": "not-the-current-one", "new_password": "橘子洲头-湘江北去-2025"},
        ALL,
    ),
    Case(
        "create account",
        "POST",
        "/users",
        {"name": "case-officer", "role": "officer"},
        frozenset({"admin"}),
    ),
    Case("read account", "GET", "/users/{U}", None, frozenset({"admin", "auditor"})),
    Case("account history", "GET", "/users/{U}/history", None, frozenset({"admin", "auditor"})),
    Case("disable account", "POST", "/users/{U}/disable", {"reason": "调岗"}, frozenset({"admin"})),
    Case("enable account", "POST", "/users/{U}/enable", {}, frozenset({"admin"})),
    Case(
        "set a password",
        "POST",
        "/users/{U}/password",
        {"password": "橘子洲头-湘江北去-2025"},
        frozenset({"admin"}),
    ),
    Case("issue a token", "POST", "/users/{U}/tokens", {"name": "接口"}, frozenset({"admin"})),
    Case("revoke a token", "POST", "/users/{U}/tokens/{T}/revoke", {}, frozenset({"admin"})),
    Case("assign an officer", "POST", "/projects/{P}/officers", {"officer_id": "{U}"}, STAFF),
    Case("my projects", "GET", "/projects?officer=me", None, ALL),
    # Ledger imports (issue 21): staff and admins import any rows, a liaison its own
    # association's; officers and auditors do not import. A JSON body is no upload (422).
    Case("import a ledger", "POST", "/imports", {"file": "x"}, STAFF | {"liaison"}),
    Case("list imports", "GET", "/imports", None, ALL),
    Case("import template", "GET", "/imports/template", None, STAFF | {"liaison"}),
    # Notifications (issue 22): one's own, for every role; the outbox for admins.
    Case("my notifications", "GET", "/notifications?unread=true", None, ALL),
    Case("mark a notification read", "POST", "/notifications/{N}/read", None, ALL),
    Case("my channels", "GET", "/users/me/channels", None, ALL),
    Case("choose my channels", "PUT", "/users/me/channels", {"email": "a@hunan.gov.cn"}, ALL),
    Case(
        "failed deliveries",
        "GET",
        "/notifications/deliveries?status=failed",
        None,
        frozenset({"admin"}),
    ),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, str]]]:
    """One SQLite database for the whole table: association A (the liaison's) and B; project
    P referred by A, producing, with an arrival and an open issue; project Q referred by B."""
    clock: list[datetime] = [NOW]
    path: Path = tmp_path_factory.mktemp("roles") / "roles.db"
    for api in _client(f"sqlite:///{path}", clock):
        ids = {"A": api.association("北京湖南商会"), "B": api.association("上海湖南商会")}
        ids["P"] = api.signed_project(ids["A"])
        ids["Q"] = api.project(ids["B"])
        p = f"/projects/{ids['P']}"
        for key in ("arrival", "spare_arrival"):
            r = api.post(
                f"{p}/funds", {"occurred_on": "2023-02-01", "amount": "10.00", "currency": "CNY"}
            )
            ids[key] = r.json()["arrival_id"]
        api.post(f"{p}/production", {"occurred_on": "2023-06-01", "milestone": "started"})
        r = api.post(
            f"{p}/follow-ups",
            {
                "occurred_on": "2023-12-01",
                "operating_status": "normal",
                "issues": [{"category": "融资", "description": "贷款"}],
            },
        )
        ids["issue"] = r.json()["issue_ids"][0]
        r = api.post("/users", {"name": "officer-u", "role": "officer"})
        ids["U"] = r.json()["id"]
        ids["T"] = api.post(f"/users/{ids['U']}/tokens", {"name": "t"}).json()["token_id"]
        # A notification of nobody's: marking it read is 404 for every role that may try.
        ids["N"] = "0c7d0000-0000-4000-8000-00000000000e"
        project_read_models(api)
        yield api, ids


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, real in ids.items():
            value = value.replace("{" + key + "}", real)
        return value
    if isinstance(value, dict):
        if set(value) == {"ref"}:
            return referral(ids[value["ref"]])
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def call(world: tuple[Api, dict[str, str]], case: Case, headers: dict[str, str]) -> Any:
    api, ids = world
    return api.client.request(
        case.method, fill(case.path, ids), json=fill(case.body, ids), headers=headers
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_role_on_every_endpoint(
    world: tuple[Api, dict[str, str]], case: Case, role: str
) -> None:
    api, ids = world
    association = ids["A"] if role == "liaison" else None
    r = call(world, case, api.auth(role, association))
    if role in case.allowed:
        assert r.status_code not in (401, 403), r.text
        assert r.status_code < 500
    elif case.name in HIDDEN_FROM_A_LIAISON:
        # A project the user may not see is one that does not exist (DESIGN §21).
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "not_found"
    else:
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer zs_not-a-token", "Basic YWRtaW46YWRtaW4=", "Bearer", "zs_bare"],
    ids=["missing", "unknown token", "basic", "empty bearer", "no scheme"],
)
def test_without_a_valid_token_every_endpoint_answers_401(
    world: tuple[Api, dict[str, str]], case: Case, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    # One app serves every case: forget the failures so far, or the throttle answers 429
    # after the tenth bad token (tests/integration/test_accounts.py tests that).
    world[0].app.state.users.throttle.clear([address_key("testclient")])
    r = call(world, case, headers)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthenticated"
    assert r.headers["www-authenticate"] == "Bearer"


def test_a_liaison_lists_only_its_own_association(world: tuple[Api, dict[str, str]]) -> None:
    api, ids = world
    r = api.get("/associations", role="liaison", association_id=ids["A"])
    assert r.status_code == 200
    assert [a["id"] for a in r.json()["items"]] == [ids["A"]] and r.json()["total"] == 1
    r = api.get("/associations", role="auditor")
    assert {ids["A"], ids["B"]} <= {a["id"] for a in r.json()["items"]}


def test_a_liaison_of_another_association_is_refused_what_is_not_its_own(
    world: tuple[Api, dict[str, str]],
) -> None:
    api, ids = world
    other = api.auth("liaison", ids["B"])
    # Another association's project answers exactly as a project that does not exist.
    unknown = "0c7d0000-0000-4000-8000-000000000000"
    for path in ("", "/history"):
        hidden = api.client.get(f"/projects/{ids['P']}{path}", headers=other)
        missing = api.client.get(f"/projects/{unknown}{path}", headers=other)
        assert hidden.status_code == missing.status_code == 404, hidden.text
        assert hidden.json()["error"]["code"] == "not_found"
        assert hidden.json() == {
            "error": {**missing.json()["error"], "message": f"不存在项目 {ids['P']}"}
        }
        assert set(hidden.headers) - {"content-length"} == set(missing.headers) - {"content-length"}
    assert api.client.get(f"/projects/{ids['Q']}", headers=other).status_code == 200
    r = api.client.post("/projects", json=referral(ids["A"]), headers=other)
    assert r.status_code == 403 and "本商协会" in r.json()["error"]["message"]


def test_every_write_records_its_actor(world: tuple[Api, dict[str, str]]) -> None:
    api, ids = world
    r = api.post(f"/projects/{ids['Q']}/visits", {"occurred_on": "2024-02-02"}, role="officer")
    assert r.status_code == 201
    history = api.get(f"/projects/{ids['Q']}/history", role="auditor").json()
    last = history[-1]
    assert last["type"] == "visit_recorded"
    assert last["actor"]["role"] == "officer" and last["actor"]["id"].startswith("officer-")
    assert last["source"] == "api"


def test_who_am_i(world: tuple[Api, dict[str, str]]) -> None:
    api, ids = world
    me = api.get("/users/me", role="liaison", association_id=ids["A"]).json()
    assert me["role"] == "liaison" and me["association_id"] == ids["A"]
    assert "refer_own_project" in me["permissions"] and "read" not in me["permissions"]
    names = {u["name"] for u in api.get("/users", role="admin").json()}
    assert me["name"] in names


def test_every_operation_has_a_case(world: tuple[Api, dict[str, str]]) -> None:
    """A new endpoint must join the table above, so its roles are checked too."""
    api, _ = world
    covered = {(c.method, c.path.split("?")[0]) for c in CASES}
    for path, operations in api.app.openapi()["paths"].items():
        if path == "/health" or path.startswith("/auth/"):
            continue  # no token needed (login and logout: tests/e2e/test_accounts_http.py)
        for method in operations:
            pattern = path
            for placeholder, key in (
                ("{project_id}", "{P}"),
                ("{association_id}", "{A}"),
                ("{arrival_id}", "{arrival}"),
                ("{issue_id}", "{issue}"),
                ("{user_id}", "{U}"),
                ("{token_id}", "{T}"),
                ("{notification_id}", "{N}"),
                ("{quarter}", "2023Q4"),
                ("{policy}", "hunan-2022"),
                ("/evaluations/{year}", "/evaluations/2023"),
                ("/rewards/{year}", "/rewards/2023"),
                ("/service-contracts/{year}", "/service-contracts/2024"),
                ("/settlements/hunan-2022/{year}", "/settlements/hunan-2022/2022"),
            ):
                pattern = pattern.replace(placeholder, key)
            matches = {
                (
                    m,
                    p.replace("{B}", "{A}")
                    .replace("{Q}", "{P}")
                    .replace("{spare_arrival}", "{arrival}"),
                )
                for m, p in covered
            }
            assert (method.upper(), pattern) in matches, f"no role case for {method.upper()} {path}"
