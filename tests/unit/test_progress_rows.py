"""A project's quarter rows (`projections.progress.quarter_rows`), computed in one sweep, are
those of drawing the project up quarter by quarter with `projections.as_of` — the functions the
dispatch used before the progress read model — for every project of a generated province and
for documents built to hit the edges (same-day status changes, voided and corrected arrivals,
issues closed in the quarter they were raised, facts on a quarter's first and last day)."""

from __future__ import annotations

import copy
import json
from typing import Any

from demo.province import generate
from domain.application import Ledger
from domain.project import Project
from projections.as_of import open_problems, progress_in, stage_as_of, status_as_of
from projections.ledger import LedgerProjection
from projections.progress import (
    ProgressProjection,
    dated_days,
    quarter_days,
    quarter_of_day,
    quarter_rows,
)


def quarter_rows_one_by_one(project_id: str, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows as the progress projection first computed them: each quarter drawn up alone."""
    quarters = sorted({quarter_of_day(day) for day in dated_days(doc)})
    funded = [day for day, _, voided in doc["arrivals"].values() if not voided]
    referrals = json.dumps([a for a, _ in doc["referrals"]], ensure_ascii=False)
    rows = []
    for index, quarter in enumerate(quarters):
        start, end = quarter_days(quarter)
        follow_ups = [last for _, _, last in doc["dates"]["follow_ups"].values() if last <= end]
        problems = open_problems(doc, end)
        rows.append(
            {
                "project_id": project_id,
                "quarter": quarter,
                "next_quarter": quarters[index + 1] if index + 1 < len(quarters) else None,
                "name": doc["name"],
                "city": doc["city"],
                "referred_on": doc["referred_on"],
                "associations": referrals,
                "stage": stage_as_of(doc, end),
                "status": status_as_of(doc, end),
                "progress": json.dumps(progress_in(doc, start, end), ensure_ascii=False),
                "open_problems": json.dumps(problems, ensure_ascii=False),
                "has_problems": 1 if problems else 0,
                "signed_on": doc["signed_on"],
                "first_funded_on": min(funded) if funded else None,
                "construction_started_on": doc["construction_started_on"],
                "production_started_on": doc["production_started_on"],
                "last_follow_up_on": max(follow_ups) if follow_ups else None,
            }
        )
    return rows


def folded_documents(scale: str) -> dict[str, dict[str, Any]]:
    """Every project's ledger document of a generated province, folded in memory."""
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    generate(app, scale)
    ledger = LedgerProjection()
    ledger.bulk = True
    for notification in app.recorder.select_notifications(1, 10**7):
        event = app.mapper.to_domain_event(notification)
        handler = ledger.handler_for(type(event))
        if handler is not None:
            handler(event)
    return ledger.docs


def edge_documents(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Variations of one document on the edges a sweep could get wrong."""
    variations = []
    same_day = copy.deepcopy(doc)
    same_day["dates"]["status"] = [
        ["2023-03-31", "withdrawn"],
        ["2023-03-31", "active"],
        ["2023-04-01", "stalled"],
        ["2024-12-31", "active"],
    ]
    variations.append(same_day)
    money = copy.deepcopy(doc)
    money["arrivals"] = {
        "a": ["2023-01-01", 150, False],
        "b": ["2023-03-31", 250, True],
        "c": ["2023-04-01", 1, False],
        "d": ["2022-12-31", -1, False],
    }
    variations.append(money)
    issues = copy.deepcopy(doc)
    issues["issues"] = {
        "i1": ["2023-02-01", "2023-03-31", "land"],
        "i2": ["2023-03-31", "2023-04-01", "power"],
        "i3": ["2023-05-05", None, "labour"],
        "i4": ["2022-06-30", "2024-01-01", "finance"],
    }
    variations.append(issues)
    milestones = copy.deepcopy(doc)
    milestones.update(
        signed_on="2023-03-31",
        registered_on="2023-04-01",
        construction_started_on="2023-06-30",
        production_started_on="2023-07-01",
        capacity_reached_on="2025-12-31",
    )
    milestones["dates"]["visits"] = {"2024-01": [2, "2024-01-01", "2024-01-31"]}
    milestones["dates"]["negotiations"] = {"2022-12": [1, "2022-12-31", "2022-12-31"]}
    milestones["dates"]["follow_ups"] = {
        "2023-03": [3, "2023-03-01", "2023-03-31"],
        "2023-01": [1, "2023-01-01", "2023-01-01"],
        "2025-10": [2, "2025-10-02", "2025-11-30"],
    }
    variations.append(milestones)
    return variations


def test_one_sweep_gives_the_rows_of_drawing_each_quarter_alone() -> None:
    docs = folded_documents("small")
    assert len(docs) >= 500
    rows = 0
    for project_id, doc in docs.items():
        expected = quarter_rows_one_by_one(project_id, doc)
        assert quarter_rows(project_id, doc) == expected, project_id
        rows += len(expected)
    assert rows > 5 * len(docs)  # the comparison covers many quarters a project


def test_one_sweep_on_the_edges_of_quarters() -> None:
    docs = folded_documents("tiny")
    some = sorted(docs.items())[:5]
    compared = 0
    for project_id, doc in some:
        for variation in edge_documents(doc):
            expected = quarter_rows_one_by_one(project_id, variation)
            assert quarter_rows(project_id, variation) == expected, project_id
            compared += len(expected)
    assert compared > 0


def test_a_rebuild_beside_the_ledger_folds_each_document_once() -> None:
    """With the ledger builder beside it, the progress builder takes the ledger's documents
    and answers no handlers of its own; after the bulk flush it folds its own again."""
    ledger, progress = LedgerProjection(), ProgressProjection()
    ledger.bulk = progress.bulk = True
    for builder in (ledger, progress):
        builder.share_fold([ledger, progress])
    assert progress.docs is ledger.docs
    assert progress.handler_for(Project.Referred) is None
    assert ledger.handler_for(Project.Referred) is not None
    progress.unshare_fold()
    assert progress.docs is not ledger.docs and not progress.docs
    assert progress.handler_for(Project.Referred) is not None


def test_the_progress_projection_alone_folds_its_own_documents() -> None:
    progress = ProgressProjection()
    progress.bulk = True
    progress.share_fold([progress])  # as `verify --read-models` rebuilds it: alone
    assert progress.folded_by is None
    assert progress.handler_for(Project.Referred) is not None
