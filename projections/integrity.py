"""Tamper evidence over the whole record: bulk chain verification and signed checkpoints.

`verify_all` reads every stored event once, in one streaming query ordered by stream and
version, and recomputes every stream's hash chain (`domain.integrity.check_stream`).
`verify_project` does the same for one project.

A checkpoint is a JSON document listing every stream's head (id, version, hash), the time it
was made and the last notification id it covers, signed with Ed25519. The private key never
comes from the database. `verify_checkpoint` checks the signature against a trusted public key
and that today's chains still extend every head: the head version still exists with the same
hash. That catches what a chain alone cannot: the deletion (or alteration) of a stream's newest
events, and the deletion of whole streams.

Signature: Ed25519 over the UTF-8 bytes of the canonical JSON of the document without its
`signature` member (`json.dumps(payload, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`); `signature` is the 64-byte signature in hex.

Keys are read from PEM (PKCS#8 `BEGIN PRIVATE KEY` / SubjectPublicKeyInfo `BEGIN PUBLIC KEY`,
unencrypted), from OpenSSH format (`BEGIN OPENSSH PRIVATE KEY` / `ssh-ed25519 AAAA…`), or from
the raw 32-byte key as 64 hex digits.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, cast
from uuid import UUID

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing_sqlalchemy.recorders import SQLAlchemyAggregateRecorder
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    select,
)

from domain import errors
from domain.application import Ledger
from domain.canonical import canonical_json
from domain.integrity import GENESIS, BrokenLink, ChainedMapper, StreamCheck, check_stream

CHECKPOINT_FORMAT = "zhaoshang-checkpoint/1"
YIELD_PER = 2_000
MAX_REPORTED = 100  # broken links / problems kept in a report; all are counted
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


# ---- reading the whole record once -----------------------------------------------------------


class _Scan:
    """Every stored event, grouped by stream, from one streaming query; counts as it goes."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.events = 0
        self.streams = 0
        self.last_notification_id: int | None = None
        self.started = time.perf_counter()
        self.seconds = 0.0

    def _rows(self) -> Iterator[tuple[int, StoredEvent]]:
        recorder = self.ledger.recorder
        if isinstance(recorder, SQLAlchemyAggregateRecorder):
            engine = _engine(self.ledger)
            table = events_table(self.ledger)
            query = select(
                table.c.id,
                table.c.originator_id,
                table.c.originator_version,
                table.c.topic,
                table.c.state,
            ).order_by(table.c.originator_id, table.c.originator_version)
            with engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=YIELD_PER).execute(
                    query
                )
                for notification_id, originator_id, version, topic, state in result:
                    yield (
                        notification_id,
                        StoredEvent(
                            originator_id=originator_id,
                            originator_version=version,
                            topic=topic,
                            state=bytes(state) if isinstance(state, memoryview) else state,
                        ),
                    )
            return
        # Any other recorder (the in-memory one of the unit tests): read the notification log
        # and sort it the way the SQL query does (stream id bytes, then version).
        notifications: list[Notification] = []
        start = 1
        while True:
            page = recorder.select_notifications(start=start, limit=10_000)
            if not page:
                break
            notifications.extend(page)
            start = page[-1].id + 1
        notifications.sort(key=lambda n: (_id_key(n.originator_id), n.originator_version))
        for n in notifications:
            yield n.id, StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)

    def __iter__(self) -> Iterator[list[StoredEvent]]:
        def counted() -> Iterator[StoredEvent]:
            for notification_id, row in self._rows():
                self.events += 1
                if self.last_notification_id is None or notification_id > self.last_notification_id:
                    self.last_notification_id = notification_id
                yield row

        for _, group in itertools.groupby(counted(), key=lambda r: r.originator_id):
            self.streams += 1
            yield list(group)
        self.seconds = time.perf_counter() - self.started


def _id_key(originator_id: UUID | str) -> bytes:
    return originator_id.bytes if isinstance(originator_id, UUID) else str(originator_id).encode()


