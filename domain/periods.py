"""Business periods: quarters (季度) like `2023Q4` and months like `2023-10`, written once."""

from __future__ import annotations

from datetime import date


def quarter_of(day: date) -> str:
    """The quarter holding `day`: 2023-11-05 → `2023Q4`."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def parse_quarter(quarter: str) -> tuple[int, int]:
    """`2023Q4` → (2023, 4); anything else is a ValueError."""
    try:
        year_text, q_text = quarter.upper().split("Q")
        year, q = int(year_text), int(q_text)
    except ValueError:
        raise ValueError(f"{quarter!r} is not a quarter like 2023Q4") from None
    if not 1 <= q <= 4 or not 2000 <= year <= 2100:
        raise ValueError(f"{quarter!r} is not a quarter like 2023Q4")
    return year, q


def quarter_bounds(quarter: str) -> tuple[date, date]:
    """The first and last day of a quarter."""
    year, q = parse_quarter(quarter)
    start = date(year, 3 * (q - 1) + 1, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


def quarter_months(quarter: str) -> tuple[int, list[str]]:
    """`2023Q4` → (2023, ['2023-10', '2023-11', '2023-12'])."""
    year, q = parse_quarter(quarter)
    first = 3 * (q - 1) + 1
    return year, [f"{year}-{m:02d}" for m in range(first, first + 3)]


def quarters_between(first: date, last: date) -> list[str]:
    """Every quarter from the one holding `first` to the one holding `last`, inclusive."""
    result = []
    year, q = first.year, (first.month - 1) // 3 + 1
    end = (last.year, (last.month - 1) // 3 + 1)
    while (year, q) <= end:
        result.append(f"{year}Q{q}")
        year, q = (year + 1, 1) if q == 4 else (year, q + 1)
    return result
