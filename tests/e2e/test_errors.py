"""Error shapes and codes over HTTP: `{"error": {"code", "message", "field"}}` for every
refusal, with the status of DESIGN §11 (422, 409, 412, 404, 401, 403, 413) and never a 500."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Api, _client


def assert_error(r: Any, status: int, code: str, field: str | None = "<any>") -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if field != "<any>":
        assert body["error"]["field"] == field, body
    return dict(body["error"])


SIGNING = {"occurred_on": "2023-01-10", "contract_amount": "50000000.00", "currency": "CNY"}

# (what, path under the project, body, status, code, field)
INVALID = [
    (
        "missing field",
        "/signing",
        {"occurred_on": "2023-01-10", "currency": "CNY"},
        422,
        "validation_error",
        "contract_amount",
    ),
    (
        "unknown field",
        "/visits",
        {"occurred_on": "2023-01-10", "note": "x"},
        422,
        "validation_error",
        "note",
    ),
    (
        "money as a JSON float",
        "/signing",
        {**SIGNING, "contract_amount": 5e7},
        422,
        "invalid_amount",
        "contract_amount",
    ),
    (
        "money as a whole JSON float",
        "/signing",
        {**SIGNING, "contract_amount": 100.0},
        422,
        "invalid_amount",
        "contract_amount",
    ),
    (
        "money with three decimals",
        "/signing",
        {**SIGNING, "contract_amount": "1.005"},
        422,
        "invalid_amount",
        "contract_amount",
    ),
    (
        "money in exponent form",
        "/signing",
        {**SIGNING, "contract_amount": "1e999999"},
        422,
        "invalid_amount",
        "contract_amount",
    ),
    (
        "negative money",
        "/signing",
        {**SIGNING, "contract_amount": "-5.00"},
        422,
        "invalid_amount",
        "contract_amount",
    ),
    (
        "money as a boolean",
        "/signing",
        {**SIGNING, "contract_amount": True},
        422,
        "invalid_amount",
        "contract_amount",
    ),
    (
        "lower-case currency",
        "/signing",
        {**SIGNING, "currency": "usd"},
        422,
        "invalid_currency",
        "currency",
    ),
    (
        "currency as a number",
        "/signing",
        {**SIGNING, "currency": 156},
        422,
        "invalid_currency",
        "currency",
    ),
    (
        "rate missing",
        "/signing",
        {**SIGNING, "currency": "USD"},
        422,
        "rate_required",
        "rate_to_cny",
    ),
    (
        "date in the future",
        "/visits",
        {"occurred_on": "2030-01-01"},
        422,
        "date_in_future",
        "occurred_on",
    ),
    (
        "date not YYYY-MM-DD",
        "/visits",
        {"occurred_on": "2023/01/10"},
        422,
        "validation_error",
        "occurred_on",
    ),
    (
        "impossible date",
        "/visits",
        {"occurred_on": "2023-02-30"},
        422,
        "validation_error",
        "occurred_on",
    ),
    (
        "unknown code",
        "/production",
        {"occurred_on": "2023-01-10", "milestone": "half"},
        422,
        "validation_error",
        "milestone",
    ),
    (
        "granted as a string",
        "/attestations",
        {
            "kind": "positive_local_impact",
            "occurred_on": "2023-01-10",
            "granted": "yes",
            "reason": "r",
        },
        422,
        "validation_error",
        "granted",
    ),
    (
        "year as a string",
        "/fixed-asset-investment",
        {"year": "2023", "amount": "1.00", "currency": "CNY", "occurred_on": "2023-01-10"},
        422,
        "validation_error",
        "year",
    ),
    (
        "issue without description",
        "/follow-ups",
        {"occurred_on": "2023-01-10", "operating_status": "normal", "issues": [{"category": "x"}]},
        422,
        "validation_error",
        "issues[0].description",
    ),
    (
        "share not a number",
        "/attribution",
        {
            "occurred_on": "2023-01-10",
            "referrals": [{"association_id": "a", "share": "sixty"}],
            "reason": "r",
            "approver": "a",
        },
        422,
        "validation_error",
        "referrals[0].share",
    ),
    (
        "NUL in a text",
        "/visits",
        {"occurred_on": "2023-01-10", "notes": "a\u0000b"},
        422,
        "validation_error",
        None,
    ),
    ("body not an object", "/visits", [1, 2], 422, "validation_error", None),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "field"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_requests_answer_422_with_code_and_field(
    sqlite_api: Api, path: str, body: Any, status: int, code: str, field: str | None
) -> None:
    project = sqlite_api.project()
    before = sqlite_api.get(f"/projects/{project}").json()["version"]
    r = sqlite_api.post(f"/projects/{project}{path}", body)
    assert_error(r, status, code, field)
    assert sqlite_api.get(f"/projects/{project}").json()["version"] == before  # nothing recorded


def test_referral_errors_name_the_field(sqlite_api: Api) -> None:
    a = sqlite_api.association()
    base = {
        "name": "p",
        "investor": "i",
        "industry": "C",
        "project_type": "ordinary",
        "origin": "overseas",
        "city": "changsha",
        "planned_investment": "1.00",
        "referrals": [{"association_id": a, "share": 100}],
        "occurred_on": "2023-01-01",
    }
    cases = [
        ({"referrals": [{"association_id": a, "share": 90}]}, "shares_must_total_100", "referrals"),
        (
            {"referrals": [{"association_id": a, "share": 33.333}]},
            "invalid_amount",
            "referrals[0].share",
        ),
        ({"industry": "Z"}, "unknown_industry", "industry"),
        ({"city": "wuhan"}, "validation_error", "city"),
        ({"planned_investment": 1.5}, "invalid_amount", "planned_investment"),
        ({"designations": [7]}, "validation_error", "designations[0]"),
        ({"designations": ["emperor"]}, "validation_error", "designations[0]"),
        (
            {"referrals": [{"association_id": "nope", "share": 100}]},
            "unknown_association",
            "referrals[0].association_id",
        ),
    ]
    for change, code, field in cases:
        assert_error(sqlite_api.post("/projects", {**base, **change}), 422, code, field)
    r = sqlite_api.post(
        "/projects",
        {
            **base,
            "referrals": [
                {"association_id": a, "share": 33.34},
                {"association_id": sqlite_api.association("b"), "share": "66.66"},
            ],
        },
    )
    assert r.status_code == 201, r.text
    project = sqlite_api.get(f"/projects/{r.json()['id']}").json()
    assert [x["share"] for x in project["referrals"]] == [33.34, 66.66]


def test_malformed_json_and_missing_body(sqlite_api: Api) -> None:
    project = sqlite_api.project()
    headers = {**sqlite_api.auth("admin"), "Content-Type": "application/json"}
    r = sqlite_api.client.post(f"/projects/{project}/visits", content=b"{oops", headers=headers)
    assert_error(r, 422, "validation_error", None)
    r = sqlite_api.client.post(f"/projects/{project}/visits", headers=headers)
    assert_error(r, 422, "validation_error", None)
    # Not even UTF-8: as invalid as malformed JSON (FastAPI alone answers 400).
    r = sqlite_api.client.post(f"/projects/{project}/visits", content=b"\xff\xfe{", headers=headers)
    assert_error(r, 422, "validation_error", None)


def test_paths_naming_a_year_out_of_range_answer_422(sqlite_api: Api) -> None:
    for path in (
        "/evaluations/99999",
        "/rewards/1999",
        "/service-contracts/2101",
        "/settlements/hunan-2022/99999/audit",
    ):
        assert_error(sqlite_api.get(path), 422, "validation_error", "year")


def test_read_models_nobody_has_set_up_answer_503_saying_so(
    tmp_path: Path, clock: list[datetime]
) -> None:
    """No projection runner has run on this database (a server with no background work): the
    ledger list says what is missing, not 'database busy'."""
    for bare_api in _client(f"sqlite:///{tmp_path / 'bare.db'}", clock, background_services=False):
        r = bare_api.get("/projects")
        assert_error(r, 503, "unavailable", None)
        assert "set up" in r.json()["error"]["message"]


def test_conflicts_with_state_answer_409(api: Api) -> None:
    project = api.project()
    r = api.post(
        f"/projects/{project}/production", {"occurred_on": "2023-01-10", "milestone": "started"}
    )
    assert_error(r, 409, "stage_order")
    r = api.post(f"/projects/{project}/visits", {"occurred_on": "2022-01-01"})
    assert_error(r, 409, "date_before_referral", "occurred_on")
    r = api.post(
        f"/projects/{project}/status",
        {"occurred_on": "2023-01-01", "status": "withdrawn", "reason": "撤资"},
    )
    assert r.status_code == 201
    r = api.post(f"/projects/{project}/visits", {"occurred_on": "2023-01-10"})
    assert_error(r, 409, "project_withdrawn")
    assert api.get(f"/projects/{project}").json()["version"] == 2


def test_if_match_names_the_version_a_write_expects(api: Api) -> None:
    project = api.project()
    url = f"/projects/{project}/visits"
    visit = {"occurred_on": "2023-01-10"}
    r = api.get(f"/projects/{project}")
    assert r.headers["etag"] == '"1"'
    assert api.post(url, visit, headers={"If-Match": '"1"'}).json() == {"version": 2}
    assert api.post(url, visit, headers={"If-Match": "2"}).json() == {"version": 3}  # unquoted
    for stale in ('"2"', "1", 'W/"3"', "banana", '"4"'):
        r = api.post(url, visit, headers={"If-Match": stale})
        assert_error(r, 412, "version_conflict", "If-Match")
    assert api.post(url, visit, headers={"If-Match": '"1", "3"'}).json() == {"version": 4}
    assert api.post(url, visit, headers={"If-Match": "*"}).json() == {"version": 5}
    r = api.post(url, visit, headers={"If-Match": '"1", "2"'})
    assert_error(r, 412, "version_conflict", "If-Match")
    assert api.get(f"/projects/{project}").json()["version"] == 5  # nothing from the 412s


def test_if_match_on_an_association_write(sqlite_api: Api) -> None:
    a = sqlite_api.association()
    body = {"kind": "service", "occurred_on": "2023-01-10", "description": "走访"}
    r = sqlite_api.post(f"/associations/{a}/activities", body, headers={"If-Match": '"2"'})
    assert_error(r, 412, "version_conflict", "If-Match")
    r = sqlite_api.post(f"/associations/{a}/activities", body, headers={"If-Match": '"1"'})
    assert r.status_code == 201 and r.json()["version"] == 2


def test_not_found(sqlite_api: Api) -> None:
    project = sqlite_api.project()
    unknown = "00000000-0000-4000-8000-000000000000"
    assert_error(sqlite_api.get(f"/projects/{unknown}"), 404, "not_found", "project_id")
    assert_error(sqlite_api.get("/projects/not-a-uuid"), 404, "not_found", "project_id")
    assert_error(sqlite_api.get(f"/projects/{unknown}/history"), 404, "not_found")
    assert_error(sqlite_api.get(f"/associations/{unknown}"), 404, "not_found")
    assert_error(
        sqlite_api.post(f"/projects/{unknown}/visits", {"occurred_on": "2023-01-10"}),
        404,
        "not_found",
    )
    assert_error(
        sqlite_api.get(f"/projects/{project}?as_of_version=9"), 404, "not_found", "as_of_version"
    )
    assert_error(
        sqlite_api.post(
            f"/projects/{project}/issues/nope",
            {"status": "closed", "occurred_on": "2023-01-10", "note": "n"},
        ),
        404,
        "not_found",
        "issue_id",
    )
    assert_error(sqlite_api.get("/no-such-thing"), 404, "not_found", None)
    assert_error(sqlite_api.client.delete(f"/projects/{project}"), 405, "method_not_allowed")


def test_time_travel_queries_are_validated(sqlite_api: Api) -> None:
    project = sqlite_api.project()
    url = f"/projects/{project}"
    assert_error(
        sqlite_api.get(f"{url}?as_of_version=abc"), 422, "validation_error", "as_of_version"
    )
    assert_error(sqlite_api.get(f"{url}?as_of_version=0"), 422, "validation_error", "as_of_version")
    assert_error(sqlite_api.get(f"{url}?as_of=2023-13-01"), 422, "validation_error", "as_of")
    assert_error(sqlite_api.get(f"{url}?known_on=9999-12-31"), 422, "validation_error", "known_on")
    assert_error(
        sqlite_api.get(f"{url}?as_of=2023-01-01&known_on=2023-01-01"),
        422,
        "validation_error",
        "known_on",
    )
    assert sqlite_api.get(f"{url}?known_on=2099-01-01").status_code == 200


def test_forbidden(sqlite_api: Api) -> None:
    project = sqlite_api.project()
    r = sqlite_api.post(
        f"/projects/{project}/attestations",
        {
            "kind": "positive_local_impact",
            "occurred_on": "2023-01-10",
            "granted": True,
            "reason": "r",
        },
        role="officer",
    )
    error = assert_error(r, 403, "forbidden", None)
    assert "officer" in error["message"]
    assert_error(
        sqlite_api.post(
            f"/projects/{project}/visits", {"occurred_on": "2023-01-10"}, role="auditor"
        ),
        403,
        "forbidden",
    )


def test_unauthenticated(sqlite_api: Api) -> None:
    r = sqlite_api.get("/associations", role=None)
    assert_error(r, 401, "unauthenticated", None)
    r = sqlite_api.client.get("/associations", headers={"Authorization": "Bearer " + "x" * 5000})
    assert_error(r, 401, "unauthenticated", None)


def test_bodies_over_the_limit_answer_413(sqlite_api: Api) -> None:
    project = sqlite_api.project()
    url = f"/projects/{project}/visits"
    headers = {**sqlite_api.auth("admin"), "Content-Type": "application/json"}
    big = b'{"occurred_on": "2023-01-10", "notes": "' + b"x" * (1024 * 1024) + b'"}'
    assert_error(
        sqlite_api.client.post(url, content=big, headers=headers), 413, "payload_too_large", None
    )

    def chunks() -> Any:  # no Content-Length: sent chunked, counted as it streams
        for _ in range(20):
            yield b" " * 65536
        yield b'{"occurred_on": "2023-01-10"}'

    r = sqlite_api.client.post(url, content=chunks(), headers=headers)
    assert_error(r, 413, "payload_too_large", None)

    def small_chunks() -> Any:
        yield b'{"occurred_on": '
        yield b'"2023-01-10"}'

    r = sqlite_api.client.post(url, content=small_chunks(), headers=headers)
    assert r.status_code == 201, r.text
    assert sqlite_api.get(f"/projects/{project}").json()["version"] == 2


def test_the_database_being_unreachable_answers_503(sqlite_api: Api, monkeypatch: Any) -> None:
    from sqlalchemy.exc import OperationalError

    project = sqlite_api.project()
    ledger = sqlite_api.app.state.ledger

    def locked(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(ledger, "get_project", locked)
    r = sqlite_api.get(f"/projects/{project}")
    assert_error(r, 503, "unavailable", None)
    assert r.headers["retry-after"] == "1"


def test_a_bug_answers_500_in_the_error_shape(sqlite_api: Api, monkeypatch: Any) -> None:
    from tests.e2e.conftest import TestClient

    project = sqlite_api.project()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(sqlite_api.app.state.ledger, "get_project", broken)
    client = TestClient(sqlite_api.app, raise_server_exceptions=False)
    r = client.get(f"/projects/{project}", headers=sqlite_api.auth("admin"))
    assert_error(r, 500, "internal_error", None)
    assert "a bug" not in r.text  # nothing of the internals leaks
