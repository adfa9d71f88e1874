"""The import command in the domain (`Ledger.import_ledger`, `ImportBatch`), without a
database: every row or none, fine rows only on request, a batch recorded once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain import errors
from domain.application import Ledger
from domain.import_batch import ImportBatch, LedgerRow, import_batch_id, project_id_for_number
from tests import factories
from tests.conftest import STAFF


def ledger_row(n: int, association_id: str, **overrides: object) -> LedgerRow:
    values: dict[str, object] = {
        "row": n,
        "number": f"XM-{n}",
        "name": f"项目{n}",
        "investor": "某某集团",
        "association_id": association_id,
        "industry": "制造业",
        "project_type": "ordinary",
        "origin": "境外",
        "city": "长沙",
        "planned_investment": Decimal("1000000.00"),
        "referred_on": date(2023, 1, 5),
        "signed_on": date(2023, 2, 1),
        "contract_amount": Decimal("900000.00"),
        "arrived_on": date(2023, 3, 1),
        "arrival_amount": Decimal("100.50"),
    }
    values.update(overrides)
    return LedgerRow(**values)  # type: ignore[arg-type]


def test_every_row_or_none_and_the_batch_once(memory_ledger: Ledger) -> None:
    app = memory_ledger
    a = factories.association(app)
    rows = [ledger_row(2, a), ledger_row(3, a, arrived_on=date(2023, 1, 20))]
    kwargs = {"batch_id": "b" * 64, "file_sha256": "f" * 64, "file_name": "台账.xlsx"}
    outcome = app.import_ledger(app.context(STAFF), rows=rows, **kwargs)  # type: ignore[arg-type]
    assert not outcome.recorded and set(outcome.projects) == {2}
    (problem,) = outcome.problems[3]
    assert (problem.field, problem.code) == ("arrived_on", "stage_order")
    assert app.find_import_batch("b" * 64) is None

    outcome = app.import_ledger(
        app.context(STAFF),
        rows=rows,
        fine_rows_only=True,
        **kwargs,  # type: ignore[arg-type]
    )
    assert outcome.recorded
    project = app.get_project(project_id_for_number("XM-2"))
    assert project.funds_total_cny == Decimal("100.50") and project.origin == "overseas"
    batch = app.find_import_batch("b" * 64)
    assert isinstance(batch, ImportBatch) and batch.id == import_batch_id("b" * 64)
    assert (batch.rows_recorded, batch.rows_refused, batch.by["id"]) == (1, 1, STAFF.id)
    assert [b["batch_id"] for b in app.import_batches()] == ["b" * 64]
    with pytest.raises(errors.AlreadyImported):
        app.import_ledger(app.context(STAFF), rows=rows, **kwargs)  # type: ignore[arg-type]


def test_a_preview_records_nothing_and_an_unknown_association_is_a_row_problem(
    memory_ledger: Ledger,
) -> None:
    app = memory_ledger
    a = factories.association(app)
    rows = [ledger_row(2, a), ledger_row(3, "0c7d0000-0000-4000-8000-000000000000")]
    outcome = app.import_ledger(
        app.context(STAFF),
        batch_id="c" * 64,
        file_sha256="f" * 64,
        file_name="x.csv",
        rows=rows,
        record=False,
    )
    assert not outcome.recorded and outcome.problems[3][0].code == "unknown_association"
    assert outcome.problems[3][0].field == "association_id"
    with pytest.raises(errors.NotFound):
        app.get_project(project_id_for_number("XM-2"))


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"signed_on": None}, "signed_on", "validation_error"),
        ({"contract_amount": None}, "contract_amount", "validation_error"),
        ({"arrival_amount": None}, "arrival_amount", "validation_error"),
        ({"referred_on": date(2999, 1, 1)}, "referred_on", "date_in_future"),
        ({"planned_investment": Decimal("-1")}, "planned_investment", "invalid_amount"),
        ({"city": "广州"}, "city", "validation_error"),
        ({"production_started_on": date(2023, 1, 10)}, "production_started_on", "stage_order"),
    ],
)
def test_each_refusal_names_the_ledger_field(
    memory_ledger: Ledger, overrides: dict[str, object], field: str, code: str
) -> None:
    app = memory_ledger
    a = factories.association(app)
    outcome = app.import_ledger(
        app.context(STAFF),
        batch_id="d" * 64,
        file_sha256="f" * 64,
        file_name="x.xlsx",
        rows=[ledger_row(2, a, **overrides)],
        record=False,
    )
    (problem,) = outcome.problems[2]
    assert (problem.field, problem.code) == (field, code)
