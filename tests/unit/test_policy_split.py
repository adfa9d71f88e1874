"""The one largest-remainder split (`domain.values.largest_remainder`) and its tie rules, and the
worked cases' copy kept in the repository (`tests/cases/`)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from domain.values import KEY_ONLY, LARGER_SHARE_THEN_KEY, largest_remainder
from projections.figures import split_fen
from tests import reward_cases

TESTS = Path(__file__).resolve().parent.parent


def test_parts_add_up_and_the_left_over_fen_goes_to_the_largest_remainder() -> None:
    # 100 fen by 1:1:1 → 33.33 each; floors 33+33+33 = 99, one fen left, remainders equal
    # (1 each): equal weights too, so the smallest key takes it.
    assert largest_remainder(100, [1, 1, 1], ["c", "a", "b"]) == [33, 34, 33]
    # 10 fen by 3:3:4 → 3, 3, 4 exactly: nothing left over.
    assert largest_remainder(10, [3, 3, 4], ["a", "b", "c"]) == [3, 3, 4]
    # 7 fen by 10:20:70 → 0.7, 1.4, 4.9: floors 0+1+4 = 5; two left: remainders 0.9 (c), 0.7 (a).
    assert largest_remainder(7, [10, 20, 70], ["a", "b", "c"]) == [1, 1, 5]


def test_remainders_decide_first_then_equal_weights_go_by_the_smaller_key() -> None:
    # 5 fen by 25:25:50 → 1.25, 1.25, 2.5: floors 1+1+2 = 4, one left; the largest remainder
    # (0.5, "z") takes it.
    assert largest_remainder(5, [25, 25, 50], ["a", "b", "z"]) == [1, 1, 3]
    # 2 fen by 1:1:2 → 0.5, 0.5, 1: floors 0+0+1 = 1, one left; "b" and "a" tie on the
    # remainder and the weight, so the smaller key "a" takes it.
    assert largest_remainder(2, [1, 1, 2], ["b", "a", "c"]) == [0, 1, 1]


def test_the_larger_share_wins_a_remainder_tie_before_the_key_unless_the_rule_says_key_only() -> (
    None
):
    # 2 fen by 1:3 → 0.5 and 1.5: floors 0+1 = 1, one fen left; the remainders tie (0.5 each).
    assert largest_remainder(2, [1, 3], ["a", "z"]) == [0, 2]  # the larger share, "z"
    assert largest_remainder(2, [1, 3], ["a", "z"], tie_rule=LARGER_SHARE_THEN_KEY) == [0, 2]
    assert largest_remainder(2, [1, 3], ["a", "z"], tie_rule=KEY_ONLY) == [1, 1]  # key "a"


def test_a_negative_total_mirrors_the_positive_split() -> None:
    assert largest_remainder(-2, [1, 3], ["a", "z"]) == [0, -2]
    assert largest_remainder(0, [0, 0], ["a", "b"]) == [0, 0]


def test_an_unknown_tie_rule_or_missing_key_is_refused() -> None:
    with pytest.raises(ValueError, match="tie rule"):
        largest_remainder(1, [1], ["a"], tie_rule="coin")
    with pytest.raises(ValueError, match="key"):
        largest_remainder(1, [1, 1], ["a"])


def test_the_funds_figures_split_with_the_same_rule_as_the_rewards() -> None:
    # 2 fen of an arrival shared 25 % / 75 %: 0.5 and 1.5 fen, the left-over fen tied on the
    # remainder goes to the larger share (B), as the reward split of the Hunan measures does.
    assert split_fen(2, [("A", "25"), ("B", "75")]) == [("A", 0), ("B", 2)]


def test_the_worked_cases_are_kept_in_the_repository_as_the_shared_folder_has_them() -> None:
    bundled = TESTS / "cases" / "hunan-2022-rewards.yaml"
    assert bundled.is_file()
    shared = reward_cases.shared_dir()
    assert shared is not None and (shared / reward_cases.CASES_FILE).is_file()
    if shared != TESTS:  # the shared folder is beside the repository here: the copy is the same
        assert (shared / reward_cases.CASES_FILE).read_bytes() == bundled.read_bytes()
    assert reward_cases.CASES, "the cases are loaded, not a skipped placeholder"


def test_a_fresh_clone_without_the_shared_folder_plays_the_bundled_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A clone somewhere with no `shared/` beside it and no ZHAOSHANG_SHARED_DIR.
    clone_tests = tmp_path / "clone" / "tests"
    shutil.copytree(TESTS / "cases", clone_tests / "cases")
    shutil.copy(TESTS / "reward_cases.py", clone_tests / "reward_cases.py")
    monkeypatch.delenv("ZHAOSHANG_SHARED_DIR", raising=False)
    spec = importlib.util.spec_from_file_location(
        "clone_reward_cases", clone_tests / "reward_cases.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # A `shared/` folder beside an ancestor of the temporary folder (a machine's own layout)
    # is found first, as it would be for a clone placed there; otherwise the bundled copy.
    beside = [
        parent / "shared"
        for parent in (clone_tests / "reward_cases.py").resolve().parents
        if (parent / "shared" / reward_cases.CASES_FILE).is_file()
    ]
    expected = beside[0] if beside else clone_tests.resolve()
    assert module.shared_dir() == expected
    assert module.CASES and module.POLICY_ID == reward_cases.POLICY_ID
    # A ZHAOSHANG_SHARED_DIR without the cases falls back to the copy rather than skipping.
    monkeypatch.setenv("ZHAOSHANG_SHARED_DIR", str(tmp_path / "empty"))
    assert module.shared_dir() == expected
