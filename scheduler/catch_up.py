"""`catch_up(now)`: generate every closed period's missing document, exactly once.

The clock is passed in; nothing here reads the wall clock. Each document kind says which periods
are closed on a given day and how to draw one up; the store's unique key on (kind, period,
revision) makes concurrent runs produce each document once, and a document is inserted whole in
one transaction, so a crash leaves either nothing or the complete document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from adapters.documents import Document, DocumentStore
from domain import errors
from domain.canonical import content_hash
from domain.events import Actor, Context
from domain.periods import quarter_of, quarters_between
from domain.values import business_date
from projections.dispatch import build_dispatch, dispatch_changes
from projections.evaluation import EvaluationRules, evaluate, load_evaluation_rules
from projections.queries import ReadModels
from projections.runtime import ProjectionRunner
from services.settlements import SettlementService

if TYPE_CHECKING:
    from services.notifications import NotificationService


@dataclass
class DocumentKind:
    """A kind of periodic document: which periods are due on a day, and how to draw one up."""

    kind: str
    due: Callable[[date, date], list[str]]  # (today, first business date) -> closed periods
    build: Callable[[str], dict[str, Any]]
    changes: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] = field(
        default=lambda old, new: {"replaced": True}
    )
    revise: bool = True  # late events produce revisions (the reminder list is a daily snapshot)


def closed_quarters(today: date, first: date) -> list[str]:
    current = quarter_of(today)
    return [q for q in quarters_between(first, today) if q != current]


def closed_evaluation_years(rules: EvaluationRules) -> Callable[[date, date], list[str]]:
    """Evaluation years (by default 1 December – 30 November) that ended before `today`."""

    def due(today: date, first: date) -> list[str]:
        years = []
        year = first.year
        while rules.period(year)[1] < first:
            year += 1
        while rules.closed(year, today):
            years.append(str(year))
            year += 1
        return years

    return due


def todays_reminders(today: date, first: date) -> list[str]:
    return [today.isoformat()]


Job = Callable[[datetime, str], list[Document]]


@dataclass
class CatchUp:
    runner: ProjectionRunner
    store: DocumentStore
    read: ReadModels
    kinds: list[DocumentKind]
    jobs: list[Job] = field(default_factory=list)  # periods whose record is not a plain document

    def plan(self, now: datetime) -> list[tuple[str, str, str]]:
        """What a catch-up at `now` would make, storing no document (the read models are brought
        up to the log first, as for a real catch-up):
        (kind, period, "revision N" or "new") for each document kind (not the jobs)."""
        self.runner.run_once()
        position = min(self.runner.positions().values(), default=0)
        today = business_date(now)
        first = self.read.first_business_date()
        planned: list[tuple[str, str, str]] = []
        if first is None:
            return planned
        for kind in self.kinds:
            for period in kind.due(today, first):
                latest = self.store.latest(kind.kind, period)
                if latest is None:
                    planned.append((kind.kind, period, "revision 0 (new)"))
                elif (
                    kind.revise
                    and latest.position < position
                    and content_hash(kind.build(period)) != latest.content_hash
                ):
                    planned.append((kind.kind, period, f"revision {latest.revision + 1}"))
        return planned

    def __call__(self, now: datetime, generated_by: str = "scheduler") -> list[Document]:
        """Bring the read models up to every recorded event, then make what is missing."""
        self.runner.run_once()
        position = min(self.runner.positions().values(), default=0)
        today = business_date(now)
        first = self.read.first_business_date()
        made: list[Document] = []
        if first is None:
            return made
        for kind in self.kinds:
            for period in kind.due(today, first):
                latest = self.store.latest(kind.kind, period)
                if latest is not None and (not kind.revise or latest.position >= position):
                    continue
                content = kind.build(period)
                if latest is None:
                    document = self.store.create(
                        kind=kind.kind,
                        period=period,
                        revision=0,
                        content=content,
                        position=position,
                        generated_by=generated_by,
                        now=now,
                    )
                elif content_hash(content) != latest.content_hash:
                    document = self.store.create(
                        kind=kind.kind,
                        period=period,
                        revision=latest.revision + 1,
                        content=content,
                        position=position,
                        generated_by=generated_by,
                        now=now,
                        revises=latest.id,
                        changes=kind.changes(latest.content, content),
                    )
                else:
                    document = None
                if document is not None:
                    made.append(document)
        for job in self.jobs:
            made.extend(job(now, generated_by))
        return made


def standard_kinds(
    read: ReadModels, follow_up_interval_days: int, rules: EvaluationRules | None = None
) -> list[DocumentKind]:
    evaluation_rules = rules or load_evaluation_rules()
    return [
        DocumentKind(
            kind="dispatch",
            due=closed_quarters,
            build=lambda quarter: build_dispatch(read, quarter, follow_up_interval_days),
            changes=dispatch_changes,
        ),
        DocumentKind(
            kind="follow_up_reminders",
            due=todays_reminders,
            build=lambda day: {
                "kind": "follow_up_reminders",
                "as_of": day,
                "interval_days": follow_up_interval_days,
                "due": read.follow_ups_due(date.fromisoformat(day), follow_up_interval_days),
            },
            revise=False,
        ),
        DocumentKind(
            kind="evaluation",
            due=closed_evaluation_years(evaluation_rules),
            build=lambda year: evaluate(read, int(year), evaluation_rules).as_dict(),
        ),
    ]


def settlement_job(service: SettlementService, settlement_day: tuple[int, int] = (1, 15)) -> Job:
    """Settle the previous year under every loaded policy on its settlement day (15 January by
    default), for each year the policy was in force; a year already settled is left alone."""

    def run(now: datetime, generated_by: str) -> list[Document]:
        today = business_date(now)
        made = []
        for policy_id in service.registry.ids():
            policy = service.policy(policy_id)
            for year in range(policy.valid_from.year, min(today.year, policy.valid_to.year + 1)):
                month, day = settlement_day
                if today < date(year + 1, month, day) or service.exists(policy_id, year):
                    continue
                ctx = Context(
                    actor=Actor(generated_by, "admin"), source="scheduler", recorded_at=now
                )
                try:
                    service.settle(ctx, policy_id, year)
                except errors.SettlementExists:
                    continue  # another process settled it a moment ago
                made.append(service.document(policy_id, year))
        return made

    return run


def notifications_job(service: NotificationService) -> Job:
    """Make the reminders due now (each once, DESIGN §20); the background sender delivers them.
    They are rows of their own, no documents: the job answers none."""

    def run(now: datetime, generated_by: str) -> list[Document]:
        service.make_due(now)
        return []

    return run
