"""`api.encoding.KeptAnswers`: answers kept within their byte budget, least recently used out."""

from __future__ import annotations

from api.encoding import KeptAnswers


def test_an_answer_is_encoded_once_and_then_read_back() -> None:
    kept = KeptAnswers(budget=1000)
    calls: list[str] = []

    def encode() -> bytes:
        calls.append("x")
        return b"abc"

    assert kept.get(("project", "p", 1), encode) == b"abc"
    assert kept.get(("project", "p", 1), encode) == b"abc"
    assert calls == ["x"]
    assert kept.get(("project", "p", 2), lambda: b"new") == b"new"  # another version


def test_the_least_recently_read_go_first_once_over_budget() -> None:
    kept = KeptAnswers(budget=100)
    for name in "abcd":
        kept.get(name, lambda: b"x" * 25)
    kept.get("a", lambda: b"changed")  # read again: now the most recent
    kept.get("e", lambda: b"y" * 25)  # 125 bytes: one must go, and it is "b"
    assert len(kept) == 4
    assert kept.get("a", lambda: b"a was dropped") == b"x" * 25
    assert kept.get("b", lambda: b"b was dropped") == b"b was dropped"


def test_an_answer_larger_than_a_quarter_of_the_budget_is_not_kept() -> None:
    kept = KeptAnswers(budget=100)
    assert kept.get("big", lambda: b"z" * 26) == b"z" * 26
    assert len(kept) == 0
