"""`Ledger.load_project`/`load_association`: a write's load before its process's write lock
queries the store only for an aggregate the repository's cache does not hold (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain import errors
from domain.application import Ledger
from tests import factories

NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def app() -> Ledger:
    return Ledger(
        {"PERSISTENCE_MODULE": "eventsourcing.popo", "AGGREGATE_CACHE_MAXSIZE": "10"},
        clock=lambda: NOW,
    )


def counted_reads(app: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    reads: list[Any] = []
    select = app.recorder.select_events

    def counting(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return select(*args, **kwargs)

    monkeypatch.setattr(app.recorder, "select_events", counting)
    return reads


def test_a_cached_project_is_not_read_again(app: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    project_id = factories.project(app)
    app.get_project(project_id)  # in the cache
    reads = counted_reads(app, monkeypatch)
    app.load_project(project_id)
    assert reads == []
    app.get_project(project_id)  # a read still fast-forwards
    assert len(reads) == 1


def test_a_project_not_cached_is_loaded(app: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    project_id = factories.project(app)
    app.repository.cache.clear()  # type: ignore[union-attr]
    reads = counted_reads(app, monkeypatch)
    app.load_project(project_id)
    assert len(reads) == 1
    app.load_project(project_id)
    assert len(reads) == 1  # now cached


def test_an_association_is_loaded_once(app: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    association_id = factories.association(app)
    app.repository.cache.clear()  # type: ignore[union-attr]
    reads = counted_reads(app, monkeypatch)
    app.load_association(association_id)
    app.load_association(association_id)
    assert len(reads) == 1


@pytest.mark.parametrize("bad", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_id_is_not_found(app: Ledger, bad: str) -> None:
    with pytest.raises(errors.NotFound) as caught:
        app.load_project(bad)
    assert caught.value.field == "project_id"


def test_an_association_is_not_a_project(app: Ledger) -> None:
    association_id = factories.association(app)
    app.get_association(association_id)  # cached, as an association
    with pytest.raises(errors.NotFound):
        app.load_project(association_id)
