"""`zhaoshang background [--no-scheduler]`: the projection runner and the scheduler in a process of
their own, and `BackgroundProcess`, with which `serve` starts, watches and stops that process.

The API processes only record events and read; folding events into the read models is pure
Python that holds the interpreter lock, so sharing a process with the API made every request
wait behind it (issue 23). The lock (`adapters/lock.py`) still keeps one runner per database:
a second `background` waits as a stand-by and takes over when the first one ends. Reads that
need the read models up to date wait on the positions stored in the database
(`SettlementService.wait_for_read_models`), so they work across processes.

On PostgreSQL with API workers on several hosts, run `serve` with
`ZHAOSHANG_BACKGROUND_SERVICES=false` on each and `zhaoshang background` once, anywhere.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from types import FrameType
from typing import Any

from services.settings import Settings

log = logging.getLogger("zhaoshang.background")

STAND_BY_SECONDS = 2.0  # how often a stand-by process tries the runner lock again
RESTART_SECONDS = 1.0  # how long `serve` waits before starting a background process that died
STOP_SECONDS = 30.0  # how long `serve` waits for it to stop before killing it


def run_background(settings: Settings, stop: threading.Event, parent: int | None = None) -> int:
    """Run the background work until `stop` is set (or `parent` is no longer this process's
    parent: `serve` was killed and cannot stop us itself)."""
    from services.bootstrap import bootstrap

    def orphaned() -> bool:
        return parent is not None and os.getppid() != parent

    services = bootstrap(settings)
    background = services.background()
    try:
        waiting_said = False
        while not background.start():
            if not waiting_said:
                log.info("another process runs the projections; standing by to take over")
                waiting_said = True
            if stop.wait(STAND_BY_SECONDS) or orphaned():
                return 0
        log.info("projection runner started (poll %.2f s)", settings.projection_poll_seconds)
        try:
            while not stop.wait(1.0):
                if orphaned():
                    log.warning("serve is gone; stopping the projection runner")
                    break
        finally:
            background.stop()
            log.info("projection runner stopped")
    finally:
        services.close()
    return 0


def _background(args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s [background]: %(message)s",
    )
    if args.no_scheduler:
        settings = settings.model_copy(update={"scheduler_enabled": False})
    stop = threading.Event()

    def stop_on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    return run_background(settings, stop, parent=args.parent)


class BackgroundProcess:
    """`zhaoshang background` as a child of `serve`, restarted if it dies, stopped with it."""

    def __init__(self, settings: Settings, log_level: str = "info") -> None:
        self.environment = {**os.environ, **settings.as_environment()}
        self.command = [
            sys.executable,
            "-m",
            "cli.main",
            "background",
            "--parent",
            str(os.getpid()),
            "--log-level",
            log_level,
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._process_lock = threading.Lock()

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(
            target=self._watch, name="background-process-watcher", daemon=True
        )
        self._watcher.start()

    def _spawn(self) -> None:
        with self._process_lock:
            if not self._stopping.is_set():
                # A session of its own: a Ctrl-C at the terminal reaches `serve`, which stops
                # this process after the API (a restart racing the shutdown is avoided).
                self.process = subprocess.Popen(
                    self.command, env=self.environment, start_new_session=True
                )

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self.process
            if process is None:
                return
            status = process.wait()
            if self._stopping.is_set():
                return
            log.error(
                "the background process (projections, scheduler) exited with %s; restarting",
                status,
            )
            if self._stopping.wait(RESTART_SECONDS):
                return
            self._spawn()

    def stop(self) -> None:
        self._stopping.set()
        with self._process_lock:
            process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None


def register(commands: Any, handlers: dict[str, Any]) -> None:
    parser = commands.add_parser(
        "background",
        help="run the projection runner and the scheduler (serve starts this beside the API)",
    )
    parser.add_argument(
        "--no-scheduler",
        action="store_true",
        help="no scheduled documents (dispatches, evaluations, settlements); projections still run",
    )
    # `serve`'s pid: stop when that process is gone.
    parser.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    handlers["background"] = _background
