"""The service layer: one method per command (load, call, save) and the queries on the record.

Callers never touch aggregates: commands answer with the version they reached, queries with
aggregates folded to the requested point in time, or with the history and its chain.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    RecordConflictError,
    StoredEvent,
    Transcoding,
)
from eventsourcing.utils import get_topic

from domain import errors
from domain.account import Account
from domain.association import Association
from domain.duplicates import DuplicateFinder
from domain.events import SYSTEM, Actor, Context, EnvelopedEvent, event_type_name
from domain.import_batch import (
    ImportBatch,
    ImportOutcome,
    LedgerRow,
    RowProblem,
    RowRefused,
    batch_summary,
    build_project,
    import_batch_id,
    import_source,
    project_id_for_number,
)
from domain.inputs import Day, Issues, Money, Rate, Referrals, Text
from domain.integrity import GENESIS, PREV_HASH, ChainedMapper, stored_event_hash
from domain.project import Project
from domain.service_contract import ServiceContract, parse_year, service_contract_id
from domain.settlement import Settlement, settlement_id
from domain.values import (
    ASSOCIATION_DESIGNATIONS,
    PRODUCTION_MILESTONES,
    code_for,
    end_of_business_day,
    parse_amount,
    parse_code,
    parse_date,
    parse_text,
)

T = TypeVar("T")
Clock = Callable[[], datetime]
IdFactory = Callable[[], UUID]

# A command that lost a race to another writer is run again, with jittered exponential
# back-off, until this many seconds have passed: several workers on one aggregate then settle
# instead of failing after a fixed count (issue 13).
CONFLICT_RETRY_BUDGET = 2.0
_FIRST_BACK_OFF = 0.005
_LONGEST_BACK_OFF = 0.25


def back_off(attempt: int, deadline: float) -> bool:
    """Sleep before retry `attempt` (0-based) and answer True, or answer False when the retry
    budget ending at `deadline` (time.monotonic) is spent. Full jitter: a uniform delay up to
    the exponential step, so competing writers spread out."""
    step = min(_LONGEST_BACK_OFF, _FIRST_BACK_OFF * 2**attempt)
    delay = random.uniform(0, step)
    if time.monotonic() + delay >= deadline:
        return False
    time.sleep(delay)
    return True


class DateAsISO(Transcoding):
    """The library's JSON transcoder has no transcoding for `datetime.date` (DESIGN §14)."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def fold_events(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply events in order. The library's projector asserts a runtime-checkable Protocol on
    every event, which costs more than the fold itself."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


@dataclass(frozen=True)
class HistoryEntry:
    """One stored event with its envelope and its place in the stream's hash chain."""

    version: int
    type: str
    occurred_on: date
    recorded_at: datetime
    actor: dict[str, str]
    source: str
    evidence: list[str]
    data: dict[str, Any]
    prev_hash: str
    hash: str
    files: list[dict[str, Any]] = field(default_factory=list)


