"""Notifications, each user's channels and the delivery outbox (DESIGN §20): four tables beside
the event store, never in the event log (a DingTalk secret or an e-mail address is no event).

- `zhaoshang_notifications`: one row per (rule, subject, recipient, period), under a unique key
  (its SHA-256), so any number of processes and restarts make each notification once; inserted
  together with its outbox rows in one transaction (`ON CONFLICT DO NOTHING`, each row's count
  on SQLite, `RETURNING` on PostgreSQL: only the notifications this call made get deliveries).
- `zhaoshang_notification_reminders`: the reminders handled, one row per (rule, subject,
  period) with a digest of the recipients whose notifications exist, written in the same
  transaction: a day expands, hashes and inserts only what is new (a new period, a new
  recipient), and skips the rest whole.
- `zhaoshang_notification_channels`: what each user chose (e-mail, WeCom and DingTalk robot
  webhooks, the DingTalk signing secret, the language of the texts).
- `zhaoshang_notification_deliveries`: the outbox, one row per (notification, channel). A sender
  claims a row with a guarded update (`pending` and due, or `sending` whose lease ran out) before
  it sends, and marks it `sent` after: at least once, never twice while a lease holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy.exc
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from adapters.database import connection_for

metadata = MetaData()
notifications_table = Table(
    "zhaoshang_notifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("rule", String(64), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("recipient_id", String(36), nullable=False),
    Column("period", String(64), nullable=False),
    Column("args", Text, nullable=False),
    Column("link", String(512), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("read_at", String(40), nullable=True),
    Index("ix_zhaoshang_notifications_recipient", "recipient_id", "created_at"),
)
# The keys made for a period: a day's reminders ask only for the keys of their own periods
# (each known and stable for days — a due date, a month, a 30-day span), never the whole table.
period_index = Index(
    "ix_zhaoshang_notifications_period",
    notifications_table.c.period,
    notifications_table.c.key_hash,
)
# The reminders handled: each (rule, subject, period) with a digest of the recipients whose
# notifications exist, written in the transaction that stores them. A day skips a reminder whose
# row names the same recipients, without building, hashing or probing one key per recipient; a
# new recipient (another digest) sends it down the keyed path again. Only ever a shortcut: the
# notifications' unique key still decides what is made.
reminders_table = Table(
    "zhaoshang_notification_reminders",
    metadata,
    Column("period", String(64), primary_key=True),
    Column("rule", String(64), primary_key=True),
    Column("subject", String(128), primary_key=True),
    Column("recipients", String(64), nullable=False),
    Column("handled_at", String(40), nullable=False),
)
channels_table = Table(
    "zhaoshang_notification_channels",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("email", String(254), nullable=True),
    Column("wecom_webhook", String(1024), nullable=True),
    Column("dingtalk_webhook", String(1024), nullable=True),
    Column("dingtalk_secret", String(256), nullable=True),
    Column("language", String(8), nullable=True),
    Column("updated_at", String(40), nullable=False),
)
deliveries_table = Table(
    "zhaoshang_notification_deliveries",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("notification_id", String(36), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # pending, sending, sent, failed, dropped
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),  # epoch seconds
    Column("claimed_until", Float, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("sent_at", String(40), nullable=True),
    UniqueConstraint("notification_id", "channel", name="uq_zhaoshang_delivery_channel"),
    Index("ix_zhaoshang_deliveries_due", "status", "next_attempt_at"),
)

NOTIFICATION_COLUMNS = (
    "id",
    "key_hash",
    "rule",
    "subject",
    "recipient_id",
    "period",
    "args",
    "link",
    "created_at",
    "read_at",
)
DELIVERY_COLUMNS = (
    "notification_id",
    "channel",
    "status",
    "attempts",
    "next_attempt_at",
    "claimed_until",
    "last_error",
    "created_at",
    "sent_at",
)
CHANNELS = ("email", "wecom", "dingtalk")
PERIODS_PER_QUERY = 500  # periods asked for in one `IN (…)` when reading the known keys
ROWS_PER_TRANSACTION = 20_000  # new notifications (and their outbox rows) per transaction
INSERT_CACHE_SIZE = -65_536  # SQLite's `cache_size` while storing them (negative: KiB; 64 MiB)
STATUSES = ("pending", "sending", "sent", "failed", "dropped")
_NAMESPACE = uuid.UUID("6d1f3c52-8a0e-4c55-9b7e-2f6a1d0c2e22")


def notification_key(rule: str, subject: str, recipient_id: str, period: str) -> str:
    """The unique key of a notification: one per (rule, subject, recipient, period) (the unit
    separator cannot occur in any of them: ids, rule names and periods are plain text)."""
    text = "\x1f".join((rule, subject, recipient_id, period))
    return hashlib.sha256(text.encode()).hexdigest()


def recipients_digest(recipients: Iterable[str]) -> str:
    """What a handled reminder's row says about its recipients: the same set, the same text."""
    return hashlib.sha256("\x1f".join(sorted(set(recipients))).encode()).hexdigest()


