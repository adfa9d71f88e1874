"""`projections.rewards.reward_page` (issue 23): without a query it is exactly the report's
`as_dict()`; pages partition the filtered associations."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from projections.policy.engine import AssociationReward, RewardReport, RewardRow
from projections.rewards import RewardQuery, reward_page


def _report() -> RewardReport:
    def row(project: str, status: str) -> RewardRow:
        return RewardRow(project, Decimal(100), Decimal(1), status, Decimal(2), Decimal(2), ())

    associations = [
        AssociationReward(
            f"a{i}",
            Decimal(i),
            False,
            Decimal(i),
            [row(f"p{i}", "eligible"), row(f"q{i}", "below_threshold" if i % 2 else "eligible")],
        )
        for i in range(5)
    ]
    return RewardReport(2023, "hunan-2022", date(2022, 9, 1), associations)


def test_no_query_is_the_whole_report() -> None:
    report = _report()
    assert reward_page(report) == report.as_dict()


def test_pages_partition_the_filtered_associations() -> None:
    report = _report()
    pages = [reward_page(report, RewardQuery(page=n, size=2)) for n in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert [a for p in pages for a in p["associations"]] == report.as_dict()["associations"]
    assert pages[3]["associations"] == []

    below = reward_page(report, RewardQuery(status="below_threshold"))
    assert [a["association_id"] for a in below["associations"]] == ["a1", "a3"]
    assert all(len(a["projects"]) == 1 for a in below["associations"])
    assert below["associations"][0]["total"] == "1.00"  # the association's own total stays

    only = reward_page(report, RewardQuery(page=1, association_id="a4"))
    assert only["total"] == 1 and only["associations"][0]["association_id"] == "a4"
    bare = reward_page(report, RewardQuery(explain=False))
    assert all("explanation" not in p for a in bare["associations"] for p in a["projects"])
    # The report itself is left as it was.
    assert report.associations[0] == replace(report.associations[0])
    assert len(report.associations[1].rows) == 2
