"""The rules of 待办 (to do), written once: each role's start page shows them and the reminders
(DESIGN §20) are made from them.

Each rule turns the read models into `Todo` items with a subject (the project, issue or
settlement), a period (what makes a reminder about the same thing the same reminder: the due
date, the month, each 30 days open, the settlement) and a link to the page that acts on it:

- `follow_up_due`: a project in production whose next 回访 falls within `within_days` (14) or is
  overdue (三(四): the interval of the rules file, 180 days);
- `stalled_signing`: signed more than `months` (3) months ago with no funds and no construction;
- `issue_open`: an issue raised more than `days` (30) days ago and not closed (办结);
- `settlement_awaiting_approval`: a frozen settlement nobody has approved yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from i18n import N_, ZH, gettext_for
from projections.queries import ReadModels


@dataclass(frozen=True)
class Todo:
    rule: str
    subject: str  # the project id (issue id for `issue_open`, settlement for approvals)
    project_id: str | None
    # The project's name (user data, never translated); for a settlement, an English message id
    # like `detail`, said in the reader's language by `title_in`.
    title: str
    # The start page's line: an English message id, its `%(name)s` values from `words`, said
    # in the reader's language by `detail_in` (the catalogue holds its Chinese).
    detail: str
    due_on: date | None
    period: str
    link: str
    overdue: bool = False
    # The values a reminder's text is made of (`services.notifications` renders them in the
    # recipient's language).
    args: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    words: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    title_is_message: bool = False

    def title_in(self, lang: str) -> str:
        if not self.title_is_message:
            return self.title
        return gettext_for(lang, self.title) % self.words

    def detail_in(self, lang: str) -> str:
        return gettext_for(lang, self.detail) % self.words

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "project_id": self.project_id,
            "title": self.title_in(ZH),
            "detail": self.detail_in(ZH),
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "period": self.period,
            "link": self.link,
            "overdue": self.overdue,
        }


RULE_LABELS = {
    "follow_up_due": "回访到期",
    "stalled_signing": "签约未落地",
    "issue_open": "问题未办结",
    "settlement_awaiting_approval": "结算待审批",
}

# Each item's line on the start page, in English (the catalogue holds the Chinese).
FOLLOW_UP_DUE = N_("Follow-up visit due by %(due_on)s")
FOLLOW_UP_OVERDUE = N_("Follow-up visit due by %(due_on)s, overdue by %(days)s days")
STALLED_SIGNING = N_(
    "Signed on %(signed_on)s; no funds and no construction for over %(months)s months"
)
ISSUE_OPEN = N_("“%(category)s” raised on %(raised_on)s, open for %(days)s days")
SETTLEMENT_TITLE = N_("%(year)s reward settlement (%(policy)s)")
SETTLEMENT_AWAITING = N_("Revision %(revision)s, frozen on %(settled_on)s, total %(total)s yuan")


@dataclass(frozen=True)
class TodoRules:
    read: ReadModels
    follow_up_interval_days: int
    follow_up_within_days: int = 14
    stalled_signing_months: int = 3
    issue_open_days: int = 30

    def follow_ups_due(self, today: date, projects: set[str] | None = None) -> list[Todo]:
        horizon = today + timedelta(days=self.follow_up_within_days)
        items = []
        for row in self.read.follow_ups_due(horizon, self.follow_up_interval_days):
            if projects is not None and row["project_id"] not in projects:
                continue
            due = date.fromisoformat(row["last_contact_on"]) + timedelta(
                days=self.follow_up_interval_days
            )
            late = (today - due).days
            detail = FOLLOW_UP_OVERDUE if late > 0 else FOLLOW_UP_DUE
            items.append(
                Todo(
                    rule="follow_up_due",
                    subject=row["project_id"],
                    project_id=row["project_id"],
                    title=row["name"],
                    detail=detail,
                    due_on=due,
                    period=due.isoformat(),
                    link=f"/app/projects/{row['project_id']}/follow-ups/new",
                    overdue=late > 0,
                    args={"title": row["name"], "due_on": due.isoformat()},
                    words={"due_on": due.isoformat(), "days": str(late)},
                )
            )
        return items

    def stalled_signings(self, today: date, projects: set[str] | None = None) -> list[Todo]:
        items = []
        for row in self.read.stalled_signings(today, self.stalled_signing_months):
            if projects is not None and row["project_id"] not in projects:
                continue
            items.append(
                Todo(
                    rule="stalled_signing",
                    subject=row["project_id"],
                    project_id=row["project_id"],
                    title=row["name"],
                    detail=STALLED_SIGNING,
                    due_on=None,
                    period=today.isoformat()[:7],
                    link=f"/app/projects/{row['project_id']}",
                    overdue=True,
                    args={
                        "title": row["name"],
                        "signed_on": str(row["signed_on"]),
                        "months": str(self.stalled_signing_months),
                    },
                    words={
                        "signed_on": str(row["signed_on"]),
                        "months": str(self.stalled_signing_months),
                    },
                )
            )
        return items

    def issues_open(self, today: date, projects: set[str] | None = None) -> list[Todo]:
        items = []
        # Over `issue_open_days` open: raised before the day that many days ago.
        raised_before = today - timedelta(days=self.issue_open_days)
        days_since: dict[str, int] = {}  # many issues share the day they were raised
        for issue in self.read.open_issues(projects, raised_before):
            days_open = days_since.get(issue["raised_on"])
            if days_open is None:
                days_open = (today - date.fromisoformat(issue["raised_on"])).days
                days_since[issue["raised_on"]] = days_open
            if days_open <= self.issue_open_days:
                continue
            items.append(
                Todo(
                    rule="issue_open",
                    subject=issue["issue_id"],
                    project_id=issue["project_id"],
                    title=issue["name"],
                    detail=ISSUE_OPEN,
                    due_on=None,
                    period=f"{issue['raised_on']}+{days_open // self.issue_open_days}",
                    link=f"/app/projects/{issue['project_id']}/issues/{issue['issue_id']}/update",
                    overdue=True,
                    args={
                        "title": issue["name"],
                        "category": issue["category"],
                        "raised_on": issue["raised_on"],
                        "days": str(days_open),
                    },
                    words={
                        "category": issue["category"],
                        "raised_on": issue["raised_on"],
                        "days": str(days_open),
                    },
                )
            )
        return items

    def for_projects(self, today: date, projects: set[str] | None) -> list[Todo]:
        """Every project rule for `projects` (None: all), most urgent first."""
        items = [
            *self.follow_ups_due(today, projects),
            *self.stalled_signings(today, projects),
            *self.issues_open(today, projects),
        ]
        return sorted(items, key=_urgency)


def settlements_awaiting_approval(settlements: Iterable[dict[str, Any]]) -> list[Todo]:
    """Frozen settlements (`SettlementService.describe` bodies) that nobody approved yet."""
    items = []
    for s in settlements:
        if s.get("approval") is not None:
            continue
        subject = f"{s['policy']}/{s['year']}"
        items.append(
            Todo(
                rule="settlement_awaiting_approval",
                subject=subject,
                project_id=None,
                title=SETTLEMENT_TITLE,
                detail=SETTLEMENT_AWAITING,
                due_on=None,
                period=f"{subject}#{s['revision']}",
                link=f"/app/settlements/{subject}",
                args={
                    "policy": str(s["policy"]),
                    "year": str(s["year"]),
                    "revision": str(s["revision"]),
                    "total": str(s["total"]),
                },
                words={
                    "policy": str(s["policy"]),
                    "year": str(s["year"]),
                    "revision": str(s["revision"]),
                    "settled_on": str(s["settled_on"]),
                    "total": str(s["total"]),
                },
                title_is_message=True,
            )
        )
    return items


RULE_ORDER = {"follow_up_due": 0, "issue_open": 1, "stalled_signing": 2}


def _urgency(item: Todo) -> tuple[int, int, str, str]:
    """Overdue first, then by rule, then the nearest due date."""
    due = item.due_on.isoformat() if item.due_on else ""
    return (0 if item.overdue else 1, RULE_ORDER.get(item.rule, 3), due, item.title)


def staff_todo(rules: TodoRules, today: date, settlements: Iterable[dict[str, Any]]) -> list[Todo]:
    """Staff's 待办 (DESIGN §17): settlements awaiting approval, then the province's stalled
    signings (the follow-ups and issues are the assigned officers')."""
    return [
        *settlements_awaiting_approval(settlements),
        *sorted(rules.stalled_signings(today), key=_urgency),
    ]
