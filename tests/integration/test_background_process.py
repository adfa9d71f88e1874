"""`zhaoshang background` (`cli/background.py`): the projection runner's own process stands by
while another process holds the runner lock, takes over when it is let go, projects, and stops
cleanly — on SQLite and PostgreSQL (the runner lock is a file lock on one, an advisory lock on
the other)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import cli.background
from adapters.lock import SingleRunnerLock
from cli.background import run_background
from domain.events import Actor
from services.bootstrap import bootstrap
from services.settings import Settings


def eventually(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds} s")
        time.sleep(0.05)


def test_a_stand_by_runner_takes_over_when_the_lock_is_let_go(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.background, "STAND_BY_SECONDS", 0.1)
    settings = Settings(
        database_url=database_url, scheduler_enabled=False, projection_poll_seconds=0.05
    )
    services = bootstrap(settings)
    try:
        ledger = services.ledger
        ledger.register_association(
            ledger.context(Actor("u1", "officer"), source="test"),
            name="北京湖南商会",
            kind="domestic_chamber",
            based_in="北京",
        )
        head = ledger.recorder.max_notification_id() or 0
        assert head > 0
        other = SingleRunnerLock(database_url)
        assert other.acquire()
        stop = threading.Event()
        answers: list[int] = []
        thread = threading.Thread(
            target=lambda: answers.append(run_background(settings, stop)), daemon=True
        )
        thread.start()
        try:
            time.sleep(0.5)  # five tries of the lock: it stands by, projecting nothing
            assert services.read_models.position("ledger") < head
            other.release()
            eventually(lambda: services.read_models.position("ledger") >= head)
        finally:
            stop.set()
            thread.join(timeout=30)
        assert not thread.is_alive() and answers == [0]
        after = SingleRunnerLock(database_url)
        assert after.acquire()  # it let the lock go on the way out
        after.release()
    finally:
        services.close()


def test_serving_processes_register_missing_read_models_without_rebuilding(
    database_url: str,
) -> None:
    # `serve` registers the read models of a fresh database before it listens, so the first
    # requests do not meet 503 while the background process starts; it never rebuilds.
    services = bootstrap(Settings(database_url=database_url, scheduler_enabled=False))
    try:
        with pytest.raises(LookupError):
            services.read_models.ledger_page()
        services.runner.register_missing()
        assert services.read_models.position("ledger") == 0
        assert services.read_models.ledger_page().total == 0
        rebuilt: list[str] = []
        services.runner.rebuild = lambda projection, *a, **k: rebuilt.append(projection.name)  # type: ignore[method-assign]
        services.runner.projections[0].schema_version += 100
        try:
            services.runner.register_missing()
        finally:
            services.runner.projections[0].schema_version -= 100
        assert rebuilt == []
    finally:
        services.close()
