"""Shared fixtures: a fixed clock, and a fresh database per test on SQLite and PostgreSQL.

PostgreSQL tests read `ZHAOSHANG_TEST_POSTGRES_URL`. Without it they skip on a developer's
machine, but fail under CI (`CI` set), so CI can never go green without really running them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.database import normalise_url, open_ledger
from domain.application import Ledger
from domain.events import Actor, Context
from projections.runtime import KeptRows
from services.bootstrap import Services, bootstrap
from services.settings import Settings

NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
STAFF = Actor("staff-1", "staff")
OFFICER = Actor("officer-1", "officer")
# Every state a live projection keeps for its next batch is compared, as it is kept, with what
# reading its stored row back gives: a kept state that drifted from its row fails the test.
KeptRows.check = True


def postgres_server_url() -> str | None:
    url = os.environ.get("ZHAOSHANG_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail(
                "ZHAOSHANG_TEST_POSTGRES_URL is not set under CI: PostgreSQL tests must run"
            )
        pytest.skip("ZHAOSHANG_TEST_POSTGRES_URL is not set")
    return url


def _admin_connect(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def fresh_postgres_database() -> Iterator[str]:
    server = postgres_server_url()
    assert server is not None
    name = f"zs_test_{uuid.uuid4().hex[:12]}"
    with _admin_connect(server) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = normalise_url(server).rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _admin_connect(server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: an SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        yield from fresh_postgres_database()


@pytest.fixture
def clock() -> list[datetime]:
    """A settable clock: tests move `clock[0]` to pass time."""
    return [NOW]


@pytest.fixture
def ledger(database_url: str, clock: list[datetime]) -> Iterator[Ledger]:
    app = open_ledger(database_url, clock=lambda: clock[0])
    yield app
    app.close()


@pytest.fixture
def memory_ledger(clock: list[datetime]) -> Ledger:
    """The application on the library's in-memory store: no database, for the unit tier."""
    return Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=lambda: clock[0])


def ctx(app: Ledger, actor: Actor = STAFF) -> Context:
    return app.context(actor)


def services_for(
    ledger: Ledger,
    database_url: str,
    clock: Callable[[], datetime] | None = None,
    **settings: Any,
) -> Services:
    """The composition root's services around a test's ledger (same database)."""
    return bootstrap(Settings(database_url=database_url, **settings), ledger=ledger, clock=clock)
