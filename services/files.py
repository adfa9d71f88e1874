"""Evidence files as a service: receive and keep an upload, resolve an event's file references
for a user, list a project's files, and check that every referenced file is intact.

Who may reference or read a file: the users who uploaded it, and those who may read an event
that references it (`may_read_project`, the caller's scoping: every project for the roles that
read everything, a liaison's own projects). Anyone else is told the file does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import select

from adapters.file_types import detect_media_type
from adapters.files import FileIndex, FileStore, Incoming, StoredFile
from domain.application import Ledger
from domain.errors import InvalidInput, UnknownFile
from domain.values import parse_text

ProjectScope = Callable[[str], bool]  # project id → may the user read it?
EVIDENCE_MARK = b'"evidence_files":[{'  # a stored event that references at least one file


@dataclass(frozen=True)
class FileProblem:
    """The first referenced file that is not as referenced: missing, or its bytes altered."""

    project_id: str
    version: int
    sha256: str
    name: str
    code: str  # `file_missing` | `file_altered`
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class FileVerification:
    files: int = 0  # distinct files checked
    references: int = 0  # (event, file) pairs
    problems: list[FileProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        first = self.problems[0].as_dict() if self.problems else None
        return {
            "ok": self.ok,
            "files": self.files,
            "references": self.references,
            "broken_at": first,
        }

    def summary(self) -> str:
        if self.ok:
            return f"files: ok — {self.files} files in {self.references} references"
        p = self.problems[0]
        return (
            f"files: BROKEN — project {p.project_id} version {p.version} file {p.sha256} "
            f"({p.name}): {p.reason} [{p.code}]"
        )


class FileService:
    def __init__(
        self, ledger: Ledger, store: FileStore, index: FileIndex, max_upload_bytes: int
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.index = index
        self.max_upload_bytes = max_upload_bytes

    # ---- upload ----------------------------------------------------------------------------

    def receive(self) -> Incoming:
        """A new upload, refused (`FileTooLarge`) as soon as it passes the limit."""
        return self.store.receive(self.max_upload_bytes)

    def keep(self, incoming: Incoming, name: str, user_id: str) -> dict[str, Any]:
        """Type the received bytes by content, keep them and record who uploaded them."""
        try:
            # Browsers on Windows send the whole path; only the file's own name is kept.
            base = (name or "").replace("\\", "/").rsplit("/", 1)[-1] or "file"
            label = parse_text(base, "name", limit=255)
            incoming.finish()
            media_type = detect_media_type(incoming.path)
        except InvalidInput:
            incoming.discard()
            raise
        size = incoming.size
        sha256 = self.store.keep(incoming)
        stored = StoredFile(sha256=sha256, size=size, media_type=media_type)
        self.index.record_upload(stored, user_id, label, self.ledger.clock())
        return {"sha256": sha256, "size": size, "media_type": media_type, "name": label}

    # ---- who may see what ------------------------------------------------------------------

    def may_read(self, sha256: str, user_id: str, may_read_project: ProjectScope) -> bool:
        if self.index.uploaded_by(sha256, user_id) is not None:
            return True
        return any(may_read_project(stream) for stream, _ in self.index.referencing_streams(sha256))

    def readable(self, sha256: str, user_id: str, may_read_project: ProjectScope) -> StoredFile:
        """The stored file if the user may read it, else `UnknownFile` (as if it did not exist)."""
        stored = self.index.get(sha256.lower()) if _is_sha256(sha256) else None
        if stored is None or not self.may_read(stored.sha256, user_id, may_read_project):
            raise UnknownFile(f"no file {sha256}", field="sha256")
        return stored

    def resolve(
        self,
        references: Iterable[tuple[int, Mapping[str, Any]]],
        user_id: str,
        may_read_project: ProjectScope,
        field_prefix: str = "evidence",
    ) -> list[dict[str, Any]]:
        """File references as the envelope records them, {sha256, name, media_type, size}: the
        type and size from the store, the name as given or as the user uploaded it."""
        resolved: list[dict[str, Any]] = []
        for position, reference in references:
            where = f"{field_prefix}[{position}].sha256"
            try:
                stored = self.readable(str(reference["sha256"]), user_id, may_read_project)
            except UnknownFile as e:
                raise UnknownFile(e.message, field=where) from None
            name = reference.get("name") or self.index.uploaded_by(stored.sha256, user_id)
            resolved.append(
                {
                    "sha256": stored.sha256,
                    "name": name or stored.sha256[:12],
                    "media_type": stored.media_type,
                    "size": stored.size,
                }
            )
        return resolved

    def download_name(self, sha256: str, user_id: str) -> str:
        """The name a download is offered under: the user's own upload name, else the first."""
        return self.index.uploaded_by(sha256, user_id) or self.index.first_name(sha256) or sha256

    # ---- listing and verification ----------------------------------------------------------

    def project_files(self, project_id: str) -> list[dict[str, Any]]:
        """A project's files with the events that reference them, in order of first reference."""
        listed: dict[str, dict[str, Any]] = {}
        for entry in self.ledger.history(project_id):
            for f in entry.files:
                item = listed.setdefault(f["sha256"], {**f, "events": []})
                item["events"].append({"version": entry.version, "type": entry.type})
        return list(listed.values())

    def verify(self, project_id: str | None = None) -> FileVerification:
        """Every file referenced by an event (of one project, or all) exists and hashes to its
        name. Reads the events themselves, not the references index, so a deleted index row
        hides nothing."""
        report = FileVerification()
        digests: dict[str, str | None] = {}
        for stream, version, files in self._referencing_events(project_id):
            for f in files:
                sha256 = str(f["sha256"])
                report.references += 1
                if sha256 not in digests:
                    digests[sha256] = self.store.digest(sha256)
                    report.files += 1
                digest = digests[sha256]
                if digest == sha256:
                    continue
                code, reason = (
                    ("file_missing", "the file is not in the store")
                    if digest is None
                    else ("file_altered", f"the stored bytes hash to {digest}")
                )
                report.problems.append(
                    FileProblem(stream, version, sha256, str(f.get("name", "")), code, reason)
                )
        return report

    def _referencing_events(
        self, project_id: str | None
    ) -> Iterator[tuple[str, int, list[dict[str, Any]]]]:
        mapper: Any = self.ledger.mapper
        table = self.ledger.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
        query = select(table.c.originator_id, table.c.originator_version, table.c.state).order_by(
            table.c.originator_id, table.c.originator_version
        )
        if project_id is not None:
            try:
                query = query.where(table.c.originator_id == UUID(str(project_id)))
            except ValueError:
                return
        engine = self.index.engine
        with engine.connect() as c:
            rows = c.execution_options(yield_per=2_000).execute(query)
            for stream_id, version, state in rows:
                raw = bytes(state)
                if EVIDENCE_MARK not in raw:
                    continue
                try:
                    decoded = mapper.transcoder.decode(raw)
                    files = list(decoded["evidence_files"])
                except (ValueError, KeyError, TypeError):
                    continue  # an unreadable event: the chain check reports it
                yield str(UUID(str(stream_id))), int(version), files


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)
