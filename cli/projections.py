"""`zhaoshang projections …`: status, catch-up and rebuild of the read models."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from projections.faults import stopped_projections
from projections.runtime import ProjectionEventError
from services.bootstrap import bootstrap


class ProgressBar:
    """A one-line progress bar with rate and ETA on stderr."""

    def __init__(self, label: str, width: int = 30) -> None:
        self.label = label
        self.width = width
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = done / elapsed
        fraction = done / total if total else 1.0
        filled = int(self.width * fraction)
        eta = (total - done) / rate if rate else 0.0
        bar = "█" * filled + "·" * (self.width - filled)
        print(
            f"\r{self.label:<8} {bar} {done:>9,}/{total:,} events"
            f"  {rate:>9,.0f}/s  ETA {eta:5.1f} s",
            end="",
            file=sys.stderr,
            flush=True,
        )


def _rebuild(args: argparse.Namespace, settings: Any) -> int:
    # Below the API's processes: they win the CPU while the rebuild reads and folds. Its turns
    # at the writer are kept short (`TurnTakingConnection`), so that a lowered process seldom
    # holds one while a command waits.
    os.nice(args.niceness if args.niceness is not None else settings.rebuild_niceness)
    services = bootstrap(settings)
    try:
        runner = services.runner
        names = [p.name for p in runner.projections]
        chosen = [p for p in runner.projections if args.name in (None, p.name)]
        if not chosen:
            print(f"no projection named {args.name!r}; known: {', '.join(names)}", file=sys.stderr)
            return 2
        started = time.perf_counter()
        try:
            done = runner.rebuild_many(
                chosen, progress=ProgressBar("+".join(p.name for p in chosen))
            )
        except ProjectionEventError as error:
            print(f"\nrebuild failed, nothing switched: {error}", file=sys.stderr)
            return 1
        elapsed = time.perf_counter() - started
        print(file=sys.stderr)
        for projection in chosen:
            print(f"{projection.name}: now generation {projection.generation}")
        print(
            f"rebuilt {len(chosen)} projection(s) from {done:,} events in {elapsed:.1f} s"
            f" ({done / max(elapsed, 1e-9):,.0f} events/s, one reader feeding all)"
        )
    finally:
        services.close()
    return 0


def _status(args: argparse.Namespace, settings: Any) -> int:
    services = bootstrap(settings)
    try:
        runner, ledger = services.runner, services.ledger
        if args.catch_up:
            print(f"applied {runner.run_once():,} events")
        head = ledger.recorder.max_notification_id() or 0
        stopped = {f.name: f for f in stopped_projections(runner.engine)}
        for name, position in runner.positions().items():
            print(f"{name}: position {position:,} of {head:,}")
            if (fault := stopped.get(name)) is not None:
                print(
                    f"  STOPPED at stream {fault.stream_id} version {fault.version} "
                    f"({fault.event_type}, notification {fault.notification_id:,}, "
                    f"since {fault.stopped_at}): {fault.error}"
                )
    finally:
        services.close()
    return 1 if stopped else 0


def register(commands: Any, handlers: dict[str, Any]) -> None:
    parser = commands.add_parser("projections", help="read models: status, catch-up, rebuild")
    sub = parser.add_subparsers(dest="projections_command", required=True)
    rebuild = sub.add_parser("rebuild", help="rebuild from the first event into fresh tables")
    rebuild.add_argument("name", nargs="?", default=None)
    rebuild.add_argument(
        "--niceness",
        type=int,
        choices=range(20),
        metavar="0-19",
        default=None,
        help="lower this process's CPU priority by this much (default: "
        "ZHAOSHANG_REBUILD_NICENESS, 10)",
    )
    status = sub.add_parser("status", help="each projection's position")
    status.add_argument("--catch-up", action="store_true", help="apply new events first")

    def dispatch(args: argparse.Namespace, settings: Any) -> int:
        if args.projections_command == "rebuild":
            return _rebuild(args, settings)
        return _status(args, settings)

    handlers["projections"] = dispatch
