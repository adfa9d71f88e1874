"""The Association aggregate: a chamber of commerce or alumni association and its own record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import errors
from domain.copying import TreeCopied
from domain.events import Context, EnvelopedEvent, envelope, not_future
from domain.values import (
    ACTIVITY_KINDS,
    ASSOCIATION_DESIGNATIONS,
    ASSOCIATION_KINDS,
    parse_code,
    parse_count,
    parse_text,
)


@dataclass
class Activity:
    activity_id: str
    kind: str
    occurred_on: date
    description: str
    count: int


@dataclass
class Designation:
    year: int
    designation: str
    occurred_on: date
    reason: str


class Association(TreeCopied, Aggregate):
    """A 商协会 or 校友会 that refers projects and is evaluated each year."""

    class_version = 1

    def __init__(self) -> None:
        pass

    class Event(EnvelopedEvent):
        pass

    class Registered(Event, Aggregate.Created):
        name: str
        kind: str
        based_in: str
        contact: str

        def apply(self, aggregate: Association) -> None:
            aggregate.name = self.name
            aggregate.kind = self.kind
            aggregate.based_in = self.based_in
            aggregate.contact = self.contact
            aggregate.registered_on = self.occurred_on
            aggregate.active = True
            aggregate.activities = []
            aggregate.designations = []

    class DetailsChanged(Event):
        name: str
        based_in: str
        contact: str

        def apply(self, aggregate: Association) -> None:
            aggregate.name = self.name
            aggregate.based_in = self.based_in
            aggregate.contact = self.contact

    class ActivityRecorded(Event):
        activity_id: str
        kind: str
        description: str
        count: int

        def apply(self, aggregate: Association) -> None:
            aggregate.activities.append(
                Activity(
                    self.activity_id, self.kind, self.occurred_on, self.description, self.count
                )
            )

    class DesignationAwarded(Event):
        year: int
        designation: str
        reason: str

        def apply(self, aggregate: Association) -> None:
            aggregate.designations.append(
                Designation(self.year, self.designation, self.occurred_on, self.reason)
            )

    class Deactivated(Event):
        reason: str

        def apply(self, aggregate: Association) -> None:
            aggregate.active = False

    name: str
    kind: str
    based_in: str
    contact: str
    registered_on: date
    active: bool
    activities: list[Activity]
    designations: list[Designation]

    @classmethod
    def register(
        cls,
        ctx: Context,
        *,
        association_id: UUID,
        name: Any,
        kind: Any,
        based_in: Any,
        contact: Any = None,
        occurred_on: Any = None,
    ) -> Association:
        day = ctx.today if occurred_on is None else not_future(ctx, occurred_on)
        return cls._create(
            cls.Registered,
            id=association_id,
            **envelope(ctx, day),
            name=parse_text(name, "name", limit=200),
            kind=parse_code(kind, ASSOCIATION_KINDS, "kind"),
            based_in=parse_text(based_in, "based_in", limit=200),
            contact=parse_text(contact, "contact", required=False, limit=200),
        )

    def _check(self, ctx: Context, occurred_on: Any) -> date:
        day = ctx.today if occurred_on is None else not_future(ctx, occurred_on)
        if not self.active:
            raise errors.AssociationInactive("the association was deactivated")
        if day < self.registered_on:
            raise errors.DateBeforeReferral(
                f"{day} is before the association was registered ({self.registered_on})",
                field="occurred_on",
            )
        return day

    def change_details(
        self, ctx: Context, name: Any = None, based_in: Any = None, contact: Any = None
    ) -> None:
        new_name = self.name if name is None else parse_text(name, "name", limit=200)
        new_base = (
            self.based_in if based_in is None else parse_text(based_in, "based_in", limit=200)
        )
        new_contact = self.contact if contact is None else parse_text(contact, "contact", limit=200)
        day = self._check(ctx, None)
        self.trigger_event(
            self.DetailsChanged,
            **envelope(ctx, day),
            name=new_name,
            based_in=new_base,
            contact=new_contact,
        )

    def record_activity(
        self,
        ctx: Context,
        activity_id: str,
        kind: Any,
        occurred_on: Any,
        description: Any,
        count: Any = None,
    ) -> None:
        kind_code = parse_code(kind, ACTIVITY_KINDS, "kind")
        text = parse_text(description, "description")
        reach = 1 if count is None else parse_count(count, "count", minimum=1)
        day = self._check(ctx, occurred_on)
        self.trigger_event(
            self.ActivityRecorded,
            **envelope(ctx, day),
            activity_id=activity_id,
            kind=kind_code,
            description=text,
            count=reach,
        )

    def award_designation(
        self, ctx: Context, year: Any, designation: Any, occurred_on: Any, reason: Any = None
    ) -> None:
        if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
            raise errors.InvalidInput("year must be a whole year such as 2024", field="year")
        code = parse_code(designation, ASSOCIATION_DESIGNATIONS, "designation")
        reason_text = parse_text(reason, "reason", required=False)
        day = self._check(ctx, occurred_on)
        if any(d.year == year and d.designation == code for d in self.designations):
            raise errors.Conflict(f"{code} was already awarded for {year}", code="already_awarded")
        self.trigger_event(
            self.DesignationAwarded,
            **envelope(ctx, day),
            year=year,
            designation=code,
            reason=reason_text,
        )

    def deactivate(self, ctx: Context, occurred_on: Any, reason: Any) -> None:
        reason_text = parse_text(reason, "reason")
        day = self._check(ctx, occurred_on)
        self.trigger_event(self.Deactivated, **envelope(ctx, day), reason=reason_text)
