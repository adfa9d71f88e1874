"""`KeptRows`: what a live projection wrote is offered to its next batch only at the generation
and position it was written at, only once that batch's write has settled, and never more
than its limit."""

from __future__ import annotations

import pytest

from projections.runtime import KeptRows


def _written(kept: KeptRows, generation: int, after: int, upto: int, **rows: object) -> None:
    """A batch of events `after` .. `upto` that writes `rows`, its write committed."""
    kept.begin(generation, after)
    for key, value in rows.items():
        kept.keep(key, value, lambda value=value: value)
    kept.settle(generation, upto)


def test_a_batch_at_the_settled_position_takes_what_the_last_wrote() -> None:
    kept = KeptRows()
    _written(kept, 1, 0, 10, a={"visits": 1}, b={"visits": 2})
    kept.begin(1, 10)
    assert kept.take(["a", "c"]) == {"a": {"visits": 1}}
    assert kept.take(["a"]) == {}  # taken out: the batch changes it in place
    assert len(kept) == 1


@pytest.mark.parametrize("generation, position", [(1, 11), (2, 10)])
def test_a_batch_anywhere_else_finds_nothing_kept(generation: int, position: int) -> None:
    kept = KeptRows()
    _written(kept, 1, 0, 10, a={"visits": 1})
    kept.begin(generation, position)  # another runner went on, or a rebuild switched
    assert kept.take(["a"]) == {}


def test_a_batch_that_never_settles_leaves_nothing_for_the_next() -> None:
    kept = KeptRows()
    _written(kept, 1, 0, 10, a={"visits": 1}, b={"visits": 2})
    kept.begin(1, 10)
    kept.keep("a", {"visits": 9}, lambda: {"visits": 9})
    # its write failed: no settle; the next batch starts from the same registration
    kept.begin(1, 10)
    assert kept.take(["a", "b"]) == {}


def test_nothing_is_kept_outside_a_batch() -> None:
    kept = KeptRows()
    kept.keep("a", {"visits": 1}, lambda: {"visits": 1})  # a rebuild's catch-up
    kept.settle(1, 10)
    kept.begin(1, 10)
    assert kept.take(["a"]) == {}


def test_the_oldest_rows_go_beyond_the_limit() -> None:
    kept = KeptRows(limit=2)
    _written(kept, 1, 0, 10, a=1, b=2)
    _written(kept, 1, 10, 11, c=3)
    kept.begin(1, 11)
    assert kept.take(["a", "b", "c"]) == {"b": 2, "c": 3}


def test_a_kept_state_unlike_its_stored_row_fails_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(KeptRows, "check", True)
    kept = KeptRows()
    kept.begin(1, 0)
    with pytest.raises(AssertionError, match="differs from its stored row"):
        kept.keep("a", {"referrals": [("x", 1)]}, lambda: {"referrals": [["x", 1]]})
