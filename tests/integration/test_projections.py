"""Read models on a real database: hand-computed figures, exactly-once, rebuild, crash-resume."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select

from adapters.database import open_ledger
from demo.province import generate
from domain.application import Ledger
from projections.catalogue import all_projections
from projections.figures import FiguresProjection
from projections.ledger import LedgerProjection
from projections.queries import ReadModels
from projections.runtime import ProjectionRunner, engine_of, fields_read, projections_table
from projections.snapshot import table_contents
from tests import factories
from tests.conftest import OFFICER, STAFF

REPO = Path(__file__).resolve().parents[2]


def runner_for(ledger: Ledger, batch_size: int = 2000) -> ProjectionRunner:
    return ProjectionRunner(
        ledger, [LedgerProjection(), FiguresProjection()], batch_size=batch_size
    )


def fixture_history(ledger: Ledger) -> dict[str, str]:
    """Two associations, three projects; every figure below is counted by hand from this."""
    x = factories.association(ledger, "北京湖南商会")
    y = factories.association(ledger, "香港湖南商会", "overseas_chamber")
    ctx = ledger.context(OFFICER)
    p1 = factories.project(ledger, x, city="changsha", occurred_on="2023-01-05")
    ledger.record_visit(ctx, p1, occurred_on="2023-02-01")
    ledger.sign(ctx, p1, occurred_on="2023-03-10", contract_amount="80000000.00", currency="CNY")
    a1, _ = ledger.record_funds_arrival(
        ctx, p1, occurred_on="2023-10-15", amount="30000000.00", currency="CNY"
    )
    ledger.record_funds_arrival(
        ctx, p1, occurred_on="2024-01-20", amount="1000000.00", currency="USD", rate_to_cny="7.1000"
    )
    ledger.correct_funds_arrival(
        ctx,
        p1,
        a1,
        occurred_on="2024-02-01",
        amount="25000000.00",
        currency="CNY",
        reason="回单金额",
    )
    ledger.record_production(ctx, p1, "started", "2023-11-01")
    ledger.record_follow_up_visit(
        ctx,
        p1,
        occurred_on="2023-12-01",
        operating_status="normal",
        issues=[{"category": "用地", "description": "二期用地"}],
    )
    p2 = factories.project(ledger, x, y, city="yueyang", occurred_on="2023-11-20")  # 60 / 40
    ledger.sign(ctx, p2, occurred_on="2023-12-05", contract_amount="10000000.01", currency="CNY")
    ledger.record_funds_arrival(ctx, p2, occurred_on="2023-12-20", amount="0.05", currency="CNY")
    p3 = factories.project(ledger, y, city="yueyang", occurred_on="2022-06-01")
    ledger.sign(ctx, p3, occurred_on="2022-07-01", contract_amount="5000000.00", currency="CNY")
    ledger.record_production(ctx, p3, "started", "2024-01-01")
    ledger.record_activity(
        ledger.context(STAFF),
        x,
        kind="promotion",
        occurred_on="2023-12-10",
        description="推介会",
        count=200,
    )
    ledger.record_activity(
        ledger.context(STAFF),
        y,
        kind="talent",
        occurred_on="2023-11-30",
        description="引才",
        count=2,
    )
    return {"x": x, "y": y, "p1": str(p1), "p2": str(p2), "p3": str(p3)}


def generation_tables(engine: Any, generation: int) -> list[str]:
    """The read models' tables of `generation`, with whatever a table keeps beside it."""
    names = inspect(engine).get_table_names()
    return sorted(n for n in names if re.match(rf"rm_.*_g{generation}($|_)", n))


