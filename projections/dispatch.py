"""The quarterly dispatch (季调度, clause 三(一)) drawn up from the read models as of the
quarter's last day: figures, each project's progress, stalled signings, overdue follow-ups."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from adapters.decoding import fewer_collections
from domain.periods import quarter_bounds
from domain.project import STAGE_LABELS
from projections.as_of import (
    on_or_before,
    open_problems,
    progress_in,
    stage_as_of,
    status_as_of,
)
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


def build_dispatch(
    read: ReadModels, quarter: str, follow_up_interval_days: int = 180
) -> dict[str, Any]:
    """The quarter's dispatch, from the per-quarter progress read model: only the projects
    that can appear in it are read, each as one small row (`projections.progress`)."""
    start_day, end_day = quarter_bounds(quarter)
    start, end = start_day.isoformat(), end_day.isoformat()
    stalled_cutoff = months_before(end_day, 3).isoformat()
    overdue_cutoff = (end_day - timedelta(days=follow_up_interval_days)).isoformat()
    names = read.association_names()
    progress, stalled, overdue = [], [], []
    for row in read.dispatch_rows(quarter, stalled_cutoff, overdue_cutoff):
        # The row stands for every quarter up to its project's next dated fact; progress is
        # its own quarter's only.
        items = json.loads(row["progress"]) if row["quarter"] == quarter else []
        problems = json.loads(row["open_problems"])
        stage, status = row["stage"], row["status"]
        if items or problems:
            progress.append(
                {
                    "project_id": row["project_id"],
                    "name": row["name"],
                    "city": row["city"],
                    "associations": [names.get(a, a) for a in json.loads(row["associations"])],
                    "stage": stage,
                    "stage_label": STAGE_LABELS[stage],
                    "status": status,
                    "progress": items,
                    "open_problems": problems,
                    "next_step": NEXT_STEPS[stage],
                }
            )
        signed_on = row["signed_on"]
        if signed_on and signed_on < stalled_cutoff:
            funded = on_or_before(row["first_funded_on"], end)
            if not funded and not on_or_before(row["construction_started_on"], end):
                stalled.append(
                    {
                        "project_id": row["project_id"],
                        "name": row["name"],
                        "city": row["city"],
                        "signed_on": signed_on,
                        "status": status,
                    }
                )
        started = row["production_started_on"]
        if started and started <= end:
            last_contact = row["last_follow_up_on"] or started
            if last_contact < overdue_cutoff:
                overdue.append(
                    {
                        "project_id": row["project_id"],
                        "name": row["name"],
                        "city": row["city"],
                        "last_contact_on": last_contact,
                        "days_since": (end_day - date.fromisoformat(last_contact)).days,
                    }
                )
    return _dispatch(
        read, quarter, start, end, follow_up_interval_days, names, progress, stalled, overdue
    )


def _dispatch(
    read: ReadModels,
    quarter: str,
    start: str,
    end: str,
    follow_up_interval_days: int,
    names: dict[str, str],
    progress: list[dict[str, Any]],
    stalled: list[dict[str, Any]],
    overdue: list[dict[str, Any]],
) -> dict[str, Any]:
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


def build_dispatch_from_ledger(
    read: ReadModels, quarter: str, follow_up_interval_days: int = 180
) -> dict[str, Any]:
    """The quarter's dispatch drawn from every project's ledger document, as it was made before
    the progress read model: kept as the reference `build_dispatch` is tested against. Every
    document is decoded into many small acyclic objects: the cyclic collector runs less
    often meanwhile (`fewer_collections`)."""
    with fewer_collections():
        return _build_dispatch_from_ledger(read, quarter, follow_up_interval_days)


def _build_dispatch_from_ledger(
    read: ReadModels, quarter: str, follow_up_interval_days: int
) -> dict[str, Any]:
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
            if not funded and not on_or_before(doc["construction_started_on"], end):
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
    return _dispatch(
        read, quarter, start, end, follow_up_interval_days, names, progress, stalled, overdue
    )


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
