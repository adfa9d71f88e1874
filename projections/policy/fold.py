"""Folding a project's domain events into the facts the policy engine is handed.

`FactsFold` keeps one `ProjectFactsState` per project and has one method per `Project` event
type, chosen by the event's class. It is pure (no I/O, no clock), deterministic, and folds one
event at a time, so the reward projection can apply each event as it reads the log and store each
project's state as a JSON row (`ProjectFactsState.to_json` / `from_json`) between runs.

An event of a `Project` event class the fold does not know raises `UnhandledEvent`, so a new event
type cannot be silently left out of the rewards; events of other aggregates are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from domain.project import Project
from domain.values import to_cny
from projections.policy.facts import (
    ArrivalFact,
    AttestationFact,
    AttributionFact,
    ProjectFacts,
)

STATE_SCHEMA = 1


class UnhandledEvent(TypeError):
    """A Project event class with no fold method: add one before using the new event."""


@dataclass
class ArrivalState:
    arrival_id: str
    arrived_on: date
    amount: Decimal
    currency: str
    rate_to_cny: Decimal
    amount_cny: Decimal
    source: str
    voided: bool = False


@dataclass
class ProjectFactsState:
    """One project's facts as folded so far (mutable; `to_facts` gives the frozen view)."""

    project_id: str
    version: int
    name: str
    industry: str
    project_type: str
    origin: str
    city: str
    county: str
    park: str
    designations: list[str]
    planned_investment_cny: Decimal
    signed_on: date | None = None
    contract_amount_cny: Decimal | None = None
    arrivals: dict[str, ArrivalState] = field(default_factory=dict)  # in recorded order
    attributions: list[AttributionFact] = field(default_factory=list)  # in recorded order
    attestations: list[AttestationFact] = field(default_factory=list)  # in recorded order
    fixed_asset_investment_cny: dict[int, Decimal] = field(default_factory=dict)
    tax_reported_cny: dict[int, Decimal] = field(default_factory=dict)
    stalled: bool = False
    withdrawn: bool = False

    @property
    def status(self) -> str:
        return "withdrawn" if self.withdrawn else "stalled" if self.stalled else "active"

    def to_facts(self) -> ProjectFacts:
        return ProjectFacts(
            project_id=self.project_id,
            name=self.name,
            industry=self.industry,
            project_type=self.project_type,
            origin=self.origin,
            city=self.city,
            designations=tuple(self.designations),
            planned_investment_cny=self.planned_investment_cny,
            arrivals=tuple(
                ArrivalFact(
                    arrival_id=a.arrival_id,
                    arrived_on=a.arrived_on,
                    amount_cny=a.amount_cny,
                    source=a.source,
                    amount=a.amount,
                    currency=a.currency,
                    rate_to_cny=a.rate_to_cny,
                )
                for a in self.arrivals.values()
                if not a.voided
            ),
            # Stable: a back-dated change sorts by its date, same-day changes as recorded.
            attributions=tuple(sorted(self.attributions, key=lambda a: a.effective_on)),
            attestations=tuple(self.attestations),
            fixed_asset_investment_cny=dict(sorted(self.fixed_asset_investment_cny.items())),
            tax_reported_cny=dict(sorted(self.tax_reported_cny.items())),
            county=self.county,
            park=self.park,
            signed_on=self.signed_on,
            contract_amount_cny=self.contract_amount_cny,
            status=self.status,
            version=self.version,
        )

    # ---- JSON rows ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (decimals as strings, dates ISO) that `from_json` restores exactly."""
        return {
            "schema": STATE_SCHEMA,
            "project_id": self.project_id,
            "version": self.version,
            "name": self.name,
            "industry": self.industry,
            "project_type": self.project_type,
            "origin": self.origin,
            "city": self.city,
            "county": self.county,
            "park": self.park,
            "designations": list(self.designations),
            "planned_investment_cny": str(self.planned_investment_cny),
            "signed_on": _iso(self.signed_on),
            "contract_amount_cny": _str(self.contract_amount_cny),
            "arrivals": [
                {
                    "arrival_id": a.arrival_id,
                    "arrived_on": a.arrived_on.isoformat(),
                    "amount": str(a.amount),
                    "currency": a.currency,
                    "rate_to_cny": str(a.rate_to_cny),
                    "amount_cny": str(a.amount_cny),
                    "source": a.source,
                    "voided": a.voided,
                }
                for a in self.arrivals.values()
            ],
            "attributions": [
                {
                    "effective_on": a.effective_on.isoformat(),
                    "shares": [[association_id, str(share)] for association_id, share in a.shares],
                }
                for a in self.attributions
            ],
            "attestations": [
                {"kind": a.kind, "granted": a.granted, "occurred_on": a.occurred_on.isoformat()}
                for a in self.attestations
            ],
            "fixed_asset_investment_cny": {
                str(y): str(v) for y, v in self.fixed_asset_investment_cny.items()
            },
            "tax_reported_cny": {str(y): str(v) for y, v in self.tax_reported_cny.items()},
            "stalled": self.stalled,
            "withdrawn": self.withdrawn,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProjectFactsState:
        if data.get("schema") != STATE_SCHEMA:
            raise ValueError(f"unknown facts state schema {data.get('schema')!r}")
        return cls(
            project_id=data["project_id"],
            version=int(data["version"]),
            name=data["name"],
            industry=data["industry"],
            project_type=data["project_type"],
            origin=data["origin"],
            city=data["city"],
            county=data["county"],
            park=data["park"],
            designations=list(data["designations"]),
            planned_investment_cny=Decimal(data["planned_investment_cny"]),
            signed_on=_date(data["signed_on"]),
            contract_amount_cny=_decimal(data["contract_amount_cny"]),
            arrivals={
                a["arrival_id"]: ArrivalState(
                    arrival_id=a["arrival_id"],
                    arrived_on=date.fromisoformat(a["arrived_on"]),
                    amount=Decimal(a["amount"]),
                    currency=a["currency"],
                    rate_to_cny=Decimal(a["rate_to_cny"]),
                    amount_cny=Decimal(a["amount_cny"]),
                    source=a["source"],
                    voided=bool(a["voided"]),
                )
                for a in data["arrivals"]
            },
            attributions=[
                AttributionFact(
                    effective_on=date.fromisoformat(a["effective_on"]),
                    shares=tuple((str(i), Decimal(s)) for i, s in a["shares"]),
                )
                for a in data["attributions"]
            ],
            attestations=[
                AttestationFact(
                    kind=a["kind"],
                    granted=bool(a["granted"]),
                    occurred_on=date.fromisoformat(a["occurred_on"]),
                )
                for a in data["attestations"]
            ],
            fixed_asset_investment_cny={
                int(y): Decimal(v) for y, v in data["fixed_asset_investment_cny"].items()
            },
            tax_reported_cny={int(y): Decimal(v) for y, v in data["tax_reported_cny"].items()},
            stalled=bool(data["stalled"]),
            withdrawn=bool(data["withdrawn"]),
        )


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _str(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _shares(referrals: Iterable[dict[str, Any]]) -> tuple[tuple[str, Decimal], ...]:
    return tuple((str(r["association_id"]), Decimal(str(r["share"]))) for r in referrals)


Handler = Callable[["FactsFold", ProjectFactsState, Any], None]


# The event attributes `FactsFold` reads besides the stream and version (a rebuild decodes only
# these: `projections.runtime.Projection.event_fields`).
FACTS_FOLD_FIELDS = frozenset(
    {
        "amount",
        "arrival_id",
        "arrived_on",
        "city",
        "contract_amount",
        "county",
        "currency",
        "designations",
        "funds_source",
        "granted",
        "industry",
        "kind",
        "name",
        "occurred_on",
        "origin",
        "park",
        "planned_investment",
        "project_type",
        "rate_to_cny",
        "referrals",
        "tax",
        "year",
    }
)


class FactsFold:
    """Folds `Project` events into one `ProjectFactsState` per project.

    `fold(event)` applies one event (an event at or below the version already folded is skipped,
    so replaying is harmless); `facts(project_id)` gives the engine's view. States can be
    written out with `dump` and put back with `load`, so a projection need not replay from the
    start.
    """

    def __init__(self) -> None:
        self.states: dict[str, ProjectFactsState] = {}

    # ---- driving ---------------------------------------------------------------------------

    def fold(self, event: object) -> ProjectFactsState | None:
        """Apply one event; answer the project's state (None for another aggregate's event)."""
        if not isinstance(event, Project.Event):
            return None
        project_id = str(event.originator_id)
        version = int(event.originator_version)
        if isinstance(event, Project.Referred):
            state = self.states.get(project_id)
            if state is not None and state.version >= version:
                return state
            state = self.referred(event)
            self.states[project_id] = state
            return state
        handler = HANDLERS.get(type(event))
        if handler is None:
            raise UnhandledEvent(f"FactsFold has no method for {type(event).__qualname__}")
        state = self.states.get(project_id)
        if state is None:
            raise ValueError(f"{type(event).__qualname__} for unknown project {project_id}")
        if version <= state.version:
            return state
        handler(self, state, event)
        state.version = version
        return state

    def fold_all(self, events: Iterable[object]) -> None:
        for event in events:
            self.fold(event)

    def facts(self, project_id: str) -> ProjectFacts:
        return self.states[str(project_id)].to_facts()

    def all_facts(self) -> Iterator[ProjectFacts]:
        for state in self.states.values():
            yield state.to_facts()

    def dump(self, project_id: str) -> dict[str, Any]:
        return self.states[str(project_id)].to_json()

    def load(self, data: dict[str, Any]) -> ProjectFactsState:
        state = ProjectFactsState.from_json(data)
        self.states[state.project_id] = state
        return state

    # ---- one method per Project event type -------------------------------------------------

    def referred(self, e: Project.Referred) -> ProjectFactsState:
        return ProjectFactsState(
            project_id=str(e.originator_id),
            version=int(e.originator_version),
            name=e.name,
            industry=e.industry,
            project_type=e.project_type,
            origin=e.origin,
            city=e.city,
            county=e.county,
            park=e.park,
            designations=[str(d["kind"]) for d in e.designations],
            planned_investment_cny=e.planned_investment,
            attributions=[AttributionFact(e.occurred_on, _shares(e.referrals))],
        )

    def visit_recorded(self, s: ProjectFactsState, e: Project.VisitRecorded) -> None:
        """Visits do not enter any reward figure."""

    def negotiation_recorded(self, s: ProjectFactsState, e: Project.NegotiationRecorded) -> None:
        """Negotiations do not enter any reward figure."""

    def signed(self, s: ProjectFactsState, e: Project.Signed) -> None:
        s.signed_on = e.occurred_on
        s.contract_amount_cny = to_cny(e.contract_amount, e.rate_to_cny)

    def registered(self, s: ProjectFactsState, e: Project.Registered) -> None:
        """Company registration does not enter any reward figure."""

    def construction_started(self, s: ProjectFactsState, e: Project.ConstructionStarted) -> None:
        """Construction start does not enter any reward figure."""

    def funds_arrived(self, s: ProjectFactsState, e: Project.FundsArrived) -> None:
        s.arrivals[e.arrival_id] = ArrivalState(
            arrival_id=e.arrival_id,
            arrived_on=e.occurred_on,
            amount=e.amount,
            currency=e.currency,
            rate_to_cny=e.rate_to_cny,
            amount_cny=to_cny(e.amount, e.rate_to_cny),
            source=e.funds_source,
        )

    def funds_arrival_corrected(
        self, s: ProjectFactsState, e: Project.FundsArrivalCorrected
    ) -> None:
        arrival = s.arrivals[e.arrival_id]
        arrival.amount = e.amount
        arrival.currency = e.currency
        arrival.rate_to_cny = e.rate_to_cny
        arrival.amount_cny = to_cny(e.amount, e.rate_to_cny)
        arrival.arrived_on = e.arrived_on

    def funds_arrival_voided(self, s: ProjectFactsState, e: Project.FundsArrivalVoided) -> None:
        s.arrivals[e.arrival_id].voided = True

    def fixed_asset_investment_reported(
        self, s: ProjectFactsState, e: Project.FixedAssetInvestmentReported
    ) -> None:
        # A later report for the same year replaces the earlier figure (as in the aggregate).
        s.fixed_asset_investment_cny[int(e.year)] = to_cny(e.amount, e.rate_to_cny)

    def production_started(self, s: ProjectFactsState, e: Project.ProductionStarted) -> None:
        """Production start does not enter any reward figure."""

    def capacity_reached(self, s: ProjectFactsState, e: Project.CapacityReached) -> None:
        """Reaching capacity does not enter any reward figure."""

    def follow_up_visit_recorded(
        self, s: ProjectFactsState, e: Project.FollowUpVisitRecorded
    ) -> None:
        # The tax reported at each follow-up visit adds up by the visit's calendar year.
        if e.tax is not None:
            year = e.occurred_on.year
            s.tax_reported_cny[year] = s.tax_reported_cny.get(year, Decimal("0.00")) + e.tax

    def issue_raised(self, s: ProjectFactsState, e: Project.IssueRaised) -> None:
        """Issues do not enter any reward figure."""

    def issue_handled(self, s: ProjectFactsState, e: Project.IssueHandled) -> None:
        """Issues do not enter any reward figure."""

    def issue_closed(self, s: ProjectFactsState, e: Project.IssueClosed) -> None:
        """Issues do not enter any reward figure."""

    def attestation_recorded(self, s: ProjectFactsState, e: Project.AttestationRecorded) -> None:
        s.attestations.append(AttestationFact(e.kind, bool(e.granted), e.occurred_on))

    def attribution_changed(self, s: ProjectFactsState, e: Project.AttributionChanged) -> None:
        s.attributions.append(AttributionFact(e.occurred_on, _shares(e.referrals)))

    def reclassified(self, s: ProjectFactsState, e: Project.Reclassified) -> None:
        s.industry = e.industry
        s.project_type = e.project_type

    def stalled(self, s: ProjectFactsState, e: Project.Stalled) -> None:
        s.stalled = True

    def withdrawn(self, s: ProjectFactsState, e: Project.Withdrawn) -> None:
        s.withdrawn = True

    def reactivated(self, s: ProjectFactsState, e: Project.Reactivated) -> None:
        s.stalled = False
        s.withdrawn = False

    def officer_changed(self, s: ProjectFactsState, e: Project.Event) -> None:
        """Who follows a project does not enter any reward figure."""


# Dispatch on the event's class: one method per Project event type (Referred creates the state).
HANDLERS: dict[type[Any], Handler] = {
    Project.VisitRecorded: FactsFold.visit_recorded,
    Project.NegotiationRecorded: FactsFold.negotiation_recorded,
    Project.Signed: FactsFold.signed,
    Project.Registered: FactsFold.registered,
    Project.ConstructionStarted: FactsFold.construction_started,
    Project.FundsArrived: FactsFold.funds_arrived,
    Project.FundsArrivalCorrected: FactsFold.funds_arrival_corrected,
    Project.FundsArrivalVoided: FactsFold.funds_arrival_voided,
    Project.FixedAssetInvestmentReported: FactsFold.fixed_asset_investment_reported,
    Project.ProductionStarted: FactsFold.production_started,
    Project.CapacityReached: FactsFold.capacity_reached,
    Project.FollowUpVisitRecorded: FactsFold.follow_up_visit_recorded,
    Project.IssueRaised: FactsFold.issue_raised,
    Project.IssueHandled: FactsFold.issue_handled,
    Project.IssueClosed: FactsFold.issue_closed,
    Project.AttestationRecorded: FactsFold.attestation_recorded,
    Project.AttributionChanged: FactsFold.attribution_changed,
    Project.Reclassified: FactsFold.reclassified,
    Project.Stalled: FactsFold.stalled,
    Project.Withdrawn: FactsFold.withdrawn,
    Project.Reactivated: FactsFold.reactivated,
    Project.OfficerAssigned: FactsFold.officer_changed,
    Project.OfficerUnassigned: FactsFold.officer_changed,
}


def facts_from_events(events: Iterable[object]) -> ProjectFacts:
    """The facts of the one project whose events are given (e.g. `ledger.project_events(id)`)."""
    fold = FactsFold()
    state: ProjectFactsState | None = None
    for event in events:
        state = fold.fold(event) or state
    if state is None:
        raise ValueError("no Project events were given")
    return state.to_facts()
