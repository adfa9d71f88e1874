"""`zhaoshang scheduler catch-up [--now ISO-DATETIME]`: make every missing document now."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from services.bootstrap import bootstrap

USAGE = 2  # exit status of a refused command line


def _parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(tz=UTC)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        from domain.values import SHANGHAI

        moment = moment.replace(tzinfo=SHANGHAI)  # a bare time is read as Shanghai time
    return moment.astimezone(UTC)


def _catch_up(args: argparse.Namespace, settings: Any) -> int:
    now = _parse_now(args.now)
    real_now = datetime.now(tz=UTC)
    if now > real_now and not args.dry_run:
        # A period still open by the real clock would be frozen as revision 0 (issue 13).
        print(
            f"scheduler catch-up: --now {now.isoformat()} is after the real clock "
            f"({real_now.isoformat(timespec='seconds')}); a period that has not closed would be "
            "frozen. Use a past --now, or --dry-run to see what it would make.",
            file=sys.stderr,
        )
        return USAGE
    services = bootstrap(settings, clock=lambda: now)
    try:
        catch_up = services.background().catch_up
        if args.dry_run:
            planned = catch_up.plan(now)
        else:
            made = catch_up(now, generated_by="cli")
    finally:
        services.close()
    if args.dry_run:
        for kind, period, what in planned:
            print(f"would make {kind} {period} {what}")
        print(f"{len(planned)} document(s) would be generated as of {now.isoformat()} (dry run)")
        return 0
    for document in made:
        note = f" (revises #{document.revises})" if document.revises else ""
        print(
            f"{document.kind} {document.period} revision {document.revision} "
            f"#{document.id} sha256:{document.content_hash[:12]}{note}"
        )
    print(f"{len(made)} document(s) generated as of {now.isoformat()}")
    return 0


def register(commands: Any, handlers: dict[str, Any]) -> None:
    parser = commands.add_parser("scheduler", help="scheduled documents")
    sub = parser.add_subparsers(dest="scheduler_command", required=True)
    catch_up = sub.add_parser("catch-up", help="generate every closed period's missing document")
    catch_up.add_argument(
        "--now", help="ISO date-time to act as now, not after the real clock (default: the clock)"
    )
    catch_up.add_argument(
        "--dry-run", action="store_true", help="show what would be made, storing nothing"
    )
    handlers["scheduler"] = _catch_up
