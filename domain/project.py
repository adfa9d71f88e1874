"""The Project aggregate: one referred investment project from referral to follow-up visits.

Command methods validate their input and the project's state first and only then trigger an
event; the nested events' apply methods are deterministic folds of already-checked data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import errors
from domain.copying import TreeCopied
from domain.events import Context, EnvelopedEvent, envelope, not_future
from domain.values import (
    ATTESTATION_KINDS,
    DESIGNATIONS,
    MAX_FOREIGN_AMOUNT,
    MAX_YUAN,
    OPERATING_STATUSES,
    ORIGINS,
    PROJECT_STATUSES,
    PROJECT_TYPES,
    check_at_most,
    cny_value,
    parse_amount,
    parse_city,
    parse_code,
    parse_count,
    parse_currency,
    parse_decimal,
    parse_industry,
    parse_rate,
    parse_shares,
    parse_text,
    to_cny,
)

STAGES = (
    "referred",
    "visited",
    "negotiating",
    "signed",
    "registered",
    "under_construction",
    "in_production",
    "at_capacity",
)
# The stage rule, from the furthest stage back: the first fact a project has reached names its
# stage (`referred` when it has none). The facts are the project's attribute names, which the
# ledger read model keeps under the same names.
STAGE_RULE = (
    ("at_capacity", "capacity_reached_on"),
    ("in_production", "production_started_on"),
    ("under_construction", "construction_started_on"),
    ("registered", "registered_on"),
    ("signed", "signed_on"),
    ("negotiating", "negotiations"),
    ("visited", "visits"),
)


def stage_from(reached: Callable[[str], bool]) -> str:
    """The stage of a project given which facts of `STAGE_RULE` it has `reached`."""
    for stage, fact in STAGE_RULE:
        if reached(fact):
            return stage
    return "referred"


STAGE_LABELS = {
    "referred": "已引荐",
    "visited": "已考察",
    "negotiating": "洽谈中",
    "signed": "已签约",
    "registered": "已注册",
    "under_construction": "在建",
    "in_production": "已投产",
    "at_capacity": "已达产",
}


@dataclass(frozen=True)
class Arrival:
    """One funds arrival as it stands after its corrections and void; replaced, never changed
    (so a command's copy of the project shares it, `domain.copying`)."""

    arrival_id: str
    arrived_on: date
    amount: Decimal
    currency: str
    rate_to_cny: Decimal
    amount_cny: Decimal
    source: str
    recorded_on: date
    voided: bool = False
    corrections: int = 0


@dataclass
class Issue:
    """A problem raised at a follow-up visit (问题诉求) and its handling."""

    issue_id: str
    category: str
    description: str
    raised_on: date
    status: str = "open"
    closed_on: date | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class FollowUp:
    occurred_on: date
    operating_status: str
    output_value: Decimal | None
    tax: Decimal | None
    employees: int | None
    issue_ids: list[str]


@dataclass
class Attestation:
    kind: str
    granted: bool
    occurred_on: date
    reason: str


def _optional_money(value: Any, field_name: str) -> Decimal | None:
    if value is None:
        return None
    amount = parse_decimal(value, field_name)
    if amount < 0:
        raise errors.InvalidAmount("must not be negative", field=field_name)
    check_at_most(amount, MAX_YUAN, field_name)
    return amount


class Project(TreeCopied, Aggregate):
    """A referred investment project (项目); versions start at 1 with the referral."""

    class_version = 1

    def __init__(self) -> None:
        # State is set by Referred.apply, so that the created event alone defines it.
        pass

    # ---- events -------------------------------------------------------------------------

    class Event(EnvelopedEvent):
        pass

    class Referred(Event, Aggregate.Created):
        name: str
        investor: str
        designations: list[dict[str, str]]
        industry: str
        project_type: str
        origin: str
        city: str
        county: str
        park: str
        planned_investment: Decimal
        referrals: list[dict[str, Any]]

        def apply(self, aggregate: Project) -> None:
            p = aggregate
            p.name = self.name
            p.investor = self.investor
            p.designations = [dict(d) for d in self.designations]
            p.industry = self.industry
            p.project_type = self.project_type
            p.origin = self.origin
            p.city = self.city
            p.county = self.county
            p.park = self.park
            p.planned_investment = self.planned_investment
            p.referrals = [
                {"association_id": r["association_id"], "share": Decimal(r["share"])}
                for r in self.referrals
            ]
            p.referred_on = self.occurred_on
            p.visits = 0
            p.negotiations = 0
            p.first_visit_on = None
            p.signed_on = None
            p.contract_amount = None
            p.contract_currency = None
            p.contract_rate_to_cny = None
            p.contract_amount_cny = None
            p.signing_place = ""
            p.registered_on = None
            p.construction_started_on = None
            p.production_started_on = None
            p.capacity_reached_on = None
            p.arrivals = {}
            p.fixed_asset_investment = {}
            p.follow_ups = []
            p.issues = {}
            p.attestation = None
            p.stalled = False
            p.withdrawn = False

    class VisitRecorded(Event):
        participants: str
        notes: str

        def apply(self, aggregate: Project) -> None:
            aggregate.visits += 1
            if aggregate.first_visit_on is None:
                aggregate.first_visit_on = self.occurred_on

    class NegotiationRecorded(Event):
        notes: str

        def apply(self, aggregate: Project) -> None:
            aggregate.negotiations += 1

    class Signed(Event):
        contract_amount: Decimal
        currency: str
        rate_to_cny: Decimal
        place: str

        def apply(self, aggregate: Project) -> None:
            aggregate.signed_on = self.occurred_on
            aggregate.contract_amount = self.contract_amount
            aggregate.contract_currency = self.currency
            aggregate.contract_rate_to_cny = self.rate_to_cny
            aggregate.contract_amount_cny = to_cny(self.contract_amount, self.rate_to_cny)
            aggregate.signing_place = self.place

    class Registered(Event):
        details: str

        def apply(self, aggregate: Project) -> None:
            aggregate.registered_on = self.occurred_on

    class ConstructionStarted(Event):
        details: str

        def apply(self, aggregate: Project) -> None:
            aggregate.construction_started_on = self.occurred_on

    class FundsArrived(Event):
        arrival_id: str
        amount: Decimal
        currency: str
        rate_to_cny: Decimal
        funds_source: str

        def apply(self, aggregate: Project) -> None:
            aggregate.arrivals[self.arrival_id] = Arrival(
                arrival_id=self.arrival_id,
                arrived_on=self.occurred_on,
                amount=self.amount,
                currency=self.currency,
                rate_to_cny=self.rate_to_cny,
                amount_cny=to_cny(self.amount, self.rate_to_cny),
                source=self.funds_source,
                recorded_on=self.occurred_on,
            )

    class FundsArrivalCorrected(Event):
        arrival_id: str
        amount: Decimal
        currency: str
        rate_to_cny: Decimal
        arrived_on: date
        reason: str

        def apply(self, aggregate: Project) -> None:
            arrival = aggregate.arrivals[self.arrival_id]
            aggregate.arrivals[self.arrival_id] = replace(
                arrival,
                amount=self.amount,
                currency=self.currency,
                rate_to_cny=self.rate_to_cny,
                amount_cny=to_cny(self.amount, self.rate_to_cny),
                arrived_on=self.arrived_on,
                corrections=arrival.corrections + 1,
            )

    class FundsArrivalVoided(Event):
        arrival_id: str
        reason: str

        def apply(self, aggregate: Project) -> None:
            arrival = aggregate.arrivals[self.arrival_id]
            aggregate.arrivals[self.arrival_id] = replace(arrival, voided=True)

    class FixedAssetInvestmentReported(Event):
        year: int
        amount: Decimal
        currency: str
        rate_to_cny: Decimal

        def apply(self, aggregate: Project) -> None:
            # A later report for the same year replaces the earlier figure.
            aggregate.fixed_asset_investment[self.year] = to_cny(self.amount, self.rate_to_cny)

    class ProductionStarted(Event):
        def apply(self, aggregate: Project) -> None:
            aggregate.production_started_on = self.occurred_on

    class CapacityReached(Event):
        def apply(self, aggregate: Project) -> None:
            aggregate.capacity_reached_on = self.occurred_on

    class FollowUpVisitRecorded(Event):
        """A post-production visit (回访). Version 2 added `employees`."""

        class_version = 2

        operating_status: str
        output_value: Decimal | None
        tax: Decimal | None
        employees: int | None
        notes: str
        issue_ids: list[str]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["employees"] = None

        def apply(self, aggregate: Project) -> None:
            aggregate.follow_ups.append(
                FollowUp(
                    occurred_on=self.occurred_on,
                    operating_status=self.operating_status,
                    output_value=self.output_value,
                    tax=self.tax,
                    employees=self.employees,
                    issue_ids=list(self.issue_ids),
                )
            )

    class IssueRaised(Event):
        issue_id: str
        category: str
        description: str

        def apply(self, aggregate: Project) -> None:
            aggregate.issues[self.issue_id] = Issue(
                issue_id=self.issue_id,
                category=self.category,
                description=self.description,
                raised_on=self.occurred_on,
            )

    class IssueHandled(Event):
        issue_id: str
        note: str

        def apply(self, aggregate: Project) -> None:
            issue = aggregate.issues[self.issue_id]
            issue.status = "handling"
            issue.notes.append(self.note)

    class IssueClosed(Event):
        issue_id: str
        note: str

        def apply(self, aggregate: Project) -> None:
            issue = aggregate.issues[self.issue_id]
            issue.status = "closed"
            issue.closed_on = self.occurred_on
            issue.notes.append(self.note)

    class AttestationRecorded(Event):
        kind: str
        granted: bool
        reason: str

        def apply(self, aggregate: Project) -> None:
            aggregate.attestation = Attestation(
                kind=self.kind,
                granted=self.granted,
                occurred_on=self.occurred_on,
                reason=self.reason,
            )

    class AttributionChanged(Event):
        referrals: list[dict[str, Any]]
        reason: str
        approver: str

        def apply(self, aggregate: Project) -> None:
            aggregate.referrals = [
                {"association_id": r["association_id"], "share": Decimal(r["share"])}
                for r in self.referrals
            ]

    class Reclassified(Event):
        industry: str
        project_type: str
        reason: str
        approver: str

        def apply(self, aggregate: Project) -> None:
            aggregate.industry = self.industry
            aggregate.project_type = self.project_type

    class Stalled(Event):
        reason: str

        def apply(self, aggregate: Project) -> None:
            aggregate.stalled = True

    class Withdrawn(Event):
        reason: str

        def apply(self, aggregate: Project) -> None:
            aggregate.withdrawn = True

    class Reactivated(Event):
        reason: str

        def apply(self, aggregate: Project) -> None:
            aggregate.stalled = False
            aggregate.withdrawn = False

    class OfficerAssigned(Event):
        """An officer (an account id) now follows the project (issue 15)."""

        officer_id: str
        reason: str

        def apply(self, aggregate: Project) -> None:
            aggregate.officers = [*aggregate.assigned_officers, self.officer_id]

    class OfficerUnassigned(Event):
        officer_id: str
        reason: str

        def apply(self, aggregate: Project) -> None:
            aggregate.officers = [o for o in aggregate.assigned_officers if o != self.officer_id]

    # ---- state typing (set by Referred.apply) ---------------------------------------------

    name: str
    investor: str
    designations: list[dict[str, str]]
    industry: str
    project_type: str
    origin: str
    city: str
    county: str
    park: str
    planned_investment: Decimal
    referrals: list[dict[str, Any]]
    referred_on: date
    visits: int
    negotiations: int
    first_visit_on: date | None
    signed_on: date | None
    contract_amount: Decimal | None
    contract_currency: str | None
    contract_rate_to_cny: Decimal | None
    contract_amount_cny: Decimal | None
    signing_place: str
    registered_on: date | None
    construction_started_on: date | None
    production_started_on: date | None
    capacity_reached_on: date | None
    arrivals: dict[str, Arrival]
    fixed_asset_investment: dict[int, Decimal]
    follow_ups: list[FollowUp]
    issues: dict[str, Issue]
    attestation: Attestation | None
    stalled: bool
    withdrawn: bool
    officers: list[str]  # set by the first OfficerAssigned; see `assigned_officers`

    @property
    def assigned_officers(self) -> list[str]:
        """The account ids of the officers following the project, in the order assigned."""
        return list(self.__dict__.get("officers", ()))

    # ---- creation -------------------------------------------------------------------------

    @classmethod
    def refer(
        cls,
        ctx: Context,
        *,
        project_id: UUID,
        name: Any,
        investor: Any,
        industry: Any,
        project_type: Any,
        origin: Any,
        city: Any,
        planned_investment: Any,
        referrals: Any,
        occurred_on: Any,
        county: Any = None,
        park: Any = None,
        designations: Any = None,
    ) -> Project:
        day = not_future(ctx, occurred_on)
        shares = parse_shares(referrals or [])
        designation_rows = _parse_designations(designations or [])
        return cls._create(
            cls.Referred,
            id=project_id,
            **envelope(ctx, day),
            name=parse_text(name, "name", limit=200),
            investor=parse_text(investor, "investor", limit=200),
            designations=designation_rows,
            industry=parse_industry(industry),
            project_type=parse_code(project_type, PROJECT_TYPES, "project_type"),
            origin=parse_code(origin, ORIGINS, "origin"),
            city=parse_city(city),
            county=parse_text(county, "county", required=False, limit=100),
            park=parse_text(park, "park", required=False, limit=100),
            planned_investment=parse_amount(planned_investment, "planned_investment"),
            referrals=[s.as_dict() for s in shares],
        )

    # ---- derived --------------------------------------------------------------------------

    @property
    def stage(self) -> str:
        return stage_from(lambda fact: bool(getattr(self, fact)))

    @property
    def status(self) -> str:
        if self.withdrawn:
            return "withdrawn"
        if self.stalled:
            return "stalled"
        return "active"

    def counted_arrivals(self) -> list[Arrival]:
        return [a for a in self.arrivals.values() if not a.voided]

    @property
    def funds_total_cny(self) -> Decimal:
        return sum((a.amount_cny for a in self.counted_arrivals()), Decimal("0.00"))

    def funds_by_year_cny(self) -> dict[int, Decimal]:
        years: dict[int, Decimal] = {}
        for a in self.counted_arrivals():
            years[a.arrived_on.year] = years.get(a.arrived_on.year, Decimal("0.00")) + a.amount_cny
        return dict(sorted(years.items()))

    @property
    def last_follow_up_on(self) -> date | None:
        return max((f.occurred_on for f in self.follow_ups), default=None)

    def open_issues(self) -> list[Issue]:
        return [i for i in self.issues.values() if i.status != "closed"]

    @property
    def positive_impact_attested(self) -> bool:
        return self.attestation is not None and self.attestation.granted

    def association_ids(self) -> list[str]:
        return [str(r["association_id"]) for r in self.referrals]

    # ---- checks ---------------------------------------------------------------------------

    def _check_day(self, ctx: Context, occurred_on: Any, field_name: str = "occurred_on") -> date:
        """Parse a date and refuse the future (422), then a withdrawn project and a date
        before the referral (409)."""
        day = not_future(ctx, occurred_on, field_name)
        if self.withdrawn:
            raise errors.ProjectWithdrawn("a withdrawn project accepts only reactivation")
        if day < self.referred_on:
            raise errors.DateBeforeReferral(
                f"{day} is before the referral on {self.referred_on}", field=field_name
            )
        return day

    def _require_signed(self, what: str, day: date, field_name: str = "occurred_on") -> None:
        if self.signed_on is None:
            raise errors.StageOrder(f"{what} needs the project to be signed first")
        if day < self.signed_on:
            raise errors.StageOrder(
                f"{what} on {day} is before the signing on {self.signed_on}", field=field_name
            )

    def _trigger(self, event_class: type[Event], ctx: Context, day: date, **data: Any) -> None:
        self.trigger_event(event_class, **envelope(ctx, day), **data)

    # ---- commands -------------------------------------------------------------------------

    def record_visit(
        self, ctx: Context, occurred_on: Any, participants: Any = None, notes: Any = None
    ) -> None:
        participants_text = parse_text(participants, "participants", required=False)
        notes_text = parse_text(notes, "notes", required=False)
        day = self._check_day(ctx, occurred_on)
        self._trigger(
            self.VisitRecorded, ctx, day, participants=participants_text, notes=notes_text
        )

    def record_negotiation(self, ctx: Context, occurred_on: Any, notes: Any = None) -> None:
        notes_text = parse_text(notes, "notes", required=False)
        day = self._check_day(ctx, occurred_on)
        self._trigger(self.NegotiationRecorded, ctx, day, notes=notes_text)

    def sign(
        self,
        ctx: Context,
        occurred_on: Any,
        contract_amount: Any,
        currency: Any,
        rate_to_cny: Any = None,
        place: Any = None,
    ) -> None:
        amount = parse_amount(contract_amount, "contract_amount", limit=MAX_FOREIGN_AMOUNT)
        cur = parse_currency(currency)
        rate = parse_rate(rate_to_cny, cur)
        cny_value(amount, rate, "contract_amount")
        place_text = parse_text(place, "place", required=False, limit=200)
        day = self._check_day(ctx, occurred_on)
        if self.signed_on is not None:
            raise errors.StageOrder(f"the project was already signed on {self.signed_on}")
        self._trigger(
            self.Signed,
            ctx,
            day,
            contract_amount=amount,
            currency=cur,
            rate_to_cny=rate,
            place=place_text,
        )

    def register_company(self, ctx: Context, occurred_on: Any, details: Any = None) -> None:
        details_text = parse_text(details, "details", required=False)
        day = self._check_day(ctx, occurred_on)
        self._require_signed("company registration", day)
        if self.registered_on is not None:
            raise errors.StageOrder(f"the company was already registered on {self.registered_on}")
        self._trigger(self.Registered, ctx, day, details=details_text)

    def start_construction(self, ctx: Context, occurred_on: Any, details: Any = None) -> None:
        details_text = parse_text(details, "details", required=False)
        day = self._check_day(ctx, occurred_on)
        self._require_signed("construction", day)
        if self.construction_started_on is not None:
            raise errors.StageOrder(
                f"construction already started on {self.construction_started_on}"
            )
        self._trigger(self.ConstructionStarted, ctx, day, details=details_text)

    def record_funds_arrival(
        self,
        ctx: Context,
        arrival_id: str,
        occurred_on: Any,
        amount: Any,
        currency: Any,
        rate_to_cny: Any = None,
        source: Any = None,
    ) -> None:
        value = parse_amount(amount, limit=MAX_FOREIGN_AMOUNT)
        cur = parse_currency(currency)
        rate = parse_rate(rate_to_cny, cur)
        cny_value(value, rate)
        funds_source = self.origin if source is None else parse_code(source, ORIGINS, "source")
        day = self._check_day(ctx, occurred_on)
        self._require_signed("a funds arrival", day)
        self._trigger(
            self.FundsArrived,
            ctx,
            day,
            arrival_id=arrival_id,
            amount=value,
            currency=cur,
            rate_to_cny=rate,
            funds_source=funds_source,
        )

    def _arrival(self, arrival_id: str) -> Arrival:
        arrival = self.arrivals.get(arrival_id)
        if arrival is None:
            raise errors.NotFound(
                f"no funds arrival {arrival_id} on this project", field="arrival_id"
            )
        if arrival.voided:
            raise errors.ArrivalVoided(f"funds arrival {arrival_id} was voided")
        return arrival

    @staticmethod
    def _check_after_arrival(arrival: Arrival, day: date, what: str) -> None:
        """A correction or void is dated on or after its arrival, both as first recorded (so a
        fold as of a date never meets one without its arrival) and as it now stands."""
        arrived = max(arrival.recorded_on, arrival.arrived_on)
        if day < arrived:
            raise errors.DateBeforeArrival(
                f"a {what} on {day} is before the arrival on {arrived} (更正或作废日期早于到位日期)",
                field="occurred_on",
            )

    def correct_funds_arrival(
        self,
        ctx: Context,
        arrival_id: str,
        occurred_on: Any,
        amount: Any,
        currency: Any,
        reason: Any,
        rate_to_cny: Any = None,
        arrived_on: Any = None,
    ) -> None:
        value = parse_amount(amount, limit=MAX_FOREIGN_AMOUNT)
        cur = parse_currency(currency)
        rate = parse_rate(rate_to_cny, cur)
        cny_value(value, rate)
        reason_text = parse_text(reason, "reason")
        new_arrival_day = None if arrived_on is None else not_future(ctx, arrived_on, "arrived_on")
        day = self._check_day(ctx, occurred_on)
        arrival = self._arrival(arrival_id)
        self._check_after_arrival(arrival, day, "correction")
        arrival_day = arrival.arrived_on if new_arrival_day is None else new_arrival_day
        self._require_signed("a funds arrival", arrival_day, "arrived_on")
        self._trigger(
            self.FundsArrivalCorrected,
            ctx,
            day,
            arrival_id=arrival_id,
            amount=value,
            currency=cur,
            rate_to_cny=rate,
            arrived_on=arrival_day,
            reason=reason_text,
        )

    def void_funds_arrival(
        self, ctx: Context, arrival_id: str, occurred_on: Any, reason: Any
    ) -> None:
        reason_text = parse_text(reason, "reason")
        day = self._check_day(ctx, occurred_on)
        self._check_after_arrival(self._arrival(arrival_id), day, "void")
        self._trigger(self.FundsArrivalVoided, ctx, day, arrival_id=arrival_id, reason=reason_text)

    def report_fixed_asset_investment(
        self,
        ctx: Context,
        year: Any,
        amount: Any,
        currency: Any,
        occurred_on: Any,
        rate_to_cny: Any = None,
    ) -> None:
        if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
            raise errors.InvalidInput("year must be a whole year such as 2024", field="year")
        value = parse_amount(amount, limit=MAX_FOREIGN_AMOUNT)
        cur = parse_currency(currency)
        rate = parse_rate(rate_to_cny, cur)
        cny_value(value, rate)
        day = self._check_day(ctx, occurred_on)
        if year > ctx.today.year:
            raise errors.DateInFuture(f"{year} has not begun", field="year")
        if year < self.referred_on.year:
            raise errors.DateBeforeReferral(
                f"{year} is before the referral year {self.referred_on.year}", field="year"
            )
        self._require_signed("fixed-asset investment", day)
        self._trigger(
            self.FixedAssetInvestmentReported,
            ctx,
            day,
            year=year,
            amount=value,
            currency=cur,
            rate_to_cny=rate,
        )

    def start_production(self, ctx: Context, occurred_on: Any) -> None:
        day = self._check_day(ctx, occurred_on)
        self._require_signed("production", day)
        if self.production_started_on is not None:
            raise errors.StageOrder(f"production already started on {self.production_started_on}")
        self._trigger(self.ProductionStarted, ctx, day)

    def reach_capacity(self, ctx: Context, occurred_on: Any) -> None:
        day = self._check_day(ctx, occurred_on)
        if self.production_started_on is None:
            raise errors.StageOrder("capacity can be reached only after production starts")
        if day < self.production_started_on:
            raise errors.StageOrder(
                f"{day} is before production started on {self.production_started_on}",
                field="occurred_on",
            )
        if self.capacity_reached_on is not None:
            raise errors.StageOrder(f"capacity was already reached on {self.capacity_reached_on}")
        self._trigger(self.CapacityReached, ctx, day)

    def record_follow_up_visit(
        self,
        ctx: Context,
        occurred_on: Any,
        operating_status: Any,
        issue_ids: list[str],
        issues: Any = None,
        output_value: Any = None,
        tax: Any = None,
        employees: Any = None,
        notes: Any = None,
    ) -> None:
        """Record a 回访; each issue raised is an event of its own after the visit."""
        status = parse_code(operating_status, OPERATING_STATUSES, "operating_status")
        output = _optional_money(output_value, "output_value")
        tax_amount = _optional_money(tax, "tax")
        if employees is not None:
            parse_count(employees, "employees", minimum=0)
        notes_text = parse_text(notes, "notes", required=False)
        raised = []
        for index, item in enumerate(issues or []):
            raised.append(
                (
                    parse_text(item.get("category"), f"issues[{index}].category", limit=100),
                    parse_text(item.get("description"), f"issues[{index}].description"),
                )
            )
        if len(issue_ids) < len(raised):
            raise ValueError("an issue id is needed for every issue raised")
        day = self._check_day(ctx, occurred_on)
        if self.production_started_on is None:
            raise errors.StageOrder("follow-up visits begin once production has started")
        if day < self.production_started_on:
            raise errors.StageOrder(
                f"{day} is before production started on {self.production_started_on}",
                field="occurred_on",
            )
        ids = issue_ids[: len(raised)]
        self._trigger(
            self.FollowUpVisitRecorded,
            ctx,
            day,
            operating_status=status,
            output_value=output,
            tax=tax_amount,
            employees=employees,
            notes=notes_text,
            issue_ids=ids,
        )
        for issue_id, (category, description) in zip(ids, raised, strict=True):
            self._trigger(
                self.IssueRaised,
                ctx,
                day,
                issue_id=issue_id,
                category=category,
                description=description,
            )

    def update_issue(
        self, ctx: Context, issue_id: str, status: Any, occurred_on: Any, note: Any
    ) -> None:
        new_status = parse_code(status, {"handling": "办理中", "closed": "已办结"}, "status")
        note_text = parse_text(note, "note")
        day = self._check_day(ctx, occurred_on)
        issue = self.issues.get(issue_id)
        if issue is None:
            raise errors.NotFound(f"no issue {issue_id} on this project", field="issue_id")
        if issue.status == "closed":
            raise errors.IssueAlreadyClosed(f"issue {issue_id} was closed on {issue.closed_on}")
        if day < issue.raised_on:
            raise errors.StageOrder(
                f"{day} is before the issue was raised on {issue.raised_on}", field="occurred_on"
            )
        event_class = self.IssueClosed if new_status == "closed" else self.IssueHandled
        self._trigger(event_class, ctx, day, issue_id=issue_id, note=note_text)

    def record_attestation(
        self, ctx: Context, kind: Any, occurred_on: Any, granted: Any, reason: Any
    ) -> None:
        kind_code = parse_code(kind, ATTESTATION_KINDS, "kind")
        if not isinstance(granted, bool):
            raise errors.InvalidInput("granted must be true or false", field="granted")
        reason_text = parse_text(reason, "reason")
        day = self._check_day(ctx, occurred_on)
        self._trigger(
            self.AttestationRecorded, ctx, day, kind=kind_code, granted=granted, reason=reason_text
        )

    def change_attribution(
        self, ctx: Context, occurred_on: Any, referrals: Any, reason: Any, approver: Any
    ) -> None:
        shares = parse_shares(referrals or [])
        reason_text = parse_text(reason, "reason")
        approver_text = parse_text(approver, "approver", limit=100)
        day = self._check_day(ctx, occurred_on)
        self._trigger(
            self.AttributionChanged,
            ctx,
            day,
            referrals=[s.as_dict() for s in shares],
            reason=reason_text,
            approver=approver_text,
        )

    def reclassify(
        self,
        ctx: Context,
        occurred_on: Any,
        reason: Any,
        approver: Any,
        industry: Any = None,
        project_type: Any = None,
    ) -> None:
        if industry is None and project_type is None:
            raise errors.InvalidInput("name a new industry, project type or both", field="industry")
        new_industry = self.industry if industry is None else parse_industry(industry)
        new_type = (
            self.project_type
            if project_type is None
            else parse_code(project_type, PROJECT_TYPES, "project_type")
        )
        reason_text = parse_text(reason, "reason")
        approver_text = parse_text(approver, "approver", limit=100)
        day = self._check_day(ctx, occurred_on)
        self._trigger(
            self.Reclassified,
            ctx,
            day,
            industry=new_industry,
            project_type=new_type,
            reason=reason_text,
            approver=approver_text,
        )

    def change_status(self, ctx: Context, occurred_on: Any, status: Any, reason: Any) -> None:
        new_status = parse_code(status, PROJECT_STATUSES, "status")
        reason_text = parse_text(reason, "reason")
        day = not_future(ctx, occurred_on)
        if new_status == "active":
            if not (self.stalled or self.withdrawn):
                raise errors.Conflict("the project is already active", code="status_unchanged")
            self._check_date_after_referral(day)
            self._trigger(self.Reactivated, ctx, day, reason=reason_text)
            return
        day = self._check_day(ctx, occurred_on)
        if new_status == "stalled":
            if self.stalled:
                raise errors.Conflict("the project is already stalled", code="status_unchanged")
            self._trigger(self.Stalled, ctx, day, reason=reason_text)
        else:
            self._trigger(self.Withdrawn, ctx, day, reason=reason_text)

    def assign_officer(
        self,
        ctx: Context,
        officer_id: str,
        occurred_on: Any = None,
        reason: Any = None,
        remove: bool = False,
    ) -> None:
        """Assign (or with `remove`, unassign) an officer; the caller checked the account."""
        reason_text = parse_text(reason, "reason", required=False)
        day = ctx.today if occurred_on is None else not_future(ctx, occurred_on)
        self._check_date_after_referral(day)
        assigned = officer_id in self.assigned_officers
        if remove:
            if not assigned:
                raise errors.OfficerNotAssigned(
                    "the officer is not assigned to the project", field="officer_id"
                )
            self._trigger(
                self.OfficerUnassigned, ctx, day, officer_id=officer_id, reason=reason_text
            )
            return
        if assigned:
            raise errors.OfficerAlreadyAssigned(
                "the officer is already assigned to the project", field="officer_id"
            )
        self._trigger(self.OfficerAssigned, ctx, day, officer_id=officer_id, reason=reason_text)

    def _check_date_after_referral(self, day: date) -> None:
        if day < self.referred_on:
            raise errors.DateBeforeReferral(
                f"{day} is before the referral on {self.referred_on}", field="occurred_on"
            )


def _parse_designations(items: Any) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for index, item in enumerate(items):
        kind: Any
        source: Any
        if isinstance(item, str):
            kind, source = item, ""
        elif isinstance(item, dict):
            kind, source = item.get("kind"), item.get("source") or ""
        else:
            raise errors.InvalidInput(
                "a designation is a code or {kind, source}", field=f"designations[{index}]"
            )
        rows.append(
            {
                "kind": parse_code(kind, DESIGNATIONS, f"designations[{index}]"),
                "source": parse_text(
                    source, f"designations[{index}].source", required=False, limit=200
                ),
            }
        )
    return rows
