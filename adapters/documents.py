"""Frozen documents (the quarterly dispatch, the annual evaluation, daily reminders) and their
exactly-once store.

A document is created inside one transaction guarded by a unique key on (kind, period,
revision): however many processes try, one insert wins and the others find it there. Content is
never overwritten; a changed record produces revision n+1 that references revision n and lists
what changed.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import eventsourcing.persistence
import msgspec
import sqlalchemy.exc
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
)

from domain.canonical import canonical_json, content_hash

T = TypeVar("T")

metadata = MetaData()
documents_table = Table(
    "zhaoshang_documents",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("kind", String(32), nullable=False),
    Column("period", String(32), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("content", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("generated_at", String(40), nullable=False),
    Column("generated_by", String(128), nullable=False),
    Column("revises", BigInteger, nullable=True),
    Column("changes", Text, nullable=True),
    UniqueConstraint("kind", "period", "revision", name="uq_zhaoshang_documents_period"),
)


@dataclass(frozen=True)
class Document:
    id: int
    kind: str
    period: str
    revision: int
    content: dict[str, Any]
    content_hash: str
    position: int
    generated_at: str
    generated_by: str
    revises: int | None
    changes: dict[str, Any] | None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "period": self.period,
            "revision": self.revision,
            "content_hash": self.content_hash,
            "position": self.position,
            "generated_at": self.generated_at,
            "generated_by": self.generated_by,
            "revises": self.revises,
            "changes": self.changes,
        }


def _document(row: Any, content: dict[str, Any] | None = None) -> Document:
    return Document(
        id=row.id,
        kind=row.kind,
        period=row.period,
        revision=row.revision,
        content=json.loads(row.content) if content is None else content,
        content_hash=row.content_hash,
        position=row.position,
        generated_at=row.generated_at,
        generated_by=row.generated_by,
        revises=row.revises,
        changes=json.loads(row.changes) if row.changes else None,
    )


def parse_content(text: str) -> dict[str, Any]:
    """A document's canonical JSON: msgspec's compiled decoder (several times the json
    module's rate on a province's 9 MB dispatch), the json module for what it refuses."""
    try:
        content: dict[str, Any] = msgspec.json.decode(text)
    except msgspec.MsgspecError:
        content = json.loads(text)
    return content


# The parsed contents kept in a process, by the size of their text: a province's dispatch is
# about 9 MB of JSON and takes most of a second to parse, and pages read the same few.
PARSED_KEPT_CHARS = 32_000_000


class ParsedContents:
    """Contents already parsed, by document id. A stored document is never changed (a change is
    a new revision, a new id), so its parsed content stays right for as long as it is kept;
    the least recently read go first once their text passes `limit` characters. Readers share
    the parsed content and must not change it."""

    def __init__(self, limit: int = PARSED_KEPT_CHARS) -> None:
        self.limit = limit
        self._kept: OrderedDict[int, tuple[int, dict[str, Any]]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, document_id: int) -> dict[str, Any] | None:
        with self._lock:
            found = self._kept.get(document_id)
            if found is None:
                return None
            self._kept.move_to_end(document_id)
            return found[1]

    def put(self, document_id: int, size: int, content: dict[str, Any]) -> None:
        if size > self.limit:
            return
        with self._lock:
            if document_id in self._kept:
                return
            self._kept[document_id] = (size, content)
            self._size += size
            while self._size > self.limit:
                _, (dropped, _) = self._kept.popitem(last=False)
                self._size -= dropped


class DocumentStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.parsed = ParsedContents()
        # Another process may create it at the same moment.
        with contextlib.suppress(sqlalchemy.exc.DatabaseError):
            metadata.create_all(engine, checkfirst=True)

    def _one(self, *conditions: Any, newest: bool = False) -> Document | None:
        """The document the conditions name (the highest revision with `newest`): its other
        columns first, then its content, parsed only when this process has not parsed it."""
        t = documents_table
        query = select(*[c for c in t.c if c.name != "content"]).where(*conditions)
        if newest:
            query = query.order_by(t.c.revision.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            content = self.parsed.get(row.id)
            if content is None:
                text = conn.execute(select(t.c.content).where(t.c.id == row.id)).scalar_one()
                content = parse_content(text)
                self.parsed.put(row.id, len(text), content)
        return _document(row, content)

    def latest(self, kind: str, period: str) -> Document | None:
        t = documents_table
        return self._one(t.c.kind == kind, t.c.period == period, newest=True)

    def get(self, kind: str, period: str, revision: int | None = None) -> Document | None:
        if revision is None:
            return self.latest(kind, period)
        t = documents_table
        return self._one(t.c.kind == kind, t.c.period == period, t.c.revision == revision)

    def list(self, kind: str | None = None) -> list[Document]:
        t = documents_table
        query = select(t).order_by(t.c.kind, t.c.period, t.c.revision)
        if kind:
            query = query.where(t.c.kind == kind)
        with self.engine.connect() as conn:
            return [_document(r) for r in conn.execute(query)]

    def summaries(self, kind: str, period: str | None = None) -> builtins.list[dict[str, Any]]:
        """`Document.summary()` of each document of `kind` (one `period`'s when given), read
        without their content (a listing need not parse every frozen document)."""
        t = documents_table
        columns = [c for c in t.c if c.name != "content"]
        query = select(*columns).where(t.c.kind == kind)
        if period is not None:
            query = query.where(t.c.period == period)
        query = query.order_by(t.c.period, t.c.revision)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            {
                **{k: row[k] for k in ("id", "kind", "period", "revision", "content_hash")},
                **{k: row[k] for k in ("position", "generated_at", "generated_by", "revises")},
                "changes": json.loads(row["changes"]) if row["changes"] else None,
            }
            for row in rows
        ]

    def periods(self, kind: str) -> set[str]:
        t = documents_table
        with self.engine.connect() as conn:
            return set(
                conn.execute(select(t.c.period).where(t.c.kind == kind).distinct()).scalars()
            )

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(documents_table)).scalar_one())

    def create(
        self,
        *,
        kind: str,
        period: str,
        revision: int,
        content: dict[str, Any],
        position: int,
        generated_by: str,
        now: datetime,
        revises: int | None = None,
        changes: dict[str, Any] | None = None,
    ) -> Document | None:
        """Insert the document in one transaction; answer None if that (kind, period, revision)
        already exists (another process made it first)."""
        values = document_row(
            kind=kind,
            period=period,
            revision=revision,
            content=content,
            position=position,
            generated_by=generated_by,
            now=now,
            revises=revises,
            changes=changes,
        )
        try:
            with self.engine.begin() as conn:
                result = conn.execute(documents_table.insert().values(**values))
                new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        except sqlalchemy.exc.IntegrityError:
            return None
        return self.get(kind, period, revision) if new_id is not None else None


def document_row(
    *,
    kind: str,
    period: str,
    revision: int,
    content: dict[str, Any],
    position: int,
    generated_by: str,
    now: datetime,
    revises: int | None = None,
    changes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The row of a new document, for inserting it inside another transaction too."""
    return {
        "kind": kind,
        "period": period,
        "revision": revision,
        "content": canonical_json(content),
        "content_hash": content_hash(content),
        "position": position,
        "generated_at": now.astimezone(UTC).isoformat(),
        "generated_by": generated_by,
        "revises": revises,
        "changes": None if changes is None else canonical_json(changes),
    }


class DocumentExists(Exception):
    """A document of that (kind, period, revision) is already stored."""


def insert_with(ledger: Any, row: dict[str, Any], save: Callable[[], T]) -> T:
    """Insert a document row and run `save` (which saves aggregates through `ledger`) in the
    event store's one transaction: both are stored, or neither is. The document's unique key
    refusing the row → `DocumentExists`."""
    datastore = ledger.recorder.datastore
    try:
        with datastore.transaction(commit=True) as session:
            session.execute(documents_table.insert().values(**row))
            return save()
    except (sqlalchemy.exc.IntegrityError, eventsourcing.persistence.IntegrityError) as e:
        # (the events' own conflicts surface as `VersionConflict` from `save`; the library
        # raises its own IntegrityError for one found at commit)
        raise DocumentExists(row["kind"], row["period"], row["revision"]) from e
