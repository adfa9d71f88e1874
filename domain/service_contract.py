"""The purchased service (政府购买服务, 三(三) and 四(二)1): the year's contract and its subsidies.

Each year the department buys the work of mobilising the associations from one service unit, at
most 3,000,000 yuan a year (三(三)); out of that contract the associations that did well receive
service-fund subsidies (四(二)2). One aggregate per year holds the contract and every subsidy paid
out of it, so the two caps — the contract within the annual cap, the subsidies within the
contract — are checked on one consistent state and two concurrent payments cannot both slip
under the limit (the second save conflicts, is retried on the fresh state, and is refused).

The aggregate id is derived from the year, so two concurrent creations of the same year's
contract write version 1 of the same stream and the second save fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import errors
from domain.copying import TreeCopied
from domain.events import Context, EnvelopedEvent, envelope, not_future
from domain.values import parse_amount, parse_text

# A fixed namespace: changing it would orphan every stored contract.
SERVICE_CONTRACT_NAMESPACE = UUID("6d1f3a52-0c7e-5b8e-9a43-3f1b2c7d9e10")
DEFAULT_ANNUAL_CAP = Decimal("3000000.00")  # 三(三): 每年不超过300万元
CLAUSE = "三(三)"


def service_contract_id(year: int) -> UUID:
    """The one stream id a year's service contract is stored under."""
    return uuid5(SERVICE_CONTRACT_NAMESPACE, f"service-contract-{year}")


def parse_year(value: Any, field: str = "year") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 2000 <= value <= 2100:
        raise errors.InvalidInput("year must be a whole year such as 2024", field=field)
    return value


def parse_cap(value: Any) -> Decimal:
    """The annual cap handed in by the caller (from the policy file or the default)."""
    return DEFAULT_ANNUAL_CAP if value is None else parse_amount(value, "cap")


@dataclass
class Subsidy:
    subsidy_id: str
    association_id: str
    amount: Decimal
    occurred_on: date
    reason: str


@dataclass
class Amendment:
    occurred_on: date
    provider: str
    amount: Decimal
    reason: str


