"""Accounts over HTTP: login, logout, CSRF, passwords, tokens, the throttle, officers, /docs."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.conftest import Api, project_read_models

PASSWORD = "岳麓山下-爱晚亭前红叶"
NEW = "橘子洲头-湘江北去-2025"


def _account(api: Api, name: str = "zhou", role: str = "officer", password: str = PASSWORD) -> str:
    r = api.post("/users", {"name": name, "role": role, "password": password})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _login(api: Api, name: str = "zhou", password: str = PASSWORD) -> Any:
    api.client.cookies.clear()
    return api.client.post("/auth/login", json={"name": name, "password": password})


def _events(api: Api, user_id: str) -> list[str]:
    return [e["type"] for e in api.get(f"/users/{user_id}/history").json()]


def test_login_sets_the_session_cookie_and_an_admin_set_password_must_change(api: Api) -> None:
    user_id = _account(api)
    r = _login(api)
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("user_id", "name", "role")} == {
        "user_id": user_id,
        "name": "zhou",
        "role": "officer",
    }
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("zs_session=") and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower() and "Secure" not in cookie  # plain HTTP here
    # The admin set it: nothing but changing it works yet.
    r = api.client.get("/projects")
    assert r.status_code == 403 and r.json()["error"]["code"] == "password_change_required"
    csrf = {"X-CSRF-Token": body["csrf_token"]}
    weak = {"current_password": PASSWORD, "new_password": "password123"}
    r = api.client.post("/users/me/password", json=weak, headers=csrf)
    assert r.status_code == 422 and r.json()["error"]["code"] == "weak_password"
    wrong = {"current_password": "not-it-at-all", "new_password": NEW}
    r = api.client.post("/users/me/password", json=wrong, headers=csrf)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_credentials"
    assert _events(api, user_id) == ["created", "password_set"]  # nothing stored
    ok = {"current_password": PASSWORD, "new_password": NEW}
    r = api.client.post("/users/me/password", json=ok, headers=csrf)
    assert r.status_code == 201, r.text
    assert api.client.get("/projects").status_code == 200  # the cookie authenticates the API


def test_csrf_is_needed_for_cookie_writes_and_only_the_sessions_own(api: Api) -> None:
    _account(api, password=PASSWORD)
    api.post("/users/" + _account(api, "wu", "staff") + "/password", {"password": PASSWORD})
    first = _login(api, "wu").json()["csrf_token"]
    body = {"current_password": PASSWORD, "new_password": NEW}
    r = api.client.post("/users/me/password", json=body, headers={"X-CSRF-Token": first})
    assert r.status_code == 201
    other = _login(api, "zhou").json()["csrf_token"]
    _login(api, "wu", NEW)  # a new session of wu: another session's CSRF token is refused
    association = {"name": "广州湖南商会", "kind": "domestic_chamber", "based_in": "广州"}
    for headers in ({}, {"X-CSRF-Token": other}, {"X-CSRF-Token": first}):
        r = api.client.post("/associations", json=association, headers=headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed", r.text
    assert api.get("/associations").json()["total"] == 0  # nothing stored


def test_wrong_password_and_unknown_name_are_the_same_401(api: Api) -> None:
    _account(api)
    answers = [
        _login(api, "zhou", "wrong-password-1"),
        _login(api, "nobody", PASSWORD),
        _login(api, "x" * 500, PASSWORD),  # an over-long name
        _login(api, "zhou", "y" * 10_000),  # an over-long password
    ]
    assert {r.status_code for r in answers} == {401}
    assert len({r.text for r in answers}) == 1
    assert answers[0].json()["error"]["code"] == "invalid_credentials"


def test_the_throttle_answers_429_with_retry_after(sqlite_api: Api) -> None:
    _account(sqlite_api)
    for _ in range(10):
        assert _login(sqlite_api, "zhou", "wrong-password-1").status_code == 401
    r = _login(sqlite_api, "zhou", PASSWORD)
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"
    assert 1 <= int(r.headers["retry-after"]) <= 600
    for _ in range(10):
        sqlite_api.client.get("/projects", headers={"Authorization": "Bearer zs_guess"})
    r = sqlite_api.client.get("/projects", headers={"Authorization": "Bearer zs_guess"})
    assert r.status_code == 429 and "retry-after" in r.headers


def test_logout_ends_the_session_and_a_replay_changes_nothing(sqlite_api: Api) -> None:
    api = sqlite_api
    _account(api, "wu", "staff")
    api.post("/users/" + api.get("/users").json()[-1]["id"] + "/password", {"password": PASSWORD})
    csrf = _login(api, "wu").json()["csrf_token"]
    cookie = api.client.cookies.get("zs_session")
    r = api.client.post("/auth/logout")
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = api.client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    api.client.cookies.set("zs_session", cookie)
    assert api.client.get("/users/me").status_code == 401
    r = api.client.post("/auth/logout", headers={"X-CSRF-Token": csrf})  # replayed
    assert r.status_code == 204
    api.client.cookies.set("zs_session", api.get("/users").json()[-1]["id"])  # a user's id
    r = api.client.get("/users/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


def test_tokens_expire_are_revoked_and_stop_with_a_disabled_account(api: Api) -> None:
    user_id = _account(api, "machine", "staff")
    r = api.post(f"/users/{user_id}/tokens", {"name": "报送接口", "expires_on": "2025-03-02"})
    assert r.status_code == 201, r.text
    token, token_id = r.json()["token"], r.json()["token_id"]
    bearer = {"Authorization": f"Bearer {token}"}
    api.client.cookies.clear()
    assert api.client.get("/users/me", headers=bearer).status_code == 200
    assert token not in str(api.get(f"/users/{user_id}").json())
    assert token not in str(api.get(f"/users/{user_id}/history").json())
    r = api.post(f"/users/{user_id}/disable", {"reason": "停用"})
    assert r.status_code == 201
    assert api.client.get("/users/me", headers=bearer).status_code == 401
    assert api.post(f"/users/{user_id}/tokens", {}).json()["error"]["code"] == "account_disabled"
    assert api.post(f"/users/{user_id}/enable", {}).status_code == 201
    assert api.client.get("/users/me", headers=bearer).status_code == 200
    api.at("2025-03-03")
    assert api.client.get("/users/me", headers=bearer).status_code == 401  # expired
    api.at("2025-03-01")
    r = api.post(f"/users/{user_id}/tokens/{token_id}/revoke", {"reason": "泄露"})
    assert r.status_code == 201
    assert api.client.get("/users/me", headers=bearer).status_code == 401
    again = api.post(f"/users/{user_id}/tokens/{token_id}/revoke", {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "token_revoked"
    me = api.get("/users/me").json()["id"]
    r = api.post(f"/users/{me}/disable", {})
    assert r.status_code == 409 and r.json()["error"]["code"] == "cannot_disable_self"


def test_bad_accounts_are_refused_and_nothing_stored(sqlite_api: Api) -> None:
    before = len(sqlite_api.get("/users").json())
    for body, code in (
        ({"name": "x" * 101, "role": "staff"}, "validation_error"),
        ({"name": "li", "role": "staff", "password": "z" * 201}, "weak_password"),
        ({"name": "li", "role": "staff", "password": "1234567890"}, "weak_password"),
        ({"name": "li", "role": "liaison"}, "validation_error"),
    ):
        r = sqlite_api.post("/users", body)
        assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
    _account(sqlite_api, "li")
    r = sqlite_api.post("/users", {"name": "LI", "role": "staff"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "account_exists"
    assert len(sqlite_api.get("/users").json()) == before + 1


def test_officers_follow_projects_and_list_their_own(api: Api) -> None:
    project_id = api.project()
    other = api.project()
    token_user = api.get("/users/me", role="officer").json()
    r = api.post(f"/projects/{project_id}/officers", {"officer_id": token_user["id"]}, role="staff")
    assert r.status_code == 201, r.text
    r = api.post(f"/projects/{project_id}/officers", {"officer_id": token_user["id"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "officer_already_assigned"
    auditor = api.get("/users/me", role="auditor").json()["id"]
    r = api.post(f"/projects/{other}/officers", {"officer_id": auditor})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_officer"
    project_read_models(api)
    mine = api.get("/projects?officer=me", role="officer").json()
    assert [p["project_id"] for p in mine["items"]] == [project_id] and mine["total"] == 1
    by_id = api.get(f"/projects?officer={token_user['id']}", role="staff").json()
    assert by_id["total"] == 1
    r = api.post(
        f"/projects/{project_id}/officers", {"officer_id": token_user["id"], "remove": True}
    )
    assert r.status_code == 201
    project_read_models(api)
    assert api.get("/projects?officer=me", role="officer").json()["total"] == 0


def test_docs_and_redoc_are_served_without_internet(sqlite_api: Api) -> None:
    assets = []
    for path in ("/docs", "/redoc"):
        page = sqlite_api.client.get(path)
        assert page.status_code == 200
        assert "https://" not in page.text  # no CDN: the app serves its own copies
        assets += re.findall(r'(?:src|href)="(/static/[0-9a-f]{16}/vendor/[^"]+)"', page.text)
    names = {a.split("/vendor/", 1)[1] for a in assets}
    assert {
        "swagger-ui/swagger-ui-bundle.js",
        "swagger-ui/swagger-ui.css",
        "redoc/redoc.standalone.js",
    } <= names
    for asset in assets:
        assert sqlite_api.client.get(asset).status_code == 200
    document = sqlite_api.client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert {"bearer": []} in document["paths"]["/projects"]["get"]["security"]
