"""Moving an SQLite file's write-ahead log into the database, away from the writers' path.

By default SQLite checkpoints inside the commit that takes the log past 1,000 pages. That
commit's writer — an API command or the projection runner — still holds the database's one
write turn (`adapters.lock.WriteGate`) while the checkpoint copies pages and syncs the file,
20–50 ms at province scale, and every command waits behind it (issue 23). Under a steady stream
of writes, with readers holding parts of the log, the log is seldom rewound, and past the
threshold every commit tries a checkpoint again.

So a process built by the composition root opens its connections with automatic checkpoints
off (`leave_checkpoints_to_a_checkpointer`) and runs a `WalCheckpointer`: a passive checkpoint
every `interval` seconds on a connection of its own, which takes no write turn and waits for
no one. Several processes on one file each run one; a checkpoint that finds another under way
returns at once. Other openers (the benchmark's loader, a test's ledger) keep SQLite's default.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger("zhaoshang.checkpoints")


def sqlite_file(engine: Engine) -> Path | None:
    """The SQLite file `engine` writes to, or None (PostgreSQL, an in-memory database)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def leave_checkpoints_to_a_checkpointer(engine: Engine) -> None:
    """`engine`'s SQLite connections, those open now included, never checkpoint in a commit."""
    if sqlite_file(engine) is None:
        return

    def no_automatic_checkpoints(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA wal_autocheckpoint = 0")

    event.listen(engine, "connect", no_automatic_checkpoints)
    engine.dispose()  # the pooled connections were opened with the default


class WalCheckpointer:
    """A thread that checkpoints an SQLite file's log passively, every `interval` seconds."""

    name = "wal-checkpointer"

    def __init__(self, database: Path, interval: float = 0.5) -> None:
        # Absolute now: the thread opens it later, whatever the working folder is by then.
        self.database = database.absolute()
        self.interval = interval
        self.checkpoints = 0
        # (busy, pages in the log, pages of it in the database) of the last checkpoint.
        self.last_result: tuple[int, int, int] | None = None
        self.last_error: Exception | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def checkpoint(self, connection: sqlite3.Connection) -> tuple[int, int, int]:
        """One passive checkpoint: (busy, pages in the log, pages moved into the database)."""
        row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        self.last_result = (int(row[0]), int(row[1]), int(row[2]))
        return self.last_result

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            if not self._thread.is_alive():  # else a later `start` would run a second one
                self._thread = None

    def _loop(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.interval):
                try:
                    if connection is None:
                        # Read-write, never create: a file gone is an error, not a new database.
                        connection = sqlite3.connect(
                            f"{self.database.as_uri()}?mode=rw",
                            uri=True,
                            isolation_level=None,
                            check_same_thread=False,
                        )
                    self.checkpoint(connection)
                    self.last_error = None
                except Exception as error:
                    # Whatever it was, the thread goes on (commits no longer checkpoint, so
                    # without it the log would only grow): loudly, once per new error; the
                    # next tick tries again, connecting anew.
                    if repr(error) != repr(self.last_error):
                        log.error("checkpoint of %s: %s; retrying", self.database, error)
                    self.last_error = error
                    _close(connection)
                    connection = None
        finally:
            _close(connection)


def _close(connection: sqlite3.Connection | None) -> None:
    """`connection` closed, if there is one; a failure to close is logged, not raised."""
    if connection is not None:
        try:
            connection.close()
        except sqlite3.Error as error:
            log.warning("closing the checkpoint connection: %s", error)
