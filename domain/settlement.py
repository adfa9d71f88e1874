"""The Settlement aggregate: a year's reward frozen under a policy, then approved and paid.

One aggregate per (policy, year), with a deterministic id, so two processes settling the same
year at once conflict in the event store and only one succeeds. The frozen figures themselves are
stored beside the event as a document; the event pins them by their SHA-256 and carries each
association's totals.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import errors
from domain.copying import TreeCopied
from domain.events import Context, EnvelopedEvent, envelope, not_future
from domain.values import parse_text

SETTLEMENT_NAMESPACE = UUID("6f1c3d2e-8a4b-5c6d-9e0f-1a2b3c4d5e6f")


def settlement_id(policy_id: str, year: int) -> UUID:
    return uuid5(SETTLEMENT_NAMESPACE, f"settlement/{policy_id}/{year}")


class Settlement(TreeCopied, Aggregate):
    """结算: the frozen reward decision of one policy for one year, and its revisions."""

    class_version = 1

    def __init__(self) -> None:
        pass

    class Event(EnvelopedEvent):
        pass

    class Settled(Event, Aggregate.Created):
        policy_id: str
        policy_version: str
        year: int
        position: int
        document_hash: str
        total: Decimal
        totals: list[dict[str, Any]]

        def apply(self, aggregate: Settlement) -> None:
            aggregate.policy_id = self.policy_id
            aggregate.year = self.year
            aggregate.revision = 0
            aggregate.revisions = []
            aggregate._freeze(self, reason="")

    class Revised(Event):
        revision: int
        policy_version: str
        position: int
        document_hash: str
        total: Decimal
        totals: list[dict[str, Any]]
        reason: str

        def apply(self, aggregate: Settlement) -> None:
            aggregate.revision = self.revision
            aggregate._freeze(self, reason=self.reason)

    class Approved(Event):
        revision: int
        by: str
        reference: str

        def apply(self, aggregate: Settlement) -> None:
            aggregate.approved = {
                "by": self.by,
                "on": self.occurred_on,
                "reference": self.reference,
            }

    class Paid(Event):
        revision: int
        by: str
        reference: str

        def apply(self, aggregate: Settlement) -> None:
            aggregate.paid = {"by": self.by, "on": self.occurred_on, "reference": self.reference}

    policy_id: str
    policy_version: str
    year: int
    revision: int
    position: int
    document_hash: str
    total: Decimal
    totals: list[dict[str, Any]]
    settled_on: date
    reason: str
    approved: dict[str, Any] | None
    paid: dict[str, Any] | None
    revisions: list[dict[str, Any]]

    def _freeze(self, event: Any, reason: str) -> None:
        self.policy_version = event.policy_version
        self.position = event.position
        self.document_hash = event.document_hash
        self.total = event.total
        self.totals = [dict(t) for t in event.totals]
        self.settled_on = event.occurred_on
        self.reason = reason
        self.approved = None
        self.paid = None
        self.revisions.append(
            {
                "revision": self.revision,
                "settled_on": event.occurred_on,
                "position": event.position,
                "document_hash": event.document_hash,
                "total": event.total,
                "reason": reason,
            }
        )

    @classmethod
    def settle(
        cls,
        ctx: Context,
        *,
        policy_id: str,
        policy_version: str,
        year: int,
        position: int,
        document_hash: str,
        total: Decimal,
        totals: list[dict[str, Any]],
    ) -> Settlement:
        return cls._create(
            cls.Settled,
            id=settlement_id(policy_id, year),
            **envelope(ctx, ctx.today),
            policy_id=policy_id,
            policy_version=policy_version,
            year=year,
            position=position,
            document_hash=document_hash,
            total=total,
            totals=totals,
        )

    def revise(
        self,
        ctx: Context,
        *,
        reason: Any,
        policy_version: str,
        position: int,
        document_hash: str,
        total: Decimal,
        totals: list[dict[str, Any]],
    ) -> None:
        reason_text = parse_text(reason, "reason")
        self.trigger_event(
            self.Revised,
            **envelope(ctx, ctx.today),
            revision=self.revision + 1,
            policy_version=policy_version,
            position=position,
            document_hash=document_hash,
            total=total,
            totals=totals,
            reason=reason_text,
        )

    def approve(self, ctx: Context, occurred_on: Any, by: Any, reference: Any) -> None:
        day = self._day(ctx, occurred_on)
        by_text = parse_text(by, "by", limit=100)
        reference_text = parse_text(reference, "reference", limit=200)
        if self.approved is not None:
            raise errors.Conflict(
                f"revision {self.revision} was already approved", code="settlement_approved"
            )
        self.trigger_event(
            self.Approved,
            **envelope(ctx, day),
            revision=self.revision,
            by=by_text,
            reference=reference_text,
        )

    def pay(self, ctx: Context, occurred_on: Any, by: Any, reference: Any) -> None:
        day = self._day(ctx, occurred_on)
        by_text = parse_text(by, "by", limit=100)
        reference_text = parse_text(reference, "reference", limit=200)
        if self.approved is None:
            raise errors.StageOrder("a settlement is paid only after it is approved")
        if day < self.approved["on"]:
            raise errors.StageOrder(
                f"payment on {day} is before the approval on {self.approved['on']}",
                field="occurred_on",
            )
        if self.paid is not None:
            raise errors.Conflict(
                f"revision {self.revision} was already paid", code="settlement_paid"
            )
        self.trigger_event(
            self.Paid,
            **envelope(ctx, day),
            revision=self.revision,
            by=by_text,
            reference=reference_text,
        )

    def _day(self, ctx: Context, occurred_on: Any) -> date:
        day = not_future(ctx, occurred_on)
        if day < self.settled_on:
            raise errors.DateBeforeReferral(
                f"{day} is before the settlement on {self.settled_on}", field="occurred_on"
            )
        return day
