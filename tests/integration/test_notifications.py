"""Notifications (DESIGN §20, issue 22) on an SQLite file and on PostgreSQL: reminders made once
per (rule, subject, recipient, period) whatever the number of senders and restarts, caught up
after downtime, delivered by e-mail (a local aiosmtpd server) and to robot webhooks (a local
HTTP receiver) at least once, retried with back-off, failed deliveries listed."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.senders import dingtalk_signed_url
from domain.application import Ledger
from services.bootstrap import Services, bootstrap
from services.settings import Settings
from tests import factories
from tests.conftest import OFFICER, STAFF, services_for
from tests.receivers import Receiver, smtp_server


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


NOW = at("2025-03-01T02:00:00")  # 10:00 in Shanghai


def building_project(ledger: Ledger, **overrides: Any) -> str:
    """Signed, construction started, in production since 2023-06-01 (not a stalled signing)."""
    project_id = factories.signed_project(ledger, **overrides)
    ledger.start_construction(ledger.context(OFFICER), project_id, occurred_on="2023-03-01")
    ledger.record_production(ledger.context(OFFICER), project_id, "started", "2023-06-01")
    return str(project_id)


class World:
    """An officer and a staff member; project A overdue a 回访, project B with an issue raised
    on 2025-01-10 (its 回访 then is not yet due), project C signed in 2023 with no funds and no
    construction. The officer follows all three."""

    def __init__(self, ledger: Ledger, services: Services) -> None:
        self.ledger, self.services = ledger, services
        self.officer, _ = services.accounts.create("officer-n", "officer", token_expires=False)
        self.staff, _ = services.accounts.create("staff-n", "staff", token_expires=False)
        self.a = building_project(ledger, name="甲项目")
        self.b = building_project(ledger, name="乙项目")
        _, issues = ledger.record_follow_up_visit(
            ledger.context(OFFICER),
            self.b,
            occurred_on="2025-01-10",
            operating_status="normal",
            issues=[{"category": "用工", "description": "技工难招"}],
        )
        self.issue = issues[0]
        self.c = str(factories.signed_project(ledger, name="丙项目"))
        for project in (self.a, self.b, self.c):
            ledger.assign_officer(
                ledger.context(STAFF), project, self.officer.id, occurred_on="2024-01-01"
            )


def make_services(
    ledger: Ledger, database_url: str, clock: list[datetime], **settings: Any
) -> Services:
    options: dict[str, Any] = {
        "public_url": "https://zhaoshang.example.gov.cn",
        "notification_retry_seconds": 30.0,
        "notification_max_attempts": 4,
        "notification_timeout_seconds": 5.0,
        **settings,
    }
    return services_for(ledger, database_url, clock=lambda: clock[0], **options)


@pytest.fixture
def world(ledger: Ledger, database_url: str, clock: list[datetime]) -> World:
    clock[0] = NOW
    return World(ledger, make_services(ledger, database_url, clock))


def made(notifications: list[Any]) -> set[tuple[str, str, str, str]]:
    return {(n.rule, n.subject, n.recipient_id, n.period) for n in notifications}


class TestReminders:
    def test_each_rule_reaches_its_recipients_once(self, world: World) -> None:
        service = world.services.notifications
        first = service.make_due(NOW)
        officer, staff = world.officer.id, world.staff.id
        assert made(first) == {
            ("follow_up_due", world.a, officer, "2023-11-28"),
            ("issue_open", world.issue, officer, "2025-01-10+1"),
            ("issue_open", world.issue, staff, "2025-01-10+1"),
            ("stalled_signing", world.c, officer, "2025-03"),
            ("stalled_signing", world.c, staff, "2025-03"),
        }
        # Again, and after a restart (fresh services on the same database): nothing new.
        assert service.make_due(NOW) == []
        again = make_services(world.ledger, world.services.settings.database_url, [NOW])
        assert again.notifications.make_due(NOW) == []
        assert service.store.count() == 5
        # Each text in Chinese, with the page to act on under the public URL.
        follow_up = next(n for n in first if n.rule == "follow_up_due")
        item = service.as_item(follow_up, "zh")
        assert item["text"] == "甲项目：应于 2023-11-28 前回访"
        assert item["link"] == (
            f"https://zhaoshang.example.gov.cn/app/projects/{world.a}/follow-ups/new"
        )
        assert service.as_item(follow_up, "en")["text"] == (
            "甲项目: the follow-up visit is due by 2023-11-28"
        )

    def test_a_catch_up_after_downtime_makes_each_reminder_once(self, world: World) -> None:
        service = world.services.notifications
        service.make_due(NOW)
        # Down for 35 days: the 回访 of A is still the same reminder (same due date), the issue
        # is now open 85 days (a new 30-day period), and it is another month for C.
        later = NOW + timedelta(days=35)
        caught_up = service.make_due(later)
        assert Counter(n.rule for n in caught_up) == {"issue_open": 2, "stalled_signing": 2}
        assert {n.period for n in caught_up} == {"2025-01-10+2", "2025-04"}
        assert service.make_due(later) == []
        assert service.make_due(later + timedelta(hours=5)) == []

    def test_a_day_reads_the_keys_of_its_own_periods_and_still_makes_each_once(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import adapters.notifications
        from adapters.notifications import notification_key

        monkeypatch.setattr(adapters.notifications, "PERIODS_PER_QUERY", 1)
        monkeypatch.setattr(adapters.notifications, "ROWS_PER_TRANSACTION", 2)
        service = world.services.notifications
        first = service.make_due(NOW)
        assert len(first) == 5
        assert service.make_due(NOW) == [] and service.store.count() == 5
        # The keys of a period are those made for it, and none of another period's.
        stalled = {
            notification_key(n.rule, n.subject, n.recipient_id, n.period)
            for n in first
            if n.rule == "stalled_signing"
        }
        assert service.store.known_keys(["2025-03"]) == stalled and len(stalled) == 2
        assert service.store.known_keys(["2025-04", "2023-11-29"]) == set()

    def test_the_import_hook_makes_one_notification_for_its_author(self, world: World) -> None:
        service = world.services.notifications
        args = {"file": "台账.xlsx", "recorded": "12", "refused": "1"}
        first = service.notify(
            "import_finished", "batch-1", world.staff.id, "batch-1", args, "/app/imports/batch-1"
        )
        assert first is not None and first.recipient_id == world.staff.id
        again = service.notify(
            "import_finished", "batch-1", world.staff.id, "batch-1", args, "/app/imports/batch-1"
        )
        assert again is None
        assert service.as_item(first, "zh")["text"] == "台账.xlsx 导入完成：已记录 12 行，拒绝 1 行"
        listed, total = service.store.for_recipient(world.staff.id, unread=True)
        assert total == 1 and listed[0].id == first.id


class TestDelivery:
    def test_email_and_robots_each_get_the_notification_once_with_its_id(
        self, ledger: Ledger, database_url: str, clock: list[datetime]
    ) -> None:
        clock[0] = NOW
        with smtp_server() as (mailbox, smtp_port), Receiver() as robot:
            services = make_services(
                ledger,
                database_url,
                clock,
                smtp_host="127.0.0.1",
                smtp_port=smtp_port,
                smtp_from="zhaoshang@hunan.gov.cn",
                webhook_hosts=robot.host,
                webhook_allow_http=True,
            )
            world = World(ledger, services)
            service = services.notifications
            service.set_channels(
                world.officer.id,
                email="officer@hunan.gov.cn",
                wecom_webhook=robot.url("/cgi-bin/webhook/send?key=k1"),
                dingtalk_webhook=robot.url("/robot/send?access_token=t1"),
                dingtalk_secret="SECabc",
                language="zh",
            )
            notifications, report = service.send(NOW)
            ours = [n for n in notifications if n.recipient_id == world.officer.id]
            assert len(ours) == 3 and report.sent == 9 and report.failed == 0
            ids = {n.id for n in ours}
            # E-mail: one per notification, Message-ID from the notification id.
            assert sorted(m["X-Notification-Id"] for m in mailbox.messages) == sorted(ids)
            message: Message = mailbox.messages[0]
            assert message["Message-ID"] == (
                f"<notification-{message['X-Notification-Id']}@hunan.gov.cn>"
            )
            assert message["To"] == "officer@hunan.gov.cn"
            body = message.get_payload(decode=True)
            assert isinstance(body, bytes)
            assert "https://zhaoshang.example.gov.cn/app/projects/" in body.decode()
            assert "【" in body.decode()  # the text in the recipient's language (Chinese)
            # Robots: WeCom and DingTalk text messages, the id in a header, DingTalk signed.
            wecom = [r for r in robot.received if r.path.startswith("/cgi-bin")]
            dingtalk = [r for r in robot.received if r.path.startswith("/robot")]
            assert sorted(r.headers["X-Notification-Id"] for r in wecom) == sorted(ids)
            assert sorted(r.headers["X-Notification-Id"] for r in dingtalk) == sorted(ids)
            assert wecom[0].body["msgtype"] == "text" and "【" in wecom[0].body["text"]["content"]
            query = parse_qs(urlsplit(dingtalk[0].path).query)
            stamp = int(query["timestamp"][0])
            assert (
                dingtalk[0].path
                == urlsplit(
                    dingtalk_signed_url(robot.url("/robot/send?access_token=t1"), "SECabc", stamp)
                )
                ._replace(scheme="", netloc="")
                .geturl()
            )
            # Nothing more to send, now or after a restart.
            assert service.deliver_all(NOW).sent == 0
            restarted = make_services(ledger, database_url, clock, **_same(services))
            assert restarted.notifications.deliver_all(NOW + timedelta(hours=1)).sent == 0
            assert len(mailbox.messages) == 3 and len(robot.received) == 6

    def test_a_catch_up_after_downtime_sends_each_reminder_once(
        self, ledger: Ledger, database_url: str, clock: list[datetime]
    ) -> None:
        clock[0] = NOW
        with Receiver() as robot:
            settings = {"webhook_hosts": robot.host, "webhook_allow_http": True}
            services = make_services(ledger, database_url, clock, **settings)
            world = World(ledger, services)
            services.notifications.set_channels(
                world.staff.id,
                email=None,
                wecom_webhook=robot.url("/cgi-bin/webhook/send?key=k"),
                dingtalk_webhook=None,
                dingtalk_secret=None,
                language=None,
            )
            services.notifications.send(NOW)
            assert len(robot.ids()) == 2  # the open issue and the stalled signing
            # Down for 35 days, then restarted: the catch-up sends the new periods' reminders
            # once, however often it runs.
            later = NOW + timedelta(days=35)
            clock[0] = later
            for _ in range(3):
                restarted = make_services(ledger, database_url, clock, **_same(services))
                restarted.notifications.send(later)
            assert len(robot.ids()) == 4 and set(Counter(robot.ids()).values()) == {1}

    def test_500_three_times_then_200_is_delivered_once_after_back_off(
        self, ledger: Ledger, database_url: str, clock: list[datetime]
    ) -> None:
        clock[0] = NOW
        with Receiver([500, 500, 500, 200]) as robot:
            services = make_services(
                ledger, database_url, clock, webhook_hosts=robot.host, webhook_allow_http=True
            )
            world = World(ledger, services)
            service = services.notifications
            service.set_channels(
                world.staff.id,
                email=None,
                wecom_webhook=robot.url("/cgi-bin/webhook/send?key=k"),
                dingtalk_webhook=None,
                dingtalk_secret=None,
                language=None,
            )
            service.notify("import_finished", "b1", world.staff.id, "b1", {}, "/app/")
            moment = NOW
            attempts_at = []
            for _ in range(20):
                report = service.deliver(moment)
                if report.retried or report.sent:
                    attempts_at.append(moment)
                moment += timedelta(seconds=15)
            # Tried at once, then after 30 s, 60 s and 120 s (doubling), sent the fourth time.
            gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(attempts_at)]
            assert [s.status for s in robot.received] == [500, 500, 500, 200]
            assert len(set(robot.ids(None))) == 1
            assert gaps == [30, 60, 120]
            rows = service.deliveries("sent")["items"]
            assert len(rows) == 1 and rows[0]["attempts"] == 4
            # Later rounds send nothing more.
            assert service.deliver_all(moment + timedelta(days=1)).sent == 0
            assert robot.ids() == [rows[0]["notification_id"]]

    def test_a_delivery_that_keeps_failing_is_marked_failed_and_listed(
        self, ledger: Ledger, database_url: str, clock: list[datetime]
    ) -> None:
        clock[0] = NOW
        with Receiver([503]) as robot:
            services = make_services(
                ledger, database_url, clock, webhook_hosts=robot.host, webhook_allow_http=True
            )
            world = World(ledger, services)
            service = services.notifications
            service.set_channels(
                world.staff.id,
                email=None,
                wecom_webhook=robot.url("/cgi-bin/webhook/send?key=k"),
                dingtalk_webhook=None,
                dingtalk_secret=None,
                language=None,
            )
            service.notify("import_finished", "b1", world.staff.id, "b1", {}, "/app/")
            for hour in range(10):
                service.deliver(NOW + timedelta(hours=hour))
            failed = service.deliveries("failed")["items"]
            assert len(failed) == 1
            assert failed[0]["attempts"] == 4 and failed[0]["channel"] == "wecom"
            assert failed[0]["last_error"] == f"webhook http://{robot.host}: HTTP 503"
            assert "key=" not in failed[0]["last_error"]  # never the webhook's secret key
            assert len(robot.received) == 4

    def test_a_claimed_delivery_is_not_sent_again_until_its_lease_ends(
        self, ledger: Ledger, database_url: str, clock: list[datetime]
    ) -> None:
        """A sender that claimed a row and died (a restart) holds it for the lease; then
        another sender takes it over (at least once, never twice while the lease holds)."""
        clock[0] = NOW
        with Receiver() as robot:
            services = make_services(
                ledger, database_url, clock, webhook_hosts=robot.host, webhook_allow_http=True
            )
            world = World(ledger, services)
            service = services.notifications
            service.set_channels(
                world.staff.id,
                email=None,
                wecom_webhook=robot.url("/cgi-bin/webhook/send?key=k"),
                dingtalk_webhook=None,
                dingtalk_secret=None,
                language=None,
            )
            service.notify("import_finished", "b1", world.staff.id, "b1", {}, "/app/")
            [row] = service.store.due(NOW)
            assert service.store.claim(row, NOW, service.lease_seconds) is not None  # then dies
            other = make_services(ledger, database_url, clock, **_same(services)).notifications
            assert other.deliver_all(NOW + timedelta(seconds=30)).sent == 0
            assert robot.received == []
            assert other.deliver_all(NOW + timedelta(seconds=service.lease_seconds + 1)).sent == 1
            assert len(robot.ids()) == 1

    def test_four_senders_with_their_own_connections_send_each_once(
        self, ledger: Ledger, database_url: str, clock: list[datetime]
    ) -> None:
        clock[0] = NOW
        with smtp_server() as (mailbox, smtp_port), Receiver() as robot:
            settings = {
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp_port,
                "webhook_hosts": robot.host,
                "webhook_allow_http": True,
            }
            services = make_services(ledger, database_url, clock, **settings)
            world = World(ledger, services)
            for user in (world.officer.id, world.staff.id):
                services.notifications.set_channels(
                    user,
                    email=f"{user[:8]}@hunan.gov.cn",
                    wecom_webhook=robot.url(f"/cgi-bin/webhook/send?key={user[:8]}"),
                    dingtalk_webhook=None,
                    dingtalk_secret=None,
                    language="en",
                )
            services.runner.run_once()
            # Four composition roots, each with its own engine and connections (as four
            # processes would have), sending at the same moment.
            senders = [
                bootstrap(Settings(database_url=database_url, **_same(services)), clock=lambda: NOW)
                for _ in range(4)
            ]
            start = threading.Barrier(4)
            errors: list[BaseException] = []

            def run(sender: Services) -> None:
                try:
                    start.wait()
                    sender.notifications.send(NOW)
                except BaseException as e:  # reported below
                    errors.append(e)

            threads = [threading.Thread(target=run, args=(s,)) for s in senders]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert errors == []
            assert services.notifications.store.count() == 5
            email_ids = Counter(m["X-Notification-Id"] for m in mailbox.messages)
            robot_ids = Counter(robot.ids())
            assert len(email_ids) == len(robot_ids) == 5
            assert set(email_ids.values()) == set(robot_ids.values()) == {1}
            assert mailbox.messages[0]["Subject"].endswith("Investment referral ledger")
            for sender in senders:
                sender.close()


def _same(services: Services) -> dict[str, Any]:
    """The settings of `services` as keyword arguments (a restart with the same settings)."""
    return {k: v for k, v in services.settings.model_dump().items() if k not in ("database_url",)}


class TestCommandLine:
    def test_send_makes_what_is_due_once_and_refuses_a_future_now(
        self, world: World, database_url: str
    ) -> None:
        import os
        import subprocess
        import sys
        from pathlib import Path

        repo = Path(__file__).resolve().parents[2]
        env = {**os.environ, "ZHAOSHANG_DATABASE_URL": database_url, "PYTHONPATH": str(repo)}

        def send(now: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "cli.main", "notifications", "send", "--now", now],
                cwd=repo,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )

        first = send("2025-03-01T10:00")
        assert first.returncode == 0, first.stderr
        assert "follow_up_due: 1" in first.stdout and "5 notification(s) made" in first.stdout
        again = send("2025-03-01T18:00")
        assert again.returncode == 0 and "0 notification(s) made" in again.stdout
        future = send("2999-01-01T10:00")
        assert future.returncode == 2 and world.services.notifications.store.count() == 5
