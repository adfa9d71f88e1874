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
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from adapters.checkpoints import sqlite_file

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
    through a lock of their own first (a `flock` is shared by every thread of a process), and
    hold the intent together: taken by the first thread to want it, let go by the last
    (`wanting`). A process's commands may say they want the writer before their insert, for as
    long as they are queued or deciding (`CommandLock`): otherwise the runner, finding no
    intent in the moment between two commands, takes the turn before the second one's insert
    each time, and commands then go at one a turn of the runner's (issue 23).
    """

    YIELD_SECONDS = 0.2
    # While commands keep wanting the writer, the runner's next turn waits this many times as
    # long as its last turn held the writer, and `YIELD_SECONDS` at most: commands keep four
    # fifths of the writer at least, and the runner or a rebuild goes on with the rest. A
    # fixed wait let a rebuild's bulk writes, of a few milliseconds a statement, have a turn
    # in 0.2 s behind saturating commands: its catch-up had not begun after 23 minutes.
    YIELD_PER_HELD = 4.0
    _POLL_SECONDS = 0.001

    def __init__(self, database: Path) -> None:
        self.database = database
        self._threads = threading.Lock()
        self._turn: Any = None
        self._intent: Any = None
        self._wanting = 0
        self._wanting_lock = threading.Lock()
        self._last_held: float | None = None  # by this process's last `yielding` turn

    def _files(self) -> tuple[int, int]:
        if self._turn is None:
            # Held open for the process's life, like the runner lock's file.
            self._intent = open(f"{self.database}.write-intent.lock", "a+")  # noqa: SIM115
            self._turn = open(f"{self.database}.write-turn.lock", "a+")  # noqa: SIM115
        return self._turn.fileno(), self._intent.fileno()

    def want(self) -> None:
        """Say that a command of this process waits for the writer (until `done`)."""
        with self._wanting_lock:
            if self._wanting == 0:
                fcntl.flock(self._files()[1], fcntl.LOCK_SH)
            self._wanting += 1

    def done(self) -> None:
        """Take back one `want`; the intent is let go with the last."""
        with self._wanting_lock:
            self._wanting -= 1
            if self._wanting == 0:
                fcntl.flock(self._files()[1], fcntl.LOCK_UN)

    @contextmanager
    def wanting(self) -> Iterator[None]:
        self.want()
        try:
            yield
        finally:
            self.done()

    @contextmanager
    def priority(self) -> Iterator[None]:
        """A command's write: say it waits, then take the turn."""
        with self.wanting(), self._threads:
            turn, _ = self._files()
            fcntl.flock(turn, fcntl.LOCK_EX)
            try:
                with collections_deferred():
                    yield
            finally:
                fcntl.flock(turn, fcntl.LOCK_UN)

    def _taken_unwanted(self, turn: int, intent: int) -> bool:
        """The turn taken if no command of any process wants it; else False at once.

        This process's own commands are counted, not tested through the intent's `flock`: a
        lock taken on the file this process holds shared would only convert its own."""
        with self._wanting_lock:
            if self._wanting:
                return False
            try:
                fcntl.flock(intent, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            try:
                fcntl.flock(turn, fcntl.LOCK_EX)
            finally:
                fcntl.flock(intent, fcntl.LOCK_UN)  # commands may queue behind us now
            return True

    @contextmanager
    def yielding(self) -> Iterator[None]:
        """The runner's write: let every waiting command go first, then take the turn (after
        `YIELD_PER_HELD` times its last turn, `YIELD_SECONDS` at most, of commands)."""
        with self._threads:
            turn, intent = self._files()
            waiting = self.YIELD_SECONDS
            if self._last_held is not None:
                waiting = min(waiting, self.YIELD_PER_HELD * self._last_held)
            deadline = time.monotonic() + waiting
            while not self._taken_unwanted(turn, intent):
                if time.monotonic() < deadline:
                    time.sleep(self._POLL_SECONDS)
                    continue
                fcntl.flock(turn, fcntl.LOCK_EX)  # waited long enough: our turn
                break
            taken = time.monotonic()
            try:
                with collections_deferred():
                    yield
            finally:
                fcntl.flock(turn, fcntl.LOCK_UN)
                self._last_held = time.monotonic() - taken


class CommandLock:
    """A process's lock around its commands, one at a time (re-entrant): while a thread waits
    for it or holds it, the process says it wants SQLite's writer (`WriteGate.want`), so that
    the runner and a rebuild leave the writer to the commands queued here, not only to the one
    inserting (as long as `WriteGate.yielding` lets them)."""

    def __init__(self, gate: WriteGate | None) -> None:
        self._gate = gate
        self._lock = threading.RLock()

    def __enter__(self) -> CommandLock:
        if self._gate is not None:
            self._gate.want()
        try:
            self._lock.acquire()
        except BaseException:
            if self._gate is not None:
                self._gate.done()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
        if self._gate is not None:
            self._gate.done()


_gates: dict[tuple[int, str], WriteGate] = {}
_gates_lock = threading.Lock()
_engine_gates: weakref.WeakKeyDictionary[Engine, tuple[int, WriteGate | None]] = (
    weakref.WeakKeyDictionary()
)


def write_gate(engine: Engine) -> WriteGate | None:
    """The gate of the SQLite file `engine` writes to (one per process and file), or None:
    PostgreSQL needs none (the runner's rows never block an insert of events)."""
    pid = os.getpid()  # a forked process opens its own files
    known = _engine_gates.get(engine)
    if known is not None and known[0] == pid:
        return known[1]  # resolving the path took a few system calls on every insert
    database = sqlite_file(engine)
    path = str(database.resolve()) if database is not None else None
    with _gates_lock:
        gate = None
        if path is not None:
            gate = _gates.get((pid, path))
            if gate is None:
                gate = _gates[(pid, path)] = WriteGate(Path(path))
        _engine_gates[engine] = (pid, gate)
    return gate