def events_table(ledger: Ledger) -> Table:
    """The SQLAlchemy table of the ledger's stored events (`zhaoshang_events`)."""
    recorder = ledger.recorder
    if not isinstance(recorder, SQLAlchemyAggregateRecorder):
        raise TypeError("the ledger is not stored through SQLAlchemy")
    return cast(Table, recorder.events_record_cls.__table__)


def _engine(ledger: Ledger) -> Engine:
    recorder = ledger.recorder
    if not isinstance(recorder, SQLAlchemyAggregateRecorder):
        raise TypeError("the ledger is not stored through SQLAlchemy")
    engine = recorder.datastore.engine
    assert isinstance(engine, Engine)
    return engine


def _mapper(ledger: Ledger) -> ChainedMapper:
    mapper = ledger.mapper
    assert isinstance(mapper, ChainedMapper)
    return mapper


def _rate(events: int, seconds: float) -> float:
    return events / seconds if seconds > 0 else float(events)


# ---- verify ----------------------------------------------------------------------------------


@dataclass
class VerifyReport:
    """Every chain recomputed: how much was read, how fast, and the first break per stream."""

    streams: int
    events: int
    seconds: float
    last_notification_id: int | None
    broken: list[BrokenLink] = field(default_factory=list)
    broken_streams: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_streams == 0

    @property
    def first(self) -> BrokenLink | None:
        """The first broken link, in stream order."""
        return self.broken[0] if self.broken else None

    @property
    def rate(self) -> float:
        return _rate(self.events, self.seconds)

    def summary(self) -> str:
        figures = (
            f"{self.events:,} events in {self.streams:,} streams, {self.seconds:.2f} s "
            f"({self.rate:,.0f} events/s)"
        )
        if self.first is None:
            return f"verify: ok — {figures}, last notification id {self.last_notification_id}"
        b = self.first
        return (
            f"verify: BROKEN — stream {b.stream_id} version {b.version}: {b.reason} [{b.code}]; "
            f"{self.broken_streams} of {self.streams:,} streams broken; {figures}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "streams": self.streams,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.rate),
            "last_notification_id": self.last_notification_id,
            "broken_streams": self.broken_streams,
            "broken": [b.as_dict() for b in self.broken],
        }


def verify_all(ledger: Ledger) -> VerifyReport:
    """Read every stored event once, in bulk, and recompute every stream's chain."""
    mapper = _mapper(ledger)
    scan = _Scan(ledger)
    broken: list[BrokenLink] = []
    broken_streams = 0
    for rows in scan:
        check = check_stream(mapper, rows)
        if check.broken is not None:
            broken_streams += 1
            if len(broken) < MAX_REPORTED:
                broken.append(check.broken)
    return VerifyReport(
        streams=scan.streams,
        events=scan.events,
        seconds=scan.seconds,
        last_notification_id=scan.last_notification_id,
        broken=broken,
        broken_streams=broken_streams,
    )


class BrokenAt(TypedDict):
    version: int
    reason: str
    code: str


class ProjectVerification(TypedDict):
    """The answer of `GET /projects/{id}/verify`."""

    ok: bool
    broken_at: BrokenAt | None
    events: int
    version: int
    hash: str


def verify_project(ledger: Ledger, project_id: UUID | str) -> ProjectVerification:
    """One project's chain: `{ok, broken_at: {version, reason, code} | None, events, version,
    hash}` (version and hash of the stored head). Unknown id: `errors.NotFound`."""
    try:
        key = project_id if isinstance(project_id, UUID) else UUID(str(project_id))
    except ValueError:
        raise errors.NotFound(f"no project {project_id}", field="project_id") from None
    rows = ledger.recorder.select_events(key)
    if not any(row.topic.startswith("domain.project:") for row in rows):
        raise errors.NotFound(f"no project {project_id}", field="project_id")
    check = check_stream(_mapper(ledger), rows)
    broken_at: BrokenAt | None = None
    if check.broken is not None:
        b = check.broken
        broken_at = {"version": b.version, "reason": b.reason, "code": b.code}
    return {
        "ok": broken_at is None,
        "broken_at": broken_at,
        "events": check.events,
        "version": check.head_version,
        "hash": check.head_hash,
    }


