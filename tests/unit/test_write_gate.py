"""`adapters.lock.WriteGate`: SQLite's writer in turns, a waiting command before the runner's
next write (issue 23). Two gates on one file stand for two processes (a `flock` belongs to the
open file, so two gates exclude each other even in one process)."""

from __future__ import annotations

import fcntl
import gc
import threading
import time
from pathlib import Path

import pytest

from adapters.lock import CommandLock, WriteGate, collections_deferred


def test_a_command_waits_for_the_runners_write_and_then_goes_before_its_next(
    tmp_path: Path,
) -> None:
    runner, api = WriteGate(tmp_path / "db"), WriteGate(tmp_path / "db")
    order: list[str] = []
    command_waits = threading.Event()

    def command() -> None:
        command_waits.set()
        with api.priority():
            order.append("command")
            time.sleep(0.05)

    with runner.yielding():
        order.append("runner 1")
        thread = threading.Thread(target=command)
        thread.start()
        command_waits.wait(5)
        time.sleep(0.05)  # the command is waiting for its turn now
        assert order == ["runner 1"]
    with runner.yielding():  # the runner's next write, straight after its first
        order.append("runner 2")
    thread.join(5)
    assert order == ["runner 1", "command", "runner 2"]


def test_the_runner_takes_its_turn_after_yielding_for_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands one after another never starve the runner: it yields `YIELD_SECONDS` at most."""
    monkeypatch.setattr(WriteGate, "YIELD_SECONDS", 0.1)
    runner, api = WriteGate(tmp_path / "db"), WriteGate(tmp_path / "db")
    with open(f"{tmp_path / 'db'}.write-intent.lock", "a+") as intent:
        fcntl.flock(intent.fileno(), fcntl.LOCK_SH)  # a command waiting, and waiting
        started = time.monotonic()
        with runner.yielding():
            waited = time.monotonic() - started
        assert 0.1 <= waited < 5
    with api.priority():  # and the gate is free again afterwards
        pass


def test_threads_of_one_process_take_turns_too(tmp_path: Path) -> None:
    gate = WriteGate(tmp_path / "db")
    inside = 0
    most = 0
    lock = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(20):
            with gate.priority():
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.001)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most == 1


def test_no_collection_runs_while_a_turn_is_held_and_collecting_resumes_after(
    tmp_path: Path,
) -> None:
    gate = WriteGate(tmp_path / "db")
    assert gc.isenabled()
    with gate.priority():
        assert not gc.isenabled()
    assert gc.isenabled()
    with gate.yielding():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collections_resume_only_when_the_last_turn_ends_and_stay_off_if_they_were(
    tmp_path: Path,
) -> None:
    with collections_deferred():
        with collections_deferred():
            assert not gc.isenabled()
        assert not gc.isenabled()  # an outer turn is still held
    assert gc.isenabled()
    gc.disable()
    try:
        with WriteGate(tmp_path / "db").priority():
            pass
        assert not gc.isenabled()  # someone else had turned it off: left off
    finally:
        gc.enable()


def _intent_held_elsewhere(path: Path) -> bool:
    """Whether some process (an open file of the intent other than ours) holds the intent."""
    with open(f"{path}.write-intent.lock", "a+") as probe:
        try:
            fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe.fileno(), fcntl.LOCK_UN)
        return False


def test_a_process_holds_the_intent_from_its_first_wanting_thread_to_its_last(
    tmp_path: Path,
) -> None:
    gate = WriteGate(tmp_path / "db")
    assert not _intent_held_elsewhere(tmp_path / "db")
    gate.want()
    gate.want()  # a second thread queued behind the first
    assert _intent_held_elsewhere(tmp_path / "db")
    gate.done()
    assert _intent_held_elsewhere(tmp_path / "db")  # one still wants it
    gate.done()
    assert not _intent_held_elsewhere(tmp_path / "db")
    with gate.priority():  # an insert's turn wants it too, and lets it go after
        assert _intent_held_elsewhere(tmp_path / "db")
    assert not _intent_held_elsewhere(tmp_path / "db")


def test_the_runner_yields_to_commands_queued_on_a_command_lock_before_their_insert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between two commands of a process, neither inserting, the runner would otherwise find
    no intent and take the turn before each next insert."""
    monkeypatch.setattr(WriteGate, "YIELD_SECONDS", 0.1)
    runner, api = WriteGate(tmp_path / "db"), WriteGate(tmp_path / "db")
    lock = CommandLock(api)
    with lock, lock:  # re-entrant, as a keyed request around its endpoint
        started = time.monotonic()
        with runner.yielding():
            waited = time.monotonic() - started
        assert waited >= 0.1
    started = time.monotonic()
    with runner.yielding():  # no command queued now: at once
        assert time.monotonic() - started < 0.1
    assert not _intent_held_elsewhere(tmp_path / "db")


def test_the_runner_yields_to_its_own_processs_commands_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command of the runner's process (the scheduler's) is counted, not tested by `flock`:
    the runner's exclusive lock on the intent would only have converted the process's own."""
    monkeypatch.setattr(WriteGate, "YIELD_SECONDS", 0.1)
    gate = WriteGate(tmp_path / "db")
    with CommandLock(gate):
        started = time.monotonic()
        with gate.yielding():
            waited = time.monotonic() - started
        assert waited >= 0.1
        assert _intent_held_elsewhere(tmp_path / "db")  # still the command's, after the turn
    assert not _intent_held_elsewhere(tmp_path / "db")


def test_a_command_lock_without_a_gate_is_a_re_entrant_lock() -> None:
    lock = CommandLock(None)
    entered = threading.Event()
    with lock, lock:

        def other() -> None:
            with lock:
                entered.set()

        thread = threading.Thread(target=other)
        thread.start()
        assert not entered.wait(0.05)
    thread.join(5)
    assert entered.is_set()


def test_behind_commands_that_keep_wanting_the_runner_waits_four_times_its_last_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands keep four fifths of the writer; the runner (or a rebuild) is not starved by
    commands that never stop: it goes on with a fifth rather than a turn in `YIELD_SECONDS`."""
    monkeypatch.setattr(WriteGate, "YIELD_SECONDS", 0.6)
    runner, api = WriteGate(tmp_path / "db"), WriteGate(tmp_path / "db")
    api.want()
    try:
        started = time.monotonic()
        with runner.yielding():  # no turn yet to go by: the whole YIELD_SECONDS
            assert time.monotonic() - started >= 0.6
            time.sleep(0.05)  # this turn holds the writer for 50 ms
        started = time.monotonic()
        with runner.yielding():
            waited = time.monotonic() - started
        assert 0.2 <= waited < 0.55
    finally:
        api.done()