class Ledger(Application[UUID]):
    """The zhaoshang application: associations and projects, stored with hash chains."""

    name = "zhaoshang"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Clock = utc_now,
        new_id: IdFactory = uuid4,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.new_id = new_id
        # Where to look for an association or project already recorded (the read models, set by
        # the composition root); None looks nowhere.
        self.duplicates: DuplicateFinder | None = None
        assert isinstance(self.mapper, ChainedMapper)
        self.mapper.recorder = self.recorder  # type: ignore[assignment]

    # ---- wiring -------------------------------------------------------------------------

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=ChainedMapper
        )

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def context(
        self,
        actor: Actor = SYSTEM,
        source: str = "api",
        evidence: Iterable[str] = (),
        evidence_files: Iterable[dict[str, Any]] = (),
    ) -> Context:
        return Context(
            actor=actor,
            source=source,
            recorded_at=self.clock(),
            evidence=tuple(evidence),
            evidence_files=tuple(evidence_files),
        )

    def save_or_conflict(self, *aggregates: Any) -> int:
        """Save; a competing writer's save surfaces as `VersionConflict`, storing nothing."""
        try:
            recordings = self.save(*aggregates)
        except Exception as e:
            # The mapper remembered hashes of events that were never stored.
            assert isinstance(self.mapper, ChainedMapper)
            self.mapper.forget({a.id for a in aggregates})
            if isinstance(e, IntegrityError | RecordConflictError):
                raise errors.VersionConflict(
                    "another change was saved first; reload and try again"
                ) from e
            raise
        return max((r.notification.id for r in recordings), default=0)

    # ---- loading ------------------------------------------------------------------------

    def _get(
        self, cls: type[T], aggregate_id: UUID | str, what: str, *, to_change: bool = True
    ) -> T:
        """Load an aggregate. With the repository's cache on, a query (`to_change=False`) gets the
        cached object itself, fast-forwarded, and must not change it; a command gets a copy."""
        key = _as_uuid(aggregate_id, what)
        try:
            aggregate: object = self.repository.get(
                key, deepcopy_from_cache=to_change, projector_func=fold_events
            )
        except AggregateNotFoundError:
            raise errors.NotFound(f"no {what} {aggregate_id}", field=f"{what}_id") from None
        if not isinstance(aggregate, cls):
            raise errors.NotFound(f"no {what} {aggregate_id}", field=f"{what}_id")
        return aggregate

    def load_project(self, project_id: UUID | str) -> None:
        """Have the project in the repository's cache, replaying its stream only if it is not
        there (no query when it is). A write calls it before taking its process's write lock,
        so that a first load's replay keeps no other write waiting; under the lock the command
        then fast-forwards the cached state, as every load does."""
        self._load(Project, project_id, "project")

    def load_association(self, association_id: UUID | str) -> None:
        """Have the association in the repository's cache (as `load_project`)."""
        self._load(Association, association_id, "association")

    def _load(self, cls: type, aggregate_id: UUID | str, what: str) -> None:
        cache = self.repository.cache
        if cache is not None:
            try:
                if isinstance(cache.get(_as_uuid(aggregate_id, what)), cls):
                    return
            except (KeyError, errors.NotFound):
                pass  # not cached, or not an id: `_get` loads it or names the error
        self._get(cls, aggregate_id, what, to_change=False)

    def get_project(self, project_id: UUID | str) -> Project:
        """The project as it stands (for reading: do not change the object)."""
        return self._get(Project, project_id, "project", to_change=False)

    def get_association(self, association_id: UUID | str) -> Association:
        """The association as it stands (for reading: do not change the object)."""
        return self._get(Association, association_id, "association", to_change=False)

    def _update(
        self,
        cls: type[T],
        aggregate_id: UUID | str,
        what: str,
        command: Callable[[T], Any],
        expected_version: int | None,
    ) -> int:
        """Load, run the command, save; retry the whole command if another writer got in first.

        With an expected version (HTTP If-Match) a stale state is refused instead of retried.
        """
        deadline = time.monotonic() + CONFLICT_RETRY_BUDGET
        for attempt in itertools.count():
            aggregate = self._get(cls, aggregate_id, what)
            version: int = aggregate.version  # type: ignore[attr-defined]
            if expected_version is not None and version != expected_version:
                raise errors.StaleVersion(
                    f"the {what} is at version {version}, not {expected_version}", field="If-Match"
                )
            command(aggregate)
            try:
                self.save_or_conflict(aggregate)
            except errors.VersionConflict:
                if expected_version is not None or not back_off(attempt, deadline):
                    raise
                continue
            return aggregate.version  # type: ignore[attr-defined, no-any-return]
        raise AssertionError("unreachable")

    def _check_associations(self, referrals: Any, field: str = "referrals") -> None:
        if not isinstance(referrals, list):
            return
        for index, item in enumerate(referrals):
            association_id = item.get("association_id") if isinstance(item, dict) else None
            if not isinstance(association_id, str):
                continue  # the domain's share parser names this error
            try:
                association = self.get_association(association_id)
            except errors.NotFound:
                raise errors.UnknownAssociation(
                    f"no association {association_id}", field=f"{field}[{index}].association_id"
                ) from None
            if not association.active:
                raise errors.AssociationInactive(
                    f"association {association_id} was deactivated",
                    field=f"{field}[{index}].association_id",
                )

    # ---- association commands -----------------------------------------------------------

    def register_association(
        self,
        ctx: Context,
        *,
        name: Text,
        kind: Text,
        based_in: Text,
        contact: Text | None = None,
        occurred_on: Day | None = None,
    ) -> tuple[UUID, int]:
        """Register an association; the same name in the same city again is 409
        `duplicate_name` (two associations of one name are told apart by their city)."""
        association = Association.register(
            ctx,
            association_id=self.new_id(),
            name=name,
            kind=kind,
            based_in=based_in,
            contact=contact,
            occurred_on=occurred_on,
        )
        if self.duplicates is not None:
            name, based_in = association.name, association.based_in
            existing = self.duplicates.associations_named(name, based_in)
            if existing:
                raise errors.DuplicateName(
                    f"an association named {name!r} in {based_in} is already registered "
                    f"({existing[0]})",
                    field="name",
                )
        self.save_or_conflict(association)
        return association.id, association.version

    def change_association_details(
        self,
        ctx: Context,
        association_id: UUID | str,
        expected_version: int | None = None,
        *,
        name: Text | None = None,
        based_in: Text | None = None,
        contact: Text | None = None,
    ) -> int:
        return self._update(
            Association,
            association_id,
            "association",
            lambda a: a.change_details(ctx, name=name, based_in=based_in, contact=contact),
            expected_version,
        )

    def record_activity(
        self,
        ctx: Context,
        association_id: UUID | str,
        *,
        kind: Text,
        occurred_on: Day,
        description: Text,
        count: int | str | None = None,
    ) -> tuple[str, int]:
        activity_id = str(self.new_id())
        version = self._update(
            Association,
            association_id,
            "association",
            lambda a: a.record_activity(ctx, activity_id, kind, occurred_on, description, count),
            None,
        )
        return activity_id, version

    def award_designation(
        self,
        ctx: Context,
        association_id: UUID | str,
        *,
        year: int | str,
        designation: Text,
        occurred_on: Day,
        reason: Text | None = None,
    ) -> int:
        return self._update(
            Association,
            association_id,
            "association",
            lambda a: a.award_designation(ctx, year, designation, occurred_on, reason),
            None,
        )

    def deactivate_association(
        self, ctx: Context, association_id: UUID | str, *, occurred_on: Day, reason: Text
    ) -> int:
        return self._update(
            Association,
            association_id,
            "association",
            lambda a: a.deactivate(ctx, occurred_on, reason),
            None,
        )

    # ---- project commands ---------------------------------------------------------------

    def refer_project(
        self,
        ctx: Context,
        *,
        name: Text,
        investor: Text,
        industry: Text,
        project_type: Text,
        origin: Text,
        city: Text,
        planned_investment: Money,
        referrals: Referrals,
        occurred_on: Day,
        county: Text | None = None,
        park: Text | None = None,
        designations: Sequence[str] | None = None,
        confirm: bool = False,
    ) -> tuple[UUID, int]:
        """Refer a project; one with the same name, investor and city as a project already
        recorded is 409 `possible_duplicate` unless `confirm` says it is another."""
        project = Project.refer(
            ctx,
            project_id=self.new_id(),
            name=name,
            investor=investor,
            industry=industry,
            project_type=project_type,
            origin=origin,
            city=city,
            planned_investment=planned_investment,
            referrals=referrals,
            occurred_on=occurred_on,
            county=county,
            park=park,
            designations=designations,
        )
        self._check_associations(referrals)
        if self.duplicates is not None and not confirm:
            name, investor, city = project.name, project.investor, project.city
            existing = self.duplicates.projects_like(name, investor, city)
            if existing:
                raise errors.PossibleDuplicate(
                    f"a project named {name!r} of {investor!r} in {city} is already recorded "
                    f"({existing[0]}); send confirm: true to refer this one as another",
                    field="name",
                )
        self.save_or_conflict(project)
        return project.id, project.version

    def _project(
        self,
        project_id: UUID | str,
        command: Callable[[Project], Any],
        expected_version: int | None,
    ) -> int:
        return self._update(Project, project_id, "project", command, expected_version)

    def record_visit(
        self,
        ctx: Context,
        project_id: UUID | str,
        expected_version: int | None = None,
        *,
        occurred_on: Day,
        participants: Text | None = None,
        notes: Text | None = None,
    ) -> int:
        return self._project(
            project_id,
            lambda p: p.record_visit(ctx, occurred_on, participants, notes),
            expected_version,
        )

    def record_negotiation(
        self,
        ctx: Context,
        project_id: UUID | str,
        expected_version: int | None = None,
        *,
        occurred_on: Day,
        notes: Text | None = None,
    ) -> int:
        return self._project(
            project_id, lambda p: p.record_negotiation(ctx, occurred_on, notes), expected_version
        )

    def sign(
        self,
        ctx: Context,
        project_id: UUID | str,
        expected_version: int | None = None,
        *,
        occurred_on: Day,
        contract_amount: Money,
        currency: Text,
        rate_to_cny: Rate | None = None,
        place: Text | None = None,
    ) -> int:
        return self._project(
            project_id,
            lambda p: p.sign(ctx, occurred_on, contract_amount, currency, rate_to_cny, place),
            expected_version,
        )

    def register_company(
        self,
        ctx: Context,
        project_id: UUID | str,
        expected_version: int | None = None,
        *,
        occurred_on: Day,
        details: Text | None = None,
    ) -> int:
        return self._project(
            project_id, lambda p: p.register_company(ctx, occurred_on, details), expected_version
        )

    def start_construction(
        self,
        ctx: Context,
        project_id: UUID | str,
        expected_version: int | None = None,
        *,
        occurred_on: Day,
        details: Text | None = None,
    ) -> int:
        return self._project(
            project_id, lambda p: p.start_construction(ctx, occurred_on, details), expected_version
        )

    def record_funds_arrival(
        self,
        ctx: Context,
        project_id: UUID | str,
        expected_version: int | None = None,
        *,
        occurred_on: Day,
        amount: Money,
        currency: Text,
        rate_to_cny: Rate | None = None,
        source: Text | None = None,
    ) -> tuple[str, int]:
        arrival_id = str(self.new_id())
        version = self._project(
            project_id,
            lambda p: p.record_funds_arrival(
                ctx, arrival_id, occurred_on, amount, currency, rate_to_cny, source
            ),
            expected_version,
        )
        return arrival_id, version

    def correct_funds_arrival(
        self,
        ctx: Context,
        project_id: UUID | str,
        arrival_id: str,
        expected_version: int | None = None,
        *,
        occurred_on: Day,
        amount: Money,
        currency: Text,
        reason: Text,
        rate_to_cny: Rate | None = None,
        arrived_on: Day | None = None,
    ) -> int:
        return self._project(
            project_id,
            lambda p: p.correct_funds_arrival(
                ctx, arrival_id, occurred_on, amount, currency, reason, rate_to_cny, arrived_on
            ),
            expected_version,
        )

    def void_funds_arrival(
        self,
        ctx: Context,
        project_id: UUID | str,
        arrival_id: str,
        expected_version: int | None = None,
        *,
        occurred_on: Day,
        reason: Text,
    ) -> int:
        return self._project(
            project_id,
            lambda p: p.void_funds_arrival(ctx, arrival_id, occurred_on, reason),
            expected_version,
        )

    def report_fixed_asset_investment(
        self,
        ctx: Context,
        project_id: UUID | str,
        expected_version: int | None = None,
        *,
        year: int | str,
        amount: Money,
        currency: Text,
        occurred_on: Day,
        rate_to_cny: Rate | None = None,
    ) -> int:
        return self._project(
            project_id,
            lambda p: p.report_fixed_asset_investment(
                ctx, year, amount, currency, occurred_on, rate_to_cny
            ),
            expected_version,
        )

    def record_production(
        self,
        ctx: Context,
        project_id: UUID | str,
        milestone: Text,
        occurred_on: Day,
        expected_version: int | None = None,
    ) -> int:
        milestone = code_for(milestone, PRODUCTION_MILESTONES) or milestone  # 投产 / 达产 too
        if milestone == "started":
            return self._project(
                project_id, lambda p: p.start_production(ctx, occurred_on), expected_version
            )
        if milestone == "capacity_reached":
            return self._project(
                project_id, lambda p: p.reach_capacity(ctx, occurred_on), expected_version
            )
        raise errors.UnknownCode(
            f"{milestone!r} is not one of: capacity_reached, started", field="milestone"
        )

    def record_follow_up_visit(
        self,
        ctx: Context,
        project_id: UUID | str,
        expected_version: int | None = None,
        *,
        occurred_on: Day,
        operating_status: Text,
        issues: Issues | None = None,
        output_value: Money | None = None,
        tax: Money | None = None,
        employees: int | str | None = None,
        notes: Text | None = None,
    ) -> tuple[int, list[str]]:
        issue_ids = [str(self.new_id()) for _ in issues or []]
        version = self._project(
            project_id,
            lambda p: p.record_follow_up_visit(
                ctx,
                occurred_on,
                operating_status,
                issue_ids,
                issues=issues,
                output_value=output_value,
                tax=tax,
                employees=employees,
                notes=notes,
            ),
            expected_version,
        )
        return version, issue_ids

    def update_issue(
        self,
        ctx: Context,
        project_id: UUID | str,
        issue_id: str,
        expected_version: int | None = None,
        *,
        status: Text,
        occurred_on: Day,
        note: Text,
    ) -> int:
        return self._project(
            project_id,
            lambda p: p.update_issue(ctx, issue_id, status, occurred_on, note),
            expected_version,
        )

    def record_attestation(
        self,
        ctx: Context,
        project_id: UUID | str,
        expected_version: int | None = None,
        *,
        kind: Text,
        occurred_on: Day,
        granted: bool,
        reason: Text,
    ) -> int:
        return self._project(
            project_id,
            lambda p: p.record_attestation(ctx, kind, occurred_on, granted, reason),
            expected_version,
        )

    def change_attribution(
        self,
        ctx: Context,
        project_id: UUID | str,
        expected_version: int | None = None,
        *,
        occurred_on: Day,
        referrals: Referrals,
        reason: Text,
        approver: Text,
    ) -> int:
        self._check_associations(referrals)
        return self._project(
            project_id,
            lambda p: p.change_attribution(ctx, occurred_on, referrals, reason, approver),
            expected_version,
        )

    def reclassify(
        self,
        ctx: Context,
        project_id: UUID | str,
        expected_version: int | None = None,
        *,
        occurred_on: Day,
        reason: Text,
        approver: Text,
        industry: Text | None = None,
        project_type: Text | None = None,
    ) -> int:
        return self._project(
            project_id,
            lambda p: p.reclassify(ctx, occurred_on, reason, approver, industry, project_type),
            expected_version,
        )

    def change_status(
        self,
        ctx: Context,
        project_id: UUID | str,
        expected_version: int | None = None,
        *,
        occurred_on: Day,
        status: Text,
        reason: Text,
    ) -> int:
        return self._project(
            project_id,
            lambda p: p.change_status(ctx, occurred_on, status, reason),
            expected_version,
        )

    # ---- queries ------------------------------------------------------------------------

    def project_events(self, project_id: UUID | str) -> list[EnvelopedEvent]:
        self.get_project(project_id)  # 404 for an unknown id
        key = _as_uuid(project_id, "project")
        return [e for e in self.events.get(key) if isinstance(e, EnvelopedEvent)]

    def project_as_of_version(self, project_id: UUID | str, version: int) -> Project:
        if version < 1:
            raise errors.InvalidInput("versions start at 1", field="as_of_version")
        current = self.get_project(project_id)
        if version > current.version:
            raise errors.NotFound(
                f"the project has {current.version} versions, not {version}", field="as_of_version"
            )
        aggregate: object = self.repository.get(
            _as_uuid(project_id, "project"), version=version, projector_func=fold_events
        )
        assert isinstance(aggregate, Project)
        return aggregate

    def project_as_of(self, project_id: UUID | str, day: Any) -> Project:
        """The project folded from the events that occurred on or before `day` (business date)."""
        as_of = parse_date(day, "as_of")
        return self._fold(project_id, lambda e: e.occurred_on <= as_of, "as_of", as_of)

    def project_known_on(self, project_id: UUID | str, day: Any) -> Project:
        """The project as the record stood at the end of `day` (Asia/Shanghai)."""
        known_on = parse_date(day, "known_on")
        cutoff = end_of_business_day(known_on)
        return self._fold(project_id, lambda e: e.recorded_at < cutoff, "known_on", known_on)

    def _fold(
        self, project_id: UUID | str, keep: Callable[[EnvelopedEvent], bool], field: str, day: date
    ) -> Project:
        project: Project | None = None
        for event in self.project_events(project_id):
            if not keep(event):
                continue
            if project is None:
                if not isinstance(event, Project.Referred):
                    break
                project = event.mutate(None)
            elif _concerns_unseen_arrival(event, project):
                # Stored before corrections and voids had to follow their arrival (409
                # date_before_arrival): as of a date between the two, the arrival has not
                # happened, so neither has its correction or void.
                continue
            else:
                # Back-dated events skip versions here, so apply without the library's
                # next-version check and let the version be the last one included.
                event.apply(project)
                project.version = event.originator_version
                project.modified_on = event.timestamp
        if project is None:
            raise errors.NotFound(f"the project did not exist on {day}", field=field)
        project.pending_events.clear()
        return project

    def history(
        self, project_id: UUID | str, up_to_version: int | None = None
    ) -> list[HistoryEntry]:
        """Every stored event of a project with its envelope, payload and chain link (those up
        to `up_to_version`, when given)."""
        self.get_project(project_id)
        key = _as_uuid(project_id, "project")
        return list(self._history(self.recorder.select_events(key, lte=up_to_version)))

    def _history(self, rows: Iterable[StoredEvent]) -> Iterator[HistoryEntry]:
        assert isinstance(self.mapper, ChainedMapper)
        for row in rows:
            state = self.mapper.decode_state(row)
            prev_hash = str(state.get(PREV_HASH, GENESIS))
            event = self.mapper.event_from_state(row, state)
            assert isinstance(event, EnvelopedEvent)
            yield HistoryEntry(
                version=row.originator_version,
                type=event_type_name(row.topic),
                occurred_on=event.occurred_on,
                recorded_at=event.recorded_at,
                actor=dict(event.actor),
                source=event.source,
                evidence=list(event.evidence),
                data=event.payload(),
                prev_hash=prev_hash,
                hash=stored_event_hash(row),
                files=[dict(f) for f in event.evidence_files],
            )

    def decode(self, row: StoredEvent) -> DomainEventProtocol[UUID]:
        return self.mapper.to_domain_event(row)

    # ==== evaluation designations (三(二), 四(二)2) and purchased service (三(三), 四(二)1) ====
    #
    # Added for issue 6. Designations from an evaluation ranking are ordinary
    # `Association.DesignationAwarded` events; the purchased service is one `ServiceContract`
    # aggregate per year (see domain/service_contract.py). The annual cap is a parameter the
    # caller reads from the evaluation rules (`projections.evaluation`); by default 3,000,000.00.

    def award_designations(
        self,
        ctx: Context,
        year: Any,
        designation: Any,
        association_ids: Iterable[UUID | str],
        occurred_on: Any = None,
        reason: str | Mapping[str, str] | None = None,
    ) -> dict[str, list[str]]:
        """Award `designation` for `year` to every association named, in one transaction.

        Idempotent: an association that already holds the designation for the year is skipped,
        so running it again awards nothing. Unknown associations are refused (422
        `unknown_association`) and a deactivated one (409) before anything is stored. Answers
        `{"awarded": [...], "skipped": [...]}` in the order given.
        """
        the_year = parse_year(year)
        code = parse_code(designation, ASSOCIATION_DESIGNATIONS, "designation")
        ids: list[str] = []
        for value in association_ids:
            if str(value) not in ids:
                ids.append(str(value))
        deadline = time.monotonic() + CONFLICT_RETRY_BUDGET
        for attempt in itertools.count():
            awarded: list[str] = []
            skipped: list[str] = []
            changed: list[Association] = []
            for index, association_id in enumerate(ids):
                try:
                    association = self._get(Association, association_id, "association")
                except errors.NotFound:
                    raise errors.UnknownAssociation(
                        f"no association {association_id}", field=f"association_ids[{index}]"
                    ) from None
                if any(
                    d.year == the_year and d.designation == code for d in association.designations
                ):
                    skipped.append(association_id)
                    continue
                why = reason.get(association_id) if isinstance(reason, Mapping) else reason
                association.award_designation(
                    ctx, year=the_year, designation=code, occurred_on=occurred_on, reason=why
                )
                changed.append(association)
                awarded.append(association_id)
            if not changed:
                return {"awarded": awarded, "skipped": skipped}
            try:
                self.save_or_conflict(*changed)
            except errors.VersionConflict:
                if not back_off(attempt, deadline):
                    raise
                continue
            return {"awarded": awarded, "skipped": skipped}
        raise AssertionError("unreachable")

    def create_service_contract(
        self,
        ctx: Context,
        year: Any,
        provider: Any,
        amount: Any,
        occurred_on: Any,
        cap: Any = None,
    ) -> tuple[UUID, int]:
        """Record the year's service contract; above the annual cap → 409 `over_cap`; a second
        contract for the same year (even a concurrent one) → 409 `service_contract_exists`."""
        contract = ServiceContract.create(
            ctx, year=year, provider=provider, amount=amount, occurred_on=occurred_on, cap=cap
        )
        exists = errors.Conflict(
            f"a service contract for {contract.year} already exists; amend it instead",
            field="year",
            code="service_contract_exists",
        )
        try:
            self.repository.get(contract.id)
        except AggregateNotFoundError:
            pass
        else:
            raise exists
        try:
            self.save_or_conflict(contract)
        except errors.VersionConflict as e:  # another writer created the same year's stream
            raise exists from e
        return contract.id, contract.version

    def amend_service_contract(
        self,
        ctx: Context,
        year: int | str,
        *,
        occurred_on: Day,
        reason: Text,
        amount: Money | None = None,
        provider: Text | None = None,
        cap: Money | None = None,
    ) -> int:
        """A new amount and/or provider with a reason; never below the subsidies already paid,
        never above the cap."""
        return self._update_service_contract(
            parse_year(year),
            lambda c: c.amend(
                ctx,
                occurred_on=occurred_on,
                reason=reason,
                amount=amount,
                provider=provider,
                cap=cap,
            ),
        )

    def pay_subsidy(
        self,
        ctx: Context,
        year: Any,
        association_id: UUID | str,
        amount: Any,
        occurred_on: Any,
        reason: Any,
    ) -> tuple[str, int]:
        """Pay a subsidy to an association out of the year's contract; beyond what remains of
        the contract → 409 `over_cap`, storing nothing. Answers (subsidy_id, version)."""
        the_year = parse_year(year)
        parse_amount(amount)
        parse_text(reason, "reason")
        try:
            association = self.get_association(association_id)
        except errors.NotFound:
            raise errors.UnknownAssociation(
                f"no association {association_id}", field="association_id"
            ) from None
        if not association.active:
            raise errors.AssociationInactive(
                f"association {association_id} was deactivated", field="association_id"
            )
        subsidy_id = str(self.new_id())
        version = self._update_service_contract(
            the_year,
            lambda c: c.pay_subsidy(
                ctx,
                subsidy_id=subsidy_id,
                association_id=str(association.id),
                amount=amount,
                occurred_on=occurred_on,
                reason=reason,
            ),
        )
        return subsidy_id, version

    def service_contract(self, year: Any) -> dict[str, Any]:
        """The year's contract, its amendments and subsidies, the paid total and what remains."""
        the_year = parse_year(year)
        try:
            contract = self._get(ServiceContract, service_contract_id(the_year), "contract")
        except errors.NotFound:
            raise errors.NotFound(f"no service contract for {the_year}", field="year") from None
        return contract.summary()

    def _update_service_contract(self, year: int, command: Callable[[ServiceContract], Any]) -> int:
        try:
            return self._update(
                ServiceContract, service_contract_id(year), "contract", command, None
            )
        except errors.NotFound:
            raise errors.NotFound(f"no service contract for {year}", field="year") from None

    # ==== settlements (四(二)3): approval and payment of a frozen year ====================
    #
    # Freezing a settlement also writes its figures document in the same transaction, which
    # needs the document store: `services.settlements` does that around `save_or_conflict`.

    def find_settlement(self, policy_id: str, year: int) -> Settlement | None:
        """The settlement of `policy_id` for `year`, or None when there is none yet."""
        try:
            aggregate: object = self.repository.get(settlement_id(policy_id, year))
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, Settlement) else None

    def approve_settlement(
        self, ctx: Context, policy_id: str, year: int, *, occurred_on: Any, by: str, reference: str
    ) -> int:
        """Record who approved the settled year, when, and under which reference."""
        return self._update_settlement(
            policy_id,
            year,
            lambda s: s.approve(ctx, occurred_on=occurred_on, by=by, reference=reference),
        )

    def pay_settlement(
        self, ctx: Context, policy_id: str, year: int, *, occurred_on: Any, by: str, reference: str
    ) -> int:
        """Record the payment of the settled year (who, when, payment reference)."""
        return self._update_settlement(
            policy_id,
            year,
            lambda s: s.pay(ctx, occurred_on=occurred_on, by=by, reference=reference),
        )

    def _update_settlement(
        self, policy_id: str, year: int, command: Callable[[Settlement], Any]
    ) -> int:
        if self.find_settlement(policy_id, year) is None:
            raise errors.NotFound(f"no settlement of {policy_id} for {year}", field="year")
        return self._update(Settlement, settlement_id(policy_id, year), "settlement", command, None)

    # ==== people's accounts (DESIGN §16, issue 15) and the officers following projects ====
    #
    # The user store (adapters/users.py) keeps what authentication needs (password hashes,
    # token hashes with their expiry, sessions); these events are the record of every change,
    # with its actor. Names are kept unique by the store, which claims one before creating.

    def get_account(self, account_id: UUID | str) -> Account:
        return self._get(Account, account_id, "account", to_change=False)

    def account_events(self, account_id: UUID | str) -> list[HistoryEntry]:
        """An account's history (no secret is in it)."""
        self.get_account(account_id)
        return list(self._history(self.recorder.select_events(_as_uuid(account_id, "account"))))

    def create_account(
        self,
        ctx: Context,
        *,
        name: Any,
        role: Any,
        association_id: Any = None,
        account_id: UUID | None = None,
        migrated: bool = False,
    ) -> tuple[UUID, int]:
        account = Account.create(
            ctx,
            account_id=account_id or self.new_id(),
            name=name,
            role=role,
            association_id=association_id,
            migrated=migrated,
        )
        if account.association_id is not None:
            self._check_account_association(account.association_id)
        self.save_or_conflict(account)
        return account.id, account.version

    def _check_account_association(self, association_id: str) -> None:
        try:
            self._check_associations([{"association_id": association_id}])
        except (errors.UnknownAssociation, errors.AssociationInactive) as e:
            raise type(e)(e.message, field="association_id") from None

    def _account(self, account_id: UUID | str, command: Callable[[Account], Any]) -> int:
        return self._update(Account, account_id, "account", command, None)

    def change_account_role(
        self, ctx: Context, account_id: UUID | str, role: Any, association_id: Any = None
    ) -> int:
        if association_id:
            self._check_account_association(str(association_id))
        return self._account(account_id, lambda a: a.change_role(ctx, role, association_id))

    def record_password_set(
        self, ctx: Context, account_id: UUID | str, *, must_change: bool
    ) -> int:
        return self._account(
            account_id, lambda a: a.record_password_set(ctx, must_change=must_change)
        )

    def disable_account(self, ctx: Context, account_id: UUID | str, reason: Any = None) -> int:
        return self._account(account_id, lambda a: a.disable(ctx, reason))

    def enable_account(self, ctx: Context, account_id: UUID | str, reason: Any = None) -> int:
        return self._account(account_id, lambda a: a.enable(ctx, reason))

    def issue_token(
        self,
        ctx: Context,
        account_id: UUID | str,
        *,
        sha256: str,
        name: Any = None,
        expires_on: Any = None,
        default_days: int | None = 90,
    ) -> tuple[str, date | None, int]:
        """Record a token by its hash; answer (token id, expiry day, version)."""
        token_id = str(self.new_id())
        expiry: list[date | None] = []

        def issue(account: Account) -> None:
            expiry[:] = [
                account.issue_token(
                    ctx,
                    token_id=token_id,
                    sha256=sha256,
                    name=name,
                    expires_on=expires_on,
                    default_days=default_days,
                )
            ]

        version = self._account(account_id, issue)
        return token_id, expiry[0], version

    def revoke_token(
        self, ctx: Context, account_id: UUID | str, token_id: str, reason: Any = None
    ) -> int:
        return self._account(account_id, lambda a: a.revoke_token(ctx, token_id, reason))

    def assign_officer(
        self,
        ctx: Context,
        project_id: UUID | str,
        officer_id: Any,
        occurred_on: Any = None,
        reason: Any = None,
        remove: bool = False,
        expected_version: int | None = None,
    ) -> int:
        """Assign an officer (an active account of role officer or staff) to a project, or
        unassign one; an unknown account is 422 `unknown_officer`."""
        if not isinstance(officer_id, str | UUID):
            raise errors.UnknownOfficer("an officer is named by the account id", field="officer_id")
        the_id = str(officer_id)
        if not remove:
            try:
                officer = self.get_account(the_id)
            except errors.NotFound:
                raise errors.UnknownOfficer(f"no account {the_id}", field="officer_id") from None
            if officer.role not in ("officer", "staff"):
                raise errors.UnknownOfficer(
                    f"account {the_id} is a {officer.role}, not an officer", field="officer_id"
                )
            if not officer.active:
                raise errors.AccountDisabled(
                    "the officer's account is disabled (账户已停用)", field="officer_id"
                )
            the_id = str(officer.id)
        return self._project(
            project_id,
            lambda p: p.assign_officer(ctx, the_id, occurred_on, reason, remove),
            expected_version,
        )

    # ==== ledger imports (DESIGN §19, issue 21) ==========================================
    #
    # The importer (`services/imports.py`) reads the file and types each row's cells; this
    # command turns the rows into projects and records them with their batch in one save.

    def find_import_batch(self, batch_id: str) -> ImportBatch | None:
        """The batch recorded under `batch_id`, or None when that file was never imported."""
        try:
            aggregate: object = self.repository.get(import_batch_id(batch_id))
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, ImportBatch) else None

    def import_batches(self) -> list[dict[str, Any]]:
        """Every recorded batch, oldest first, read from the log by its event's topic."""
        topic = get_topic(ImportBatch.Imported)
        found: list[dict[str, Any]] = []
        start: int | None = None
        while True:
            page = self.recorder.select_notifications(
                start, 500, topics=[topic], inclusive_of_start=start is None
            )
            for notification in page:
                event = self.mapper.to_domain_event(notification)
                if isinstance(event, ImportBatch.Imported):
                    found.append(batch_summary(event))
            if len(page) < 500:
                return found
            start = page[-1].id

    def import_ledger(
        self,
        ctx: Context,
        *,
        batch_id: str,
        file_sha256: str,
        file_name: str,
        rows: Sequence[LedgerRow],
        refused_rows: Iterable[int] = (),
        duplicate_rows: int = 0,
        record: bool = True,
        fine_rows_only: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> ImportOutcome:
        """Record `rows` as projects, each event with `source: import:<batch_id>`, together
        with the batch, in one atomic save: every row or none, or (`fine_rows_only`) only the
        rows without a problem. `refused_rows` are the rows the importer already refused (they
        count as problems). With `record` false nothing is stored: the outcome is the preview.
        A batch already recorded is 409 `already_imported`."""
        if self.find_import_batch(batch_id) is not None:
            raise errors.AlreadyImported(f"the batch {batch_id} was already imported", field="file")
        the_ctx = dataclasses.replace(ctx, source=import_source(batch_id))
        outcome = ImportOutcome()
        refused = set(refused_rows)
        projects: list[Project] = []
        checked: dict[str, errors.DomainError | None] = {}
        for done, row in enumerate(rows):
            if progress is not None and done % 250 == 0:
                progress(done, len(rows))
            problem = self._import_association_problem(row.association_id, checked)
            if problem is not None:
                outcome.problems[row.row] = [problem]
                continue
            project_id = project_id_for_number(row.number) if row.number else self.new_id()
            try:
                project = build_project(the_ctx, project_id, row)
            except RowRefused as e:
                outcome.problems[row.row] = [e.problem]
                continue
            outcome.projects[row.row] = project.id
            projects.append(project)
        if progress is not None:
            progress(len(rows), len(rows))
        blocked = bool(outcome.problems or refused) and not fine_rows_only
        if not record or blocked or not projects:
            return outcome
        batch = ImportBatch.record(
            the_ctx,
            batch_id=batch_id,
            file_sha256=file_sha256,
            file_name=file_name,
            rows_recorded=len(projects),
            rows_refused=len(outcome.problems) + len(refused - set(outcome.problems)),
            rows_duplicate=duplicate_rows,
            fine_rows_only=fine_rows_only,
        )
        try:
            self.save_or_conflict(batch, *projects)
        except errors.VersionConflict:
            if self.find_import_batch(batch_id) is not None:
                raise errors.AlreadyImported(
                    f"the batch {batch_id} was already imported", field="file"
                ) from None
            raise
        outcome.recorded = True
        return outcome

    def _import_association_problem(
        self, association_id: str, checked: dict[str, errors.DomainError | None]
    ) -> RowProblem | None:
        if association_id not in checked:
            try:
                self._check_associations([{"association_id": association_id}])
                checked[association_id] = None
            except (errors.UnknownAssociation, errors.AssociationInactive) as e:
                checked[association_id] = e
        error = checked[association_id]
        if error is None:
            return None
        return RowProblem("association_id", error.code, error.message)


def _concerns_unseen_arrival(event: EnvelopedEvent, project: Project) -> bool:
    return (
        isinstance(event, (Project.FundsArrivalCorrected, Project.FundsArrivalVoided))
        and event.arrival_id not in project.arrivals
    )


def _as_uuid(value: UUID | str, what: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise errors.NotFound(f"no {what} {value}", field=f"{what}_id") from None
