"""A command's copy of an aggregate (`domain.copying`): equal to the library's deep copy and
sharing nothing that can change with the cached original."""

from __future__ import annotations

import copy
import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from demo.province import generate
from domain.application import Ledger
from domain.copying import UNCHANGING, tree_copy
from domain.project import Project


@pytest.fixture(scope="module")
def tiny() -> Ledger:
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    generate(app, "tiny", seed=5)
    return app


def _aggregates(app: Ledger) -> list[Any]:
    ids = {n.originator_id for n in app.recorder.select_notifications(1, 1_000_000)}
    return [app.repository.get(UUID(str(i))) for i in ids]


def _plain(value: Any) -> Any:
    """The value as nested builtins, with each object's type, to compare two copies."""
    if type(value) in UNCHANGING:
        return (type(value), value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return (type(value), [_plain(v) for v in value])
    if isinstance(value, set | frozenset):
        return (type(value), value)
    return (type(value), _plain(vars(value)))


def _shared_mutables(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths at which the two trees hold the same container or record (a frozen record of
    values that cannot change may be shared: nothing can change it)."""
    if type(a) in UNCHANGING or isinstance(a, frozenset):
        return []
    frozen = getattr(type(a), "__dataclass_params__", None)
    if (
        frozen is not None
        and frozen.frozen
        and all(type(v) in UNCHANGING for v in vars(a).values())
    ):
        return []
    if a is b:
        return [path or "(root)"]
    if isinstance(a, dict):
        return [p for k in a for p in _shared_mutables(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list | tuple):
        return [
            p
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for p in _shared_mutables(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, set):
        return []
    return _shared_mutables(vars(a), vars(b), path)


def test_every_aggregate_of_a_province_copies_equal_and_apart(tiny: Ledger) -> None:
    aggregates = _aggregates(tiny)
    kinds = {type(a).__name__ for a in aggregates}
    assert {"Project", "Association"} <= kinds
    for aggregate in aggregates:
        copied = copy.deepcopy(aggregate)  # what the repository hands a command
        assert type(copied) is type(aggregate)
        assert _plain(copied) == _plain(aggregate)
        assert _shared_mutables(aggregate, copied) == []


def test_a_command_on_the_copy_leaves_the_cached_project_as_it_was(tiny: Ledger) -> None:
    project = next(
        a for a in _aggregates(tiny) if isinstance(a, Project) and a.arrivals and a.follow_ups
    )
    before = _plain(project)
    copied = copy.deepcopy(project)
    arrival_id, arrival = next(iter(copied.arrivals.items()))
    copied.arrivals[arrival_id] = dataclasses.replace(arrival, voided=True)
    copied.follow_ups[0].issue_ids.append("X")
    copied.referrals[0]["share"] = Decimal(0)
    copied.arrivals.clear()
    assert _plain(project) == before


class _Slotted:
    __slots__ = ("items",)

    def __init__(self, items: list[int]) -> None:
        self.items = items


@dataclasses.dataclass(frozen=True)
class _Dated:
    day: date
    label: str


@dataclasses.dataclass(frozen=True)
class _Holding:
    day: date
    items: list[int]


def test_a_frozen_record_is_shared_only_when_it_holds_nothing_changeable() -> None:
    dated = _Dated(date(2024, 1, 2), "x")
    assert tree_copy(dated) is dated
    holding = _Holding(date(2024, 1, 2), [1])
    copied = tree_copy(holding)
    assert copied is not holding and copied.items == [1] and copied.items is not holding.items


def test_what_is_not_a_plain_tree_goes_to_the_library_deep_copy() -> None:
    original: dict[str, Any] = {"slotted": _Slotted([1, 2]), "day": date(2024, 1, 2), "tags": {"a"}}
    copied = tree_copy(original)
    assert copied["slotted"] is not original["slotted"]
    assert copied["slotted"].items == [1, 2]
    assert copied["slotted"].items is not original["slotted"].items
    assert copied["day"] is original["day"]
    assert copied["tags"] == {"a"} and copied["tags"] is not original["tags"]
