"""Per-stream hash chains inside the stored state, so edits, deletions and reorderings show.

The library's stored rows hold only stream id, version, topic and state. `ChainedMapper` adds a
`prev_hash` field to the state it writes: the SHA-256 of the predecessor's canonical stored form
(stream id, version, topic, stored state), or 64 zeros for a stream's first event. It removes the
field again when it reads, so domain code never sees it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    find_id_convertor,
)
from eventsourcing.utils import get_topic, resolve_topic

GENESIS = "0" * 64
PREV_HASH = "prev_hash"


def stored_event_hash(stored: StoredEvent) -> str:
    """SHA-256 of an event's canonical stored form."""
    stream_id = (
        stored.originator_id.hex
        if isinstance(stored.originator_id, UUID)
        else str(stored.originator_id)
    )
    head = f"{stream_id}\n{stored.originator_version}\n{stored.topic}\n".encode()
    return hashlib.sha256(head + stored.state).hexdigest()


class EventSource(Protocol):
    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]: ...


class ChainedMapper(Mapper[UUID]):
    """A Mapper that links each stored event to its predecessor in the same stream.

    Hashes of events it has read or written are remembered by (stream, version); a miss is
    answered by reading the predecessor from `recorder`, which the application sets.
    """

    cache_size = 200_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorder: EventSource | None = None
        # A faster decoder of (topic, stored state) to the same dict as the transcoder's, which
        # the composition root may hand in (`adapters.decoding`); None: the transcoder decodes.
        self.state_decoder: Callable[[str, bytes], dict[str, Any]] | None = None
        self._hashes: OrderedDict[tuple[UUID | str, int], str] = OrderedDict()
        # The versions remembered of each stream, so that `forget` drops a stream's hashes by
        # key rather than by a scan of every remembered one; and a lock, because the API's
        # threads read streams (remembering) while one of them forgets a failed save.
        self._versions: dict[UUID | str, set[int]] = {}
        self._lock = threading.Lock()

    def _remember(self, stored: StoredEvent) -> str:
        digest = stored_event_hash(stored)
        stream, version = stored.originator_id, stored.originator_version
        with self._lock:
            self._hashes[(stream, version)] = digest
            self._versions.setdefault(stream, set()).add(version)
            if len(self._hashes) > self.cache_size:
                (dropped_stream, dropped_version), _ = self._hashes.popitem(last=False)
                versions = self._versions[dropped_stream]
                versions.discard(dropped_version)
                if not versions:
                    del self._versions[dropped_stream]
        return digest

    def forget(self, stream_ids: set[UUID | str]) -> None:
        """Drop remembered hashes of these streams (after a failed save wrote none of them)."""
        with self._lock:
            for stream in stream_ids:
                for version in self._versions.pop(stream, ()):
                    del self._hashes[(stream, version)]

    def _prev_hash(self, originator_id: UUID | str, version: int) -> str:
        if version <= 1:
            return GENESIS
        cached = self._hashes.get((originator_id, version - 1))
        if cached is not None:
            return cached
        if self.recorder is None:
            raise RuntimeError("ChainedMapper needs a recorder to find a predecessor's hash")
        rows = self.recorder.select_events(originator_id, gt=version - 2, lte=version - 1)
        if not rows:
            raise RuntimeError(f"stream {originator_id} has no version {version - 1}")
        return self._remember(rows[0])

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        topic = get_topic(domain_event.__class__)
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            event_state["class_version"] = class_version
        event_state[PREV_HASH] = self._prev_hash(originator_id, originator_version)
        stored_state = self.transcoder.encode(event_state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        stored = StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=stored_state,
        )
        self._remember(stored)
        return stored

    def decode_state(self, stored_event: StoredEvent) -> dict[str, Any]:
        """The stored state as a dict, chain field included."""
        stored_state = stored_event.state
        try:
            if self.cipher:
                stored_state = self.cipher.decrypt(stored_state)
            if self.compressor:
                stored_state = self.compressor.decompress(stored_state)
            state: dict[str, Any] = (
                self.state_decoder(stored_event.topic, stored_state)
                if self.state_decoder is not None
                else self.transcoder.decode(stored_state)
            )
        except Exception as e:
            msg = (
                f"Failed to deserialise stored event {stored_event.originator_id} "
                f"v{stored_event.originator_version} ({stored_event.topic}): {e}"
            )
            raise MapperDeserialisationError(msg) from e
        return state

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        self._remember(stored_event)
        return self.decode_event(stored_event)

    def decode_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """The domain event, without remembering its hash (for readers that never append)."""
        return self.event_from_state(stored_event, self.decode_state(stored_event))

    def event_from_state(
        self, stored_event: StoredEvent, event_state: dict[str, Any]
    ) -> DomainEventProtocol[UUID]:
        """The domain event from its already decoded stored state (which it takes over)."""
        cls = resolve_topic(stored_event.topic)
        id_convertor = find_id_convertor(cls, type(stored_event.originator_id))  # type: ignore[arg-type]
        domain_event: DomainEventProtocol[UUID] = revive_event(
            cls,
            getattr(cls, "class_version", 1),
            id_convertor(stored_event.originator_id),
            stored_event.originator_version,
            event_state,
        )
        return domain_event


