"""A project's answer and its history are kept per version (`api.encoding`): the same bytes as
encoding afresh, never stale after a write here or in another worker."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api.app import create_app
from api.schemas import HistoryEntryOut, ProjectOut
from services.settings import Settings
from tests.e2e.conftest import Api


def test_the_kept_answers_are_those_encoded_afresh(api: Api) -> None:
    project = api.signed_project()
    ledger = api.app.state.ledger
    for _ in range(2):  # the first encodes, the second reads what was kept
        answer = api.get(f"/projects/{project}")
        assert answer.status_code == 200
        assert answer.headers["ETag"] == '"2"'
        assert answer.json() == json.loads(
            ProjectOut.of(ledger.get_project(project)).model_dump_json()
        )
        history = api.get(f"/projects/{project}/history")
        assert history.status_code == 200 and history.headers["ETag"] == '"2"'
        assert history.json() == [
            json.loads(HistoryEntryOut.of(e).model_dump_json()) for e in ledger.history(project)
        ]
    assert len(api.app.state.kept_answers) == 2


def test_a_write_is_seen_at_once_by_the_next_read(api: Api) -> None:
    project = api.signed_project()
    assert len(api.get(f"/projects/{project}/history").json()) == 2
    assert api.get(f"/projects/{project}").json()["arrivals"] == []
    r = api.post(
        f"/projects/{project}/funds",
        {"occurred_on": "2023-02-01", "amount": "1000.00", "currency": "CNY"},
        role="officer",
    )
    assert r.status_code == 201, r.text
    state = api.get(f"/projects/{project}")
    assert state.headers["ETag"] == '"3"'
    assert [a["amount"] for a in state.json()["arrivals"]] == ["1000.00"]
    assert [h["type"] for h in api.get(f"/projects/{project}/history").json()][-1] == (
        "funds_arrived"
    )


def test_a_read_of_an_earlier_version_is_not_the_current_answer(api: Api) -> None:
    project = api.signed_project()
    api.get(f"/projects/{project}")  # version 2 kept
    earlier = api.get(f"/projects/{project}", params={"as_of_version": 1})
    assert earlier.status_code == 200 and earlier.headers["ETag"] == '"1"'
    assert earlier.json()["signing"] is None
    assert api.get(f"/projects/{project}").json()["signing"] is not None
    kept = len(api.app.state.kept_answers)
    assert kept == 2  # versions 2 and 1, each under its version
    # As of a business date before the signing: version 1's events only, never kept (a date's
    # state is not named by its version), and not mistaken for the kept version 2.
    dated = api.get(f"/projects/{project}", params={"as_of": "2022-12-31"})
    assert dated.status_code == 200 and dated.json()["signing"] is None
    assert len(api.app.state.kept_answers) == kept


@pytest.fixture
def second_worker(api: Api) -> Iterator[TestClient]:
    """Another API process on the same database, with no background work of its own."""
    app = create_app(
        Settings(database_url=api.database_url, background_services=False),
        clock=lambda: api.clock[0],
    )
    with TestClient(app) as client:
        yield client


def test_a_write_in_another_worker_is_seen_here(api: Api, second_worker: TestClient) -> None:
    project = api.signed_project()
    assert len(api.get(f"/projects/{project}/history").json()) == 2
    api.get(f"/projects/{project}")
    r = second_worker.post(
        f"/projects/{project}/visits",
        json={"occurred_on": "2023-02-01", "notes": "elsewhere"},
        headers=api.auth("officer"),
    )
    assert r.status_code == 201, r.text
    assert api.get(f"/projects/{project}").json()["visits"] == 1
    history = api.get(f"/projects/{project}/history").json()
    assert [h["data"].get("notes") for h in history][-1] == "elsewhere"
