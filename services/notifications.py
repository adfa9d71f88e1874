"""Notifications (DESIGN §20, issue 22): reminders made from the rules of 待办, each exactly once
per (rule, subject, recipient, period), and delivered through the outbox to the channels each
user chose — in the app, by e-mail, to WeCom and DingTalk group robots.

    service.make_due(now)          # the reminders due now, made once (the scheduler's job)
    service.deliver(now)           # send what the outbox holds that is due (the sender thread)
    service.send(now)              # both (`zhaoshang notifications send`)
    service.notify(rule, subject, recipient_id, period, args, link)   # one, e.g. import finished

Recipients: a 回访 due within 14 days or overdue goes to the project's assigned officers; a
signing stalled over 3 months and an issue open over 30 days to those officers and every staff
account; a settlement awaiting approval to every staff account. Texts are English message ids
translated through the Babel catalogue into the recipient's language (Chinese unless they chose
English); each carries a link to the page to act on, built from `ZHAOSHANG_PUBLIC_URL`.
A webhook may name only a host of `ZHAOSHANG_WEBHOOK_HOSTS`, https only (unless
`ZHAOSHANG_WEBHOOK_ALLOW_HTTP`), and no user, password or fragment: a user's URL never makes the
server call into the intranet. Secrets (the SMTP password, a DingTalk secret) live in settings
and in the channels table, never in the event log, never in a log line.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from adapters.notifications import (
    Channels,
    Delivery,
    NewNotification,
    Notification,
    NotificationStore,
    Reminder,
)
from adapters.senders import (
    OutgoingMessage,
    SendFailed,
    SmtpSettings,
    dingtalk_body,
    dingtalk_signed_url,
    post_webhook,
    send_email,
    wecom_body,
)
from adapters.users import AccountRow
from domain import errors
from domain.values import business_date
from i18n import gettext_for, normalise_language
from services.settings import Settings
from services.todo import Todo, TodoRules, settlements_awaiting_approval

log = logging.getLogger("zhaoshang.notifications")

# Each rule's subject line and text: English message ids, translated by the catalogue
# (`i18n/locale/zh_CN/LC_MESSAGES/zhaoshang.po`); `{name}` fields come from the notification's
# args.
TEXTS: dict[str, tuple[str, str]] = {
    "follow_up_due": (
        "Follow-up visit due",
        "{title}: the follow-up visit is due by {due_on}",
    ),
    "stalled_signing": (
        "Signed project not started",
        "{title}: signed on {signed_on}, no funds and no construction for over {months} months",
    ),
    "issue_open": (
        "Issue not closed",
        "{title}: the issue “{category}” raised on {raised_on} has been open for {days} days",
    ),
    "settlement_awaiting_approval": (
        "Settlement awaiting approval",
        "The {year} reward settlement ({policy}, revision {revision}, total {total} yuan) "
        "awaits approval",
    ),
    "import_finished": (
        "Import finished",
        "The import of {file} has finished: {recorded} rows recorded, {refused} refused",
    ),
}
TO_OFFICERS = {"follow_up_due"}
TO_OFFICERS_AND_STAFF = {"stalled_signing", "issue_open"}

_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,63}")
_SECRET = re.compile(r"[\x21-\x7e]{1,256}")
_MISSING = "…"


class WebhookRefused(SendFailed):
    """The webhook no longer passes the host check (the allowed hosts changed)."""


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent,
            self.retried + other.retried,
            self.failed + other.failed,
            self.dropped + other.dropped,
        )


def check_webhook_url(url: str, allowed_hosts: Iterable[str], allow_http: bool, field: str) -> str:
    """`url` if the server may call it: https (http only when allowed), a host named in
    `allowed_hosts` (`host` on the scheme's default port, or `host:port`), no user or password,
    no fragment. Anything else → `WebhookNotAllowed` (422)."""
    text = url.strip()
    if not text.isascii() or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise errors.WebhookNotAllowed("the webhook is not a URL", field=field)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise errors.WebhookNotAllowed("the webhook is not a URL", field=field) from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise errors.WebhookNotAllowed("a webhook must be an https URL", field=field)
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise errors.WebhookNotAllowed(
            "a webhook may not carry a user, a password or a fragment", field=field
        )
    host = (parts.hostname or "").lower()
    default_port = 443 if parts.scheme == "https" else 80
    named = host if port in (None, default_port) else f"{host}:{port}"
    allowed = set(allowed_hosts)
    if not host or (named not in allowed and f"{host}:{port or default_port}" not in allowed):
        raise errors.WebhookNotAllowed(
            "the webhook's host is not one the server may call (ZHAOSHANG_WEBHOOK_HOSTS)",
            field=field,
        )
    return text


def render_text(rule: str, args: dict[str, str], lang: str) -> tuple[str, str]:
    """A notification's subject and text in `lang` (`zh` or `en`)."""
    subject_id, text_id = TEXTS.get(rule, (rule, rule))
    values: defaultdict[str, str] = defaultdict(lambda: _MISSING, args)
    subject = gettext_for(lang, subject_id)
    text = gettext_for(lang, text_id).format_map(values)
    return subject, text


class NotificationService:
    """Makes notifications from the rules and delivers them through the outbox."""

    def __init__(
        self,
        *,
        store: NotificationStore,
        todo: TodoRules,
        accounts: Callable[[], list[AccountRow]],
        settlements: Callable[[], list[dict[str, Any]]],
        settings: Settings,
        clock: Callable[[], datetime],
        refresh: Callable[[], object] = lambda: None,
    ) -> None:
        self.store = store
        self.todo = todo
        self.accounts = accounts  # every account (role, active), for the recipients
        self.settlements = settlements
        self.settings = settings
        self.clock = clock
        self.refresh = refresh  # brings the read models up to the log (the runner's run_once)
        self.wake = threading.Event()  # set when new deliveries wait: the sender goes at once

    # -- what is due ---------------------------------------------------------------------

    def reminders(self, today: date) -> list[Reminder]:
        """Every reminder the rules call for on `today` (made or not), each with its
        recipients: one per (rule, subject, period), rule by rule (the start page's urgency order is
        not needed to make them)."""
        items: list[Todo] = [
            *self.todo.follow_ups_due(today),
            *self.todo.stalled_signings(today),
            *self.todo.issues_open(today),
            *settlements_awaiting_approval(self.settlements()),
        ]
        assigned = self.todo.read.project_officers()
        people = [a for a in self.accounts() if a.active]
        # Staff may be assigned to follow a project too (`Ledger.assign_officer`).
        active_officers = {a.id for a in people if a.role in ("officer", "staff")}
        staff = tuple(sorted(a.id for a in people if a.role == "staff"))
        # Many reminders share a project (its issues) and all share the staff: each project's
        # recipients are worked out once per kind of rule.
        recipients_of: dict[tuple[bool, bool, str], tuple[str, ...]] = {}
        found: list[Reminder] = []
        for item in items:
            to_officers = item.rule in TO_OFFICERS or item.rule in TO_OFFICERS_AND_STAFF
            to_staff = item.rule not in TO_OFFICERS
            project = item.project_id or ""
            recipients = recipients_of.get((to_officers, to_staff, project))
            if recipients is None:
                officers = (
                    [o for o in assigned.get(project, []) if o in active_officers]
                    if to_officers
                    else []
                )
                if to_staff:
                    officers += [s for s in staff if s not in officers]
                recipients = recipients_of[(to_officers, to_staff, project)] = tuple(officers)
            found.append(
                Reminder(item.rule, item.subject, item.period, item.args, item.link, recipients)
            )
        return found

    def due(self, today: date) -> list[NewNotification]:
        """Every notification the rules call for on `today` (made or not)."""
        return [n for reminder in self.reminders(today) for n in reminder.notifications()]

    def make_due(self, now: datetime | None = None) -> list[Notification]:
        """Make the notifications due at `now` that were not made before (any number of
        processes may run this at once: the unique key keeps each once)."""
        moment = now or self.clock()
        self.refresh()
        reminders = self.reminders(business_date(moment))
        return self._add(reminders, moment)

    def notify(
        self,
        rule: str,
        subject: str,
        recipient_id: str,
        period: str,
        args: dict[str, str],
        link: str,
        now: datetime | None = None,
    ) -> Notification | None:
        """Make one notification (e.g. `import_finished` for an import's author) unless that
        (rule, subject, recipient, period) was made before; answer it if made now."""
        if rule not in TEXTS:
            raise errors.InvalidInput(f"no notification rule {rule!r}", field="rule")
        if not link.startswith("/"):
            raise errors.InvalidInput("a notification's link is a path of the app", field="link")
        wanted = Reminder(
            rule=rule,
            subject=subject,
            period=period,
            args={k: str(v) for k, v in args.items()},
            link=link,
            recipients=(recipient_id,),
        )
        made = self._add([wanted], now or self.clock())
        return made[0] if made else None

    def _add(self, wanted: list[Reminder], now: datetime) -> list[Notification]:
        recipients = {r for reminder in wanted for r in reminder.recipients}
        channels = self.store.channels_of(recipients)
        channels_of = {user: c.chosen() for user, c in channels.items()}
        made = self.store.add_reminders(wanted, channels_of, now)
        if made:
            log.info("made %d notification(s)", len(made))
            self.wake.set()
        return made

    # -- reading -------------------------------------------------------------------------

    def language_of(self, user_id: str) -> str | None:
        return self.store.channels(user_id).language

    def text_of(self, notification: Notification, lang: str) -> str:
        return render_text(notification.rule, notification.args, lang)[1]

    def link_of(self, notification: Notification) -> str:
        """The absolute link: `ZHAOSHANG_PUBLIC_URL` + the app's path (never a Host header)."""
        return self.settings.public_url.rstrip("/") + notification.link

    def as_item(self, notification: Notification, lang: str) -> dict[str, Any]:
        return {
            "id": notification.id,
            "rule": notification.rule,
            "subject": notification.subject,
            "text": self.text_of(notification, lang),
            "link": self.link_of(notification),
            "created_at": notification.created_at,
            "read": notification.read_at is not None,
        }

    def mark_read(self, user_id: str, notification_id: str, now: datetime | None = None) -> None:
        if not self.store.mark_read(notification_id, user_id, now or self.clock()):
            raise errors.NotFound(f"no notification {notification_id}", field="id")

    # -- channels ------------------------------------------------------------------------

    def set_channels(
        self,
        user_id: str,
        *,
        email: str | None,
        wecom_webhook: str | None,
        dingtalk_webhook: str | None,
        dingtalk_secret: str | None,
        language: str | None,
        keep_secret: bool = True,
        now: datetime | None = None,
    ) -> Channels:
        """A user's channels, checked: an e-mail address, webhooks on allowed hosts only. An
        omitted DingTalk secret keeps the stored one while the DingTalk webhook stays."""
        address = (email or "").strip() or None
        if address is not None and not _EMAIL.fullmatch(address):
            raise errors.InvalidEmail("not an e-mail address", field="email")
        hosts = self.settings.webhook_host_list()
        allow_http = self.settings.webhook_allow_http
        wecom = (wecom_webhook or "").strip() or None
        dingtalk = (dingtalk_webhook or "").strip() or None
        if wecom is not None:
            wecom = check_webhook_url(wecom, hosts, allow_http, "wecom_webhook")
        if dingtalk is not None:
            dingtalk = check_webhook_url(dingtalk, hosts, allow_http, "dingtalk_webhook")
        secret = (dingtalk_secret or "").strip() or None
        if secret is not None and not _SECRET.fullmatch(secret):
            raise errors.InvalidInput(
                "a DingTalk secret is letters, digits and punctuation", field="dingtalk_secret"
            )
        if secret is None and keep_secret and dingtalk is not None:
            secret = self.store.channels(user_id).dingtalk_secret
        if dingtalk is None:
            secret = None
        chosen = Channels(
            user_id=user_id,
            email=address,
            wecom_webhook=wecom,
            dingtalk_webhook=dingtalk,
            dingtalk_secret=secret,
            language=normalise_language(language) if language else None,
        )
        self.store.set_channels(chosen, now or self.clock())
        return chosen

    # -- delivery ------------------------------------------------------------------------

    @property
    def lease_seconds(self) -> float:
        """How long a claimed delivery is a sender's before another may take it over."""
        return max(60.0, 3 * self.settings.notification_timeout_seconds)

    def retry_delay(self, attempts: int) -> timedelta:
        """Exponential back-off: the base delay, doubled after each failed attempt."""
        seconds = self.settings.notification_retry_seconds * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, 86400.0))

    def deliver(self, now: datetime | None = None, limit: int = 100) -> DeliveryReport:
        """Send the due outbox rows (claimed first, marked sent after)."""
        moment = now or self.clock()
        report = DeliveryReport()
        for delivery_id in self.store.due(moment, limit):
            delivery = self.store.claim(delivery_id, moment, self.lease_seconds)
            if delivery is None:
                continue  # another sender has it
            report += self._attempt(delivery, moment)
        return report

    def deliver_all(self, now: datetime | None = None) -> DeliveryReport:
        """Deliver until nothing due is left at `now` (the command line)."""
        report = DeliveryReport()
        while True:
            step = self.deliver(now)
            report += step
            if step == DeliveryReport():
                return report

    def send(self, now: datetime | None = None) -> tuple[list[Notification], DeliveryReport]:
        """Make what is due and deliver it (`zhaoshang notifications send`)."""
        made = self.make_due(now)
        return made, self.deliver_all(now)

    def _attempt(self, delivery: Delivery, now: datetime) -> DeliveryReport:
        notification = self.store.get(delivery.notification_id)
        channels = (
            self.store.channels(notification.recipient_id) if notification is not None else None
        )
        try:
            if notification is None or channels is None:
                raise LookupError("the notification is gone")
            self._send(delivery.channel, notification, channels)
        except LookupError as gone:
            self.store.failed_attempt(delivery.id, str(gone), None, drop=True)
            return DeliveryReport(dropped=1)
        except SendFailed as e:
            attempts = delivery.attempts + 1
            give_up = attempts >= self.settings.notification_max_attempts or isinstance(
                e, WebhookRefused
            )
            retry_at = None if give_up else now + self.retry_delay(attempts)
            self.store.failed_attempt(delivery.id, str(e), retry_at)
            log.warning(
                "delivery %s (%s) attempt %d failed: %s", delivery.id, delivery.channel, attempts, e
            )
            return DeliveryReport(failed=1) if give_up else DeliveryReport(retried=1)
        self.store.sent(delivery.id, self.clock())
        return DeliveryReport(sent=1)

    def _send(self, channel: str, notification: Notification, channels: Channels) -> None:
        lang = channels.language or "zh"
        subject, text = render_text(notification.rule, notification.args, lang)
        message = OutgoingMessage(
            notification_id=notification.id,
            subject=f"{subject} · {gettext_for(lang, 'Investment referral ledger')}",
            text=f"【{subject}】{text}",
            link=self.link_of(notification),
        )
        timeout = self.settings.notification_timeout_seconds
        if channel == "email":
            if not channels.email:
                raise LookupError("the recipient has no e-mail address any more")
            if not self.settings.smtp_host:
                raise SendFailed("no SMTP server is set (ZHAOSHANG_SMTP_HOST)")
            send_email(self._smtp(), channels.email, message)
        elif channel in ("wecom", "dingtalk"):
            url = channels.wecom_webhook if channel == "wecom" else channels.dingtalk_webhook
            if not url:
                raise LookupError(f"the recipient has no {channel} webhook any more")
            try:
                url = check_webhook_url(
                    url,
                    self.settings.webhook_host_list(),
                    self.settings.webhook_allow_http,
                    channel,
                )
            except errors.WebhookNotAllowed as e:
                raise WebhookRefused(e.message) from None
            if channel == "wecom":
                post_webhook(url, wecom_body(message), notification.id, timeout)
            else:
                if channels.dingtalk_secret:
                    stamp = int(self.clock().timestamp() * 1000)
                    url = dingtalk_signed_url(url, channels.dingtalk_secret, stamp)
                post_webhook(url, dingtalk_body(message), notification.id, timeout)
        else:
            raise LookupError(f"no channel {channel}")

    def _smtp(self) -> SmtpSettings:
        s = self.settings
        return SmtpSettings(
            host=s.smtp_host,
            port=s.smtp_port,
            starttls=s.smtp_starttls,
            user=s.smtp_user,
            password=s.smtp_password,
            sender=s.smtp_from,
            timeout=s.notification_timeout_seconds,
        )

    def deliveries(self, status: str | None = None, limit: int = 200) -> dict[str, Any]:
        rows, total = self.store.deliveries(status, limit)
        return {
            "items": [
                {
                    "id": d.id,
                    "notification_id": d.notification_id,
                    "recipient_id": d.recipient_id,
                    "rule": d.rule,
                    "channel": d.channel,
                    "status": d.status,
                    "attempts": d.attempts,
                    "last_error": d.last_error,
                    "created_at": d.created_at,
                    "sent_at": d.sent_at,
                }
                for d in rows
            ],
            "total": total,
        }


class NotificationSender:
    """The background sender: delivers what is due every `poll` seconds, and at once when a
    notification was just made. Started by the process holding the runner lock; a send never
    runs on a request's thread."""

    name = "notifications"

    def __init__(self, service: NotificationService, poll: float) -> None:
        self.service = service
        self.poll = poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="notification-sender", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.service.wake.clear()
            try:
                while self.service.deliver().sent and not self._stop.is_set():
                    pass
            except Exception:  # the next round tries again; keep the sender alive
                log.exception("delivering notifications failed")
            self.service.wake.wait(self.poll)
            if self._stop.is_set():
                break

    def stop(self) -> None:
        self._stop.set()
        self.service.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
