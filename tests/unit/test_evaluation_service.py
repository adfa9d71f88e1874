"""`services.evaluations.EvaluationService`: a year's evaluation computed once per state of the
read models (their positions) and of the rules, and computed again when either moves."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

from projections.evaluation import EvaluationRules, load_evaluation_rules
from services.evaluations import EvaluationService


class FakeReadModels:
    """What `projections.evaluation.evaluate` reads, counted: positions, associations and the
    evaluation indicators (funds in fen)."""

    def __init__(self) -> None:
        self.positions = {"figures": 10, "ledger": 10}
        self.funds = {"a1": 300_000_00, "a2": 100_000_00}
        self.computed = 0

    def position(self, name: str) -> int:
        return self.positions[name]

    def associations(self) -> list[dict[str, Any]]:
        return [
            {"association_id": a, "name": f"商会{a}", "active": 1, "registered_on": "2020-01-01"}
            for a in sorted(self.funds)
        ]

    def evaluation_indicators(
        self, year: int, ends_month: int = 11, associations: Collection[str] | None = None
    ) -> dict[str, dict[str, int]]:
        self.computed += 1
        return {a: {"funds_fen": fen, "referrals": 1} for a, fen in self.funds.items()}


def service(read: FakeReadModels, rules: list[EvaluationRules]) -> EvaluationService:
    return EvaluationService(read, lambda: rules[0])  # type: ignore[arg-type]


def test_the_same_state_is_computed_once_and_a_moved_projection_computes_again() -> None:
    read = FakeReadModels()
    rules = [load_evaluation_rules("hunan-2022", paths=[])]
    evaluations = service(read, rules)
    first = evaluations.evaluation(2025)
    assert [i.association_id for i in first.items] == ["a1", "a2"]
    assert evaluations.evaluation(2025) is first and read.computed == 1

    read.funds["a2"] = 900_000_00  # an event applied: the figures projection moved on
    read.positions["figures"] = 11
    moved = evaluations.evaluation(2025)
    assert read.computed == 2
    assert [i.association_id for i in moved.items] == ["a2", "a1"]  # the fresh ranking

    read.positions["ledger"] = 12
    evaluations.evaluation(2025)
    assert read.computed == 3


def test_each_year_is_kept_apart_and_reloaded_rules_compute_again() -> None:
    read = FakeReadModels()
    rules = [load_evaluation_rules("hunan-2022", paths=[])]
    evaluations = service(read, rules)
    a = evaluations.evaluation(2024)
    b = evaluations.evaluation(2025)
    assert a.year == 2024 and b.year == 2025 and read.computed == 2
    assert evaluations.evaluation(2024) is a and read.computed == 2

    rules[0] = dataclasses.replace(rules[0])  # `POST /policies/reload`: new rules
    assert evaluations.evaluation(2024) is not a and read.computed == 3
