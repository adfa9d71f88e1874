"""Per-stream hash chains inside the stored state, so edits, deletions and reorderings show.

The library's stored rows hold only stream id, version, topic and state. `ChainedMapper` adds a
`prev_hash` field to the state it writes: the SHA-256 of the predecessor's canonical stored form
(stream id, version, topic, stored state), or 64 zeros for a stream's first event. It removes the
field again when it reads, so domain code never sees it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
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
        self._hashes: OrderedDict[tuple[UUID | str, int], str] = OrderedDict()

    def _remember(self, stored: StoredEvent) -> str:
        digest = stored_event_hash(stored)
        key = (stored.originator_id, stored.originator_version)
        self._hashes[key] = digest
        if len(self._hashes) > self.cache_size:
            self._hashes.popitem(last=False)
        return digest

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
            state: dict[str, Any] = self.transcoder.decode(stored_state)
        except Exception as e:
            msg = (
                f"Failed to deserialise stored event {stored_event.originator_id} "
                f"v{stored_event.originator_version} ({stored_event.topic}): {e}"
            )
            raise MapperDeserialisationError(msg) from e
        return state

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        cls = resolve_topic(stored_event.topic)
        event_state = self.decode_state(stored_event)
        event_state.pop(PREV_HASH, None)
        self._remember(stored_event)
        id_convertor = find_id_convertor(cls, type(stored_event.originator_id))  # type: ignore[arg-type]
        event_state["originator_id"] = id_convertor(stored_event.originator_id)
        event_state["originator_version"] = stored_event.originator_version
        class_version = getattr(cls, "class_version", 1)
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        return domain_event  # type: ignore[no-any-return]


@dataclass(frozen=True)
class BrokenLink:
    """The first place a stream's chain does not hold."""

    stream_id: str
    version: int
    reason: str


def verify_stream(
    mapper: ChainedMapper, rows: Iterable[StoredEvent]
) -> tuple[str, int, BrokenLink | None]:
    """Check one stream's rows in version order; answer its head hash, head version and the
    first broken link (or None)."""
    expected_prev = GENESIS
    expected_version = 1
    head = GENESIS
    stream = ""
    for row in rows:
        stream = str(row.originator_id)
        if row.originator_version != expected_version:
            return (
                head,
                expected_version - 1,
                BrokenLink(
                    stream,
                    expected_version,
                    f"version {expected_version} is missing (found {row.originator_version} next)",
                ),
            )
        try:
            state = mapper.decode_state(row)
        except MapperDeserialisationError:
            return (
                head,
                expected_version - 1,
                BrokenLink(stream, row.originator_version, "stored state is unreadable"),
            )
        if state.get(PREV_HASH) != expected_prev:
            return (
                head,
                expected_version - 1,
                BrokenLink(
                    stream,
                    row.originator_version,
                    "prev_hash does not match the predecessor's stored form",
                ),
            )
        head = stored_event_hash(row)
        expected_prev = head
        expected_version += 1
    return head, expected_version - 1, None
