"""The `zhaoshang` command line: one sub-command per job, each a thin call into the application."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from services.bootstrap import bootstrap
from services.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from demo.province import generate

    app = bootstrap(settings).ledger
    try:
        if app.recorder.max_notification_id() and not args.force:
            print(
                f"{settings.database_url} already holds events; "
                "use --force to add a demo province anyway",
                file=sys.stderr,
            )
            return 1
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            print(f"\r  projects {done}/{total}", end="", file=sys.stderr, flush=True)

        workers = 2 if args.scale == "province" else 1  # two recording processes for 2M events
        summary = generate(
            app,
            args.scale,
            seed=args.seed,
            progress=progress,
            workers=workers,
            url=settings.database_url,
        )
        elapsed = time.perf_counter() - started
        print(file=sys.stderr)
    finally:
        app.close()
    print(f"Demo province ({args.scale}, seed {args.seed}) loaded into {settings.database_url}")
    print(f"  associations: {summary.associations}")
    print(f"  projects:     {summary.projects} ({summary.joint_referrals} jointly referred)")
    print(
        f"  events:       {summary.events} in {elapsed:.1f} s ({summary.events / elapsed:,.0f}/s)"
    )
    print("  stages:       " + ", ".join(f"{k} {v}" for k, v in sorted(summary.stages.items())))
    print("  currencies:   " + ", ".join(f"{k} {v}" for k, v in sorted(summary.currencies.items())))
    print(
        "  arrivals by year: "
        + ", ".join(f"{k} {v}" for k, v in sorted(summary.arrival_years.items()))
    )
    print(
        f"  corrections {summary.corrections}, voids {summary.voids}, "
        f"attribution changes {summary.attribution_changes}, follow-ups {summary.follow_ups}, "
        f"issues {summary.issues}"
    )
    return 0


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    parser = argparse.ArgumentParser(prog="zhaoshang", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    handlers: dict[str, Handler] = {}

    demo = commands.add_parser("demo", help="load a generated demo province")
    demo.add_argument("--scale", choices=["tiny", "small", "province"], default="small")
    demo.add_argument("--seed", type=int, default=2022)
    demo.add_argument("--force", action="store_true", help="load even if the database has events")
    handlers["demo"] = _demo

    for register in _extensions():
        register(commands, handlers)
    return parser, handlers


def _extensions() -> list[Callable[[Any, dict[str, Handler]], None]]:
    """The modules that own sub-commands, each with `register(commands, handlers)`."""
    from cli import (
        background,
        imports,
        integrity,
        notifications,
        policies,
        projections,
        scheduler,
        serve,
        users,
    )

    return [
        integrity.register,
        policies.register,
        users.register,
        serve.register,
        background.register,
        projections.register,
        scheduler.register,
        imports.register,
        notifications.register,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    return handlers[args.command](args, Settings())


if __name__ == "__main__":
    raise SystemExit(main())
