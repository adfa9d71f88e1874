"""One projection runner and one scheduler per database, however many API workers run.

SQLite: an exclusive `flock` on a file beside the database. PostgreSQL: a session advisory lock
held on a dedicated connection. Either is released when the process ends, even by SIGKILL.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

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
