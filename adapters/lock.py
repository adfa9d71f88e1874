"""One projection runner and one scheduler per database, however many API workers run; and
the turns at SQLite's one writer between the API's commands and the runner (`WriteGate`).

SQLite: an exclusive `flock` on a file beside the database. PostgreSQL: a session advisory lock
held on a dedicated connection. Either is released when the process ends, even by SIGKILL.
"""

from __future__ import annotations

import fcntl
import gc
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

ADVISORY_KEY = 0x7A68616F  # "zhao"


class SingleRunnerLock:
    def __init__(self, url: str) -> None:
        self.url = url
        self._handle: Any = None

    def _sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        if not self.url.startswith(prefix):
            return None
        path = self.url[len(prefix) :].split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)

    def acquire(self) -> bool:
        if self._handle is not None:
            return True
        if self.url.startswith("sqlite"):
            path = self._sqlite_path()
            if path is None:
                return True  # an in-memory database lives in one process anyway
            handle = open(f"{path}.runner.lock", "a+")  # noqa: SIM115 - held for the process life
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            self._handle = handle
            return True
        import psycopg

        dsn = self.url.replace("postgresql+psycopg://", "postgresql://")
        connection = psycopg.connect(dsn, autocommit=True)
        acquired = connection.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).fetchone()
        if not acquired or not acquired[0]:
            connection.close()
            return False
        self._handle = connection
        return True

    def release(self) -> None:
        if self._handle is None:
            return
        if hasattr(self._handle, "execute"):
            try:
                self._handle.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_KEY,))
            finally:
                self._handle.close()
        else:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
        self._handle = None

    @property
    def held(self) -> bool:
        return self._handle is not None


_collections_lock = threading.Lock()
_turns_held = 0
_collecting_before = False


@contextmanager
def collections_deferred() -> Iterator[None]:
    """No cyclic garbage collection in this process while it holds SQLite's writer.

    A full collection walks every object the process keeps — the runner's folded documents,
    the API's cached aggregates — and took 50–450 ms at province scale (issue 23); inside a turn,
    every command of every process waited it out. Deferred, not skipped: the first allocations
    after the turn collect. Process-wide; restored when the last turn in the process ends."""
    global _turns_held, _collecting_before
    with _collections_lock:
        if _turns_held == 0:
            _collecting_before = gc.isenabled()
            gc.disable()
        _turns_held += 1
    try:
        yield
    finally:
        with _collections_lock:
            _turns_held -= 1
            if _turns_held == 0 and _collecting_before:
                gc.enable()


class WriteGate:
    """SQLite's one writer, taken in turns with a waiting command going first (issue 23).

    The event store takes the gate around each insert and its commit (`priority`); the
    projection runner around each of its write transactions (`yielding`). Without it a command
    that found the runner writing slept in SQLite's busy handler (1, 2, 5, 10, 15 … ms between
    tries) while the runner wrote its projections back to back and kept getting there first.
    A waiting command now wakes as the runner's transaction ends, and the runner does not start
    the next while a command waits (for `YIELD_SECONDS` at most, then it waits its turn).

    Two `flock` files beside the database: the turn (exclusive) and the intent (shared by
    commands waiting or writing, tested by the runner). Threads of one process take turns
    through a lock of their own first (a `flock` is shared by every thread of a process).
    """

    YIELD_SECONDS = 0.2
    _POLL_SECONDS = 0.001

    def __init__(self, database: Path) -> None:
        self.database = database
        self._threads = threading.Lock()
        self._turn: Any = None
        self._intent: Any = None

    def _files(self) -> tuple[int, int]:
        if self._turn is None:
            # Held open for the process's life, like the runner lock's file.
            self._intent = open(f"{self.database}.write-intent.lock", "a+")  # noqa: SIM115
            self._turn = open(f"{self.database}.write-turn.lock", "a+")  # noqa: SIM115
        return self._turn.fileno(), self._intent.fileno()

    @contextmanager
    def priority(self) -> Iterator[None]:
        """A command's write: say it waits, then take the turn."""
        with self._threads:
            turn, intent = self._files()
            fcntl.flock(intent, fcntl.LOCK_SH)
            try:
                fcntl.flock(turn, fcntl.LOCK_EX)
                try:
                    with collections_deferred():
                        yield
                finally:
                    fcntl.flock(turn, fcntl.LOCK_UN)
            finally:
                fcntl.flock(intent, fcntl.LOCK_UN)

    @contextmanager
    def yielding(self) -> Iterator[None]:
        """The runner's write: let every waiting command go first, then take the turn."""
        with self._threads:
            turn, intent = self._files()
            deadline = time.monotonic() + self.YIELD_SECONDS
            while True:
                try:
                    fcntl.flock(intent, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if time.monotonic() < deadline:
                        time.sleep(self._POLL_SECONDS)
                        continue
                    fcntl.flock(turn, fcntl.LOCK_EX)  # waited long enough: our turn
                    break
                try:
                    fcntl.flock(turn, fcntl.LOCK_EX)
                finally:
                    fcntl.flock(intent, fcntl.LOCK_UN)  # commands may queue behind us now
                break
            try:
                with collections_deferred():
                    yield
            finally:
                fcntl.flock(turn, fcntl.LOCK_UN)


_gates: dict[tuple[int, str], WriteGate] = {}
_gates_lock = threading.Lock()


def write_gate(engine: Engine) -> WriteGate | None:
    """The gate of the SQLite file `engine` writes to (one per process and file), or None:
    PostgreSQL needs none (the runner's rows never block an insert of events)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    key = (os.getpid(), str(Path(database).resolve()))  # a forked process opens its own files
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = WriteGate(Path(key[1]))
    return gate
