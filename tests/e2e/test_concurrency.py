"""Concurrent writes over HTTP lose nothing and keep the hash chain whole."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from domain.integrity import verify_stream
from tests.e2e.conftest import Api


def test_concurrent_writes_to_one_project_all_land_and_chain(api: Api) -> None:
    project = api.project()
    headers = api.auth("officer")

    def visit(i: int) -> int:
        r = api.client.post(
            f"/projects/{project}/visits",
            json={"occurred_on": "2023-01-10", "notes": f"visit {i}"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        return int(r.json()["version"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        versions = sorted(pool.map(visit, range(24)))
    assert versions == list(range(2, 26))
    history = api.get(f"/projects/{project}/history").json()
    assert sorted(h["data"]["notes"] for h in history[1:]) == sorted(
        f"visit {i}" for i in range(24)
    )
    ledger = api.app.state.ledger
    _, head, broken = verify_stream(ledger.mapper, ledger.recorder.select_events(UUID(project)))
    assert broken is None and head == 25


def test_concurrent_if_match_writes_one_wins_the_others_get_412(api: Api) -> None:
    project = api.project()
    headers = {**api.auth("officer"), "If-Match": '"1"'}

    def visit(i: int) -> int:
        r = api.client.post(
            f"/projects/{project}/visits", json={"occurred_on": "2023-01-10"}, headers=headers
        )
        return int(r.status_code)

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(visit, range(8)))
    assert statuses == [201] + [412] * 7
    assert api.get(f"/projects/{project}").json()["version"] == 2
