"""The evaluation's shortcuts (conditions on few distinct inputs checked once per input and year,
`exact`, the collector's hand-over) give exactly the answers of evaluating each project alone."""

from __future__ import annotations

import gc
from decimal import Decimal
from itertools import product

from projections.policy import evaluate, evaluate_project
from projections.policy.engine import cyclic_gc_paused, exact
from tests.unit.policy_support import arrival, facts, policy, rows


def _projects() -> list:  # type: ignore[type-arg]
    """Projects that vary every input the liuyang-openness conditions, table rows and bonus
    look at: origin, industry, designations, sources and currencies of the year's funds."""
    made = []
    for n, (origin, industry, fortune, source) in enumerate(
        product(
            ("overseas", "other_province", "in_province"),
            ("C", "K"),
            (True, False),
            ("overseas", "other_province"),
        )
    ):
        made.append(
            facts(
                f"p{n:02d}",
                origin=origin,
                industry=industry,
                designations=("fortune_global_500",) if fortune else (),
                arrivals=[
                    arrival("2024-03-01", f"{60_000_000 + n * 1_000_000}.00", source),
                    arrival("2024-09-01", "45000000.00", "other_province"),
                ],
                referrers=(("A", "60"), ("B", "40")) if n % 2 else (("C", "100"),),
                county="浏阳市",
                city="changsha",
            )
        )
    return made


def test_a_year_evaluated_together_equals_each_project_evaluated_alone() -> None:
    rules = policy("liuyang-openness-2024")
    projects = _projects()
    together = evaluate(rules, 2024, projects)
    for project in projects:
        alone = evaluate_project(rules, 2024, project)
        shared = together.projects.get(project.project_id)
        if alone is None:
            assert shared is None
            continue
        assert shared is not None
        assert (shared.status, shared.project_reward, shared.base, shared.parts) == (
            alone.status,
            alone.project_reward,
            alone.base,
            alone.parts,
        )
        assert [s.text("zh") for s in shared.steps] == [s.text("zh") for s in alone.steps]
        assert [s.text("en") for s in shared.steps] == [s.text("en") for s in alone.steps]
    statuses = {r["status"] for r in rows(together).values()}
    assert "eligible" in statuses and len(statuses) > 1  # the cases go down different branches
    rewards = {r.project_reward for r in together.projects.values() if r.eligible}
    assert len(rewards) > 2


def test_exact_keeps_digits_beyond_the_fen_and_pads_to_the_fen() -> None:
    assert str(exact(Decimal("20000.00500"))) == "20000.005"
    assert str(exact(Decimal("85200.000000"))) == "85200.00"
    assert str(exact(Decimal("1E+3"))) == "1000.00"
    assert str(exact(Decimal("7"))) == "7.00"
    assert str(exact(Decimal("0.1234567"))) == "0.1234567"


def test_the_collector_is_back_on_after_an_evaluation() -> None:
    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
