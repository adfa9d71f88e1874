"""The compiled decoder of stored event state: msgspec parses each event's JSON straight into
its class's field types (`Decimal`, `date`, `datetime`, `UUID` built in C, not by a Python
callback per object), then the boxes are unwrapped into the dict `revive_event` takes.

The stored format is unchanged: the library's transcoder writes `{"_type_": name, "_data_": …}`
boxes and this decoder reads exactly those. The typed schema of a class is a shortcut only:
any state it does not fit exactly — an unknown or mistyped field, an older class version, a
box of another kind — is decoded by the library-compatible path (the C `json` decoder with the
transcoder's revivers), so both paths always give the same state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import threading
import types
import typing
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.utils import resolve_topic

# The library's transcodings (and the ledger's `date_iso`) that msgspec can parse natively.
BOXES: dict[type, str] = {
    Decimal: "decimal_str",
    datetime: "datetime_iso",
    date: "date_iso",
    UUID: "uuid_hex",
}
# Envelope fields set by `revive_event`, never stored in the state.
NOT_STORED = frozenset({"originator_id", "originator_version"})

Reviver = Callable[[Any], Any]


def _box(value_type: type, name: str) -> type[msgspec.Struct]:
    """A Struct for one transcoded value: exactly `{"_type_": name, "_data_": <value>}`."""
    return msgspec.defstruct(
        f"Box_{name}",
        [("data", value_type)],
        tag_field="_type_",
        tag=name,
        rename={"data": "_data_"},
        forbid_unknown_fields=True,
    )


def _plain(annotation: Any) -> bool:
    """Whether msgspec decodes `annotation` to exactly what the json module would give (no
    transcoded values inside, no coercions)."""
    if annotation in (str, int, bool, type(None)):
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list:
        return all(_plain(a) for a in args)
    if origin is dict:
        return len(args) == 2 and args[0] is str and _plain(args[1])
    if origin in (typing.Union, types.UnionType):
        return all(_plain(a) for a in args)
    return False


class StateDecoder:
    """Decodes the stored state of events into the dicts `domain.integrity.revive_event` takes
    (chain field and class version included, as stored)."""

    def __init__(self, transcoder: JSONTranscoder) -> None:
        self.revivers: dict[str, Reviver] = {
            name: transcoding.decode for name, transcoding in transcoder.names.items()
        }
        self._boxes = {
            value_type: _box(value_type, name)
            for value_type, name in BOXES.items()
            if name in self.revivers
        }
        self._fallback = json.JSONDecoder(object_hook=self._revive_object).decode
        self._typed: dict[type, Callable[[bytes], dict[str, Any]] | None] = {}
        self._lean: dict[tuple[type, frozenset[str]], Callable[[bytes], dict[str, Any]] | None]
        self._lean = {}
        self._classes: dict[str, type] = {}

    # -- the library-compatible path -----------------------------------------------------------

    def _revive_object(self, obj: dict[str, Any]) -> Any:
        kind = obj.get("_type_")
        if kind is not None and len(obj) == 2 and "_data_" in obj:
            return self.revivers[kind](obj["_data_"])
        return obj

    def decode_generic(self, state: bytes) -> dict[str, Any]:
        """What the library's JSON transcoder gives for `state`."""
        decoded: dict[str, Any] = self._fallback(state.decode("utf-8"))
        return decoded

    def revive(self, value: Any) -> Any:
        """Transcoded boxes inside an already parsed JSON value revived (for fields typed Any)."""
        if isinstance(value, dict):
            revived = {k: self.revive(v) for k, v in value.items()}
            return self._revive_object(revived)
        if isinstance(value, list):
            return [self.revive(v) for v in value]
        return value

    # -- the typed path --------------------------------------------------------------------------

    def decode_topic(self, topic: str, state: bytes) -> dict[str, Any]:
        """The decoded state of an event stored under `topic` (the mapper's entry point)."""
        try:
            cls = self._classes[topic]
        except KeyError:
            try:
                cls = resolve_topic(topic)
            except Exception:
                return self.decode_generic(state)
            self._classes[topic] = cls
        return self.decode(cls, state)

    def schema_decoder(self, cls: type) -> Callable[[bytes], dict[str, Any]] | None:
        """The typed decoder of `cls`'s current stored form (raising on any state it does not
        fit exactly), compiled once; None for a class without a schema."""
        try:
            return self._typed[cls]
        except KeyError:
            typed = self._typed[cls] = self._compile(cls)
            return typed

    def decode_fields(self, cls: type, state: bytes, fields: frozenset[str]) -> dict[str, Any]:
        """Only the `fields` of an event of class `cls` stored as `state` (those of them it has),
        without the chain field: what a reader that needs no more
        than these (a rebuild's projections) takes. The other fields are skipped unparsed (no
        value built). A state stored by an older class version, or one whose fields the typed
        schema does not fit, is decoded whole as `decode` does (the upcasters expect every
        field)."""
        key = (cls, fields)
        try:
            lean = self._lean[key]
        except KeyError:
            lean = self._lean[key] = self._compile(cls, fields)
        if lean is not None:
            try:
                return lean(state)
            except (msgspec.ValidationError, msgspec.DecodeError, OlderClassVersion):
                pass
        return self.decode(cls, state)

    def decode(self, cls: type, state: bytes) -> dict[str, Any]:
        """The decoded state of an event of class `cls` stored as `state`."""
        try:
            typed = self._typed[cls]
        except KeyError:
            typed = self.schema_decoder(cls)
        if typed is not None:
            try:
                return typed(state)
            except (msgspec.ValidationError, msgspec.DecodeError, OlderClassVersion):
                pass
        return self.decode_generic(state)

    def _field_type(self, annotation: Any) -> tuple[Any, str]:
        """(msgspec type, how to unwrap: "plain", "box", "optional_box" or "walk")."""
        if _plain(annotation):
            return annotation, "plain"
        box = self._boxes.get(annotation)
        if box is not None:
            return box, "box"
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 2:
            inner = [a for a in args if a is not type(None)]
            if len(inner) == 1 and inner[0] in self._boxes:
                return self._boxes[inner[0]] | None, "optional_box"
        return Any, "walk"

    def _compile(
        self, cls: type, only: frozenset[str] | None = None
    ) -> Callable[[bytes], dict[str, Any]] | None:
        """A decoder of `cls`'s current stored form, or None when the class has no schema;
        with `only`, of just those fields (any other key skipped, not refused)."""
        if not dataclasses.is_dataclass(cls):
            return None
        try:
            hints = typing.get_type_hints(cls)
        except Exception:
            return None
        current = int(getattr(cls, "class_version", 1))
        fields: list[tuple[str, Any, str]] = []
        for name in cls.__dataclass_fields__:
            if name in NOT_STORED or name not in hints or (only is not None and name not in only):
                continue
            msgspec_type, kind = self._field_type(hints[name])
            fields.append((name, msgspec_type, kind))
        # The stored extras: the chain link and (above version 1) the class version.
        fields.append(("class_version", int, "plain"))
        if only is None:
            fields.append(("prev_hash", str, "plain"))
        struct = msgspec.defstruct(
            f"Stored_{cls.__qualname__.replace('.', '_')}{'' if only is None else '_lean'}",
            [(f"f{i}", t, msgspec.UNSET) for i, (_, t, _) in enumerate(fields)],
            rename={f"f{i}": name for i, (name, _, _) in enumerate(fields)},
            forbid_unknown_fields=only is None,
        )
        decoder = msgspec.json.Decoder(struct)
        source = _unwrap_source(fields, current)
        scope: dict[str, Any] = {
            "UNSET": msgspec.UNSET,
            "revive": self.revive,
            "OlderClassVersion": OlderClassVersion,
            "decode": decoder.decode,
        }
        exec(source, scope)  # a straight-line unwrapper, compiled once per class
        compiled: Callable[[bytes], dict[str, Any]] = scope["decode_state"]
        return compiled


