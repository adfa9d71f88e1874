"""`compute_evaluation` with its memo (issue 23: a view after one event rescored only what the
event can have changed) ranks exactly as computed afresh, through any sequence of changes:
an association's figures moving, a new best value moving everyone's points, associations
joining, deactivated or renamed, and the rules changing."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.evaluation import ScoreMemo, compute_evaluation, load_evaluation_rules
from projections.policy.evaluation_rules import METRICS

RULES = load_evaluation_rules("hunan-2022", paths=[])
COLUMNS = sorted({column for column, *_ in METRICS.values()})
IDS = [f"a{n}" for n in range(8)]

change = st.tuples(
    st.sampled_from(IDS),
    st.sampled_from([*COLUMNS, "active", "name"]),
    st.integers(min_value=0, max_value=5),
)


def _associations(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "association_id": a,
            "name": state["names"][a],
            "active": state["active"][a],
            "registered_on": "2020-01-01",
        }
        for a in IDS
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.lists(change, min_size=1, max_size=4), min_size=1, max_size=8))
def test_a_memoised_evaluation_is_the_evaluation_computed_afresh(
    steps: list[list[tuple[str, str, int]]],
) -> None:
    state: dict[str, Any] = {
        "figures": {a: {} for a in IDS},
        "active": dict.fromkeys(IDS, 1),
        "names": {a: f"商会{a}" for a in IDS},
    }
    memo: ScoreMemo = {}
    for step in steps:
        for association_id, column, value in step:
            if column == "active":
                state["active"][association_id] = value % 2
            elif column == "name":
                state["names"][association_id] = f"商会{value}"
            else:
                # A new dict, as the kept sums give one for each association summed again;
                # a few in place too, which the memo must not be fooled by.
                figures = state["figures"][association_id]
                if value % 2:
                    figures[column] = value * 10_000_00
                else:
                    state["figures"][association_id] = {**figures, column: value}
        figures = {a: f for a, f in state["figures"].items()}
        kept = compute_evaluation(RULES, 2025, figures, _associations(state), memo=memo)
        fresh = compute_evaluation(RULES, 2025, figures, _associations(state))
        assert kept.items == fresh.items
        assert kept.excluded == fresh.excluded


def test_the_memo_is_used_for_what_did_not_change() -> None:
    figures = {a: {"funds_fen": n * 100_000_00, "referrals": n} for n, a in enumerate(IDS)}
    associations = _associations({"names": {a: a for a in IDS}, "active": dict.fromkeys(IDS, 1)})
    memo: ScoreMemo = {}
    compute_evaluation(RULES, 2025, figures, associations, memo=memo)
    before = dict(memo)
    figures = {**figures, "a1": {"funds_fen": 150_000_00, "referrals": 1}}  # not the best
    compute_evaluation(RULES, 2025, figures, associations, memo=memo)
    assert [a for a in IDS if memo[a] is not before[a]] == ["a1"]