class TestReadModels:
    def test_ledger_rows_filters_and_pages(self, ledger: Ledger) -> None:
        ids = fixture_history(ledger)
        runner_for(ledger).run_once()
        read = ReadModels(engine_of(ledger))
        p1 = read.ledger_row(ids["p1"])
        assert p1 is not None
        assert (p1["stage"], p1["funds_total_fen"], p1["contract_amount_fen"]) == (
            "in_production",
            3_210_000_000,
            8_000_000_000,
        )
        assert (p1["last_follow_up_on"], p1["open_issues"], p1["version"]) == ("2023-12-01", 1, 9)
        assert read.funds_by_year(ids["p1"]) == {2023: 2_500_000_000, 2024: 710_000_000}
        page = read.ledger_page(city="yueyang", size=1)
        assert page.total == 2 and len(page.items) == 1
        assert page.items[0]["project_id"] == ids["p2"]  # newest referral first
        assert {r["association_id"] for r in page.items[0]["referrals"]} == {ids["x"], ids["y"]}
        assert read.ledger_page(association_id=ids["x"]).total == 2
        assert read.ledger_page(stage="signed").total == 1
        assert read.ledger_page(year=2024).total == 1  # p1 has 2024 funds; nothing referred in 2024
        assert read.ledger_page(industry="K").total == 0

    def test_dispatch_figures_for_a_quarter_by_hand(self, ledger: Ledger) -> None:
        ids = fixture_history(ledger)
        runner_for(ledger).run_once()
        figures = ReadModels(engine_of(ledger)).dispatch_figures("2023Q4")
        quarter = figures["quarter_figures"]
        # Q4 2023 funds: p1 corrected 30,000,000 → 25,000,000 (still October); p2 0.05 split 60/40.
        assert quarter["province"]["funds_fen"] == 2_500_000_005
        assert quarter["by_city"]["yueyang"] == {
            "referrals": 1,
            "signings": 1,
            "signed_amount_fen": 1_000_000_001,
            "funds_fen": 5,
        }
        x, y = quarter["by_association"][ids["x"]], quarter["by_association"][ids["y"]]
        assert x["funds_fen"] == 2_500_000_003 and y["funds_fen"] == 2
        assert x["signed_amount_fen"] == 600_000_001 and y["signed_amount_fen"] == 400_000_000
        assert (x["production_starts"], x["follow_ups"], x["issues_raised"], x["promotion"]) == (
            1,
            1,
            1,
            1,
        )
        assert (y["referrals"], y["talent"], y["activity_reach"]) == (1, 1, 2)
        year_to_date = figures["year_to_date"]["province"]
        assert (year_to_date["referrals"], year_to_date["signings"], year_to_date["visits"]) == (
            2,
            2,
            1,
        )

    def test_evaluation_indicators_follow_the_december_to_november_year(
        self, ledger: Ledger
    ) -> None:
        ids = fixture_history(ledger)
        runner_for(ledger).run_once()
        read = ReadModels(engine_of(ledger))
        y2024 = read.evaluation_indicators(2024)  # 2023-12-01 .. 2024-11-30
        assert y2024[ids["x"]]["promotion"] == 1 and "talent" not in y2024[ids["y"]]
        assert y2024[ids["x"]]["funds_fen"] == 3 + 710_000_000  # p2 in December, p1 in January
        y2023 = read.evaluation_indicators(2023)
        assert y2023[ids["y"]]["talent"] == 1 and y2023[ids["y"]]["referrals"] == 1  # p2 only

    def test_follow_up_due_list_and_stalled_signings(self, ledger: Ledger) -> None:
        ids = fixture_history(ledger)
        runner_for(ledger).run_once()
        read = ReadModels(engine_of(ledger))
        due = read.follow_ups_due(date(2024, 6, 1), 180)
        assert [r["project_id"] for r in due] == [ids["p1"]]  # last visit 2023-12-01: 183 days
        assert due[0]["overdue_days"] == 3
        later = read.follow_ups_due(date(2024, 7, 1), 180)
        assert [r["project_id"] for r in later] == [ids["p1"], ids["p3"]]
        stalled = read.stalled_signings(date(2024, 3, 1))
        assert [r["project_id"] for r in stalled] == [
            ids["p3"]
        ]  # signed 2022-07-01, no funds or works
        assert read.stalled_signings(date(2022, 10, 1)) == []

    def test_open_issue_rows_follow_raising_closing_and_withdrawal_and_equal_a_rebuild(
        self, ledger: Ledger
    ) -> None:
        ids = fixture_history(ledger)  # p1: one issue raised on 2023-12-01, open
        ctx = ledger.context(OFFICER)
        _, (kept, closed) = ledger.record_follow_up_visit(
            ctx,
            ids["p3"],
            occurred_on="2024-01-10",
            operating_status="normal",
            issues=[
                {"category": "用工", "description": "招工"},
                {"category": "融资", "description": "贷款"},
            ],
        )
        ledger.update_issue(
            ctx, ids["p3"], closed, status="closed", occurred_on="2024-02-01", note="已解决"
        )
        runner = runner_for(ledger, batch_size=3)  # raised and closed in different batches
        runner.run_once()
        read = ReadModels(engine_of(ledger))
        listed = [(i["project_id"], i["raised_on"], i["category"]) for i in read.open_issues()]
        assert listed == [(ids["p1"], "2023-12-01", "用地"), (ids["p3"], "2024-01-10", "用工")]
        assert read.open_issues()[1]["issue_id"] == kept
        assert [i["project_id"] for i in read.open_issues(raised_before=date(2024, 1, 10))] == [
            ids["p1"]
        ]
        assert [i["issue_id"] for i in read.open_issues({ids["p3"]})] == [kept]
        ledger.change_status(
            ctx, ids["p1"], occurred_on="2024-03-01", status="withdrawn", reason="撤资"
        )
        runner.run_once()
        assert [i["issue_id"] for i in read.open_issues()] == [kept]
        ledger_projection = runner.projections[0]
        incremental = table_contents(runner.engine, ledger_projection)
        assert len(incremental["open_issues"]) == 2  # the withdrawn project's row stays
        runner.rebuild(ledger_projection)
        assert table_contents(runner.engine, ledger_projection) == incremental

    def test_a_new_event_shows_within_one_second(self, ledger: Ledger) -> None:
        ids = fixture_history(ledger)
        runner = runner_for(ledger)
        runner.start(interval=0.05)
        try:
            read = ReadModels(engine_of(ledger))
            deadline = time.monotonic() + 5
            while read.position("ledger") < (ledger.recorder.max_notification_id() or 0):
                assert time.monotonic() < deadline
                time.sleep(0.02)
            ledger.record_visit(ledger.context(OFFICER), ids["p3"], occurred_on="2024-02-01")
            recorded = time.monotonic()
            while (read.ledger_row(ids["p3"]) or {}).get("visits") != 1:
                time.sleep(0.02)
                assert time.monotonic() - recorded < 1.0
        finally:
            runner.stop()
        assert runner.last_error is None

    def test_incremental_batches_equal_a_rebuild_and_the_switch_is_blue_green(
        self, ledger: Ledger
    ) -> None:
        generate(ledger, "tiny", seed=11)
        runner = runner_for(ledger, batch_size=37)
        runner.run_once()
        incremental = {p.name: table_contents(runner.engine, p) for p in runner.projections}
        for projection in runner.projections:
            old_tables = [t.name for t in projection.tables.values()]
            runner.rebuild(projection)
            assert projection.generation == 2
            assert table_contents(runner.engine, projection) == incremental[projection.name]
            from sqlalchemy import inspect

            assert not set(old_tables) & set(inspect(runner.engine).get_table_names())
        assert runner.run_once() == 0

    def test_every_projection_rebuilt_at_once_equals_the_incremental_tables(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """One rebuild of all five (the progress builder sharing the ledger's fold, each
        event decoded for the fields the projections name) gives the tables the runner's
        batches gave, as does a rebuild decoding every field (issue 23)."""
        generate(ledger, "tiny", seed=13)
        runner = ProjectionRunner(ledger, all_projections(), batch_size=41)
        assert len(runner.projections) == 5
        runner.run_once()
        incremental = {p.name: table_contents(runner.engine, p) for p in runner.projections}
        assert fields_read(runner.projections) is not None
        generation_1 = generation_tables(runner.engine, 1)
        assert any("_fts_g1" in name for name in generation_1) == (
            runner.engine.dialect.name == "sqlite"
        )
        runner.rebuild_many(runner.projections)
        rebuilt = {p.name: table_contents(runner.engine, p) for p in runner.projections}
        assert rebuilt == incremental
        # Dropped after the switch, table by table: nothing of the old generation is left, the
        # search's FTS5 index and the tables it keeps for itself included.
        assert generation_tables(runner.engine, 1) == []
        assert len(generation_tables(runner.engine, 2)) == len(generation_1)
        for projection in runner.projections:
            monkeypatch.setattr(type(projection), "event_fields", None)
        assert fields_read(runner.projections) is None
        runner.rebuild_many(runner.projections)
        whole = {p.name: table_contents(runner.engine, p) for p in runner.projections}
        assert whole == incremental
        assert runner.run_once() == 0

    def test_a_rebuild_switches_while_commands_record_as_fast_as_it_catches_up(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Each round of the catch-up finds a whole batch more: the rebuild switches once a
        round leaves it no nearer the head, and the runner applies the rest (issue 23)."""
        ids = fixture_history(ledger)
        runner = ProjectionRunner(ledger, all_projections(), batch_size=5)
        runner.run_once()
        read = runner.read
        rounds: list[int] = []

        def record(visits: int) -> None:
            for day in range(1, visits + 1):
                ledger.record_visit(
                    ledger.context(OFFICER), ids["p3"], occurred_on=f"2024-03-{day:02d}"
                )

        def read_while_commands_record(after: int, limit: int, *args: Any, **kw: Any) -> Any:
            catching_up = not args and not kw and len(rounds) < 30  # not the fold's reads
            if catching_up:
                rounds.append(after)
                record(limit)  # a whole batch waiting
            found = read(after, limit, *args, **kw)
            if catching_up:
                record(limit)  # and as many again while the round applies it
            return found

        monkeypatch.setattr(runner, "read", read_while_commands_record)
        runner.rebuild_many(runner.projections)
        assert len(rounds) == 2  # the first round sets the gap, the second does not close it
        head = ledger.recorder.max_notification_id()
        positions = runner.positions()
        assert all(position < head for position in positions.values())
        monkeypatch.setattr(runner, "read", read)
        assert runner.run_once() > 0
        assert set(runner.positions().values()) == {head}
        caught_up = {p.name: table_contents(runner.engine, p) for p in runner.projections}
        runner.rebuild_many(runner.projections)
        assert {p.name: table_contents(runner.engine, p) for p in runner.projections} == caught_up

    def test_a_batch_read_before_a_switch_behind_it_waits_for_the_positions_again(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The runner read its positions, then a rebuild elsewhere switched to a generation
        standing before them: the batch read from the old positions lacks the events between,
        so it is not applied; the positions are read again and every event goes in once."""
        ids = fixture_history(ledger)
        runner = ProjectionRunner(ledger, all_projections(), batch_size=50)
        runner.run_once()
        for day in range(1, 7):
            ledger.record_visit(
                ledger.context(OFFICER), ids["p3"], occurred_on=f"2024-03-{day:02d}"
            )
        third = runner.read(min(runner.positions().values()), 3)[-1][0]
        positions = runner.positions
        stale = iter([{p.name: third for p in runner.projections}])
        monkeypatch.setattr(runner, "positions", lambda: next(stale, None) or positions())
        assert runner.run_once() == 6  # the three after `third` refused, then all six
        assert set(runner.positions().values()) == {ledger.recorder.max_notification_id()}
        applied = {p.name: table_contents(runner.engine, p) for p in runner.projections}
        runner.rebuild_many(runner.projections)
        assert {p.name: table_contents(runner.engine, p) for p in runner.projections} == applied

    def test_a_changed_schema_version_rebuilds_itself(self, ledger: Ledger) -> None:
        fixture_history(ledger)
        runner_for(ledger).run_once()

        class LedgerV2(LedgerProjection):
            schema_version = LedgerProjection.schema_version + 1

        runner = ProjectionRunner(ledger, [LedgerV2()])
        with runner.engine.connect() as conn:
            row = conn.execute(
                select(projections_table).where(projections_table.c.name == "ledger")
            ).one()
        assert (row.generation, row.schema_version) == (2, LedgerV2.schema_version)
        assert row.position == ledger.recorder.max_notification_id()

    def test_a_second_runner_never_applies_an_event_twice(self, ledger: Ledger) -> None:
        generate(ledger, "tiny", seed=3)
        first, second = runner_for(ledger, batch_size=25), runner_for(ledger, batch_size=25)
        import threading

        threads = [threading.Thread(target=r.run_once) for r in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        counted = {p.name: table_contents(first.engine, p) for p in first.projections}
        for projection in first.projections:
            first.rebuild(projection)
            assert table_contents(first.engine, projection) == counted[projection.name]

    def test_killed_mid_run_resumes_to_the_same_tables(
        self, ledger: Ledger, database_url: str
    ) -> None:
        generate(ledger, "small", seed=5)
        head = ledger.recorder.max_notification_id() or 0
        runner_for(ledger)  # set up the registry before the child starts
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                (
                    "import sys; from adapters.database import open_ledger;"
                    "from tests.integration.test_projections import runner_for;"
                    "runner_for(open_ledger(sys.argv[1]), batch_size=40).run_once()"
                ),
                database_url,
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        read = ReadModels(engine_of(ledger))
        deadline = time.monotonic() + 60
        while read.position("figures") < 400:
            assert child.poll() is None, "the child finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert 0 < read.position("figures") < head
        runner = runner_for(ledger, batch_size=500)
        runner.run_once()
        resumed = {p.name: table_contents(runner.engine, p) for p in runner.projections}
        for projection in runner.projections:
            runner.rebuild(projection)
            assert table_contents(runner.engine, projection) == resumed[projection.name]


def test_rebuild_reports_progress(tmp_path: Path) -> None:
    ledger = open_ledger(
        f"sqlite:///{tmp_path / 'p.db'}", clock=lambda: datetime(2025, 3, 1, tzinfo=UTC)
    )
    generate(ledger, "tiny", seed=1)
    runner = runner_for(ledger)
    seen: list[tuple[int, int]] = []
    runner.rebuild(
        runner.projections[0], progress=lambda done, total: seen.append((done, total)), chunk=100
    )
    assert seen[-1][0] == seen[-1][1] == ledger.recorder.max_notification_id()
    assert len(seen) > 1
    ledger.close()
