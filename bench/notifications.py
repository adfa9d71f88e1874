"""The `notifications_day` phase (issue 22): a day's reminders for the whole province made at
once — every 回访 due within 14 days or overdue, every stalled signing, every issue open over 30
days, each to its recipients, each stored once under its unique key — within 5 s.

Set-up (not timed): one officer per city following every project of its city that has a
reminder, and five staff accounts (the staff get the stalled signings and the open issues).
Timed: the first run ever (the backlog of every reminder due so far, the day before), then
the day (`NotificationService.make_due(now)`: every candidate from the read models checked
against the unique keys, the new ones stored with their outbox rows), then the same again
(nothing new)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.events import Actor
from domain.values import business_date
from services.bootstrap import bootstrap
from services.settings import Settings

NOW = datetime(2026, 1, 20, 2, 0, tzinfo=UTC)
STAFF_ACCOUNTS = 5
BENCH_ACTOR = Actor("bench", "admin")


def notifications_day(url: str) -> dict[str, Any]:
    services = bootstrap(Settings(database_url=url), clock=lambda: NOW)
    try:
        services.runner.run_once()
        accounts = services.accounts
        ctx = services.ledger.context(BENCH_ACTOR, source="bench")
        existing = {a.name: a for a in accounts.accounts()}
        for n in range(STAFF_ACCOUNTS):
            if f"bench-staff-{n}" not in existing:
                accounts.create_account(ctx, f"bench-staff-{n}", "staff", None, None)
        today = business_date(NOW)
        projects = {item.project_id for item in services.todo.for_projects(today, None)}
        rows = services.read_models.ledger_page(size=1_000_000).items
        city_of = {str(r["project_id"]): str(r["city"]) for r in rows}
        officers: dict[str, str] = {}
        assigned = services.read_models.project_officers()
        for project_id in sorted(p for p in projects if p):
            city = city_of.get(project_id, "unknown")
            if city not in officers:
                name = f"bench-officer-{city}"
                found = {a.name: a for a in accounts.accounts()}.get(name)
                officers[city] = (
                    found.id
                    if found is not None
                    else str(accounts.create_account(ctx, name, "officer", None, None)[0])
                )
            if officers[city] not in assigned.get(project_id, []):
                services.ledger.assign_officer(ctx, project_id, officers[city])
        services.runner.run_once()
        service = services.notifications
        # The first run ever makes the whole backlog (every reminder due so far); then a day:
        # what the next day adds, every candidate checked against the unique keys.
        started = time.perf_counter()
        backlog = service.make_due(NOW - timedelta(days=1))
        backlog_seconds = time.perf_counter() - started
        started = time.perf_counter()
        made = service.make_due(NOW)
        elapsed = time.perf_counter() - started
        started = time.perf_counter()
        again = service.make_due(NOW)
        elapsed_again = time.perf_counter() - started
        reminders = service.reminders(today)
        return {
            "seconds": elapsed,
            "notifications": len(made),
            "candidates": sum(len(r.recipients) for r in reminders),
            "reminders": len(reminders),
            "projects_with_reminders": len(projects),
            "recipients": len({n.recipient_id for n in backlog}),
            "first_run_seconds": backlog_seconds,
            "first_run_notifications": len(backlog),
            "seconds_again": elapsed_again,
            "made_again": len(again),
        }
    finally:
        services.close()
