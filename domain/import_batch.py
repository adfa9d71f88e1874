"""Ledger imports (DESIGN §19): the `ImportBatch` aggregate and the rows an import records.

A batch is named by the SHA-256 of its file and column mapping (`batch_id`); its aggregate has a
deterministic id from that name, so a batch is recorded once however often it is sent. Each
`LedgerRow` (one row of a 项目台账, its cells already read into typed values by the importer)
becomes one project: its referral and the events its columns imply (signing, one funds arrival,
production start), every event with `source: import:<batch_id>`. A row with a 项目编号 gets a
project id derived from the number, so the same number is never recorded as two projects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import errors
from domain.copying import TreeCopied
from domain.events import Context, EnvelopedEvent, envelope
from domain.project import Project

_NAMESPACE = uuid5(NAMESPACE_URL, "https://zhaoshang.invalid/imports")


def import_batch_id(batch_id: str) -> UUID:
    """The aggregate id of the batch named `batch_id` (a SHA-256 in hex)."""
    return uuid5(_NAMESPACE, f"batch:{batch_id}")


def project_id_for_number(number: str) -> UUID:
    """The project id of a ledger's 项目编号: one number is one project, whoever imports it."""
    return uuid5(_NAMESPACE, f"project-number:{number.strip()}")


def import_source(batch_id: str) -> str:
    return f"import:{batch_id}"


class ImportBatch(TreeCopied, Aggregate):
    """One imported file: who, when, which file, how many rows were recorded and refused."""

    class_version = 1

    def __init__(self) -> None:
        pass

    class Event(EnvelopedEvent):
        pass

    class Imported(Event, Aggregate.Created):
        batch_id: str
        file_sha256: str
        file_name: str
        rows_recorded: int
        rows_refused: int
        rows_duplicate: int
        fine_rows_only: bool

        def apply(self, aggregate: ImportBatch) -> None:
            aggregate.batch_id = self.batch_id
            aggregate.file_sha256 = self.file_sha256
            aggregate.file_name = self.file_name
            aggregate.rows_recorded = self.rows_recorded
            aggregate.rows_refused = self.rows_refused
            aggregate.rows_duplicate = self.rows_duplicate
            aggregate.fine_rows_only = self.fine_rows_only
            aggregate.by = dict(self.actor)
            aggregate.imported_on = self.occurred_on

    batch_id: str
    file_sha256: str
    file_name: str
    rows_recorded: int
    rows_refused: int
    rows_duplicate: int
    fine_rows_only: bool
    by: dict[str, str]
    imported_on: date

    @classmethod
    def record(
        cls,
        ctx: Context,
        *,
        batch_id: str,
        file_sha256: str,
        file_name: str,
        rows_recorded: int,
        rows_refused: int,
        rows_duplicate: int,
        fine_rows_only: bool,
    ) -> ImportBatch:
        for name, count in (
            ("rows_recorded", rows_recorded),
            ("rows_refused", rows_refused),
            ("rows_duplicate", rows_duplicate),
        ):
            if count < 0:
                raise errors.OutOfRange("a row count is never negative", field=name)
        return cls._create(
            cls.Imported,
            id=import_batch_id(batch_id),
            **envelope(ctx, ctx.today),
            batch_id=batch_id,
            file_sha256=file_sha256,
            file_name=file_name[:255],
            rows_recorded=rows_recorded,
            rows_refused=rows_refused,
            rows_duplicate=rows_duplicate,
            fine_rows_only=fine_rows_only,
        )


def batch_summary(event: ImportBatch.Imported) -> dict[str, Any]:
    """A batch as `GET /imports` lists it: who, when, which file, rows recorded and refused."""
    return {
        "batch_id": event.batch_id,
        "by": event.actor.get("id", ""),
        "at": event.timestamp.isoformat(),
        "file_sha256": event.file_sha256,
        "file_name": event.file_name,
        "rows_recorded": event.rows_recorded,
        "rows_refused": event.rows_refused,
        "rows_duplicate": event.rows_duplicate,
        "fine_rows_only": event.fine_rows_only,
    }


