"""Scheduled documents: exactly once across processes, caught up after downtime, never partial,
revised (not overwritten) when late events change a closed quarter."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.documents import DocumentStore
from adapters.lock import SingleRunnerLock
from domain.application import Ledger
from projections.evaluation import load_evaluation_rules
from projections.runtime import engine_of
from scheduler.catch_up import closed_evaluation_years, closed_quarters
from services.background import BackgroundWork
from tests import factories
from tests.conftest import OFFICER
from tests.conftest import services_for as all_services

REPO = Path(__file__).resolve().parents[2]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def history(ledger: Ledger) -> dict[str, Any]:
    """A project referred in 2023Q3 (2023-08-01) with funds in 2023Q4."""
    association_id = factories.association(ledger, occurred_on="2023-07-15")
    project_id = factories.project(ledger, association_id, occurred_on="2023-08-01")
    ctx = ledger.context(OFFICER)
    ledger.sign(
        ctx, project_id, occurred_on="2023-09-01", contract_amount="1000000.00", currency="CNY"
    )
    ledger.record_funds_arrival(
        ctx, project_id, occurred_on="2023-11-01", amount="500000.00", currency="CNY"
    )
    return {"project_id": project_id}


def services_for(ledger: Ledger, url: str, now: datetime) -> BackgroundWork:
    services = all_services(ledger, url, clock=lambda: now, projection_poll_seconds=0.05)
    return services.background()


def dispatch_periods(store: DocumentStore) -> list[tuple[str, int]]:
    return [(d.period, d.revision) for d in store.list("dispatch")]


class TestScheduler:
    def test_downtime_across_one_and_two_quarter_boundaries_is_caught_up(
        self, ledger: Ledger, database_url: str, clock: list[datetime]
    ) -> None:
        clock[0] = at("2024-01-10T02:00:00")
        history(ledger)
        services = services_for(ledger, database_url, at("2024-01-10T02:00:00"))
        made = services.catch_up(at("2024-01-10T02:00:00"))
        assert [(d.kind, d.period) for d in made] == [
            ("dispatch", "2023Q3"),
            ("dispatch", "2023Q4"),
            ("follow_up_reminders", "2024-01-10"),
            ("evaluation", "2023"),  # the evaluation year ended on 30 November 2023
            ("settlement", "hunan-2022/2022"),  # 2022 is settled from 15 January 2023
        ]
        # Down from January to May: one quarter boundary (2024Q1 closed on 31 March), and
        # 15 January passed: 2023 is settled.
        made = services.catch_up(at("2024-05-02T02:00:00"))
        assert [(d.kind, d.period) for d in made] == [
            ("dispatch", "2024Q1"),
            ("follow_up_reminders", "2024-05-02"),
            ("settlement", "hunan-2022/2023"),
        ]
        settled = services.settlements.describe("hunan-2022", 2023)
        assert settled["revision"] == 0 and settled["document_intact"] is True
        # Down from May to the next January: two boundaries (2024Q2 and 2024Q3 closed).
        made = services.catch_up(at("2024-11-20T02:00:00"))
        assert [d.period for d in made if d.kind == "dispatch"] == ["2024Q2", "2024Q3"]
        store = services.store
        assert dispatch_periods(store) == [
            (q, 0) for q in ["2023Q3", "2023Q4", "2024Q1", "2024Q2", "2024Q3"]
        ]
        q4 = store.latest("dispatch", "2023Q4")
        assert q4 is not None
        assert q4.content["figures"]["quarter_figures"]["province"]["funds_fen"] == 50_000_000
        assert services.catch_up(at("2024-11-20T03:00:00")) == []

    def test_start_up_catches_up_in_the_background(self, ledger: Ledger, database_url: str) -> None:
        history(ledger)
        services = services_for(ledger, database_url, at("2024-07-02T02:00:00"))
        assert services.start()
        try:
            assert services.scheduler is not None
            jobs = {job.id: job for job in services.scheduler.get_jobs()}
            assert set(jobs) == {"catch_up_quarterly", "catch_up_daily"}
            # Runs missed during downtime are never dropped by APScheduler's grace period.
            assert all(job.misfire_grace_time is None for job in jobs.values())
            assert str(jobs["catch_up_daily"].trigger.timezone) == "Asia/Shanghai"
            deadline = time.monotonic() + 20
            while len(dispatch_periods(services.store)) < 4:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            services.stop()
        assert [p for p, _ in dispatch_periods(services.store)] == [
            "2023Q3",
            "2023Q4",
            "2024Q1",
            "2024Q2",
        ]
        assert services.scheduler is None  # stopped with the services

    def test_four_processes_make_each_document_once(
        self, ledger: Ledger, database_url: str
    ) -> None:
        history(ledger)
        env = {**os.environ, "ZHAOSHANG_DATABASE_URL": database_url, "PYTHONPATH": str(REPO)}
        command = [
            sys.executable,
            "-m",
            "cli.main",
            "scheduler",
            "catch-up",
            "--now",
            "2024-11-20T10:00",
        ]
        children = [
            subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        outputs = [c.communicate(timeout=120)[0] for c in children]
        assert all(c.returncode == 0 for c in children), outputs
        store = DocumentStore(engine_of(ledger))
        counts = Counter((d.kind, d.period, d.revision) for d in store.list())
        assert set(counts.values()) == {1}
        assert sorted(p for k, p, _ in counts if k == "dispatch") == [
            "2023Q3",
            "2023Q4",
            "2024Q1",
            "2024Q2",
            "2024Q3",
        ]
        total_reported = sum(int(o.strip().splitlines()[-1].split()[0]) for o in outputs)
        assert total_reported == len(counts)  # together the four made each document exactly once

    def test_a_crash_mid_generation_leaves_no_partial_document(
        self, ledger: Ledger, database_url: str
    ) -> None:
        history(ledger)
        services = services_for(ledger, database_url, at("2024-07-02T02:00:00"))
        dispatch = services.catch_up.kinds[0]
        original = dispatch.build

        def crash_on_2024q1(period: str) -> dict[str, Any]:
            if period == "2024Q1":
                raise RuntimeError("power cut")
            return original(period)

        dispatch.build = crash_on_2024q1
        with pytest.raises(RuntimeError):
            services.catch_up(at("2024-07-02T02:00:00"))
        assert dispatch_periods(services.store) == [("2023Q3", 0), ("2023Q4", 0)]
        dispatch.build = original
        made = services.catch_up(at("2024-07-02T02:00:00"))
        assert [d.period for d in made if d.kind == "dispatch"] == ["2024Q1", "2024Q2"]

    def test_a_killed_process_leaves_whole_documents_and_the_next_run_completes(
        self, ledger: Ledger, database_url: str
    ) -> None:
        history(ledger)
        slow = (
            "import sys, time; from services.bootstrap import bootstrap;"
            "from services.settings import Settings;"
            "from tests.integration.test_scheduler import at;"
            "s = bootstrap(Settings(database_url=sys.argv[1])).background();"
            "kind = s.catch_up.kinds[0]; build = kind.build;"
            "kind.build = lambda p: (time.sleep(0.6), build(p))[1];"
            "s.catch_up(at('2025-01-10T02:00:00'))"
        )
        child = subprocess.Popen(
            [sys.executable, "-c", slow, database_url],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        store = DocumentStore(engine_of(ledger))
        deadline = time.monotonic() + 60
        while len(store.list("dispatch")) < 2:
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
        before = store.list("dispatch")
        assert 2 <= len(before) < 6 and all(d.content["quarter"] == d.period for d in before)
        services = services_for(ledger, database_url, at("2025-01-10T02:00:00"))
        services.catch_up(at("2025-01-10T02:00:00"))
        assert [p for p, _ in dispatch_periods(store)] == [
            "2023Q3",
            "2023Q4",
            "2024Q1",
            "2024Q2",
            "2024Q3",
            "2024Q4",
        ]

    def test_late_events_produce_a_revision_that_references_the_original(
        self, ledger: Ledger, database_url: str, clock: list[datetime]
    ) -> None:
        ids = history(ledger)
        services = services_for(ledger, database_url, at("2024-02-01T02:00:00"))
        services.catch_up(at("2024-02-01T02:00:00"))
        original = services.store.latest("dispatch", "2023Q4")
        assert original is not None and original.revision == 0
        clock[0] = at("2024-02-05T02:00:00")
        ledger.record_visit(
            ledger.context(OFFICER), ids["project_id"], occurred_on="2023-12-15"
        )  # late
        made = services.catch_up(at("2024-02-05T02:00:00"))
        assert [(d.period, d.revision) for d in made if d.kind == "dispatch"] == [("2023Q4", 1)]
        revision = made[0]
        assert revision.revises == original.id
        assert revision.changes is not None
        assert revision.changes["figures"]["visits"] == {"before": 0, "after": 1}
        assert services.store.get("dispatch", "2023Q4", 0) == original  # never overwritten
        q3 = services.store.latest("dispatch", "2023Q3")
        assert q3 is not None and q3.revision == 0  # unaffected quarters are not revised

    def test_only_one_process_holds_the_runner_lock(self, database_url: str) -> None:
        first, second = SingleRunnerLock(database_url), SingleRunnerLock(database_url)
        assert first.acquire()
        try:
            assert not second.acquire()
        finally:
            first.release()
        assert second.acquire()
        second.release()


def test_closed_periods() -> None:
    from datetime import date

    assert closed_quarters(date(2024, 4, 1), date(2023, 11, 5)) == ["2023Q4", "2024Q1"]
    assert closed_quarters(date(2024, 3, 31), date(2024, 1, 5)) == []
    due = closed_evaluation_years(load_evaluation_rules())
    assert due(date(2024, 12, 1), date(2022, 12, 15)) == ["2023", "2024"]
    assert due(date(2024, 11, 30), date(2023, 6, 1)) == ["2023"]


class TestCatchUpByTheRealClock:
    """`scheduler catch-up --now` never freezes a period still open by the real clock
    (issue 13 item 7); `--dry-run` shows what would be made and stores nothing."""

    def run(self, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "ZHAOSHANG_DATABASE_URL": database_url, "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "cli.main", "scheduler", "catch-up", *args]
        return subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )

    def test_a_now_after_the_real_clock_is_refused_and_stores_nothing(
        self, ledger: Ledger, database_url: str
    ) -> None:
        history(ledger)
        result = self.run(database_url, "--now", "2999-01-16T02:00:00+08:00")
        assert result.returncode == 2, result.stdout + result.stderr
        assert "after the real clock" in result.stderr
        assert DocumentStore(engine_of(ledger)).list() == []

    def test_a_dry_run_shows_what_would_be_made_and_stores_nothing(
        self, ledger: Ledger, database_url: str
    ) -> None:
        history(ledger)
        result = self.run(database_url, "--now", "2024-11-20T10:00", "--dry-run")
        assert result.returncode == 0, result.stderr
        assert "would make dispatch 2023Q3 revision 0 (new)" in result.stdout
        assert "would make dispatch 2024Q3 revision 0 (new)" in result.stdout
        assert "(dry run)" in result.stdout
        assert DocumentStore(engine_of(ledger)).list() == []