def notification_id(key_hash: str) -> str:
    """A notification's id follows from its key: every process names it alike."""
    return str(uuid.uuid5(_NAMESPACE, key_hash))


@dataclass(frozen=True)
class NewNotification:
    rule: str
    subject: str
    recipient_id: str
    period: str
    args: dict[str, str]
    link: str  # a path under the public URL, like `/app/projects/…`
    key_hash: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        key = notification_key(self.rule, self.subject, self.recipient_id, self.period)
        object.__setattr__(self, "key_hash", key)


@dataclass(frozen=True)
class Reminder:
    """One (rule, subject, period) and everyone it goes to: it stands for one notification per
    recipient, each under its own key (`notification_key`)."""

    rule: str
    subject: str
    period: str
    args: dict[str, str]
    link: str
    recipients: tuple[str, ...]

    def notifications(self) -> list[NewNotification]:
        return [
            NewNotification(self.rule, self.subject, r, self.period, self.args, self.link)
            for r in self.recipients
        ]


@dataclass(frozen=True)
class Notification:
    id: str
    rule: str
    subject: str
    recipient_id: str
    period: str
    args: dict[str, str]
    link: str
    created_at: str
    read_at: str | None


@dataclass(frozen=True)
class Channels:
    user_id: str
    email: str | None = None
    wecom_webhook: str | None = None
    dingtalk_webhook: str | None = None
    dingtalk_secret: str | None = None
    language: str | None = None

    def chosen(self) -> list[str]:
        """The delivery channels besides the app, in a fixed order."""
        found = {
            "email": self.email,
            "wecom": self.wecom_webhook,
            "dingtalk": self.dingtalk_webhook,
        }
        return [c for c in CHANNELS if found[c]]


@dataclass(frozen=True)
class Delivery:
    id: int
    notification_id: str
    channel: str
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: str
    sent_at: str | None
    recipient_id: str | None = None
    rule: str | None = None


