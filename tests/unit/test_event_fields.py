"""A rebuild decodes only the event fields the projections name (`Projection.event_fields`,
issue 23): every attribute their handlers read from an event must be named, or a rebuild would
meet an event without it. Read from the handlers' source, so a new handler reading a new field
fails here rather than in a rebuild."""

from __future__ import annotations

import ast
import inspect
from types import ModuleType

import pytest

from projections import figures, ledger, progress, rewards, search
from projections.catalogue import all_projections
from projections.policy import fold
from projections.runtime import Projection, fields_read

# Each projection's handlers live in these modules (progress reuses the ledger's; the rewards
# projection folds through `FactsFold`).
HANDLER_MODULES: dict[str, tuple[ModuleType, ...]] = {
    "ledger": (ledger,),
    "progress": (progress, ledger),
    "figures": (figures,),
    "rewards": (rewards, fold),
    "search": (search,),
}
EVENT_NAMES = {"event", "e", "domain_event"}
ALWAYS = {"originator_id", "originator_version"}


def attributes_read(module: ModuleType) -> set[str]:
    """Attributes read from a name `event`/`e` anywhere in the module (and no `getattr` on
    one, which this check could not follow)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in EVENT_NAMES
        ):
            found.add(node.attr)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "vars"}
            and node.args
        ):
            argument = node.args[0]
            assert not (isinstance(argument, ast.Name) and argument.id in EVENT_NAMES), (
                f"{module.__name__} reads an event with {node.func.id}()"
            )
    return found


@pytest.mark.parametrize("projection", all_projections(), ids=lambda p: p.name)
def test_every_field_a_handler_reads_is_named(projection: Projection) -> None:
    assert projection.event_fields is not None
    read = set().union(*(attributes_read(m) for m in HANDLER_MODULES[projection.name]))
    assert read - ALWAYS <= projection.event_fields, read - ALWAYS - projection.event_fields
    # Named but never read would only cost decoding: keep the lists tight too.
    assert projection.event_fields <= read, projection.event_fields - read


def test_the_check_itself_sees_attribute_reads() -> None:
    assert {"occurred_on", "tax", "referrals"} <= attributes_read(fold)
    assert "count" in attributes_read(figures)


def test_a_projection_that_names_none_makes_the_rebuild_decode_everything() -> None:
    class Unnamed(Projection):
        name = "unnamed"

    projections = all_projections()
    assert fields_read(projections) == frozenset().union(
        *(p.event_fields or () for p in projections)
    )
    assert fields_read([*projections, Unnamed()]) is None
