"""`zhaoshang serve` for real: a subprocess on a free loopback port, one request, then stopped."""

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

import httpx
import pytest

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
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()


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
