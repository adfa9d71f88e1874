"""Property: any valid command sequence replays to the same state, and the state as of
version N equals the state folded from the first N events."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import errors
from domain.application import Ledger
from domain.project import Project
from tests import factories
from tests.conftest import NOW, OFFICER

COMMANDS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "visit",
                "negotiate",
                "sign",
                "register",
                "construct",
                "funds",
                "correct",
                "void",
                "produce",
                "capacity",
                "follow_up",
                "close_issue",
                "attest",
                "stall",
                "reactivate",
                "reclassify",
            ]
        ),
        st.integers(min_value=0, max_value=900),  # days after the referral
        st.decimals(min_value="0.01", max_value="99999999.99", places=2),
    ),
    max_size=25,
)


def _run(app: Ledger, project_id: Any, command: str, offset: int, amount: Any) -> None:
    day = date(2022, 6, 1) + timedelta(days=offset)
    ctx = app.context(OFFICER)
    project = app.get_project(project_id)
    arrivals = [a for a in project.arrivals if not project.arrivals[a].voided]
    calls = {
        "visit": lambda: app.record_visit(ctx, project_id, occurred_on=day),
        "negotiate": lambda: app.record_negotiation(ctx, project_id, occurred_on=day),
        "sign": lambda: app.sign(
            ctx, project_id, occurred_on=day, contract_amount=amount, currency="CNY"
        ),
        "register": lambda: app.register_company(ctx, project_id, occurred_on=day),
        "construct": lambda: app.start_construction(ctx, project_id, occurred_on=day),
        "funds": lambda: app.record_funds_arrival(
            ctx, project_id, occurred_on=day, amount=amount, currency="EUR", rate_to_cny="7.8123"
        ),
        "correct": lambda: app.correct_funds_arrival(
            ctx,
            project_id,
            arrivals[0],
            occurred_on=day,
            amount=amount,
            currency="CNY",
            reason="fix",
        ),
        "void": lambda: app.void_funds_arrival(
            ctx, project_id, arrivals[-1], occurred_on=day, reason="dup"
        ),
        "produce": lambda: app.record_production(ctx, project_id, "started", day),
        "capacity": lambda: app.record_production(ctx, project_id, "capacity_reached", day),
        "follow_up": lambda: app.record_follow_up_visit(
            ctx,
            project_id,
            occurred_on=day,
            operating_status="normal",
            tax=amount,
            issues=[{"category": "用地", "description": "d"}],
        ),
        "close_issue": lambda: app.update_issue(
            ctx, project_id, next(iter(project.issues)), status="closed", occurred_on=day, note="ok"
        ),
        "attest": lambda: app.record_attestation(
            ctx,
            project_id,
            kind="positive_local_impact",
            occurred_on=day,
            granted=offset % 2 == 0,
            reason="r",
        ),
        "stall": lambda: app.change_status(
            ctx, project_id, occurred_on=day, status="stalled", reason="r"
        ),
        "reactivate": lambda: app.change_status(
            ctx, project_id, occurred_on=day, status="active", reason="r"
        ),
        "reclassify": lambda: app.reclassify(
            ctx, project_id, occurred_on=day, industry="M", reason="r", approver="a"
        ),
    }
    # Refused commands are part of a realistic sequence; they must store nothing.
    with contextlib.suppress(errors.DomainError, IndexError, StopIteration):
        calls[command]()


def _state(project: Project) -> dict[str, Any]:
    state = dict(vars(project))
    state.pop("_pending_events", None)
    return state


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(commands=COMMANDS)
def test_replay_and_as_of_version_equal_the_folds(commands: list[tuple[str, int, Any]]) -> None:
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=lambda: NOW)
    project_id = factories.project(app)
    for command, offset, amount in commands:
        _run(app, project_id, command, offset, amount)

    current = app.get_project(project_id)
    replayed = app.get_project(project_id)
    assert _state(current) == _state(replayed)

    events = app.project_events(project_id)
    assert [e.originator_version for e in events] == list(range(1, current.version + 1))
    for n in range(1, current.version + 1):
        folded: Project | None = None
        for event in events[:n]:
            folded = event.mutate(folded)
        assert folded is not None
        assert _state(app.project_as_of_version(project_id, n)) == _state(folded)
    # The state as of a date late enough includes every event.
    assert _state(app.project_as_of(project_id, "2025-03-01")) == _state(current)