@dataclass(frozen=True)
class LedgerRow:
    """One ledger row as typed values (the importer read the cells; the domain checks them).

    Field names are those of `IMPORT_FIELDS`; a problem names the field it concerns."""

    row: int
    name: Any
    investor: Any
    association_id: str
    industry: Any
    project_type: Any
    origin: Any
    city: Any
    planned_investment: Any
    referred_on: Any
    number: str | None = None
    county: Any = None
    park: Any = None
    signed_on: date | None = None
    contract_amount: Decimal | None = None
    arrived_on: date | None = None
    arrival_amount: Decimal | None = None
    production_started_on: date | None = None


@dataclass(frozen=True)
class RowProblem:
    """Why a row is not recorded: the field it concerns, the stable code, the English reason
    (translated at the edge)."""

    field: str
    code: str
    message: str


@dataclass
class ImportOutcome:
    """What an import did: the projects each fine row became, the problems of the others."""

    projects: dict[int, UUID] = field(default_factory=dict)
    problems: dict[int, list[RowProblem]] = field(default_factory=dict)
    recorded: bool = False


# A refusal's field, as the step that raised it names it, → the ledger field it concerns.
_REFERRAL_FIELDS = {"occurred_on": "referred_on", "referrals": "association_id"}


def build_project(ctx: Context, project_id: UUID, row: LedgerRow) -> Project:
    """The project a row describes, with its pending events; a refusal is a `RowRefused`."""
    row_ctx = dataclasses.replace(ctx, evidence=(f"项目编号 {row.number}",)) if row.number else ctx
    project: Project = _step(
        "referred_on",
        _REFERRAL_FIELDS,
        lambda: Project.refer(
            row_ctx,
            project_id=project_id,
            name=row.name,
            investor=row.investor,
            industry=row.industry,
            project_type=row.project_type,
            origin=row.origin,
            city=row.city,
            planned_investment=row.planned_investment,
            referrals=[{"association_id": row.association_id, "share": 100}],
            occurred_on=row.referred_on,
            county=row.county,
            park=row.park,
        ),
    )
    if row.signed_on is not None or row.contract_amount is not None:
        if row.signed_on is None:
            raise RowRefused(
                "signed_on",
                errors.InvalidInput("a contract amount needs its signing date", field="signed_on"),
            )
        if row.contract_amount is None:
            raise RowRefused(
                "contract_amount",
                errors.InvalidInput(
                    "a signing date needs its contract amount", field="contract_amount"
                ),
            )
        _step(
            "signed_on",
            {"occurred_on": "signed_on"},
            lambda: project.sign(row_ctx, row.signed_on, row.contract_amount, "CNY"),
        )
    if row.arrived_on is not None or row.arrival_amount is not None:
        if row.arrived_on is None:
            raise RowRefused(
                "arrived_on",
                errors.InvalidInput("an arrival amount needs its date", field="arrived_on"),
            )
        if row.arrival_amount is None:
            raise RowRefused(
                "arrival_amount",
                errors.InvalidInput("an arrival date needs its amount", field="arrival_amount"),
            )
        arrival_id = str(uuid5(project_id, "import-arrival"))
        _step(
            "arrived_on",
            {"occurred_on": "arrived_on", "amount": "arrival_amount"},
            lambda: project.record_funds_arrival(
                row_ctx, arrival_id, row.arrived_on, row.arrival_amount, "CNY"
            ),
        )
    if row.production_started_on is not None:
        _step(
            "production_started_on",
            {"occurred_on": "production_started_on"},
            lambda: project.start_production(row_ctx, row.production_started_on),
        )
    return project


class RowRefused(Exception):
    """A row's refusal by the domain, with the ledger field it concerns."""

    def __init__(self, field_name: str, error: errors.DomainError) -> None:
        super().__init__(error.message)
        self.problem = RowProblem(field_name, error.code, error.message)


def _step(main_field: str, fields: dict[str, str], command: Callable[[], Any]) -> Any:
    try:
        return command()
    except errors.DomainError as e:
        name = fields.get(e.field or "", e.field) if e.field else main_field
        if name not in LEDGER_FIELDS:
            name = main_field
        raise RowRefused(name, e) from None


LEDGER_FIELDS = frozenset(f.name for f in dataclasses.fields(LedgerRow)) - {"row"}