def revive_event(
    cls: type, class_version: int, originator_id: Any, version: int, state: dict[str, Any]
) -> Any:
    """The domain event of class `cls` from its decoded stored state (which it takes over): the
    chain field dropped, the stream and version set, older class versions upcast. The one
    decoding of a stored event, shared by the mapper, the projections' reader and verify."""
    state.pop(PREV_HASH, None)
    state["originator_id"] = originator_id
    state["originator_version"] = version
    if "evidence" in state and "evidence_files" not in state:
        # The envelope gained evidence files after events were stored: an older enveloped
        # event referenced none (an upcast of the envelope, for every event class at once).
        state["evidence_files"] = []
    from_version = state.pop("class_version", 1)
    while from_version < class_version:
        getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
        from_version += 1
    event: Any = object.__new__(cls)
    object.__setattr__(event, "__dict__", state)
    return event


@dataclass(frozen=True)
class BrokenLink:
    """The first place a stream's chain does not hold: the first version that can no longer be
    trusted, why, and a stable code (`event_missing`, `event_altered`, `events_reordered`,
    `link_missing`, `state_unreadable`, `genesis_mismatch`, `version_invalid`)."""

    stream_id: str
    version: int
    reason: str
    code: str = "broken_link"

    def as_dict(self) -> dict[str, str | int]:
        return {
            "stream_id": self.stream_id,
            "version": self.version,
            "code": self.code,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class StreamCheck:
    """One stream's chain recomputed from its stored rows.

    `hashes[i]` is the hash of the i-th row read; `head_version` and `head_hash` describe the
    stored head (the last row), whether or not the chain holds up to it; `trusted_version` is
    the last version the chain vouches for (the head when `broken` is None).
    """

    stream_id: str
    versions: tuple[int, ...]
    hashes: tuple[str, ...]
    broken: BrokenLink | None

    @property
    def events(self) -> int:
        return len(self.versions)

    @property
    def head_version(self) -> int:
        return self.versions[-1] if self.versions else 0

    @property
    def head_hash(self) -> str:
        return self.hashes[-1] if self.hashes else GENESIS

    @property
    def trusted_version(self) -> int:
        return self.broken.version - 1 if self.broken else self.head_version

    def hash_at(self, version: int) -> str | None:
        """The hash of the stored row with `version`, if there is one."""
        index = version - 1
        if 0 <= index < len(self.versions) and self.versions[index] == version:
            return self.hashes[index]
        for v, h in zip(self.versions, self.hashes, strict=True):
            if v == version:
                return h
        return None


def _stream_name(stored: StoredEvent) -> str:
    return str(stored.originator_id)


def check_stream(mapper: ChainedMapper, rows: Iterable[StoredEvent]) -> StreamCheck:
    """Recompute one stream's chain from its rows in version order.

    Each row's `prev_hash` must be the hash of the row before it (64 zeros for version 1) and
    versions must run 1, 2, 3… without a gap. The first failure is diagnosed: a missing version
    is named; a row whose recorded link points at another row's content is named as reordered;
    otherwise the predecessor's stored form changed after its successor was chained to it, so
    the predecessor is named as altered. (The newest event has no successor: only a signed
    checkpoint of its hash can show that it was altered or deleted.)
    """
    rows = list(rows)
    stream = _stream_name(rows[0]) if rows else ""
    hashes = tuple(stored_event_hash(row) for row in rows)
    versions = tuple(row.originator_version for row in rows)
    expected_prev = GENESIS
    broken: BrokenLink | None = None
    for index, row in enumerate(rows):
        n = index + 1
        if row.originator_version != n:
            if row.originator_version > n:
                follows = f"version {n - 1}" if n > 1 else "the stream's start"
                broken = BrokenLink(
                    stream,
                    n,
                    f"version {n} is missing: version {row.originator_version} follows {follows}",
                    "event_missing",
                )
            else:
                broken = BrokenLink(
                    stream,
                    n,
                    f"unexpected version {row.originator_version} where {n} was due",
                    "version_invalid",
                )
            break
        try:
            state = mapper.decode_state(row)
        except MapperDeserialisationError:
            broken = BrokenLink(
                stream, n, f"the stored state of version {n} cannot be decoded", "state_unreadable"
            )
            break
        prev = state.get(PREV_HASH)
        if not isinstance(prev, str):
            broken = BrokenLink(stream, n, f"version {n} carries no prev_hash", "link_missing")
            break
        if prev != expected_prev:
            broken = _diagnose(rows, hashes, index, prev, stream)
            break
        expected_prev = hashes[index]
    return StreamCheck(stream, versions, hashes, broken)


# Bound on the hashes tried when looking for where a misplaced event came from.
DIAGNOSIS_BUDGET = 250_000


def _diagnose(
    rows: list[StoredEvent], hashes: tuple[str, ...], index: int, prev: str, stream: str
) -> BrokenLink:
    """Row `index` records a `prev` that is not the hash of the row before it: say why."""
    n = index + 1
    if prev == GENESIS:
        return BrokenLink(
            stream,
            n,
            f"version {n} carries the first event's link (64 zeros): "
            "it was moved here from version 1",
            "events_reordered",
        )
    found = _find_content(rows, prev)
    if found is not None:
        j, label, topic = found
        if j == index - 1 and label == n - 1:
            return BrokenLink(
                stream,
                n - 1,
                f"the topic of version {n - 1} was changed after it was stored "
                f"(it was {topic}, it is {rows[j].topic})",
                "event_altered",
            )
        if j == index - 1:
            return BrokenLink(
                stream,
                n - 1,
                f"version {n - 1} was stored as version {label}: the stream was renumbered",
                "events_reordered",
            )
        return BrokenLink(
            stream,
            n,
            f"versions out of order: the event stored at version {n} was recorded right after "
            f"the event now stored at version {rows[j].originator_version} "
            f"(which was version {label} then)",
            "events_reordered",
        )
    if n == 1:
        return BrokenLink(
            stream,
            1,
            "version 1 does not start the chain (its prev_hash is not 64 zeros): it was "
            "replaced, or earlier events were deleted and the stream renumbered",
            "genesis_mismatch",
        )
    return BrokenLink(
        stream,
        n - 1,
        f"version {n - 1} was altered after it was stored: its stored form no longer matches "
        f"the hash that version {n} recorded of it (unless events between them were deleted "
        "and the stream renumbered)",
        "event_altered",
    )


def _find_content(rows: list[StoredEvent], digest: str) -> tuple[int, int, str] | None:
    """Which row's content, stored at which version and under which topic, hashes to `digest`:
    (row index, version, topic), or None. Tries the rows' own topics first, then every topic
    the stream uses (a swap may have moved states without their topics)."""
    if len(rows) * len(rows) > DIAGNOSIS_BUDGET:
        return None
    topics = list(dict.fromkeys(row.topic for row in rows))
    if len(rows) * len(rows) * len(topics) > DIAGNOSIS_BUDGET:
        topics = []
    versions = range(1, len(rows) + 1)
    for j, row in enumerate(rows):
        for label in versions:
            candidate = StoredEvent(row.originator_id, label, row.topic, row.state)
            if stored_event_hash(candidate) == digest:
                return j, label, row.topic
    for j, row in enumerate(rows):
        for topic in topics:
            if topic == row.topic:
                continue
            for label in versions:
                candidate = StoredEvent(row.originator_id, label, topic, row.state)
                if stored_event_hash(candidate) == digest:
                    return j, label, topic
    return None


def verify_stream(
    mapper: ChainedMapper, rows: Iterable[StoredEvent]
) -> tuple[str, int, BrokenLink | None]:
    """Check one stream's rows in version order; answer the hash and version of the last event
    the chain vouches for, and the first broken link (or None)."""
    check = check_stream(mapper, rows)
    trusted = check.trusted_version
    head = check.hash_at(trusted) if trusted > 0 else GENESIS
    return head or GENESIS, trusted, check.broken
