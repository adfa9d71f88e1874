"""An SQLite file's log is checkpointed by a thread of its own, never inside a writer's commit
(`adapters.checkpoints`): the composition root's connections have automatic checkpoints off and
its `WalCheckpointer` moves the log into the database; other openers keep SQLite's default."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from adapters.checkpoints import WalCheckpointer
from adapters.database import open_ledger
from projections.runtime import engine_of
from services.bootstrap import bootstrap
from services.settings import Settings
from tests.conftest import STAFF


def _autocheckpoint(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())


def _record(ledger_owner: object, contracts: int) -> None:
    ledger = ledger_owner.ledger  # type: ignore[attr-defined]
    for year in range(2000, 2000 + contracts):
        ledger.create_service_contract(
            ledger.context(STAFF), year, "单位", "1000000.00", f"{year}-02-01"
        )


def _log_pages(database: Path) -> tuple[int, int]:
    """(pages in the log, pages of it already in the database), without moving any."""
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_autocheckpoint = 0")
        # A passive checkpoint with nothing to move answers the log's state.
        _busy, pages, moved = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(pages), int(moved)
    finally:
        connection.close()


def test_the_composition_root_checkpoints_off_the_commits(tmp_path: Path) -> None:
    database = tmp_path / "ledger.db"
    services = bootstrap(
        Settings(database_url=f"sqlite:///{database}", sqlite_checkpoint_seconds=0.05)
    )
    try:
        engine = engine_of(services.ledger)
        assert _autocheckpoint(engine) == 0  # no commit checkpoints
        checkpointer = services.checkpointer
        assert checkpointer is not None and checkpointer.database == database
        before = checkpointer.checkpoints
        _record(services, 5)
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints < before + 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert checkpointer.checkpoints >= before + 2
        pages, moved = _log_pages(database)
        assert pages > 0 and moved == pages  # the whole log is in the database
    finally:
        services.close()
    assert services.checkpointer is None


def test_a_ledger_opened_elsewhere_keeps_sqlite_s_own_checkpoints(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        assert _autocheckpoint(engine_of(ledger)) == 1000
    finally:
        ledger.close()


def test_only_an_sqlite_file_gets_a_checkpointer(database_url: str) -> None:
    services = bootstrap(Settings(database_url=database_url))
    try:
        _record(services, 1)
        checkpointer = services.checkpointer
        assert (checkpointer is not None) == database_url.startswith("sqlite")
    finally:
        services.close()


def test_a_failing_checkpoint_is_logged_once_and_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "ledger.db"
    checkpointer = WalCheckpointer(missing, interval=0.01)
    with caplog.at_level(logging.ERROR, logger="zhaoshang.checkpoints"):
        checkpointer.start()
        time.sleep(0.1)
        checkpointer.stop()
    assert checkpointer.last_error is not None
    errors = [r for r in caplog.records if "checkpoint of" in r.getMessage()]
    assert len(errors) == 1
    assert not missing.exists()  # a checkpointer never makes a database of its own
