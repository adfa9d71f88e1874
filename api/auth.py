"""Who may do what: the role table of DESIGN §11 as data, in one place.

Endpoints name the permission they need (`require(Permission.PROJECT_EVENTS)` in `api/deps.py`);
this table says which roles hold it. Scoped permissions (a liaison's own association and the
projects it refers) are checked by the endpoint, which knows the object; `Principal.may_read_*`
and `Principal.check_*` say how.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from api.errors import forbidden
from domain.errors import NotFound
from domain.events import Actor


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    OFFICER = "officer"
    LIAISON = "liaison"
    AUDITOR = "auditor"


ROLES = tuple(r.value for r in Role)


class Permission(StrEnum):
    # reads
    READ = "read"  # everything but users (projects, associations, read models, history…)
    READ_OWN = "read_own"  # a liaison: its own association and the projects it refers
    READ_AUDIT = "read_audit"  # verify, checkpoints, settlement audits
    # writes on associations
    ASSOCIATIONS = "associations"  # register and change associations
    ACTIVITIES = "activities"  # record any association's activities
    OWN_ACTIVITIES = "own_activities"  # a liaison: its own association's activities
    DESIGNATIONS = "designations"  # association designations for a year
    # writes on projects
    REFER_PROJECT = "refer_project"  # create a project (any referrers)
    REFER_OWN_PROJECT = "refer_own_project"  # a liaison: only with its association among them
    PROJECT_EVENTS = "project_events"  # visits … follow-ups, issues, status
    JUDGEMENTS = "judgements"  # attestations, attribution, classification
    # writes others build on (DESIGN §7–§8)
    SETTLEMENTS = "settlements"  # settle, approve, pay
    SERVICE_CONTRACTS = "service_contracts"  # purchased service and its subsidies
    EVALUATIONS = "evaluations"
    CHECKPOINTS = "checkpoints"  # make a signed checkpoint
    USERS = "users"
    POLICIES = "policies"  # reload the policy and evaluation-rules files (admins only)
    ASSIGN_OFFICERS = "assign_officers"  # which officers follow which project
    READ_ACCOUNTS = "read_accounts"  # the accounts and their history (an auditor)
    IMPORT = "import"  # import ledgers (项目台账): any association's rows
    IMPORT_OWN = "import_own"  # a liaison: only its own association's rows
    NOTIFICATIONS = "notifications"  # one's own notifications and channels (DESIGN §20)
    DELIVERIES = "deliveries"  # the delivery outbox and its failures (admins)


P = Permission
_READ_ALL = {P.READ, P.READ_AUDIT}
_STAFF_WRITES = {
    P.ASSOCIATIONS,
    P.ACTIVITIES,
    P.DESIGNATIONS,
    P.REFER_PROJECT,
    P.PROJECT_EVENTS,
    P.JUDGEMENTS,
    P.SETTLEMENTS,
    P.SERVICE_CONTRACTS,
    P.EVALUATIONS,
    P.ASSIGN_OFFICERS,
    P.IMPORT,
}

_OWN = {P.NOTIFICATIONS}  # every role: its own notifications and channels

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.STAFF: frozenset(_READ_ALL | _STAFF_WRITES | _OWN),
    Role.OFFICER: frozenset(_READ_ALL | {P.PROJECT_EVENTS} | _OWN),
    Role.LIAISON: frozenset(
        {P.READ_OWN, P.OWN_ACTIVITIES, P.REFER_OWN_PROJECT, P.IMPORT_OWN} | _OWN
    ),
    Role.AUDITOR: frozenset(_READ_ALL | {P.READ_ACCOUNTS} | _OWN),
}


@dataclass(frozen=True)
class Principal:
    """The authenticated user a request acts for."""

    id: str
    name: str
    role: str
    association_id: str | None = None
    created_at: datetime | None = None
    # Set by an admin and not yet changed: a session may only change it (issue 15).
    must_change_password: bool = False
    via: str = "token"  # "token" (Authorization: Bearer) or "session" (the cookie)
    session_key: str | None = None  # the session's stored (hashed) id, for a cookie

    @property
    def permissions(self) -> frozenset[Permission]:
        try:
            return ROLE_PERMISSIONS[Role(self.role)]
        except ValueError:
            return frozenset()

    def can(self, *permissions: Permission) -> bool:
        """True when the user holds at least one of `permissions`."""
        return any(p in self.permissions for p in permissions)

    def actor(self) -> Actor:
        """The actor recorded on every event this user causes."""
        return Actor(self.name, self.role)

    # ---- scoping -----------------------------------------------------------------------

    def check_reads_association(self, association_id: str) -> None:
        if self.can(Permission.READ):
            return
        if self.can(Permission.READ_OWN) and self.association_id == str(association_id):
            return
        raise forbidden("a liaison may read only its own association")

    def check_reads_project(self, referrer_ids: Iterable[str], project_id: str) -> None:
        """A project the user may not see answers exactly as one that does not exist (404
        `not_found`, the same body), so its existence is not told (DESIGN §21)."""
        if self.can(Permission.READ):
            return
        if self.can(Permission.READ_OWN) and self.association_id in set(referrer_ids):
            return
        raise project_not_found(project_id)

    def check_records_activity(self, association_id: str) -> None:
        if self.can(Permission.ACTIVITIES):
            return
        if self.can(Permission.OWN_ACTIVITIES) and self.association_id == str(association_id):
            return
        raise forbidden("a liaison may record only its own association's activities")

    def check_refers(self, referrer_ids: Iterable[str]) -> None:
        if self.can(Permission.REFER_PROJECT):
            return
        if self.can(Permission.REFER_OWN_PROJECT) and self.association_id in set(referrer_ids):
            return
        raise forbidden(
            "a liaison may refer a project only with its own association among the referrals"
        )


def project_not_found(project_id: str) -> NotFound:
    """The refusal the ledger gives for an unknown project id (`Ledger._get`), word for word."""
    return NotFound(f"no project {project_id}", field="project_id")
