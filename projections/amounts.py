"""Read-model columns for totals that no sum of accepted inputs can overflow (DESIGN §21).

A single accepted amount is at most 10^13 yuan (10^15 fen) and fits a 64-bit column, but a sum
of them has no bound: a project may receive any number of arrivals. SQLite's INTEGER is 64-bit
and its NUMERIC turns larger integers into floats, so totals are kept as their decimal text on
both databases and summed in Python, whose integers do not overflow. Python code sees `int`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class WholeNumberText(TypeDecorator[int]):
    """An integer of any size, stored as its decimal text (`"-12"`, `"0"`, `"10000…"`).

    Equality with a Python int works in SQL (`column == 0` compares with `"0"`, since the text is
    always canonical); ordering and arithmetic do not, so sums are taken in Python."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"a whole number is expected, not {value!r}")
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)