class ServiceContract(TreeCopied, Aggregate):
    """A year's purchased-service contract and the subsidies paid to associations out of it."""

    class_version = 1

    def __init__(self) -> None:
        pass

    class Event(EnvelopedEvent):
        pass

    class Created(Event, Aggregate.Created):
        year: int
        provider: str
        amount: Decimal
        annual_cap: Decimal
        clause: str

        def apply(self, aggregate: ServiceContract) -> None:
            aggregate.year = self.year
            aggregate.provider = self.provider
            aggregate.amount = self.amount
            aggregate.annual_cap = self.annual_cap
            aggregate.signed_on = self.occurred_on
            aggregate.amendments = []
            aggregate.subsidies = []

    class Amended(Event):
        provider: str
        amount: Decimal
        annual_cap: Decimal
        reason: str

        def apply(self, aggregate: ServiceContract) -> None:
            aggregate.provider = self.provider
            aggregate.amount = self.amount
            aggregate.annual_cap = self.annual_cap
            aggregate.amendments.append(
                Amendment(self.occurred_on, self.provider, self.amount, self.reason)
            )

    class SubsidyPaid(Event):
        subsidy_id: str
        association_id: str
        amount: Decimal
        reason: str

        def apply(self, aggregate: ServiceContract) -> None:
            aggregate.subsidies.append(
                Subsidy(
                    self.subsidy_id, self.association_id, self.amount, self.occurred_on, self.reason
                )
            )

    year: int
    provider: str
    amount: Decimal
    annual_cap: Decimal
    signed_on: date
    amendments: list[Amendment]
    subsidies: list[Subsidy]

    # -- commands -----------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        ctx: Context,
        *,
        year: Any,
        provider: Any,
        amount: Any,
        occurred_on: Any,
        cap: Any = None,
    ) -> ServiceContract:
        the_year = parse_year(year)
        name = parse_text(provider, "provider", limit=200)
        money = parse_amount(amount)
        annual_cap = parse_cap(cap)
        day = not_future(ctx, occurred_on)
        _within_cap(money, annual_cap, the_year)
        return cls._create(
            cls.Created,
            id=service_contract_id(the_year),
            **envelope(ctx, day),
            year=the_year,
            provider=name,
            amount=money,
            annual_cap=annual_cap,
            clause=CLAUSE,
        )

    def amend(
        self,
        ctx: Context,
        *,
        occurred_on: Any,
        reason: Any,
        amount: Any = None,
        provider: Any = None,
        cap: Any = None,
    ) -> None:
        """A changed contract (supplementary agreement): new amount and/or provider, with a
        reason. The amount stays within the annual cap and covers the subsidies already paid."""
        money = self.amount if amount is None else parse_amount(amount)
        name = self.provider if provider is None else parse_text(provider, "provider", limit=200)
        annual_cap = self.annual_cap if cap is None else parse_amount(cap, "cap")
        why = parse_text(reason, "reason")
        day = self._day(ctx, occurred_on)
        _within_cap(money, annual_cap, self.year)
        if money < self.paid_total:
            raise errors.OverCap(
                f"{self.paid_total} yuan of subsidies were already paid out of the {self.year}"
                f" contract; it cannot be reduced to {money}",
                field="amount",
            )
        self.trigger_event(
            self.Amended,
            **envelope(ctx, day),
            provider=name,
            amount=money,
            annual_cap=annual_cap,
            reason=why,
        )

    def pay_subsidy(
        self,
        ctx: Context,
        *,
        subsidy_id: str,
        association_id: str,
        amount: Any,
        occurred_on: Any,
        reason: Any,
    ) -> None:
        money = parse_amount(amount)
        why = parse_text(reason, "reason")
        day = self._day(ctx, occurred_on)
        if self.paid_total + money > self.amount:
            raise errors.OverCap(
                f"a subsidy of {money} yuan would bring the {self.year} subsidies to"
                f" {self.paid_total + money}, beyond the contract's {self.amount}"
                f" ({self.remaining} remaining)",
                field="amount",
            )
        self.trigger_event(
            self.SubsidyPaid,
            **envelope(ctx, day),
            subsidy_id=subsidy_id,
            association_id=association_id,
            amount=money,
            reason=why,
        )

    def _day(self, ctx: Context, occurred_on: Any) -> date:
        day = not_future(ctx, occurred_on)
        if day < self.signed_on:
            raise errors.Conflict(
                f"{day} is before the {self.year} contract was signed ({self.signed_on})",
                field="occurred_on",
                code="date_before_contract",
            )
        return day

    # -- state --------------------------------------------------------------------------------

    @property
    def paid_total(self) -> Decimal:
        return sum((s.amount for s in self.subsidies), Decimal("0.00"))

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.paid_total

    def summary(self) -> dict[str, Any]:
        """The contract, its subsidies, the paid total and what remains (money as Decimal)."""
        return {
            "year": self.year,
            "contract_id": str(self.id),
            "version": self.version,
            "provider": self.provider,
            "amount": self.amount,
            "annual_cap": self.annual_cap,
            "clause": CLAUSE,
            "occurred_on": self.signed_on,
            "amendments": [
                {
                    "occurred_on": a.occurred_on,
                    "provider": a.provider,
                    "amount": a.amount,
                    "reason": a.reason,
                }
                for a in self.amendments
            ],
            "subsidies": [
                {
                    "subsidy_id": s.subsidy_id,
                    "association_id": s.association_id,
                    "amount": s.amount,
                    "occurred_on": s.occurred_on,
                    "reason": s.reason,
                }
                for s in self.subsidies
            ],
            "paid_total": self.paid_total,
            "remaining": self.remaining,
        }


def _within_cap(amount: Decimal, cap: Decimal, year: int) -> None:
    if amount > cap:
        raise errors.OverCap(
            f"the {year} service contract of {amount} yuan is above the annual cap of {cap}"
            f" yuan ({CLAUSE})",
            field="amount",
        )
