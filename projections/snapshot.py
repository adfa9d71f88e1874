"""Whole-table snapshots of a projection's active generation, to compare two ways of building it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from projections.runtime import Projection


def table_contents(engine: Engine, projection: Projection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of each of the projection's tables, sorted, keyed by the table's base name."""
    contents = {}
    with engine.connect() as conn:
        for key, table in projection.tables.items():
            rows = conn.execute(select(table)).all()
            contents[key] = sorted(tuple(r) for r in rows)
    return contents
