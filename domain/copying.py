"""The copy a command works on: an aggregate's state copied as the tree it is.

A command loads its aggregate from the repository's cache as a copy, so that a refused or
conflicting command leaves the cached state untouched. The library copies with
`copy.deepcopy`, whose memo and reduce protocol cost more than the command itself on a
project with a few hundred events (issue 23: 28 % of the API's time under a write load).
Aggregate state here is a tree of plain values, dicts, lists and records, with nothing shared
and no cycles, so it is copied by walking it: values that cannot change are shared, every
container and record is new, except a frozen record holding only such values, which is
shared as they are. Anything else goes to `copy.deepcopy`.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Self
from uuid import UUID

UNCHANGING = frozenset(
    {str, int, float, bool, bytes, Decimal, date, datetime, time, timedelta, UUID, type(None)}
)


def tree_copy(value: Any) -> Any:
    kind = type(value)
    if kind in UNCHANGING:
        return value
    if kind is dict:
        return {key: tree_copy(item) for key, item in value.items()}
    if kind is list:
        return [tree_copy(item) for item in value]
    if kind is tuple:
        return tuple([tree_copy(item) for item in value])
    if kind is set or kind is frozenset:
        return kind(value)  # members are hashable, hence values that do not change
    state = getattr(value, "__dict__", None)
    if state is not None and _frozen(kind) and all(type(v) in UNCHANGING for v in state.values()):
        return value  # a frozen record of values that cannot change: shared, as they are
    if state is not None and not _slotted(kind):
        new = object.__new__(kind)
        new.__dict__.update({key: tree_copy(item) for key, item in state.items()})
        return new
    return copy.deepcopy(value)


_SLOTTED: dict[type, bool] = {}
_FROZEN: dict[type, bool] = {}


def _frozen(kind: type) -> bool:
    """Whether `kind` is a frozen dataclass (its fields cannot be set)."""
    known = _FROZEN.get(kind)
    if known is None:
        params = getattr(kind, "__dataclass_params__", None)
        known = _FROZEN[kind] = bool(params is not None and params.frozen)
    return known


def _slotted(kind: type) -> bool:
    """Whether instances keep state outside `__dict__` (non-empty `__slots__` in the MRO)."""
    known = _SLOTTED.get(kind)
    if known is None:
        known = _SLOTTED[kind] = any(klass.__dict__.get("__slots__") for klass in kind.__mro__)
    return known


class TreeCopied:
    """Aggregates copied by `tree_copy` when the repository hands a command its copy."""

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        copied: Self = tree_copy(self)
        return copied
