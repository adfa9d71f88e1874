"""`zhaoshang notifications send [--now ISO-DATETIME]`: make the reminders due now (each once)
and deliver what the outbox holds (DESIGN §20)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from cli.scheduler import USAGE, _parse_now
from services.bootstrap import bootstrap


def _send(args: argparse.Namespace, settings: Any) -> int:
    now = _parse_now(args.now)
    real_now = datetime.now(tz=UTC)
    if now > real_now:
        print(
            f"notifications send: --now {now.isoformat()} is after the real clock "
            f"({real_now.isoformat(timespec='seconds')}); reminders are for today or before.",
            file=sys.stderr,
        )
        return USAGE
    services = bootstrap(settings, clock=lambda: now)
    try:
        service = services.notifications
        made = service.make_due(now)
        report = service.deliver_all(now)
    finally:
        services.close()
    by_rule: dict[str, int] = {}
    for notification in made:
        by_rule[notification.rule] = by_rule.get(notification.rule, 0) + 1
    for rule, count in sorted(by_rule.items()):
        print(f"{rule}: {count}")
    print(
        f"{len(made)} notification(s) made as of {now.isoformat()}; delivered {report.sent}, "
        f"to retry {report.retried}, failed {report.failed}, dropped {report.dropped}"
    )
    return 0


def register(commands: Any, handlers: dict[str, Any]) -> None:
    parser = commands.add_parser("notifications", help="reminders and their delivery")
    sub = parser.add_subparsers(dest="notifications_command", required=True)
    send = sub.add_parser("send", help="make the reminders due now and deliver the outbox")
    send.add_argument(
        "--now", help="ISO date-time to act as now, not after the real clock (default: the clock)"
    )
    handlers["notifications"] = _send
