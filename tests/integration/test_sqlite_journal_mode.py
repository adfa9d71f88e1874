"""Opening the ledger on an SQLite file settles WAL mode, waiting out a busy moment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore

from adapters.database import open_ledger
from tests.conftest import STAFF


def test_a_locked_journal_mode_switch_is_retried_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    original = SQLAlchemyDatastore.init_sqlite_wal_mode
    calls: list[int] = []

    def busy_twice(self: SQLAlchemyDatastore) -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise sqlalchemy.exc.OperationalError(
                "PRAGMA journal_mode=WAL", None, Exception("database is locked")
            )
        original(self)

    monkeypatch.setattr(SQLAlchemyDatastore, "init_sqlite_wal_mode", busy_twice)
    ledger = open_ledger(url)
    try:
        assert len(calls) == 3
        _contract_id, version = ledger.create_service_contract(
            ledger.context(STAFF), 2024, "单位", "1000000.00", "2024-02-01"
        )
        assert version == 1
        assert len(calls) == 3  # the first command did not try again
        datastore: Any = ledger.recorder.datastore  # type: ignore[attr-defined]
        assert datastore.is_sqlite_wal_mode
    finally:
        ledger.close()


def test_another_operational_error_is_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unable(self: SQLAlchemyDatastore) -> None:
        raise sqlalchemy.exc.OperationalError(
            "PRAGMA journal_mode=WAL", None, Exception("unable to open database file")
        )

    monkeypatch.setattr(SQLAlchemyDatastore, "init_sqlite_wal_mode", unable)
    with pytest.raises(sqlalchemy.exc.OperationalError, match="unable to open"):
        open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
