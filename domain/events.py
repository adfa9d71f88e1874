"""The envelope every stored event carries, and the context a command is run in.

`occurred_on` is the business date (Asia/Shanghai) the fact happened; `recorded_at` is when the
system stored it, taken from the clock the application is given and passed in as the library's
`timestamp`, never read inside an apply method.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate

from domain.errors import DateInFuture
from domain.values import business_date, parse_date

SOURCES = ("api", "scheduler", "cli", "demo")


@dataclass(frozen=True)
class Actor:
    """Who caused an event: the authenticated user id and role."""

    id: str
    role: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "role": self.role}


SYSTEM = Actor("system", "admin")


@dataclass(frozen=True)
class Context:
    """Everything a command needs besides its own arguments: who, through what, and when."""

    actor: Actor
    source: str
    recorded_at: datetime
    evidence: tuple[str, ...] = field(default=())
    # Files referenced as evidence, each {sha256, name, media_type, size} as the file store
    # holds it (the caller resolves and checks them; `services/files.py`).
    evidence_files: tuple[dict[str, Any], ...] = field(default=())

    @property
    def today(self) -> date:
        return business_date(self.recorded_at)


class EnvelopedEvent(Aggregate.Event):
    """Base of every ledger event: the envelope of DESIGN §4."""

    occurred_on: date
    actor: dict[str, str]
    source: str
    evidence: list[str]
    # Files beside the text references: [{sha256, name, media_type, size}]. Events stored
    # before files existed have none; `revive_event` upcasts them to [] on read.
    evidence_files: list[dict[str, Any]]

    @property
    def recorded_at(self) -> datetime:
        return self.timestamp

    def payload(self) -> dict[str, Any]:
        """The event's own data, without the envelope and the library's bookkeeping."""
        skip = {
            "originator_id",
            "originator_version",
            "timestamp",
            "originator_topic",
            "occurred_on",
            "actor",
            "source",
            "evidence",
            "evidence_files",
        }
        return {k: v for k, v in vars(self).items() if k not in skip}


def envelope(ctx: Context, occurred_on: date) -> dict[str, Any]:
    """The keyword arguments that put a context's envelope on a new event."""
    return {
        "timestamp": ctx.recorded_at,
        "occurred_on": occurred_on,
        "actor": ctx.actor.as_dict(),
        "source": ctx.source,
        "evidence": list(ctx.evidence),
        "evidence_files": [dict(f) for f in ctx.evidence_files],
    }


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def event_type_name(topic_or_class_name: str) -> str:
    """`domain.project:Project.FundsArrivalCorrected` → `funds_arrival_corrected`."""
    name = topic_or_class_name.rsplit(".", 1)[-1].rsplit(":", 1)[-1]
    return _CAMEL.sub("_", name).lower()


def not_future(ctx: Context, value: Any, field_name: str = "occurred_on") -> date:
    """Parse a business date and refuse one after the context's today (Asia/Shanghai)."""
    day = parse_date(value, field_name)
    if day > ctx.today:
        raise DateInFuture(f"{day} is after today ({ctx.today})", field=field_name)
    return day
