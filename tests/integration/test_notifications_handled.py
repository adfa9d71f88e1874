"""The handled reminders (issue 22): a day skips each (rule, subject, period) already made for
the same recipients, on an SQLite file and on PostgreSQL. The shortcut must never change what is
made: day after day, across restarts, as recipients come and go, with another process inserting
the same rows at the same moment, and with several makers at once, what is made is exactly
what the rules call for and was not made before, each once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from adapters.notifications import (
    Notification,
    deliveries_table,
    notification_key,
    notifications_table,
    recipients_digest,
    reminders_table,
)
from domain.application import Ledger
from domain.values import business_date
from services.bootstrap import Services, bootstrap
from services.settings import Settings
from tests.conftest import OFFICER, STAFF
from tests.integration.test_notifications import make_services
from tests.integration.test_notifications_made_set import NOW, SETTLEMENTS, Province


@pytest.fixture
def province(ledger: Ledger, database_url: str, clock: list[datetime]) -> Province:
    clock[0] = NOW
    return Province(ledger, restart(ledger, database_url, clock))


def restart(ledger: Ledger, database_url: str, clock: list[datetime]) -> Services:
    """Fresh services on the same database (a restarted process)."""
    services = make_services(ledger, database_url, clock)
    services.notifications.settlements = lambda: SETTLEMENTS
    return services


def stored_keys(services: Services) -> set[str]:
    with services.notifications.store.engine.connect() as conn:
        return set(conn.execute(select(notifications_table.c.key_hash)).scalars())


def count(services: Services, table: Any) -> int:
    with services.notifications.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def keys(made: list[Notification]) -> list[str]:
    return [notification_key(n.rule, n.subject, n.recipient_id, n.period) for n in made]


def due_keys(services: Services, moment: datetime) -> set[str]:
    """What the rules call for at `moment`, made or not, by their unique keys alone."""
    services.runner.run_once()
    due = services.notifications.due(business_date(moment))
    return {n.key_hash for n in due}


def test_day_after_day_across_restarts_it_makes_what_the_keys_alone_would(
    province: Province, ledger: Ledger, database_url: str, clock: list[datetime]
) -> None:
    services = province.services
    made_in_all = 0
    newcomer: str | None = None
    for day in range(0, 75, 3):
        moment = NOW + timedelta(days=day)
        clock[0] = moment
        admin = ledger.context(STAFF)
        if day == 12:  # a new staff member: every staff reminder now has one more recipient
            user, _ = services.accounts.create("staff9", "staff", token_expires=False)
            newcomer = user.id
        if day == 21 and newcomer is not None:  # and gone again: fewer recipients
            services.accounts.disable(admin, newcomer)
        if day == 27 and newcomer is not None:  # back: the recipients of day 12 again
            services.accounts.enable(admin, newcomer)
        if day == 30:  # B gets an officer; D's new issue is closed
            officer = next(a.id for a in services.accounts.accounts() if a.name == "officer1")
            ledger.assign_officer(admin, province.b, officer, occurred_on="2025-03-31")
            ledger.update_issue(
                ledger.context(OFFICER),
                province.d,
                province.d_new,
                status="closed",
                occurred_on="2025-03-31",
                note="已招到",
            )
        if day % 9 == 0:
            services = restart(ledger, database_url, clock)
        expected = due_keys(services, moment) - stored_keys(services)
        made = services.notifications.make_due(moment)
        assert Counter(keys(made)) == Counter(expected), f"day {day}"
        made_in_all += len(made)
        assert services.notifications.make_due(moment) == []
    assert made_in_all == len(stored_keys(services))
    # The days made more than the first (new periods, a newcomer, an officer added).
    assert made_in_all > 18


def test_a_day_with_nothing_new_reads_no_notification_keys(
    province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = province.services.notifications
    first = service.make_due(NOW)
    reminders = service.reminders(business_date(NOW))
    handled = service.store.handled(r.period for r in reminders)
    assert handled == {
        (r.rule, r.subject, r.period): recipients_digest(r.recipients) for r in reminders
    }
    assert len(handled) == len(reminders) == 6 and len(first) == 14

    def no_keys(periods: Any) -> set[str]:
        raise AssertionError("a handled reminder was probed key by key")

    monkeypatch.setattr(service.store, "known_keys", no_keys)
    assert service.make_due(NOW + timedelta(hours=3)) == []


def test_rows_another_process_made_meanwhile_are_not_answered_or_queued_twice(
    province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = province.services
    service = services.notifications
    staff1 = next(a.id for a in services.accounts.accounts() if a.name == "staff1")
    service.set_channels(
        staff1,
        email="staff1@hunan.gov.cn",
        wecom_webhook=None,
        dingtalk_webhook=None,
        dingtalk_secret=None,
        language=None,
    )
    first = service.make_due(NOW)
    queued = count(services, deliveries_table)
    assert queued == sum(1 for n in first if n.recipient_id == staff1) == 4
    # As if another process stored every row between this one's read of the keys and its
    # insert: no handled rows, no keys known beforehand.
    with service.store.engine.begin() as conn:
        conn.execute(delete(reminders_table))
    monkeypatch.setattr(service.store, "known_keys", lambda periods: set())
    assert service.make_due(NOW) == []
    assert count(services, deliveries_table) == queued
    assert count(services, notifications_table) == len(first)
    assert count(services, reminders_table) == 6  # handled again, for the next day


def test_makers_at_the_same_moment_make_each_once(province: Province, database_url: str) -> None:
    services = province.services
    services.runner.run_once()
    wanted = due_keys(services, NOW)
    options = {
        k: v for k, v in services.settings.model_dump().items() if k not in ("database_url",)
    }
    # Four composition roots, each with its own engine and connections (as four processes).
    makers = [
        bootstrap(Settings(database_url=database_url, **options), clock=lambda: NOW)
        for _ in range(4)
    ]
    for maker in makers:
        maker.notifications.settlements = lambda: SETTLEMENTS
    start = threading.Barrier(len(makers))
    made: list[Notification] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(maker: Services) -> None:
        try:
            start.wait()
            answered = maker.notifications.make_due(NOW)
            with lock:
                made.extend(answered)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(m,)) for m in makers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for maker in makers:
        maker.close()
    assert errors == []
    assert Counter(keys(made)) == Counter(wanted) and len(wanted) == 14
    assert count(services, notifications_table) == 14
    assert count(services, reminders_table) == 6
