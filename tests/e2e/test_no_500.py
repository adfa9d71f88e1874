"""No input gets a 500: generated bodies, ids and queries against every endpoint built here.

TestClient re-raises any unhandled server error, so a bug surfaces as the exception itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import NOW
from tests.e2e.conftest import Api, _client, project_read_models

FIELDS = [
    "occurred_on",
    "amount",
    "contract_amount",
    "currency",
    "rate_to_cny",
    "source",
    "reason",
    "notes",
    "participants",
    "place",
    "details",
    "milestone",
    "operating_status",
    "output_value",
    "tax",
    "employees",
    "issues",
    "status",
    "note",
    "kind",
    "granted",
    "referrals",
    "approver",
    "industry",
    "project_type",
    "year",
    "arrived_on",
    "evidence",
    "name",
    "investor",
    "origin",
    "city",
    "county",
    "park",
    "planned_investment",
    "designations",
    "based_in",
    "contact",
    "description",
    "count",
    "designation",
]
INTERESTING = st.sampled_from(
    [
        "2023-01-10",
        "2030-01-01",
        "0001-01-01",
        "9999-12-31",
        "2023-02-29",
        "2023-1-1",
        "1.00",
        "0",
        "-1",
        "1e5",
        "99999999999999.99",
        "999999999999999",
        "1.001",
        "NaN",
        "Infinity",
        "CNY",
        "USD",
        "usd",
        "",
        " ",
        "started",
        "capacity_reached",
        "closed",
        "handling",
        "stalled",
        "withdrawn",
        "active",
        "normal",
        "positive_local_impact",
        "C",
        "changsha",
        "overseas",
        "ordinary",
        "promotion",
        "ambassador",
        "\u0000",
        "☃" * 3000,
        2024,
        0,
        -1,
        10**30,
        1.5,
        1e308,
        True,
        False,
        None,
        [],
        {},
    ]
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
VALUE = INTERESTING | JSON
REFERRAL = st.fixed_dictionaries(
    {"association_id": st.sampled_from(["{A}", "nope", ""]) | JSON, "share": VALUE}
)
BODY = st.dictionaries(st.sampled_from(FIELDS), VALUE | st.lists(REFERRAL, max_size=2), max_size=8)
WRITES = [
    "/associations",
    "/associations/{A}/activities",
    "/associations/{A}/designations",
    "/projects",
    "/projects/{P}/visits",
    "/projects/{P}/negotiations",
    "/projects/{P}/signing",
    "/projects/{P}/registration",
    "/projects/{P}/construction",
    "/projects/{P}/funds",
    "/projects/{P}/funds/{arrival}/corrections",
    "/projects/{P}/funds/{arrival}/void",
    "/projects/{P}/fixed-asset-investment",
    "/projects/{P}/production",
    "/projects/{P}/follow-ups",
    "/projects/{P}/issues/{issue}",
    "/projects/{P}/attestations",
    "/projects/{P}/attribution",
    "/projects/{P}/classification",
    "/projects/{P}/status",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, str]]]:
    clock: list[datetime] = [NOW]
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    for api in _client(f"sqlite:///{path}", clock):
        ids = {"A": api.association()}
        ids["P"] = api.signed_project(ids["A"])
        r = api.post(
            f"/projects/{ids['P']}/funds",
            {"occurred_on": "2023-02-01", "amount": "10.00", "currency": "CNY"},
        )
        ids["arrival"] = r.json()["arrival_id"]
        api.post(
            f"/projects/{ids['P']}/production",
            {"occurred_on": "2023-06-01", "milestone": "started"},
        )
        r = api.post(
            f"/projects/{ids['P']}/follow-ups",
            {
                "occurred_on": "2023-12-01",
                "operating_status": "normal",
                "issues": [{"category": "融资", "description": "贷款"}],
            },
        )
        ids["issue"] = r.json()["issue_ids"][0]
        project_read_models(api)  # as the server's runner would (GET /projects reads them)
        yield api, ids


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, real in ids.items():
            value = value.replace("{" + key + "}", real)
        return value
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(WRITES), body=BODY | JSON, if_match=st.none() | st.text(max_size=8))
def test_no_write_answers_500(
    world: tuple[Api, dict[str, str]], path: str, body: Any, if_match: str | None
) -> None:
    api, ids = world
    headers = api.auth("admin")
    if if_match is not None and if_match.isprintable() and if_match.isascii():
        headers["If-Match"] = if_match
    r = api.client.post(fill(path, ids), json=fill(body, ids), headers=headers)
    assert r.status_code < 500, r.text
    error = r.json().get("error") if r.status_code >= 400 else None
    if error is not None:
        assert set(error) == {"code", "message", "field"}


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    segment=st.text(min_size=1, max_size=40).map(lambda s: quote(s, safe="")),
    query=st.dictionaries(
        st.sampled_from(["as_of_version", "as_of", "known_on", "page", "size"]),
        st.text(max_size=12) | st.integers().map(str),
        max_size=2,
    ),
)
def test_no_read_answers_500(
    world: tuple[Api, dict[str, str]], segment: str, query: dict[str, str]
) -> None:
    api, ids = world
    for path in (
        f"/projects/{segment}",
        f"/projects/{ids['P']}",
        f"/associations/{segment}",
        "/associations",
        f"/projects/{segment}/history",
    ):
        r = api.client.get(path, params=query, headers=api.auth("admin"))
        assert r.status_code < 500, r.text


def test_non_standard_json_numbers_are_refused(world: tuple[Api, dict[str, str]]) -> None:
    """Python's JSON parser reads NaN and Infinity; they are refused like any float."""
    api, ids = world
    headers = {**api.auth("admin"), "Content-Type": "application/json"}
    url = f"/projects/{ids['P']}/funds"
    for raw in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        body = b'{"occurred_on": "2023-03-01", "currency": "CNY", "amount": ' + raw + b"}"
        r = api.client.post(url, content=body, headers=headers)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_amount", r.text
    body = (
        b'{"occurred_on": "2023-03-01", "reason": "r", "approver": "a", "referrals": '
        b'[{"association_id": "' + ids["A"].encode() + b'", "share": NaN}]}'
    )
    r = api.client.post(f"/projects/{ids['P']}/attribution", content=body, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "referrals[0].share", r.text
