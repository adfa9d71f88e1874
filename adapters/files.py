"""Evidence files: a content-addressed, write-once file store and its index in the database.

`FileStore` is the interface; `FolderFileStore` keeps each file at `ROOT/ab/abcdef…` (its
SHA-256 in hex), read-only. A file is received into `ROOT/.incoming/` while it is hashed and
counted (`Incoming.write` refuses the first byte past the limit, so nothing larger is ever held
or kept), then linked into place: the same bytes twice are one file, and of two concurrent
uploads of the same bytes the second finds the first's link and discards its copy.

An S3-compatible store implements the same interface: `receive` streams to a multipart upload
under `incoming/<uuid>` while hashing; `keep` copies it to `sha256/<hex>` with
`If-None-Match: *` (write-once; a 412 means the object is already there) and deletes the staging
object; `open` is a GetObject; `digest` re-reads the object and hashes it (or compares the
`ChecksumSHA256` the store computed at upload). Object Lock in compliance mode makes the bucket
itself write-once. Nothing else in the product names the folder.

`FileIndex` holds, in the ledger's database, what the store cannot: each file's size and media
type (`zhaoshang_files`), who uploaded it under which name (`zhaoshang_file_uploads`), and which
events reference it (`zhaoshang_file_references`, written by the event store's recorder in the
transaction that stores the events, so it never disagrees with the log).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.persistence import StoredEvent
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    inspect,
    select,
)

CHUNK = 1024 * 1024
EVIDENCE_FILES = "evidence_files"  # the envelope field (domain/events.py)

metadata = MetaData()
files_table = Table(
    "zhaoshang_files",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False),
)
uploads_table = Table(
    "zhaoshang_file_uploads",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("user_id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
)
references_table = Table(
    "zhaoshang_file_references",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("stream_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
)


class FileTooLarge(Exception):
    """The upload passed the store's size limit; nothing of it is kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than {limit} bytes")
        self.limit = limit


class Incoming(Protocol):
    """A file being received: written in chunks, hashed and counted as it comes."""

    @property
    def sha256(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def path(self) -> Path: ...

    def write(self, chunk: bytes) -> None: ...

    def finish(self) -> None:
        """Every byte written and synced: `path` may be read."""
        ...

    def discard(self) -> None: ...


class FileStore(Protocol):
    """Content-addressed, write-once storage of evidence files."""

    def receive(self, limit: int) -> Incoming: ...

    def keep(self, incoming: Incoming) -> str:
        """Move a completely received file into place; answers its SHA-256."""
        ...

    def open(self, sha256: str) -> IO[bytes]:
        """The stored bytes (`FileNotFoundError` when missing)."""
        ...

    def digest(self, sha256: str) -> str | None:
        """The SHA-256 of the bytes stored under `sha256` now, None when they are missing."""
        ...


class _IncomingFile:
    def __init__(self, folder: Path, limit: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=folder, prefix="upload-")
        self._file = os.fdopen(handle, "wb")
        self._path = Path(name)
        self._hash = hashlib.sha256()
        self._size = 0
        self._limit = limit

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def size(self) -> int:
        return self._size

    @property
    def path(self) -> Path:
        return self._path

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._limit:
            self.discard()
            raise FileTooLarge(self._limit)
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


class FolderFileStore:
    """A folder holding each file read-only at `ab/abcdef…` (its SHA-256)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.incoming = self.root / ".incoming"

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def receive(self, limit: int) -> _IncomingFile:
        return _IncomingFile(self.incoming, limit)

    def keep(self, incoming: Incoming) -> str:
        assert isinstance(incoming, _IncomingFile)
        incoming.finish()
        sha256 = incoming.sha256
        final = self.path_of(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(incoming.path, 0o444)
        try:
            os.link(incoming.path, final)  # atomic, and never replaces: write-once
        except FileExistsError:
            if self.digest(sha256) != sha256:
                # The copy on disk was altered or truncated (verify reports it); the bytes just
                # received are the ones its name promises, so they take its place.
                os.replace(incoming.path, final)
        incoming.discard()
        return sha256

    def open(self, sha256: str) -> IO[bytes]:
        return self.path_of(sha256).open("rb")

    def digest(self, sha256: str) -> str | None:
        try:
            with self.open(sha256) as f:
                digest = hashlib.sha256()
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        return digest.hexdigest()


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    media_type: str


def ensure_tables(engine: Engine, tables: Sequence[Table] | None = None) -> None:
    try:
        metadata.create_all(engine, tables=tables, checkfirst=True)
    except sqlalchemy.exc.SQLAlchemyError:
        wanted = tables if tables is not None else list(metadata.tables.values())
        if not all(inspect(engine).has_table(t.name) for t in wanted):  # another process won
            raise


class FileIndex:
    """What is known of the stored files: size, type, uploaders, referencing events."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_tables(engine)

    def record_upload(self, file: StoredFile, user_id: str, name: str, at: datetime) -> None:
        """Remember the file and its uploader; the same upload again changes nothing."""
        for table, row in (
            (files_table, {**vars(file), "stored_at": at}),
            (
                uploads_table,
                {"sha256": file.sha256, "user_id": user_id, "name": name, "uploaded_at": at},
            ),
        ):
            with contextlib.suppress(sqlalchemy.exc.IntegrityError), self.engine.begin() as c:
                c.execute(table.insert().values(**row))

    def get(self, sha256: str) -> StoredFile | None:
        with self.engine.connect() as c:
            row = c.execute(select(files_table).where(files_table.c.sha256 == sha256)).first()
        return None if row is None else StoredFile(row.sha256, int(row.size), row.media_type)

    def uploaded_by(self, sha256: str, user_id: str) -> str | None:
        """The name `user_id` uploaded the file under, None when it did not upload it."""
        query = select(uploads_table.c.name).where(
            uploads_table.c.sha256 == sha256, uploads_table.c.user_id == user_id
        )
        with self.engine.connect() as c:
            name = c.execute(query).scalar()
        return None if name is None else str(name)

    def first_name(self, sha256: str) -> str | None:
        """The name the file was first uploaded under."""
        query = (
            select(uploads_table.c.name)
            .where(uploads_table.c.sha256 == sha256)
            .order_by(uploads_table.c.uploaded_at, uploads_table.c.user_id)
            .limit(1)
        )
        with self.engine.connect() as c:
            name = c.execute(query).scalar()
        return None if name is None else str(name)

    def referencing_streams(self, sha256: str) -> list[tuple[str, int]]:
        """(stream id, version) of every event that references the file."""
        query = (
            select(references_table.c.stream_id, references_table.c.version)
            .where(references_table.c.sha256 == sha256)
            .order_by(references_table.c.stream_id, references_table.c.version)
        )
        with self.engine.connect() as c:
            return [(str(r.stream_id), int(r.version)) for r in c.execute(query)]


# A stored state whose `evidence_files` list is not empty (the transcoder writes compact JSON).
_WITH_FILES = b'"evidence_files":[{'


def reference_rows(stored_events: Sequence[StoredEvent]) -> list[dict[str, Any]]:
    """The `zhaoshang_file_references` rows of events about to be stored (for the recorder)."""
    rows = []
    for event in stored_events:
        if _WITH_FILES not in event.state:
            continue  # most events: no file (`"evidence_files":[]`), no JSON decoding
        files = json.loads(event.state).get(EVIDENCE_FILES) or []
        stream = str(UUID(str(event.originator_id)))
        for sha256 in dict.fromkeys(f["sha256"] for f in files):
            rows.append(
                {"sha256": sha256, "stream_id": stream, "version": event.originator_version}
            )
    return rows
