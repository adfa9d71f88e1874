"""The quarterly dispatch (季调度, clause 三(一)) drawn up from the read models as of the
quarter's last day: figures, each project's progress, stalled signings, overdue follow-ups."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from adapters.decoding import fewer_collections
from domain.periods import quarter_bounds
from domain.project import STAGE_LABELS, stage_from
from projections.queries import ReadModels, months_before

NEXT_STEPS = {
    "referred": "安排投资方考察",
    "visited": "组织对接洽谈",
    "negotiating": "推动签约",
    "signed": "推动工商注册与资金到位",
    "registered": "推动项目开工",
    "under_construction": "推动竣工投产",
    "in_production": "推动达产，定期回访",
    "at_capacity": "定期回访，服务企业",
}


def _on_or_before(day: str | None, end: str) -> bool:
    return day is not None and day <= end


def stage_as_of(doc: dict[str, Any], end: str) -> str:
    def reached(fact: str) -> bool:
        if fact in ("negotiations", "visits"):  # counted per month: (count, first, last)
            return any(first <= end for _, first, _ in doc["dates"][fact].values())
        return _on_or_before(doc[fact], end)

    return stage_from(reached)


def status_as_of(doc: dict[str, Any], end: str) -> str:
    status = "active"
    for day, new_status in sorted(doc["dates"]["status"]):
        if day <= end:
            status = new_status
    return status


def _fen_to_yuan(fen: int) -> str:
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
    for column, label in (
        ("signed_on", "签约"),
        ("registered_on", "注册"),
        ("construction_started_on", "开工"),
        ("production_started_on", "投产"),
        ("capacity_reached_on", "达产"),
    ):
        if within(doc[column]):
            items.append(f"{label}（{doc[column]}）")
    funds = sum(fen for day, fen, voided in doc["arrivals"].values() if not voided and within(day))
    if funds:
        items.append(f"资金到位{_fen_to_yuan(funds)}元")
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


def build_dispatch(
    read: ReadModels, quarter: str, follow_up_interval_days: int = 180
) -> dict[str, Any]:
    """The quarter's dispatch. Every project's ledger document is decoded into many small
    acyclic objects: the cyclic collector runs less often meanwhile (`fewer_collections`)."""
    with fewer_collections():
        return _build_dispatch(read, quarter, follow_up_interval_days)


def _build_dispatch(read: ReadModels, quarter: str, follow_up_interval_days: int) -> dict[str, Any]:
    start_day, end_day = quarter_bounds(quarter)
    start, end = start_day.isoformat(), end_day.isoformat()
    stalled_cutoff = months_before(end_day, 3).isoformat()
    overdue_cutoff = (end_day - timedelta(days=follow_up_interval_days)).isoformat()
    names = read.association_names()
    progress, stalled, overdue = [], [], []
    for doc in read.ledger_docs(end_day):
        status = status_as_of(doc, end)
        if status == "withdrawn":
            continue
        stage = stage_as_of(doc, end)
        associations = [a for a, _ in doc["referrals"]]
        items = progress_in(doc, start, end)
        problems = open_problems(doc, end)
        if items or problems:
            progress.append(
                {
                    "project_id": doc["project_id"],
                    "name": doc["name"],
                    "city": doc["city"],
                    "associations": [names.get(a, a) for a in associations],
                    "stage": stage,
                    "stage_label": STAGE_LABELS[stage],
                    "status": status,
                    "progress": items,
                    "open_problems": problems,
                    "next_step": NEXT_STEPS[stage],
                }
            )
        signed_on = doc["signed_on"]
        if signed_on and signed_on < stalled_cutoff:
            funded = any(not voided and day <= end for day, _, voided in doc["arrivals"].values())
            if not funded and not _on_or_before(doc["construction_started_on"], end):
                stalled.append(
                    {
                        "project_id": doc["project_id"],
                        "name": doc["name"],
                        "city": doc["city"],
                        "signed_on": signed_on,
                        "status": status,
                    }
                )
        started = doc["production_started_on"]
        if started and started <= end:
            visits = [last for _, _, last in doc["dates"]["follow_ups"].values() if last <= end]
            last_contact = max(visits) if visits else started
            if last_contact < overdue_cutoff:
                overdue.append(
                    {
                        "project_id": doc["project_id"],
                        "name": doc["name"],
                        "city": doc["city"],
                        "last_contact_on": last_contact,
                        "days_since": (end_day - date.fromisoformat(last_contact)).days,
                    }
                )
    return {
        "kind": "dispatch",
        "quarter": quarter,
        "period": {"start": start, "end": end},
        "follow_up_interval_days": follow_up_interval_days,
        "figures": read.dispatch_figures(quarter),
        "association_names": names,
        "progress": progress,
        "stalled_signings": stalled,
        "overdue_follow_ups": sorted(overdue, key=lambda r: (-r["days_since"], r["project_id"])),
    }


def dispatch_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What a revision changes: figures that moved, projects whose rows differ."""
    changes: dict[str, Any] = {
        "figures": {},
        "progress": [],
        "stalled_signings": [],
        "overdue_follow_ups": [],
    }
    old_province = old["figures"]["quarter_figures"]["province"]
    new_province = new["figures"]["quarter_figures"]["province"]
    for metric in sorted(set(old_province) | set(new_province)):
        before, after = old_province.get(metric, 0), new_province.get(metric, 0)
        if before != after:
            changes["figures"][metric] = {"before": before, "after": after}
    for section in ("progress", "stalled_signings", "overdue_follow_ups"):
        before_rows = {r["project_id"]: r for r in old[section]}
        after_rows = {r["project_id"]: r for r in new[section]}
        for project_id in sorted(set(before_rows) | set(after_rows)):
            if before_rows.get(project_id) != after_rows.get(project_id):
                change = (
                    "added"
                    if project_id not in before_rows
                    else ("removed" if project_id not in after_rows else "changed")
                )
                changes[section].append({"project_id": project_id, "change": change})
    return changes
