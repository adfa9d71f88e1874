"""`zhaoshang serve` for real: a subprocess on a free loopback port, requests, then stopped; and
its process layout (issue 23): the projection runner in a background process of its own that
projects the API's writes, is restarted if it dies, and stops with the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.lock import SingleRunnerLock
from cli.main import main
from cli.serve import load_demo_if_empty
from services.settings import Settings

STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def zhaoshang() -> list[str]:
    script = Path(sys.executable).parent / "zhaoshang"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]


@contextmanager
def serving(database_url: str, *args: str) -> Iterator[str]:
    with serving_process(database_url, *args) as (base, _process):
        yield base


@contextmanager
def serving_process(database_url: str, *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**os.environ, "ZHAOSHANG_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [*zhaoshang(), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"zhaoshang serve exited with {process.returncode}:\n{output}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("zhaoshang serve did not answer within a minute")
            time.sleep(0.2)
        yield base, process
    finally:
        stop(process, signal.SIGINT, seconds=15)
        if process.stdout:
            process.stdout.close()


def stop(process: subprocess.Popen[bytes], signal_number: int, seconds: float) -> None:
    """`process` asked to stop by `signal_number`, killed if it has not within `seconds`."""
    process.send_signal(signal_number)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def admin_token(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    monkeypatch.setenv("ZHAOSHANG_DATABASE_URL", database_url)
    assert main(["users", "create", "root", "--role", "admin"]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_serve_answers_a_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    token = admin_token(url, monkeypatch, capsys)
    with serving(url, "--no-scheduler") as base:
        r = httpx.post(
            f"{base}/associations",
            json={"name": "香港湖南商会", "kind": "overseas_chamber", "based_in": "香港"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        r = httpx.get(f"{base}/associations", headers={"Authorization": f"Bearer {token}"})
        assert r.json()["total"] == 1


def test_serve_with_two_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    token = admin_token(url, monkeypatch, capsys)
    with serving(url, "--workers", "2", "--no-scheduler") as base:
        r = httpx.get(f"{base}/associations", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["total"] == 0
        assert httpx.get(f"{base}/associations").status_code == 401


def test_demo_loads_only_into_an_empty_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'demo.db'}")
    assert load_demo_if_empty(settings, scale="tiny") is True
    assert load_demo_if_empty(settings, scale="tiny") is False


def eventually(check: Any, seconds: float = 60.0) -> Any:
    """`check()` once it answers something true (the runner polls; the machine may be busy)."""
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds} s: {check}")
        time.sleep(0.1)


def runner_pid(database: Path) -> int | None:
    """The process holding the runner lock (`adapters/lock.py` writes its pid in the file)."""
    lock_file = Path(f"{database}.runner.lock")
    text = lock_file.read_text().strip() if lock_file.exists() else ""
    return int(text) if text else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that ended but was not yet reaped is a zombie: gone for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def new_project(base: str, token: str, name: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.post(
        f"{base}/associations",
        json={"name": f"{name}商会", "kind": "domestic_chamber", "based_in": "北京"},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    r = httpx.post(
        f"{base}/projects",
        json={
            "name": name,
            "investor": f"{name}实业有限公司",
            "industry": "C",
            "project_type": "ordinary",
            "origin": "other_province",
            "city": "changsha",
            "planned_investment": "100000000.00",
            "referrals": [{"association_id": r.json()["id"], "share": 100}],
            "occurred_on": "2022-06-01",
        },
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 201, r.text


def projects_listed(base: str, token: str) -> int:
    r = httpx.get(f"{base}/projects", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    return int(r.json()["total"])


def test_the_runner_projects_in_its_own_process_and_stops_with_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "layout.db"
    url = f"sqlite:///{database}"
    token = admin_token(url, monkeypatch, capsys)
    with serving_process(url, "--no-scheduler") as (base, server):
        new_project(base, token, "新材料产业园")
        # The API recorded it; the background process projects it into the list the page reads.
        assert eventually(lambda: projects_listed(base, token) == 1)
        runner = runner_pid(database)
        assert runner is not None and runner != server.pid
        assert b"background" in Path(f"/proc/{runner}/cmdline").read_bytes()
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
    assert eventually(lambda: not alive(runner), seconds=15)
    lock = SingleRunnerLock(url)
    assert lock.acquire()  # released: a next server's runner can start
    lock.release()


def test_a_runner_process_that_dies_is_restarted_and_catches_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "restart.db"
    url = f"sqlite:///{database}"
    token = admin_token(url, monkeypatch, capsys)
    with serving_process(url, "--no-scheduler") as (base, server):
        first = eventually(lambda: runner_pid(database))
        os.kill(first, signal.SIGKILL)
        # Written while no runner runs: the next one applies it.
        new_project(base, token, "光电子产业园")
        second = eventually(lambda: (pid := runner_pid(database)) != first and pid)
        assert second != server.pid and alive(second)
        assert eventually(lambda: projects_listed(base, token) == 1)
    assert eventually(lambda: not alive(second), seconds=15)


def test_serve_starts_no_runner_where_background_services_are_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """API hosts beside one `zhaoshang background` elsewhere: writes work, nothing projects."""
    database = tmp_path / "api-only.db"
    url = f"sqlite:///{database}"
    token = admin_token(url, monkeypatch, capsys)
    monkeypatch.setenv("ZHAOSHANG_BACKGROUND_SERVICES", "false")
    with serving(url, "--no-scheduler") as base:
        new_project(base, token, "数字经济产业园")
        time.sleep(1.5)  # three of the runner's polls, had one been started
        r = httpx.get(f"{base}/projects", headers={"Authorization": f"Bearer {token}"})
        # No runner ever set the read models up here: the list says so rather than answer empty.
        assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable", r.text
        assert runner_pid(database) is None


def projects_listed_once_set_up(base: str, token: str) -> int | None:
    """The projects listed, or None while no runner has set the read models up (503)."""
    r = httpx.get(f"{base}/projects", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if r.status_code == 503 and r.json()["error"]["code"] == "unavailable":
        return None
    assert r.status_code == 200, r.text
    return int(r.json()["total"])


@contextmanager
def runner_elsewhere(database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """`zhaoshang background` on its own, as on a host of its own beside the API's."""
    process = subprocess.Popen(
        [*zhaoshang(), "background", "--no-scheduler", "--log-level", "warning"],
        env={**os.environ, "ZHAOSHANG_DATABASE_URL": database_url},
    )
    try:
        yield process
    finally:
        stop(process, signal.SIGTERM, seconds=30)


def test_api_workers_beside_one_runner_elsewhere(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The production layout on either database (issue 23): `serve --workers 2` with background
    services off, and the one runner in a process of its own. The API's writes are projected
    there, and only there: with it stopped they wait, and the next one catches them up."""
    token = admin_token(database_url, monkeypatch, capsys)
    monkeypatch.setenv("ZHAOSHANG_BACKGROUND_SERVICES", "false")
    with serving(database_url, "--workers", "2", "--no-scheduler") as base:
        with runner_elsewhere(database_url):
            new_project(base, token, "智能制造产业园")
            assert eventually(lambda: projects_listed_once_set_up(base, token) == 1)
        new_project(base, token, "新能源装备产业园")
        time.sleep(1.5)  # three of a runner's polls, had the API processes started one
        assert projects_listed(base, token) == 1
        with runner_elsewhere(database_url):
            assert eventually(lambda: projects_listed(base, token) == 2)