# ---- keys ------------------------------------------------------------------------------------


def _text(material: str | bytes) -> str:
    return (
        material.decode("utf-8", "replace") if isinstance(material, bytes) else material
    ).strip()


def load_private_key(material: str | bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8), OpenSSH, or 64 hex digits (the raw key)."""
    text = _text(material)
    try:
        if text.startswith("-----BEGIN OPENSSH PRIVATE KEY"):
            key: object = serialization.load_ssh_private_key(text.encode(), password=None)
        elif text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        elif _HEX64.match(text.lower()):
            key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))
        else:
            raise ValueError("neither PEM nor 64 hex digits")
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise errors.InvalidKey(f"not an Ed25519 private key: {e}", field="private_key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise errors.InvalidKey("the private key is not an Ed25519 key", field="private_key")
    return key


def load_public_key(material: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo), an OpenSSH line, or 64 hex
    digits (the raw key)."""
    text = _text(material)
    try:
        if text.startswith("ssh-ed25519 "):
            key: object = serialization.load_ssh_public_key(text.encode())
        elif text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        elif _HEX64.match(text.lower()):
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
        else:
            raise ValueError("neither PEM nor 64 hex digits")
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise errors.InvalidKey(f"not an Ed25519 public key: {e}", field="public_key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise errors.InvalidKey("the public key is not an Ed25519 key", field="public_key")
    return key


def public_key_hex(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The raw 32-byte public key in hex: how a checkpoint names its signer."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


# ---- checkpoints -----------------------------------------------------------------------------


def _iso_utc(ledger: Ledger) -> str:
    return ledger.clock().astimezone(UTC).isoformat().replace("+00:00", "Z")


def make_checkpoint(ledger: Ledger, private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Every stream's head, signed. Refuses (`errors.ChainBroken`) to vouch for a record whose
    chains do not hold."""
    mapper = _mapper(ledger)
    scan = _Scan(ledger)
    heads: list[dict[str, Any]] = []
    first_broken: BrokenLink | None = None
    broken_streams = 0
    for rows in scan:
        check = check_stream(mapper, rows)
        if check.broken is not None:
            broken_streams += 1
            first_broken = first_broken or check.broken
            continue
        heads.append(
            {"id": check.stream_id, "version": check.head_version, "hash": check.head_hash}
        )
    if first_broken is not None:
        b = first_broken
        raise errors.ChainBroken(
            f"{broken_streams} stream(s) do not verify, so no checkpoint was signed; first: "
            f"stream {b.stream_id} version {b.version}: {b.reason} [{b.code}]"
        )
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "application": ledger.name,
        "created_at": _iso_utc(ledger),
        "last_notification_id": scan.last_notification_id,
        "streams": scan.streams,
        "events": scan.events,
        "public_key": public_key_hex(private_key),
        "heads": heads,
    }
    signature = private_key.sign(canonical_json(payload).encode()).hex()
    return {**payload, "signature": signature}


def parse_checkpoint(doc: Mapping[str, Any] | str | bytes) -> dict[str, Any]:
    """A checkpoint document checked for shape (not for its signature)."""
    if isinstance(doc, (str, bytes)):
        try:
            loaded = json.loads(doc)
        except ValueError as e:
            raise errors.CheckpointInvalid(f"the checkpoint is not JSON: {e}") from None
    else:
        loaded = dict(doc)
    if not isinstance(loaded, dict):
        raise errors.CheckpointInvalid("the checkpoint is not a JSON object")
    if loaded.get("format") != CHECKPOINT_FORMAT:
        raise errors.CheckpointInvalid(
            f"the checkpoint's format is {loaded.get('format')!r}, not {CHECKPOINT_FORMAT!r}",
            field="format",
        )
    for name in ("signature", "public_key"):
        value = loaded.get(name)
        if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]+", value):
            raise errors.CheckpointInvalid(f"{name} must be lower-case hex", field=name)
    if not isinstance(loaded.get("created_at"), str):
        raise errors.CheckpointInvalid("created_at must be a timestamp", field="created_at")
    last = loaded.get("last_notification_id")
    if last is not None and not _is_int(last):
        raise errors.CheckpointInvalid(
            "last_notification_id must be an integer", field="last_notification_id"
        )
    if not _is_int(loaded.get("events", 0)):
        raise errors.CheckpointInvalid("events must be an integer", field="events")
    heads = loaded.get("heads")
    if not isinstance(heads, list):
        raise errors.CheckpointInvalid("heads must be a list", field="heads")
    for index, head in enumerate(heads):
        where = f"heads[{index}]"
        if not isinstance(head, dict) or not isinstance(head.get("id"), str):
            raise errors.CheckpointInvalid("a head needs a stream id", field=f"{where}.id")
        if not _is_int(head.get("version")) or head["version"] < 1:
            raise errors.CheckpointInvalid("a head's version is a positive integer", field=where)
        if not isinstance(head.get("hash"), str) or not _HEX64.match(head["hash"]):
            raise errors.CheckpointInvalid("a head's hash is 64 hex digits", field=where)
    return loaded


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _stream_key(stream_id: str) -> str:
    try:
        return str(UUID(stream_id))
    except ValueError:
        return stream_id


@dataclass(frozen=True)
class CheckpointProblem:
    """Why a checkpoint does not hold today, by stream and version where there is one.

    Codes: `wrong_key`, `bad_signature`, `stream_missing`, `head_missing`, `head_mismatch`,
    `chain_broken` (and the broken link's own code in `detail`), `notification_id_regressed`,
    `uncovered_event` (recorded, it says, before the checkpoint, yet not covered by it).
    """

    code: str
    reason: str
    stream_id: str | None = None
    version: int | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "reason": self.reason,
            "stream_id": self.stream_id,
            "version": self.version,
            "detail": self.detail,
        }


@dataclass
class CheckpointReport:
    signature_ok: bool
    signed_by: str
    created_at: str
    last_notification_id: int | None
    heads: int
    heads_checked: int = 0
    streams_extended: int = 0
    events_then: int = 0
    events_now: int = 0
    seconds: float = 0.0
    problems: list[CheckpointProblem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.signature_ok and self.problem_count == 0

    def add(self, problem: CheckpointProblem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(problem)

    def summary(self) -> str:
        if self.ok:
            return (
                f"checkpoint: ok — signed {self.created_at} by {self.signed_by[:16]}…; "
                f"{self.heads_checked:,} heads still extended by today's chains "
                f"({self.streams_extended:,} streams grew; {self.events_then:,} events then, "
                f"{self.events_now:,} now), {self.seconds:.2f} s"
            )
        first = self.problems[0]
        where = ""
        if first.stream_id is not None:
            where = f"stream {first.stream_id} version {first.version}: "
        return (
            f"checkpoint: FAILED — {where}{first.reason} [{first.code}]; "
            f"{self.problem_count} problem(s)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "signature_ok": self.signature_ok,
            "signed_by": self.signed_by,
            "created_at": self.created_at,
            "last_notification_id": self.last_notification_id,
            "heads": self.heads,
            "heads_checked": self.heads_checked,
            "streams_extended": self.streams_extended,
            "events_then": self.events_then,
            "events_now": self.events_now,
            "problem_count": self.problem_count,
            "problems": [p.as_dict() for p in self.problems],
        }


def check_signature(
    doc: Mapping[str, Any], public_key: Ed25519PublicKey
) -> CheckpointProblem | None:
    """None when `doc` was signed by `public_key` and not changed since; else the problem."""
    trusted = public_key_hex(public_key)
    payload = {k: v for k, v in doc.items() if k != "signature"}
    try:
        public_key.verify(bytes.fromhex(doc["signature"]), canonical_json(payload).encode())
    except (InvalidSignature, ValueError):
        if doc.get("public_key") != trusted:
            return CheckpointProblem(
                "wrong_key",
                f"the checkpoint was not signed with the trusted key (it names signer "
                f"{str(doc.get('public_key'))[:16]}…, the trusted key is {trusted[:16]}…)",
            )
        return CheckpointProblem(
            "bad_signature",
            "the signature does not match the document: it was altered after signing, or forged",
        )
    return None


def verify_checkpoint(
    ledger: Ledger, doc: Mapping[str, Any] | str | bytes, public_key: Ed25519PublicKey
) -> CheckpointReport:
    """Check a checkpoint's signature with the trusted `public_key`, then that today's chains
    still hold and still extend every head it lists (one bulk read of the record)."""
    checkpoint = parse_checkpoint(doc)
    report = CheckpointReport(
        signature_ok=False,
        signed_by=str(checkpoint["public_key"]),
        created_at=str(checkpoint["created_at"]),
        last_notification_id=checkpoint.get("last_notification_id"),
        heads=len(checkpoint["heads"]),
        events_then=int(checkpoint.get("events", 0)),
    )
    started = time.perf_counter()
    problem = check_signature(checkpoint, public_key)
    if problem is not None:
        report.add(problem)
        report.seconds = time.perf_counter() - started
        return report
    report.signature_ok = True

    heads: dict[str, tuple[int, str]] = {
        _stream_key(h["id"]): (int(h["version"]), str(h["hash"])) for h in checkpoint["heads"]
    }
    mapper = _mapper(ledger)
    scan = _Scan(ledger)
    signed_at = _moment(checkpoint["created_at"])
    for rows in scan:
        check = check_stream(mapper, rows)
        head = heads.pop(_stream_key(check.stream_id), None)
        if signed_at is not None:
            uncovered = _uncovered_before(mapper, rows, head, signed_at)
            if uncovered is not None:
                report.add(uncovered)
        found = _head_problem(check, head)
        if found is not None:
            report.add(found)
        elif head is not None:
            report.heads_checked += 1
            if check.head_version > head[0]:
                report.streams_extended += 1
    for stream_id, (version, _) in heads.items():
        report.add(
            CheckpointProblem(
                "stream_missing",
                f"the stream is gone: all its events (versions 1–{version}) were deleted",
                stream_id,
                1,
            )
        )
    report.events_now = scan.events
    then, now = report.last_notification_id, scan.last_notification_id
    if then is not None and (now is None or now < then):
        report.add(
            CheckpointProblem(
                "notification_id_regressed",
                f"the newest notification id is now {now}, below the checkpoint's {then}: "
                "the newest events were deleted",
            )
        )
    report.seconds = time.perf_counter() - started
    return report


# A command reads the clock before it commits: an event committed just after the checkpoint
# read the heads may carry a time a little before it. Only what is older than this is flagged.
IN_FLIGHT_GRACE = timedelta(seconds=60)


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _uncovered_before(
    mapper: ChainedMapper,
    rows: list[StoredEvent],
    head: tuple[int, str] | None,
    signed_at: datetime,
) -> CheckpointProblem | None:
    """The first event the checkpoint does not cover (a stream it does not list, or a version
    after its head) that says it was recorded before the checkpoint was signed: it was added
    to the record afterwards with a back-dated time."""
    covered = 0 if head is None else head[0]
    for row in rows:
        if row.originator_version <= covered:
            continue
        try:
            recorded_at = _moment(mapper.decode_state(row).get("timestamp"))
        except Exception:  # an unreadable row is the chain check's finding
            continue
        if recorded_at is not None and recorded_at < signed_at - IN_FLIGHT_GRACE:
            return CheckpointProblem(
                "uncovered_event",
                f"version {row.originator_version} says it was recorded at "
                f"{recorded_at.isoformat()}, before the checkpoint was signed "
                f"({signed_at.isoformat()}), yet the checkpoint does not cover it: it was added "
                "later with a back-dated time",
                str(row.originator_id),
                row.originator_version,
            )
    return None


def _head_problem(check: StreamCheck, head: tuple[int, str] | None) -> CheckpointProblem | None:
    broken = check.broken
    if head is None:
        if broken is None:
            return None  # a stream begun after the checkpoint
        return _chain_problem(broken)
    version, digest = head
    if broken is not None and broken.version <= version:
        return _chain_problem(broken)
    if check.head_version < version:
        first_gone = check.head_version + 1
        gone = (
            f"version {first_gone}" if first_gone == version else f"versions {first_gone}–{version}"
        )
        return CheckpointProblem(
            "head_missing",
            f"the checkpoint's head, version {version}, is gone: the stream now ends at version "
            f"{check.head_version} ({gone} deleted)",
            check.stream_id,
            first_gone,
        )
    if check.hash_at(version) != digest:
        return CheckpointProblem(
            "head_mismatch",
            f"version {version} no longer has the hash the checkpoint recorded: it (or the "
            "history before it) was changed after the checkpoint was signed",
            check.stream_id,
            version,
        )
    if broken is not None:
        return _chain_problem(broken)
    return None


def _chain_problem(broken: BrokenLink) -> CheckpointProblem:
    return CheckpointProblem(
        "chain_broken", broken.reason, broken.stream_id, broken.version, detail=broken.code
    )


# ---- issued checkpoints (optional table) -----------------------------------------------------


def checkpoints_table(ledger: Ledger) -> Table:
    """`<app>_checkpoints`: signed checkpoint documents as issued (created on first use)."""
    metadata = MetaData()
    return Table(
        f"{ledger.name}_checkpoints",
        metadata,
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
        Column("created_at", Text(), nullable=False),
        Column("last_notification_id", BigInteger(), nullable=True),
        Column("public_key", Text(), nullable=False),
        Column("document", Text(), nullable=False),
    )


def record_checkpoint(ledger: Ledger, doc: Mapping[str, Any]) -> int:
    """Keep an issued checkpoint in the database (the signed JSON, as made); answer its id.

    The copy in the database is a convenience for `GET /checkpoints`: it proves nothing by
    being there, and whoever audits keeps their own copies outside the database.
    """
    checkpoint = parse_checkpoint(doc)
    table = checkpoints_table(ledger)
    engine = _engine(ledger)
    table.create(engine, checkfirst=True)
    datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
    # In the event store's transaction, so an enclosing one (an idempotent POST) holds it too.
    with datastore.transaction(commit=True) as conn:
        result = conn.execute(
            table.insert().values(
                created_at=checkpoint["created_at"],
                last_notification_id=checkpoint.get("last_notification_id"),
                public_key=checkpoint["public_key"],
                document=json.dumps(checkpoint, ensure_ascii=False, indent=1),
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def list_checkpoints(ledger: Ledger, limit: int = 100) -> list[dict[str, Any]]:
    """Issued checkpoints, newest first: {id, created_at, last_notification_id, public_key,
    document} (document is the signed JSON object)."""
    table = checkpoints_table(ledger)
    engine = _engine(ledger)
    table.create(engine, checkfirst=True)
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.id.desc()).limit(limit)).all()
    return [
        {
            "id": row.id,
            "created_at": row.created_at,
            "last_notification_id": row.last_notification_id,
            "public_key": row.public_key,
            "document": json.loads(row.document),
        }
        for row in rows
    ]


__all__ = [
    "CHECKPOINT_FORMAT",
    "GENESIS",
    "CheckpointProblem",
    "CheckpointReport",
    "ProjectVerification",
    "VerifyReport",
    "check_signature",
    "generate_private_key",
    "list_checkpoints",
    "load_private_key",
    "load_public_key",
    "make_checkpoint",
    "parse_checkpoint",
    "private_key_pem",
    "public_key_hex",
    "public_key_pem",
    "record_checkpoint",
    "verify_all",
    "verify_checkpoint",
    "verify_project",
]