class OlderClassVersion(Exception):
    """A state stored by an older class version: the upcasters expect exactly its fields."""


def _unwrap_source(fields: list[tuple[str, Any, str]], current: int) -> str:
    lines = ["def decode_state(state):", "    s = decode(state)", "    d = {}"]
    for i, (name, _, kind) in enumerate(fields):
        key = repr(name)
        lines.append(f"    v = s.f{i}")
        if name == "class_version":
            # Version 1 states carry no class version; the current one must be the stored one.
            lines.append(f"    if (1 if v is UNSET else v) != {current}:")
            lines.append("        raise OlderClassVersion")
            lines.append("    if v is not UNSET:")
            lines.append(f"        d[{key}] = v")
            continue
        value = {
            "plain": "v",
            "box": "v.data",
            "optional_box": "None if v is None else v.data",
            "walk": "revive(v)",
        }[kind]
        lines.append("    if v is not UNSET:")
        lines.append(f"        d[{key}] = {value}")
    lines.append("    return d")
    return "\n".join(lines) + "\n"


# The collector's first threshold while events are decoded and folded in bulk (default 700).
BULK_GEN0_THRESHOLD = 100_000
_thresholds_lock = threading.Lock()
_bulk_depth = 0
_saved_thresholds: tuple[int, int, int] | None = None


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect cyclic garbage less often while decoding and folding many events.

    Decoding a batch allocates a few dozen objects an event, and every 700 allocations the
    cyclic collector runs; with a rebuild's folded rows alive, its older generations are
    walked again and again (a third of a rebuild's time when measured). Decoded events form no
    cycles, so reference counting frees them; the collector still runs, 140 times less often.
    Process-wide; the first threshold is restored when the last such block ends."""
    global _bulk_depth, _saved_thresholds
    with _thresholds_lock:
        if _bulk_depth == 0:
            _saved_thresholds = gc.get_threshold()
            gc.set_threshold(BULK_GEN0_THRESHOLD, *_saved_thresholds[1:])
        _bulk_depth += 1
    try:
        yield
    finally:
        with _thresholds_lock:
            _bulk_depth -= 1
            if _bulk_depth == 0 and _saved_thresholds is not None:
                gc.set_threshold(*_saved_thresholds)
                _saved_thresholds = None
