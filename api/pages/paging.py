"""One page of a long table on a page (issue 20: page server time at province scale): its rows,
where they start, the table's total and the links to the pages around it. The pages render
50 rows at a time; the downloads keep every row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

ROWS_PER_PAGE = 50


@dataclass(frozen=True)
class TablePage:
    rows: Sequence[Any]
    total: int
    page: int
    pages: int
    first: int  # the number of the page's first row, from 1
    previous_link: str | None
    next_link: str | None


def table_page(
    rows: Sequence[Any], page: int, link: Callable[[int], str], size: int = ROWS_PER_PAGE
) -> TablePage:
    """`rows` cut to page `page` (kept within the table's pages) of `size`; `link` names the
    address of another page of the same table."""
    pages = max(1, -(-len(rows) // size))
    page = min(max(page, 1), pages)
    start = (page - 1) * size
    return TablePage(
        rows=rows[start : start + size],
        total=len(rows),
        page=page,
        pages=pages,
        first=start + 1,
        previous_link=link(page - 1) if page > 1 else None,
        next_link=link(page + 1) if page < pages else None,
    )
