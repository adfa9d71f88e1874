"""The idempotency answer and the events commit together (DESIGN §21), on SQLite and
PostgreSQL: a failure between the events and the answer stores neither, and the stored row
holds the answer that a retry gets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, select

import api.idempotency as idempotency
from adapters.database import normalise_url
from tests.e2e.conftest import Api, _client


@pytest.fixture
def http(database_url: str, clock: list[datetime]) -> Iterator[Api]:
    yield from _client(database_url, clock)


def stored_keys(database_url: str) -> list[Any]:
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(idempotency.idempotency_keys)).all())
    finally:
        engine.dispose()


def post_visit(http: Api, project_id: str, key: str) -> Any:
    return http.post(
        f"/projects/{project_id}/visits",
        {"occurred_on": "2024-02-02"},
        role="officer",
        headers={"Idempotency-Key": key},
    )


class TestIdempotencyTransaction:
    def test_the_answer_is_stored_with_the_events(self, http: Api) -> None:
        project_id = http.project()
        first = post_visit(http, project_id, "k")
        assert first.status_code == 201
        (row,) = stored_keys(http.database_url)
        assert (row.method, row.path, row.key, row.status) == (
            "POST",
            f"/projects/{project_id}/visits",
            "k",
            201,
        )
        assert bytes(row.body) == first.content
        assert post_visit(http, project_id, "k").content == first.content
        assert http.app.state.ledger.get_project(project_id).version == 2

    def test_a_failure_after_the_events_stores_neither(
        self, http: Api, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        project_id = http.project()

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("killed between the events and the answer")

        monkeypatch.setattr(idempotency, "_answer", broken)
        with pytest.raises(RuntimeError):
            post_visit(http, project_id, "k")
        monkeypatch.undo()
        assert stored_keys(http.database_url) == []
        ledger = http.app.state.ledger
        assert ledger.get_project(project_id).version == 1  # nothing stored, nothing cached
        retry = post_visit(http, project_id, "k")
        assert retry.status_code == 201 and retry.json()["version"] == 2
        assert [h.type for h in ledger.history(project_id)] == ["referred", "visit_recorded"]

    def test_the_same_key_with_another_body_stores_nothing(self, http: Api) -> None:
        project_id = http.project()
        assert post_visit(http, project_id, "k").status_code == 201
        r = http.post(
            f"/projects/{project_id}/visits",
            {"occurred_on": "2024-02-03"},
            role="officer",
            headers={"Idempotency-Key": "k"},
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
        assert len(stored_keys(http.database_url)) == 1
        assert http.app.state.ledger.get_project(project_id).version == 2
