"""`zhaoshang serve [--host --port --workers N --no-scheduler] [--demo]`: run the HTTP API.

The API processes only serve requests: the background services (`services/background.py`:
projection runner, scheduler, notification sender) run in a process of their own,
`zhaoshang background` (`cli/background.py`), which this command starts, restarts if it dies
and stops on the way out — so folding events never holds the API's interpreter lock (issue 23).
One worker runs the app in this process; several are started by uvicorn from the import string
`api.app:app_from_env` (a factory reading `ZHAOSHANG_*`). With
`ZHAOSHANG_BACKGROUND_SERVICES=false` no background process is started (it runs elsewhere).
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType
from typing import Any

from services.settings import Settings

APP_FACTORY = "api.app:app_from_env"


def load_demo_if_empty(settings: Settings, scale: str = "small") -> bool:
    """Load the demo province when the database holds no events; answer whether it did."""
    from demo.accounts import demo_accounts
    from demo.province import generate
    from services.bootstrap import bootstrap

    services = bootstrap(settings)
    ledger = services.ledger
    loaded = False
    try:
        if ledger.recorder.max_notification_id():
            print("serve --demo: the database already holds events; not loading", file=sys.stderr)
        else:
            summary = generate(ledger, scale)
            loaded = True
            print(
                f"serve --demo: loaded the {scale} demo province "
                f"({summary.associations} associations, {summary.projects} projects, "
                f"{summary.events} events)",
                file=sys.stderr,
            )
        services.runner.run_once()  # the read models, so the first page has its lists
        accounts = demo_accounts(services)
    finally:
        services.close()
    print("serve --demo: sign in at the address below + /app/login with one of:", file=sys.stderr)
    for account in accounts:
        print(
            f"  {account.role:<8} {account.name:<14} password {account.password}", file=sys.stderr
        )
    return loaded


WORKER_HEALTHCHECK_SECONDS = 60


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _register_read_models(settings: Settings) -> None:
    """Register the read models a fresh database lacks before the API listens, so that its first
    requests answer from empty read models instead of 503 while the background process starts."""
    from services.bootstrap import bootstrap

    services = bootstrap(settings)
    try:
        services.runner.register_missing()
    finally:
        services.close()


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if args.workers < 1:
        print("zhaoshang serve: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.no_scheduler:
        settings = settings.model_copy(update={"scheduler_enabled": False})
    if args.demo:
        load_demo_if_empty(settings)

    from cli.background import BackgroundProcess

    # The API processes run no background work of their own: the runner and the scheduler run
    # once, in the background process.
    api_settings = settings.model_copy(update={"background_services": False})
    background = (
        BackgroundProcess(settings, args.log_level) if settings.background_services else None
    )
    if background is not None:
        _register_read_models(api_settings)
        background.start()
    # uvicorn shuts down gracefully on SIGTERM and then raises it again, which would end this
    # process before it stops the background process; as an exception it passes `finally`.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        if args.workers == 1:
            from api.app import create_app

            uvicorn.run(
                create_app(api_settings),
                host=args.host,
                port=args.port,
                log_level=args.log_level,
                # The app believes X-Forwarded-* only from ZHAOSHANG_TRUSTED_PROXIES (issue 15).
                proxy_headers=False,
            )
            return 0

        from services.bootstrap import hand_to_workers

        hand_to_workers(api_settings)
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            proxy_headers=False,  # see above
            # A worker that has not answered the supervisor's ping within this many seconds is
            # killed and restarted: uvicorn's 5 s is shorter than a worker's imports take on a
            # busy two-core machine, where workers were restarted over and over.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )
    finally:
        if background is not None:
            background.stop()
    return 0


def register(commands: Any, handlers: dict[str, Any]) -> None:
    serve = commands.add_parser("serve", help="run the HTTP API (and the background services)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="API worker processes")
    serve.add_argument(
        "--no-scheduler",
        action="store_true",
        help="no scheduled documents (dispatches, evaluations, settlements); projections still run",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="load the small demo province first if the database is empty",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    handlers["serve"] = _serve
