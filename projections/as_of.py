"""A project's ledger document drawn up as of a day: its stage, its status, what happened to it
within a span of days and the problems still open — for the quarterly dispatch and for the
progress read model that precomputes it per quarter (`projections.progress`)."""

from __future__ import annotations

from typing import Any

from domain.project import stage_from

# The milestones a quarter's progress names, in the order it names them.
MILESTONE_WORDS = (
    ("signed_on", "签约"),
    ("registered_on", "注册"),
    ("construction_started_on", "开工"),
    ("production_started_on", "投产"),
    ("capacity_reached_on", "达产"),
)


def on_or_before(day: str | None, end: str) -> bool:
    return day is not None and day <= end


def stage_as_of(doc: dict[str, Any], end: str) -> str:
    def reached(fact: str) -> bool:
        if fact in ("negotiations", "visits"):  # counted per month: (count, first, last)
            return any(first <= end for _, first, _ in doc["dates"][fact].values())
        return on_or_before(doc[fact], end)

    return stage_from(reached)


def status_as_of(doc: dict[str, Any], end: str) -> str:
    status = "active"
    for day, new_status in sorted(doc["dates"]["status"]):
        if day <= end:
            status = new_status
    return status


def fen_to_yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def progress_in(doc: dict[str, Any], start: str, end: str) -> list[str]:
    """What happened to a project inside [start, end], in words for the dispatch."""

    def within(day: str | None) -> bool:
        return day is not None and start <= day <= end

    items = []
    for key, label in (("visits", "考察"), ("negotiations", "洽谈"), ("follow_ups", "回访")):
        # Per month: exact for whole months, which is what a quarter is.
        count = sum(
            n for month, (n, _, _) in doc["dates"][key].items() if start[:7] <= month <= end[:7]
        )
        if count:
            items.append(f"{label}{count}次")
    for column, label in MILESTONE_WORDS:
        if within(doc[column]):
            items.append(f"{label}（{doc[column]}）")
    funds = sum(fen for day, fen, voided in doc["arrivals"].values() if not voided and within(day))
    if funds:
        items.append(f"资金到位{fen_to_yuan(funds)}元")
    raised = sum(1 for raised_on, _, _ in doc["issues"].values() if within(raised_on))
    closed = sum(1 for _, closed_on, _ in doc["issues"].values() if within(closed_on))
    if raised:
        items.append(f"新提问题诉求{raised}项")
    if closed:
        items.append(f"办结问题诉求{closed}项")
    return items


def open_problems(doc: dict[str, Any], end: str) -> list[str]:
    return sorted(
        category
        for raised_on, closed_on, category in doc["issues"].values()
        if raised_on <= end and (closed_on is None or closed_on > end)
    )