def _execute_many(
    conn: Connection, table: Table, names: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """A plain INSERT of many rows given as tuples of the columns `names` (straight to the
    driver's `executemany` on SQLite)."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in rows])
        return
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
        rows,
    )


@contextlib.contextmanager
def _larger_cache(conn: Connection) -> Iterator[None]:
    """SQLite's page cache at `INSERT_CACHE_SIZE` for a while, then the connection's own again.
    New notifications land all over four indexes of a large table (two keyed on hashes): with
    the default cache (2 MiB) much of each insert went to reading the same pages again."""
    if conn.dialect.name != "sqlite":
        yield
        return
    own = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql(f"PRAGMA cache_size = {INSERT_CACHE_SIZE}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(own)}")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _notification(row: Any) -> Notification:
    return Notification(
        id=row.id,
        rule=row.rule,
        subject=row.subject,
        recipient_id=row.recipient_id,
        period=row.period,
        args=json.loads(row.args),
        link=row.link,
        created_at=row.created_at,
        read_at=row.read_at,
    )


class NotificationStore:
    """The four tables, on the event store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with contextlib.suppress(sqlalchemy.exc.DatabaseError):  # another process, same moment
            metadata.create_all(engine, checkfirst=True)
        with contextlib.suppress(sqlalchemy.exc.DatabaseError):  # a table made before the index
            period_index.create(engine, checkfirst=True)

    # -- notifications -----------------------------------------------------------------------

    def _insert_ignoring_duplicates(self) -> Any:
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(notifications_table).on_conflict_do_nothing(
                index_elements=["key_hash"]
            )
        return sqlite.insert(notifications_table).on_conflict_do_nothing(
            index_elements=["key_hash"]
        )

    def add(
        self,
        wanted: Sequence[NewNotification],
        channels_of: dict[str, list[str]],
        now: datetime,
    ) -> list[Notification]:
        """Store the notifications of `wanted` not stored yet, each with an outbox row per
        channel its recipient chose (`channels_of`); answer those this call made."""
        reminders = [
            Reminder(n.rule, n.subject, n.period, n.args, n.link, (n.recipient_id,)) for n in wanted
        ]
        return self.add_reminders(reminders, channels_of, now)

    def known_keys(self, periods: Iterable[str]) -> set[str]:
        """The keys made so far for these periods (through the period index: a day's
        reminders read their own periods' keys, not every key ever made)."""
        t = notifications_table
        wanted = sorted(set(periods))
        known: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), PERIODS_PER_QUERY):
                part = wanted[start : start + PERIODS_PER_QUERY]
                result = conn.execute(select(t.c.key_hash).where(t.c.period.in_(part)))
                # Hundreds of thousands of plain strings: straight from the driver's cursor.
                known.update(row[0] for row in result.cursor.fetchall())
        return known

    def handled(self, periods: Iterable[str]) -> dict[tuple[str, str, str], str]:
        """The reminders handled so far for these periods: (rule, subject, period) → the
        digest of the recipients whose notifications exist (`recipients_digest`)."""
        t = reminders_table
        wanted = sorted(set(periods))
        found: dict[tuple[str, str, str], str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), PERIODS_PER_QUERY):
                part = wanted[start : start + PERIODS_PER_QUERY]
                result = conn.execute(
                    select(t.c.rule, t.c.subject, t.c.period, t.c.recipients).where(
                        t.c.period.in_(part)
                    )
                )
                for rule, subject, period, digest in result.cursor.fetchall():
                    found[(rule, subject, period)] = digest
        return found

    def add_reminders(
        self,
        reminders: Sequence[Reminder],
        channels_of: dict[str, list[str]],
        now: datetime,
    ) -> list[Notification]:
        """Store, for each reminder, the notification of each recipient not stored yet, with an
        outbox row per channel the recipient chose (`channels_of`); answer those this call
        made.

        A reminder handled before for the same recipients is skipped whole (`handled`). For
        the others the known keys are read once for their periods and only the new rows are
        built; the insert still lets the unique key decide (another process may be inserting
        the same at the same moment), and each reminder's handled row is written in the
        transaction of its notifications."""
        stamp = _stamp(now)
        handled = self.handled(r.period for r in reminders)
        digests: dict[tuple[str, ...], str] = {}
        pending: list[tuple[Reminder, str]] = []
        seen: set[tuple[str, str, str]] = set()
        twice: set[tuple[str, str, str]] = set()
        for reminder in reminders:
            handle = (reminder.rule, reminder.subject, reminder.period)
            digest = digests.get(reminder.recipients)
            if digest is None:
                digest = digests[reminder.recipients] = recipients_digest(reminder.recipients)
            if handle in seen:
                twice.add(handle)
            seen.add(handle)
            if handled.get(handle) != digest:
                pending.append((reminder, digest))
        if not pending:
            return []
        known = self.known_keys(r.period for r, _ in pending)
        made: list[Notification] = []
        rows: list[tuple[Any, ...]] = []
        marks: list[tuple[str, str, str, str, str]] = []
        sha256 = hashlib.sha256
        for reminder, digest in pending:
            rule, subject, period = reminder.rule, reminder.subject, reminder.period
            head, tail = f"{rule}\x1f{subject}\x1f", f"\x1f{period}"
            args: str | None = None
            for recipient in reminder.recipients:
                # notification_key(rule, subject, recipient, period), inlined: the day's loop.
                key = sha256((head + recipient + tail).encode()).hexdigest()
                if key in known:
                    continue
                known.add(key)  # a recipient named twice is one notification
                if args is None:
                    args = json.dumps(reminder.args, ensure_ascii=False, sort_keys=True)
                rows.append(
                    (
                        notification_id(key),
                        key,
                        rule,
                        subject,
                        recipient,
                        period,
                        args,
                        reminder.link,
                        stamp,
                        None,
                    )
                )
            if (rule, subject, period) not in twice:
                # Named twice in one call (with other recipients, perhaps): no row could say
                # both, so it says neither and the keys decide next time.
                marks.append((period, rule, subject, digest, stamp))
            if len(rows) >= ROWS_PER_TRANSACTION:
                made.extend(self._store(rows, marks, channels_of, now))
                rows, marks = [], []
        if rows or marks:
            made.extend(self._store(rows, marks, channels_of, now))
        return made

    def _store(
        self,
        rows: list[tuple[Any, ...]],
        marks: list[tuple[str, str, str, str, str]],
        channels_of: dict[str, list[str]],
        now: datetime,
    ) -> list[Notification]:
        """In one transaction: insert the notification `rows` (in `NOTIFICATION_COLUMNS`
        order; those another process made meanwhile are skipped), the outbox rows of those
        inserted, and the handled reminders `marks`; answer the notifications inserted."""
        stamp, epoch = _stamp(now), now.timestamp()
        with connection_for(self.engine, write=True) as conn, _larger_cache(conn):
            inserted = self._insert_new(conn, rows)
            outbox = [
                (row[0], channel, "pending", 0, epoch, None, None, stamp, None)
                for row in inserted
                for channel in channels_of.get(row[4], ())
            ]
            _execute_many(conn, deliveries_table, DELIVERY_COLUMNS, outbox)
            self._mark_handled(conn, marks)
        args_of: dict[str, dict[str, str]] = {}
        made = []
        for row in inserted:
            args = args_of.get(row[6])
            if args is None:
                args = args_of[row[6]] = json.loads(row[6])
            made.append(
                Notification(
                    id=row[0],
                    rule=row[2],
                    subject=row[3],
                    recipient_id=row[4],
                    period=row[5],
                    args=dict(args),
                    link=row[7],
                    created_at=stamp,
                    read_at=None,
                )
            )
        return made

    def _insert_new(self, conn: Connection, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Insert the notification `rows`, skipping those whose key is there already; answer
        the rows inserted."""
        if not rows:
            return []
        if conn.dialect.name != "sqlite":
            returned = conn.execute(
                self._insert_ignoring_duplicates().returning(notifications_table.c.id),
                [dict(zip(NOTIFICATION_COLUMNS, row, strict=True)) for row in rows],
            )
            ids = set(returned.scalars())
            return [row for row in rows if row[0] in ids]
        # SQLite: one statement a row on the driver's cursor, whose count says whether that row
        # went in — about as fast as one `executemany`, which would not say which.
        statement = (
            f"INSERT INTO {notifications_table.name} ({', '.join(NOTIFICATION_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in NOTIFICATION_COLUMNS)}) "
            "ON CONFLICT (key_hash) DO NOTHING"
        )
        cursor = conn.connection.cursor()
        try:
            inserted = []
            for row in rows:
                cursor.execute(statement, row)
                if cursor.rowcount == 1:
                    inserted.append(row)
        finally:
            cursor.close()
        return inserted

    def _mark_handled(self, conn: Connection, marks: list[tuple[str, str, str, str, str]]) -> None:
        if not marks:
            return
        t = reminders_table
        names = ("period", "rule", "subject", "recipients", "handled_at")
        if conn.dialect.name != "sqlite":
            insert = postgresql.insert(t)
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["period", "rule", "subject"],
                    set_={
                        "recipients": insert.excluded.recipients,
                        "handled_at": insert.excluded.handled_at,
                    },
                ),
                [dict(zip(names, mark, strict=True)) for mark in marks],
            )
            return
        conn.exec_driver_sql(
            f"INSERT INTO {t.name} ({', '.join(names)}) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (period, rule, subject) DO UPDATE SET "
            "recipients = excluded.recipients, handled_at = excluded.handled_at",
            marks,
        )

    def get(self, notification_id: str) -> Notification | None:
        t = notifications_table
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == notification_id)).first()
        return None if row is None else _notification(row)

    def for_recipient(
        self, recipient_id: str, *, unread: bool | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[Notification], int]:
        t = notifications_table
        conditions = [t.c.recipient_id == recipient_id]
        if unread is True:
            conditions.append(t.c.read_at.is_(None))
        elif unread is False:
            conditions.append(t.c.read_at.is_not(None))
        where = and_(*conditions)
        query = (
            select(t)
            .where(where)
            .order_by(t.c.created_at.desc(), t.c.id)
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(t).where(where)).scalar_one()
            rows = [_notification(r) for r in conn.execute(query)]
        return rows, int(total)

    def unread_count(self, recipient_id: str) -> int:
        t = notifications_table
        query = (
            select(func.count())
            .select_from(t)
            .where(t.c.recipient_id == recipient_id, t.c.read_at.is_(None))
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def mark_read(self, notification_id: str, recipient_id: str, now: datetime) -> bool:
        """Mark one of the recipient's notifications read (once; the first time is kept);
        False when the recipient has no such notification."""
        t = notifications_table
        with connection_for(self.engine, write=True) as conn:
            found = conn.execute(
                select(t.c.read_at).where(
                    t.c.id == notification_id, t.c.recipient_id == recipient_id
                )
            ).first()
            if found is None:
                return False
            if found.read_at is None:
                conn.execute(
                    update(t)
                    .where(t.c.id == notification_id, t.c.read_at.is_(None))
                    .values(read_at=_stamp(now))
                )
        return True

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(notifications_table)).scalar_one()
            )

    # -- channels ----------------------------------------------------------------------------

    def channels(self, user_id: str) -> Channels:
        t = channels_table
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.user_id == user_id)).first()
        if row is None:
            return Channels(user_id)
        return Channels(
            user_id=row.user_id,
            email=row.email,
            wecom_webhook=row.wecom_webhook,
            dingtalk_webhook=row.dingtalk_webhook,
            dingtalk_secret=row.dingtalk_secret,
            language=row.language,
        )

    def channels_of(self, user_ids: Iterable[str]) -> dict[str, Channels]:
        wanted = sorted(set(user_ids))
        t = channels_table
        found: dict[str, Channels] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(select(t).where(t.c.user_id.in_(wanted[start : start + 500])))
                for row in rows:
                    found[row.user_id] = Channels(
                        user_id=row.user_id,
                        email=row.email,
                        wecom_webhook=row.wecom_webhook,
                        dingtalk_webhook=row.dingtalk_webhook,
                        dingtalk_secret=row.dingtalk_secret,
                        language=row.language,
                    )
        return found

    def set_channels(self, channels: Channels, now: datetime) -> None:
        t = channels_table
        values = {
            "email": channels.email,
            "wecom_webhook": channels.wecom_webhook,
            "dingtalk_webhook": channels.dingtalk_webhook,
            "dingtalk_secret": channels.dingtalk_secret,
            "language": channels.language,
            "updated_at": _stamp(now),
        }
        with connection_for(self.engine, write=True) as conn:
            changed = conn.execute(update(t).where(t.c.user_id == channels.user_id).values(values))
            if changed.rowcount == 0:
                conn.execute(t.insert().values(user_id=channels.user_id, **values))

    # -- the outbox --------------------------------------------------------------------------

    def due(self, now: datetime, limit: int = 100) -> list[int]:
        """Outbox rows a sender may try to claim now (oldest first)."""
        d = deliveries_table
        epoch = now.timestamp()
        query = (
            select(d.c.id)
            .where(
                or_(
                    and_(d.c.status == "pending", d.c.next_attempt_at <= epoch),
                    and_(d.c.status == "sending", d.c.claimed_until < epoch),
                )
            )
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def claim(self, delivery_id: int, now: datetime, lease_seconds: float) -> Delivery | None:
        """Take one outbox row for sending (a guarded update: one sender wins); None if
        another sender has it, or it is no longer due."""
        d = deliveries_table
        epoch = now.timestamp()
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(d)
                .where(
                    d.c.id == delivery_id,
                    or_(
                        and_(d.c.status == "pending", d.c.next_attempt_at <= epoch),
                        and_(d.c.status == "sending", d.c.claimed_until < epoch),
                    ),
                )
                .values(status="sending", claimed_until=epoch + lease_seconds)
            )
            if claimed.rowcount != 1:
                return None
            row = conn.execute(select(d).where(d.c.id == delivery_id)).one()
        return _delivery(row)

    def sent(self, delivery_id: int, now: datetime) -> None:
        d = deliveries_table
        with self.engine.begin() as conn:
            conn.execute(
                update(d)
                .where(d.c.id == delivery_id)
                .values(
                    status="sent",
                    attempts=d.c.attempts + 1,
                    sent_at=_stamp(now),
                    claimed_until=None,
                    last_error=None,
                )
            )

    def failed_attempt(
        self, delivery_id: int, error: str, retry_at: datetime | None, *, drop: bool = False
    ) -> None:
        """One attempt failed: try again at `retry_at`, or give up (`failed`; `dropped` when the
        channel is gone)."""
        d = deliveries_table
        status = "dropped" if drop else ("failed" if retry_at is None else "pending")
        values: dict[str, Any] = {
            "status": status,
            "attempts": d.c.attempts + (0 if drop else 1),
            "claimed_until": None,
            "last_error": error[:500],
        }
        if retry_at is not None:
            values["next_attempt_at"] = retry_at.timestamp()
        with self.engine.begin() as conn:
            conn.execute(update(d).where(d.c.id == delivery_id).values(values))

    def deliveries(
        self, status: str | None = None, limit: int = 200, offset: int = 0
    ) -> tuple[list[Delivery], int]:
        d, n = deliveries_table, notifications_table
        where = d.c.status == status if status else None
        query = (
            select(d, n.c.recipient_id, n.c.rule)
            .select_from(d.join(n, n.c.id == d.c.notification_id))
            .order_by(d.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        count = select(func.count()).select_from(d)
        if where is not None:
            query, count = query.where(where), count.where(where)
        with self.engine.connect() as conn:
            total = conn.execute(count).scalar_one()
            rows = [_delivery(r) for r in conn.execute(query)]
        return rows, int(total)


def _delivery(row: Any) -> Delivery:
    mapping = row._mapping
    return Delivery(
        id=int(row.id),
        notification_id=row.notification_id,
        channel=row.channel,
        status=row.status,
        attempts=int(row.attempts),
        next_attempt_at=float(row.next_attempt_at),
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
        recipient_id=mapping.get("recipient_id"),
        rule=mapping.get("rule"),
    )
