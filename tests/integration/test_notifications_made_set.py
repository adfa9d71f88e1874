"""The made set pinned (issue 22, `notifications_day`): for one fixture province, exactly which
notifications a day makes — rule, subject, recipient, period, args, link and id — on an SQLite
file and on PostgreSQL. A faster way of making them must make these and only these."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.notifications import Notification, notification_id, notification_key
from domain.application import Ledger
from services.bootstrap import Services
from tests import factories
from tests.conftest import OFFICER, STAFF
from tests.integration.test_notifications import building_project, make_services


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


NOW = at("2025-03-01T02:00:00")  # 10:00 in Shanghai

SETTLEMENTS = [
    {
        "policy": "hunan-2022",
        "year": 2023,
        "revision": 2,
        "settled_on": "2024-02-01",
        "total": "1250000.00",
        "approval": None,
    },
    {
        "policy": "hunan-2022",
        "year": 2022,
        "revision": 1,
        "settled_on": "2023-02-01",
        "total": "900000.00",
        "approval": {"approved_by": "someone"},
    },
]


class Province:
    """Three officers (one disabled after being assigned), three staff (one disabled), an
    auditor; six projects:

    - A: in production since 2023-06-01, never visited (回访 overdue since 2023-11-28), followed
      by officers 1, 2 and the disabled 3;
    - D: visited on 2024-09-10 with two issues, one closed and one open 172 days, and again on
      2025-02-15 raising an issue open 14 days (its next 回访 is months away); followed by
      officer 2;
    - F: visited on 2024-09-10 (回访 due 2025-03-09, within 14 days), followed by officers 2, 1;
    - B: an issue raised on 2025-01-10, followed by nobody (the staff hear of it);
    - C: signed in 2023, no funds, no construction, followed by officer 1 and staff 1;
    - E: signed in 2023 and funded (no reminder), followed by officer 2.
    """

    def __init__(self, ledger: Ledger, services: Services) -> None:
        self.ledger, self.services = ledger, services
        accounts = services.accounts
        self.names: dict[str, str] = {}

        def account(name: str, role: str) -> str:
            user, _ = accounts.create(name, role, token_expires=False)
            self.names[user.id] = name
            return user.id

        officer1, officer2, officer3 = (account(f"officer{n}", "officer") for n in (1, 2, 3))
        staff1, _staff2, staff3 = (account(f"staff{n}", "staff") for n in (1, 2, 3))
        account("auditor1", "auditor")
        ctx = ledger.context(STAFF)

        self.a = building_project(ledger, name="甲项目")
        self.d = building_project(ledger, name="丁项目")
        _, (closed, self.d_old) = ledger.record_follow_up_visit(
            ledger.context(OFFICER),
            self.d,
            occurred_on="2024-09-10",
            operating_status="normal",
            issues=[
                {"category": "用地", "description": "用地指标"},
                {"category": "融资", "description": "贷款难"},
            ],
        )
        ledger.update_issue(
            ledger.context(OFFICER),
            self.d,
            closed,
            status="closed",
            occurred_on="2024-10-01",
            note="已解决",
        )
        _, (self.d_new,) = ledger.record_follow_up_visit(
            ledger.context(OFFICER),
            self.d,
            occurred_on="2025-02-15",
            operating_status="normal",
            issues=[{"category": "用工", "description": "招工"}],
        )
        self.b = building_project(ledger, name="乙项目")
        _, (self.b_issue,) = ledger.record_follow_up_visit(
            ledger.context(OFFICER),
            self.b,
            occurred_on="2025-01-10",
            operating_status="normal",
            issues=[{"category": "用工", "description": "技工难招"}],
        )
        self.f = building_project(ledger, name="戊项目")
        ledger.record_follow_up_visit(
            ledger.context(OFFICER), self.f, occurred_on="2024-09-10", operating_status="normal"
        )
        self.c = str(factories.signed_project(ledger, name="丙项目"))
        self.e = str(factories.signed_project(ledger, name="己项目"))
        ledger.record_funds_arrival(
            ledger.context(OFFICER),
            self.e,
            occurred_on="2023-05-01",
            amount="1000000.00",
            currency="CNY",
        )
        for project, officers in (
            (self.a, (officer1, officer2, officer3)),
            (self.d, (officer2,)),
            (self.f, (officer2, officer1)),
            (self.c, (officer1, staff1)),
            (self.e, (officer2,)),
        ):
            for officer in officers:
                ledger.assign_officer(ctx, project, officer, occurred_on="2024-01-01")
        admin = ledger.context(STAFF)
        accounts.disable(admin, officer3)
        accounts.disable(admin, staff3)
        self.names.update(
            {
                self.a: "A",
                self.b: "B",
                self.c: "C",
                self.d: "D",
                self.e: "E",
                self.f: "F",
                self.d_old: "D-old-issue",
                self.d_new: "D-new-issue",
                self.b_issue: "B-issue",
            }
        )

    def named(self, text: str) -> str:
        for uid, name in self.names.items():
            text = text.replace(uid, name)
        return text

    def pinned(self, made: list[Notification]) -> set[tuple[str, ...]]:
        """What was made, ids named, every field that reaches a person."""
        for n in made:
            assert n.id == notification_id(
                notification_key(n.rule, n.subject, n.recipient_id, n.period)
            )
        return {
            (
                n.rule,
                self.named(n.subject),
                self.named(n.recipient_id),
                n.period,
                self.named(n.link),
                repr(sorted(n.args.items())),
            )
            for n in made
        }


@pytest.fixture
def province(ledger: Ledger, database_url: str, clock: list[datetime]) -> Province:
    clock[0] = NOW
    services = make_services(ledger, database_url, clock)
    services.notifications.settlements = lambda: SETTLEMENTS
    return Province(ledger, services)


def args(**values: str) -> str:
    return repr(sorted(values.items()))


def test_a_day_makes_exactly_the_pinned_set(province: Province) -> None:
    service = province.services.notifications
    first = service.make_due(NOW)
    follow_a = args(title="甲项目", due_on="2023-11-28")
    follow_f = args(title="戊项目", due_on="2025-03-09")
    stalled_c = args(title="丙项目", signed_on="2023-01-10", months="3")
    d_old = args(title="丁项目", category="融资", raised_on="2024-09-10", days="172")
    b_issue = args(title="乙项目", category="用工", raised_on="2025-01-10", days="50")
    settlement = args(policy="hunan-2022", year="2023", revision="2", total="1250000.00")
    expected = {
        (
            "follow_up_due",
            "A",
            "officer1",
            "2023-11-28",
            "/app/projects/A/follow-ups/new",
            follow_a,
        ),
        (
            "follow_up_due",
            "A",
            "officer2",
            "2023-11-28",
            "/app/projects/A/follow-ups/new",
            follow_a,
        ),
        (
            "follow_up_due",
            "F",
            "officer1",
            "2025-03-09",
            "/app/projects/F/follow-ups/new",
            follow_f,
        ),
        (
            "follow_up_due",
            "F",
            "officer2",
            "2025-03-09",
            "/app/projects/F/follow-ups/new",
            follow_f,
        ),
        *(
            ("stalled_signing", "C", who, "2025-03", "/app/projects/C", stalled_c)
            for who in ("officer1", "staff1", "staff2")
        ),
        *(
            (
                "issue_open",
                "D-old-issue",
                who,
                "2024-09-10+5",
                "/app/projects/D/issues/D-old-issue/update",
                d_old,
            )
            for who in ("officer2", "staff1", "staff2")
        ),
        *(
            (
                "issue_open",
                "B-issue",
                who,
                "2025-01-10+1",
                "/app/projects/B/issues/B-issue/update",
                b_issue,
            )
            for who in ("staff1", "staff2")
        ),
        *(
            (
                "settlement_awaiting_approval",
                "hunan-2022/2023",
                who,
                "hunan-2022/2023#2",
                "/app/settlements/hunan-2022/2023",
                settlement,
            )
            for who in ("staff1", "staff2")
        ),
    }
    assert province.pinned(first) == expected
    # What was answered is what was stored, once each.
    stored = [
        n
        for user in province.names
        for n in service.store.for_recipient(user, limit=1000)[0]
        if user in {r.recipient_id for r in first}
    ]
    assert province.pinned(stored) == expected and len(stored) == len(expected)
    assert service.make_due(NOW) == []
    assert service.make_due(NOW + timedelta(hours=20)) == []
    assert service.store.count() == len(expected)


def test_thirty_five_days_later_the_new_periods_are_made_once(province: Province) -> None:
    service = province.services.notifications
    service.make_due(NOW)
    later = NOW + timedelta(days=35)  # 2025-04-05
    made = service.make_due(later)
    stalled_c = args(title="丙项目", signed_on="2023-01-10", months="3")
    d_old = args(title="丁项目", category="融资", raised_on="2024-09-10", days="207")
    d_new = args(title="丁项目", category="用工", raised_on="2025-02-15", days="49")
    b_issue = args(title="乙项目", category="用工", raised_on="2025-01-10", days="85")
    assert province.pinned(made) == {
        *(
            ("stalled_signing", "C", who, "2025-04", "/app/projects/C", stalled_c)
            for who in ("officer1", "staff1", "staff2")
        ),
        *(
            (
                "issue_open",
                "D-old-issue",
                who,
                "2024-09-10+6",
                "/app/projects/D/issues/D-old-issue/update",
                d_old,
            )
            for who in ("officer2", "staff1", "staff2")
        ),
        *(
            (
                "issue_open",
                "D-new-issue",
                who,
                "2025-02-15+1",
                "/app/projects/D/issues/D-new-issue/update",
                d_new,
            )
            for who in ("officer2", "staff1", "staff2")
        ),
        *(
            (
                "issue_open",
                "B-issue",
                who,
                "2025-01-10+2",
                "/app/projects/B/issues/B-issue/update",
                b_issue,
            )
            for who in ("staff1", "staff2")
        ),
    }
    assert service.make_due(later) == []


def test_a_recipient_added_later_gets_the_current_periods_alone(province: Province) -> None:
    """Known (rule, subject, period) with a new recipient: only theirs is made."""
    service = province.services.notifications
    service.make_due(NOW)
    newcomer, _ = province.services.accounts.create("staff4", "staff", token_expires=False)
    province.names[newcomer.id] = "staff4"
    made = service.make_due(NOW + timedelta(hours=1))
    assert sorted((n.rule, province.named(n.subject)) for n in made) == [
        ("issue_open", "B-issue"),
        ("issue_open", "D-old-issue"),
        ("settlement_awaiting_approval", "hunan-2022/2023"),
        ("stalled_signing", "C"),
    ]
    assert {province.named(n.recipient_id) for n in made} == {"staff4"}
