"""Demo accounts for `serve --demo`: one per role with a fresh random password each start, and
the demo officer assigned to projects in production, so a newcomer logs in and finds a 待办."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from domain.events import Actor
from services.bootstrap import Services

DEMO_ACCOUNTS = (
    ("demo-officer", "officer"),
    ("demo-staff", "staff"),
    ("demo-liaison", "liaison"),
    ("demo-auditor", "auditor"),
    ("demo-admin", "admin"),
)
ASSIGNED_PROJECTS = 25
DEMO_ACTOR = Actor("serve --demo", "admin")


@dataclass(frozen=True)
class DemoAccount:
    name: str
    role: str
    password: str


def demo_accounts(services: Services) -> list[DemoAccount]:
    """Create the demo accounts (or give existing ones a new password) and assign the officer."""
    accounts = services.accounts
    ctx = services.ledger.context(DEMO_ACTOR, source="cli")
    associations = services.read_models.associations()
    made = []
    for name, role in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        association = str(associations[0]["association_id"]) if role == "liaison" else None
        existing = {a.name: a for a in accounts.accounts()}.get(name)
        if existing is None:
            accounts.create_account(ctx, name, role, association, password, must_change=False)
        else:
            accounts.set_password(ctx, existing.id, password, must_change=False)
        made.append(DemoAccount(name, role, password))
    officer = {a.name: a for a in accounts.accounts()}["demo-officer"]
    if not services.read_models.ledger_page(officer_id=officer.id, size=1).items:
        producing = services.read_models.ledger_page(stage="in_production", size=ASSIGNED_PROJECTS)
        for row in producing.items:
            services.ledger.assign_officer(ctx, row["project_id"], officer.id)
    return made
