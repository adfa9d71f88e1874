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
from typing import Any

from domain.values import business_date
from projections.dispatch import build_dispatch, dispatch_changes
from projections.documents import (
    Document,
    DocumentStore,
    content_hash,
    quarter_of,
    quarters_between,
)
from projections.queries import ReadModels
from projections.runtime import ProjectionRunner


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


def closed_evaluation_years(
    today: date, first: date, last_day: tuple[int, int] = (11, 30)
) -> list[str]:
    """Evaluation years (1 December – 30 November) that ended before `today`."""
    month, day = last_day
    years = []
    year = first.year if (first.month, first.day) <= last_day else first.year + 1
    while date(year, month, day) < today:
        years.append(str(year))
        year += 1
    return years


def todays_reminders(today: date, first: date) -> list[str]:
    return [today.isoformat()]


@dataclass
class CatchUp:
    runner: ProjectionRunner
    store: DocumentStore
    read: ReadModels
    kinds: list[DocumentKind]

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
        return made


def standard_kinds(read: ReadModels, follow_up_interval_days: int) -> list[DocumentKind]:
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
    ]
