"""What the policy engine knows of a project: plain facts read from the read models.

The engine never reads events or tables itself; the reward projection hands it these facts, so
the engine can be tested with hand-written facts and run unchanged on any store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class ArrivalFact:
    """A funds arrival as it stands after corrections (voided arrivals are left out)."""

    arrival_id: str
    arrived_on: date
    amount_cny: Decimal  # converted at the recorded rate, rounded half-up to the fen
    source: str  # overseas | other_province | in_province
    # The amount as recorded, for a policy that converts or rounds otherwise (None: unknown).
    amount: Decimal | None = None
    currency: str = "CNY"
    rate_to_cny: Decimal = Decimal(1)


@dataclass(frozen=True)
class AttributionFact:
    """The referral shares in force from `effective_on` (the referral or an attribution change)."""

    effective_on: date
    shares: tuple[tuple[str, Decimal], ...]  # (association_id, percent), summing to 100


@dataclass(frozen=True)
class AttestationFact:
    """The latest attestation recorded (the one in force when figures are computed)."""

    kind: str  # positive_local_impact
    granted: bool
    occurred_on: date


@dataclass(frozen=True)
class ProjectFacts:
    project_id: str
    name: str
    industry: str  # GB/T 4754-2017 section letter
    project_type: str  # ordinary | large_infrastructure
    origin: str
    city: str
    designations: tuple[str, ...]  # fortune_global_500, little_giant, …
    planned_investment_cny: Decimal
    arrivals: tuple[ArrivalFact, ...]
    attributions: tuple[AttributionFact, ...]  # ordered by effective_on, then as recorded
    attestations: tuple[AttestationFact, ...] = ()  # latest last
    fixed_asset_investment_cny: dict[int, Decimal] = field(default_factory=dict)  # by year
    tax_reported_cny: dict[int, Decimal] = field(default_factory=dict)  # follow-up tax by year
    # Added for policies that scope by place or look at the signing (defaults keep old callers).
    county: str = ""
    park: str = ""
    signed_on: date | None = None
    contract_amount_cny: Decimal | None = None
    status: str = "active"  # active | stalled | withdrawn
    version: int = 0  # the project's version these facts were folded to (0: unknown)

    def shares_on(self, day: date) -> tuple[tuple[str, Decimal], ...]:
        """The attribution in force at the end of `day`."""
        current = self.attributions[0].shares
        for attribution in self.attributions:
            if attribution.effective_on <= day:
                current = attribution.shares
        return current

    def attestation_in_force(self, kind: str = "positive_local_impact") -> AttestationFact | None:
        latest = None
        for attestation in self.attestations:
            if attestation.kind == kind:
                latest = attestation
        return latest
