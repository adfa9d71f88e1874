"""`zhaoshang scheduler catch-up [--now ISO-DATETIME]`: make every missing document now."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from services.bootstrap import bootstrap


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
    services = bootstrap(settings, clock=lambda: now)
    try:
        made = services.background().catch_up(now, generated_by="cli")
    finally:
        services.close()
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
    catch_up.add_argument("--now", help="ISO date-time to act as now (default: the clock)")
    handlers["scheduler"] = _catch_up
