"""An SQLite file's log is checkpointed by a thread of its own, never inside a writer's commit
(`adapters.checkpoints`): the composition root's connections have automatic checkpoints off and
its `WalCheckpointer` moves the log into the database; other openers keep SQLite's default."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from adapters import database
from adapters.checkpoints import WalCheckpointer
from adapters.database import open_ledger
from projections.runtime import engine_of
from services.bootstrap import bootstrap
from services.settings import Settings
from tests.conftest import STAFF


def _autocheckpoint(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())


def _record(ledger_owner: object, contracts: int, first_year: int = 2000) -> None:
    ledger = ledger_owner.ledger  # type: ignore[attr-defined]
    for year in range(first_year, first_year + contracts):
        ledger.create_service_contract(
            ledger.context(STAFF), year, "单位", "1000000.00", f"{year}-02-01"
        )


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


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
        _record(services, 5)

        # Nothing else checkpoints (every connection has automatic checkpoints off), so pages
        # in the database are pages the checkpointer moved: the whole log, once it is quiet.
        def whole_log_moved() -> bool:
            result = checkpointer.last_result
            return result is not None and result[1] > 0 and result[2] == result[1]

        assert eventually(whole_log_moved)
    finally:
        services.close()
    assert services.checkpointer is None


def test_the_log_is_cut_back_once_checkpointed_and_begun_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = 16 * 1024
    monkeypatch.setattr(database, "WAL_KEPT_BYTES", kept)
    wal = tmp_path / "ledger.db-wal"
    services = bootstrap(
        Settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}", sqlite_checkpoint_seconds=0.05)
    )
    try:
        _record(services, 20)
        assert wal.stat().st_size > 2 * kept
        checkpointer = services.checkpointer
        assert checkpointer is not None

        def whole_log_moved() -> bool:
            result = checkpointer.last_result
            return result is not None and result[1] > 0 and result[2] == result[1]

        assert eventually(whole_log_moved)
        _record(services, 1, first_year=2020)  # the log begins again, and is cut back
        assert wal.stat().st_size <= kept
    finally:
        services.close()


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
        try:
            assert eventually(lambda: checkpointer.last_error is not None)
            time.sleep(0.1)  # ten more ticks, failing alike
            assert not missing.exists()  # a checkpointer never makes a database of its own
            errors = [r for r in caplog.records if "checkpoint of" in r.getMessage()]
            assert len(errors) == 1
            # The database appears (restored, say): the next tick connects and checkpoints.
            connection = sqlite3.connect(missing)
            connection.execute("PRAGMA journal_mode = wal")
            connection.execute("CREATE TABLE t (x)")
            connection.close()
            assert eventually(
                lambda: checkpointer.checkpoints > 0 and checkpointer.last_error is None
            )
        finally:
            checkpointer.stop()
