"""What the staff pages read (issue 20), without a database: a name search's associations as a
reward-page filter, the assignable officers, staff's 待办 order."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from adapters.users import AccountRow
from projections.policy.engine import AssociationReward, RewardReport, RewardRow
from projections.rewards import RewardQuery, reward_page
from services.staff_views import officer_choices
from services.todo import TodoRules, staff_todo


def _report() -> RewardReport:
    row = RewardRow("p", Decimal(100), Decimal(1), "eligible", Decimal(2), Decimal(2), ())
    associations = [
        AssociationReward(f"a{i}", Decimal(i), False, Decimal(i), [row]) for i in range(4)
    ]
    return RewardReport(2023, "hunan-2022", date(2022, 9, 1), associations)


def test_a_name_search_pages_only_the_associations_it_found() -> None:
    found = reward_page(
        _report(), RewardQuery(page=1, size=1, association_ids=frozenset({"a1", "a3"}))
    )
    assert found["total"] == 2 and [a["association_id"] for a in found["associations"]] == ["a1"]
    none = reward_page(_report(), RewardQuery(page=1, association_ids=frozenset()))
    assert none["total"] == 0 and none["associations"] == []


def _account(name: str, role: str, active: bool = True) -> AccountRow:
    return AccountRow(name, name, role, None, active, True, False, datetime(2024, 1, 1, tzinfo=UTC))


def test_only_active_officers_and_staff_may_be_assigned() -> None:
    accounts = [
        _account("zhou", "officer"),
        _account("chen", "staff"),
        _account("wu", "officer", active=False),
        _account("qian", "auditor"),
        _account("liu", "liaison"),
    ]
    assert officer_choices(accounts) == {"zhou": "zhou（跟踪服务专员）", "chen": "chen（工作人员）"}
    assert list(officer_choices(accounts)) == ["zhou", "chen"]  # officers first


class _Read:
    def stalled_signings(self, as_of: date, months: int = 3) -> list[dict[str, Any]]:
        return [{"project_id": "p1", "name": "新材料产业园", "signed_on": "2023-06-01"}]


def test_staff_see_settlements_awaiting_approval_before_stalled_signings() -> None:
    rules = TodoRules(read=_Read(), follow_up_interval_days=180)  # type: ignore[arg-type]
    settlement = {
        "policy": "hunan-2022",
        "year": 2023,
        "revision": 1,
        "settled_on": "2024-01-15",
        "total": "25000.00",
        "approval": None,
    }
    approved = {**settlement, "year": 2022, "approval": {"on": "2023-02-01"}}
    items = staff_todo(rules, date(2024, 1, 20), [settlement, approved])
    assert [(i.rule, i.subject) for i in items] == [
        ("settlement_awaiting_approval", "hunan-2022/2023"),
        ("stalled_signing", "p1"),
    ]
    assert items[0].link == "/app/settlements/hunan-2022/2023"
