"""A fast reader of the event log for projections: plain DBAPI rows and the compiled state
decoder (`adapters.decoding`: msgspec builds Decimal, date, datetime and UUID values in C) —
the same events the library's mapper would give, at several times its rate.

Only the projections read this way; every aggregate is still loaded through the library.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder
from eventsourcing.utils import resolve_topic
from sqlalchemy import Engine, Table

from adapters.decoding import StateDecoder, fewer_collections
from domain.integrity import revive_event


class StreamId(UUID):
    """A UUID that remembers its text: projections key their rows by `str(originator_id)`
    several times per event."""

    __slots__ = ("_text",)

    def __str__(self) -> str:
        try:
            return self._text  # type: ignore[attr-defined,no-any-return]
        except AttributeError:
            text = UUID.__str__(self)
            object.__setattr__(self, "_text", text)
            return text


class FastEventReader:
    def __init__(self, engine: Engine, table: Table, transcoder: JSONTranscoder) -> None:
        self.engine = engine
        self.table_name = table.name
        self.decoder = StateDecoder(transcoder)
        self._streams: dict[Any, UUID] = {}
        self._classes: dict[str, tuple[type, int]] = {}
        self.marker = "%s" if engine.dialect.name == "postgresql" else "?"

    def _stream(self, raw: Any) -> UUID:
        found = self._streams.get(raw)
        if found is None:
            if isinstance(raw, UUID):
                found = StreamId(int=raw.int)
            elif isinstance(raw, (bytes, bytearray, memoryview)):
                found = StreamId(bytes=bytes(raw))
            else:
                found = StreamId(str(raw))
            if len(self._streams) > 500_000:
                self._streams.clear()
            self._streams[raw] = found
        return found

    def _class(self, topic: str) -> tuple[type, int]:
        found = self._classes.get(topic)
        if found is None:
            cls = resolve_topic(topic)
            found = self._classes[topic] = (cls, getattr(cls, "class_version", 1))
        return found

    def stream_id(self, raw: Any) -> UUID:
        """A stream id as stored (`headers_between`) as the events' `originator_id`."""
        return self._stream(raw)

    def event_class(self, topic: str) -> type:
        return self._class(topic)[0]

    def read(
        self,
        after: int,
        limit: int,
        upto: int | None = None,
        fields: frozenset[str] | None = None,
    ) -> list[tuple[int, Any]]:
        """(notification id, event) of the events after `after`, at most `limit`, up to
        `upto`. With `fields`, each event holds only those of its fields (the stream and
        version always): for a reader that is known to read no others (a rebuild, whose
        projections declare what they read), the rest of each state is skipped, not built."""
        sql = (
            f"SELECT id, originator_id, originator_version, topic, state FROM {self.table_name}"
            f" WHERE id > {self.marker}"
        )
        params: list[Any] = [after]
        if upto is not None:
            sql += f" AND id <= {self.marker}"
            params.append(upto)
        sql += f" ORDER BY id LIMIT {int(limit)}"
        rows = _fetch(self, sql, params)
        events = []
        decode = self.decoder.decode
        decode_fields = self.decoder.decode_fields
        with fewer_collections():
            for notification_id, stream, version, topic, state in rows:
                cls, class_version = self._class(topic)
                if fields is None:
                    data = decode(cls, bytes(state))
                else:
                    data = decode_fields(cls, bytes(state), fields)
                event = revive_event(cls, class_version, self._stream(stream), version, data)
                events.append((notification_id, event))
        return events


def reader_for(ledger: Any) -> FastEventReader:
    """A reader of `ledger`'s event log (the library's recorder table and transcoder)."""
    table: Table = ledger.recorder.events_record_cls.__table__
    transcoder = ledger.mapper.transcoder
    assert isinstance(transcoder, JSONTranscoder)
    return FastEventReader(ledger.recorder.datastore.engine, table, transcoder)


def event_headers_after(reader: FastEventReader, position: int) -> list[tuple[int, str, int, str]]:
    """(notification id, stream id, version, topic) of every event after `position`, in order,
    without decoding their state (what an audit needs to name the events that moved a figure)."""
    sql = (
        f"SELECT id, originator_id, originator_version, topic FROM {reader.table_name}"
        f" WHERE id > {reader.marker} ORDER BY id"
    )
    raw = reader.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(sql, [position])
        rows = cursor.fetchall()
        raw.commit()
    finally:
        raw.close()
    return [(n, str(reader._stream(stream)), v, topic) for n, stream, v, topic in rows]


def headers_between(
    reader: FastEventReader, after: int, upto: int, most: int
) -> list[tuple[Any, str]] | None:
    """(stream id as stored, topic) of every event after `after` up to `upto` (notification
    ids), in order; None when more than `most` lie there (the caller reads everything afresh)."""
    sql = (
        f"SELECT originator_id, topic FROM {reader.table_name}"
        f" WHERE id > {reader.marker} AND id <= {reader.marker} ORDER BY id LIMIT {int(most) + 1}"
    )
    rows = _fetch(reader, sql, [after, upto])
    return None if len(rows) > most else [(stream, topic) for stream, topic in rows]


def streams_between(reader: FastEventReader, after: int, upto: int, most: int) -> set[str] | None:
    """The ids of the streams with an event after `after` up to `upto`, or None when more than
    `most` events lie there."""
    headers = headers_between(reader, after, upto, most)
    return None if headers is None else {str(reader.stream_id(s)) for s, _ in headers}


def events_of(
    reader: FastEventReader, streams: Collection[Any], kinds: tuple[type, ...]
) -> list[Any]:
    """The events of the classes `kinds` in the streams given (ids as stored, as
    `headers_between` gives them), in stream and version order; the others are not decoded."""
    found = []
    for part in _parts(sorted(streams, key=str), 200):
        markers = ", ".join([reader.marker] * len(part))
        sql = (
            f"SELECT originator_id, originator_version, topic, state FROM {reader.table_name}"
            f" WHERE originator_id IN ({markers}) ORDER BY originator_id, originator_version"
        )
        for stream, version, topic, state in _fetch(reader, sql, list(part)):
            cls, class_version = reader._class(topic)
            if issubclass(cls, kinds):
                data = reader.decoder.decode(cls, bytes(state))
                found.append(
                    revive_event(cls, class_version, reader._stream(stream), version, data)
                )
    return found


def _parts(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _fetch(reader: FastEventReader, sql: str, params: list[Any]) -> list[Any]:
    raw = reader.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        raw.commit()
    finally:
        raw.close()
    return list(rows)
