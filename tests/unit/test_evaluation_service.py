"""`services.evaluations.EvaluationService`: a year's evaluation computed once per state of the
read models (their positions) and of the rules, and computed again when either moves; after a
move of the figures, only the associations the new events moved are summed again."""

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
        self.summed: list[set[str] | None] = []  # the associations of each sum (None: all)

    def position(self, name: str) -> int:
        return self.positions[name]

    def evaluation_entrants(self) -> list[dict[str, Any]]:
        self.computed += 1  # read once by each computation
        return [
            {"association_id": a, "name": f"商会{a}", "active": 1, "registered_on": "2020-01-01"}
            for a in sorted(self.funds)
        ]

    def association_sums(
        self, year: int, ends_month: int = 11, only: Collection[str] | None = None
    ) -> dict[str, dict[str, int]]:
        self.summed.append(None if only is None else set(only))
        return {
            a: {"funds_fen": fen, "referrals": 1}
            for a, fen in self.funds.items()
            if only is None or a in only
        }


def service(
    read: FakeReadModels, rules: list[EvaluationRules], moved: Any = None
) -> EvaluationService:
    return EvaluationService(read, lambda: rules[0], moved)  # type: ignore[arg-type]


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
    assert read.summed == [None, None]  # no counter moved: the kept sums served


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


def test_after_a_move_only_the_moved_associations_are_summed_again() -> None:
    read = FakeReadModels()
    read.funds["a3"] = 200_000_00
    rules = [load_evaluation_rules("hunan-2022", paths=[])]
    asked: list[tuple[int, int]] = []

    def moved(after: int, upto: int) -> set[str] | None:
        asked.append((after, upto))
        return {"a2"} if upto < 20 else None

    evaluations = service(read, rules, moved)
    first = evaluations.evaluation(2025)
    assert [i.association_id for i in first.items] == ["a1", "a3", "a2"]
    read.funds["a2"] = 900_000_00
    read.positions["figures"] = 11
    second = evaluations.evaluation(2025)
    assert asked == [(10, 11)] and read.summed == [None, {"a2"}]
    assert [i.association_id for i in second.items] == ["a2", "a1", "a3"]
    assert second.positions == {"figures": 11, "ledger": 10}
    # The same as every association summed afresh.
    fresh = service(read, rules).evaluation(2025)
    assert fresh.as_dict() == second.as_dict()

    read.funds["a2"] = 0  # its counters gone: none of its sums left
    del read.funds["a2"]
    read.positions["figures"] = 12
    third = evaluations.evaluation(2025)
    assert read.summed[-1] == {"a2"}
    assert third.as_dict() == service(read, rules).evaluation(2025).as_dict()

    read.positions["figures"] = 40  # too much moved to tell: everything summed again
    evaluations.evaluation(2025)
    assert read.summed[-1] is None


def test_a_move_while_the_sums_are_read_sums_the_later_moves_too() -> None:
    read = FakeReadModels()
    rules = [load_evaluation_rules("hunan-2022", paths=[])]
    asked: list[tuple[int, int]] = []

    def moved(after: int, upto: int) -> set[str] | None:
        asked.append((after, upto))
        if upto == 11:  # the runner commits while this move's sums are read
            read.positions["figures"] = 12
        return {"a1"}

    evaluations = service(read, rules, moved)
    evaluations.evaluation(2025)
    read.positions["figures"] = 11
    result = evaluations.evaluation(2025)
    assert asked == [(10, 11), (11, 12)]  # what moved after the first reading, read again
    assert result.positions["figures"] == 12
    assert read.summed == [None, {"a1"}, {"a1"}]
