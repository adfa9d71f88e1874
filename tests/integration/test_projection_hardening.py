"""Read models that no accepted input can stop (DESIGN §21), on SQLite and PostgreSQL: totals
past 64 bits are projected exactly, and a projection that cannot apply an event stops alone,
loudly (log, `rm_projection_faults`, `projections status`), while the others go on."""

from __future__ import annotations

import logging
from argparse import Namespace
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, Table

from cli import projections as cli
from domain.application import Ledger
from domain.project import Project
from projections.faults import stopped_projections
from projections.figures import FiguresProjection
from projections.ledger import LedgerProjection
from projections.queries import ReadModels
from projections.runtime import Handler, Projection, ProjectionRunner, engine_of
from services import bootstrap
from services.settings import Settings
from tests import factories
from tests.conftest import OFFICER

MAX_FEN = 10**13 * 100  # the largest accepted arrival, in fen
ARRIVALS = 9_300  # 9,300 × 10^15 fen > 2^63 - 1


class Exploding(Projection):
    """A read model with a bug: it cannot apply a signing."""

    name = "exploding"

    def define_tables(self, metadata: MetaData, generation: int) -> dict[str, Table]:
        return {}

    def handlers(self) -> dict[type, Handler]:
        return {Project.Signed: self.on_signed, Project.Referred: lambda event: None}

    def on_signed(self, event: Any) -> None:
        raise KeyError("no such contract")

    def begin_batch(self, conn: Connection, events: Sequence[Any]) -> None:
        pass


def test_totals_past_64_bits_are_projected_exactly(ledger: Ledger) -> None:
    association = factories.association(ledger, "北京湖南商会")
    project_id = factories.signed_project(ledger, association, signed_on="2023-01-10")
    ctx = ledger.context(OFFICER)
    project = ledger.get_project(project_id)
    for n in range(ARRIVALS):
        project.record_funds_arrival(ctx, f"arrival-{n}", "2023-02-01", "10000000000000.00", "CNY")
    ledger.save_or_conflict(project)
    ProjectionRunner(ledger, [LedgerProjection(), FiguresProjection()]).run_once()

    total = ARRIVALS * MAX_FEN
    assert total > 2**63
    read = ReadModels(engine_of(ledger))
    row = read.ledger_row(str(project_id))
    assert row is not None and row["funds_total_fen"] == total
    assert read.funds_by_year(str(project_id)) == {2023: total}
    quarter = read.dispatch_figures("2023Q1")["quarter_figures"]
    assert quarter["province"]["funds_fen"] == total
    assert quarter["by_association"][association]["funds_fen"] == total
    assert stopped_projections(engine_of(ledger)) == []


def test_a_projection_that_cannot_apply_an_event_stops_alone_and_loudly(
    ledger: Ledger,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> None:
    association = factories.association(ledger, "北京湖南商会")
    unsigned = factories.project(ledger, association)
    signed = factories.signed_project(ledger, association)
    runner = ProjectionRunner(ledger, [LedgerProjection(), Exploding()], batch_size=3)

    with caplog.at_level(logging.ERROR, logger="zhaoshang.projections"):
        runner.run_once()

    [fault] = stopped_projections(engine_of(ledger))
    signing = ledger.project_events(signed)[-1]
    assert (fault.name, fault.stream_id, fault.version) == ("exploding", str(signed), 2)
    assert isinstance(signing, Project.Signed) and fault.event_type == "Project.Signed"
    assert "KeyError" in fault.error
    assert any(
        r.levelno == logging.ERROR
        and str(signed) in r.getMessage()
        and "version 2" in r.getMessage()
        for r in caplog.records
    )
    head = ledger.recorder.max_notification_id()
    positions = runner.positions()
    assert positions["ledger"] == head and positions["exploding"] == fault.notification_id - 1

    # The others go on: a later project reaches the ledger; the stopped one stays put.
    later = factories.project(ledger, association, name="后来的项目")
    runner.run_once()
    read = ReadModels(engine_of(ledger))
    assert read.ledger_row(str(later)) is not None and read.ledger_row(str(unsigned)) is not None
    assert runner.positions()["exploding"] == fault.notification_id - 1

    # `zhaoshang projections status` names it, and answers 1.
    monkeypatch.setattr(bootstrap, "all_projections", lambda: [LedgerProjection(), Exploding()])
    code = cli._status(Namespace(catch_up=False), Settings(database_url=database_url))
    out = capsys.readouterr().out
    assert code == 1
    assert f"STOPPED at stream {signed} version 2" in out and "ledger: position" in out
