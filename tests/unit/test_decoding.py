"""The compiled state decoder (`adapters.decoding`) gives exactly what the library's transcoder
gives — same keys in the same order, same values of the same types — and falls back to the
transcoder's path for any state its typed schema does not fit (issue 23)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.utils import resolve_topic

from adapters.decoding import OlderClassVersion, StateDecoder
from demo.province import generate
from domain.application import Ledger
from domain.integrity import check_stream, revive_event
from domain.project import Project


@pytest.fixture(scope="module")
def tiny() -> Ledger:
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    generate(app, "tiny", seed=3)
    return app


def _transcoder(app: Ledger) -> JSONTranscoder:
    transcoder = app.mapper.transcoder
    assert isinstance(transcoder, JSONTranscoder)
    return transcoder


def _same(expected: dict[str, Any], actual: dict[str, Any]) -> None:
    assert list(actual) == list(expected)
    for key, value in expected.items():
        assert actual[key] == value, key
        assert type(actual[key]) is type(value), key


def test_every_stored_event_of_a_province_decodes_as_the_library_does(tiny: Ledger) -> None:
    transcoder = _transcoder(tiny)
    decoder = StateDecoder(transcoder)
    notifications = tiny.recorder.select_notifications(1, 1_000_000)
    topics = set()
    for n in notifications:
        compiled = decoder.schema_decoder(resolve_topic(n.topic))
        assert compiled is not None, n.topic
        # The typed path itself, not its fallback, must fit every event the ledger writes.
        _same(transcoder.decode(n.state), compiled(n.state))
        _same(transcoder.decode(n.state), decoder.decode_topic(n.topic, n.state))
        topics.add(n.topic)
    assert len(topics) >= 15 and len(notifications) > 500


def _follow_up_state(app: Ledger) -> dict[str, Any]:
    for n in app.recorder.select_notifications(1, 1_000_000):
        if n.topic.endswith("Project.FollowUpVisitRecorded"):
            state: dict[str, Any] = json.loads(n.state)
            return state
    raise AssertionError("the demo recorded no follow-up visit")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: s.update(unknown_field={"a": 1}), id="unknown field"),
        pytest.param(lambda s: s.update(tax="12.5"), id="plain string where a Decimal is"),
        pytest.param(lambda s: s.update(employees=1.0), id="float where an int is"),
        pytest.param(
            lambda s: s.update(source={"_type_": "date_iso", "_data_": "2024-01-01"}),
            id="box where a string is",
        ),
        pytest.param(
            lambda s: s.update(occurred_on={"_type_": "decimal_str", "_data_": "2024"}),
            id="box of another kind",
        ),
        pytest.param(
            lambda s: s["timestamp"].update(extra=1), id="box with a third member (a dict)"
        ),
        pytest.param(lambda s: s.pop("tax"), id="missing field"),
    ],
)
def test_states_the_schema_does_not_fit_decode_as_the_library_does(
    tiny: Ledger, change: Any
) -> None:
    transcoder = _transcoder(tiny)
    state = _follow_up_state(tiny)
    change(state)
    stored = json.dumps(state, ensure_ascii=False).encode()
    decoded = StateDecoder(transcoder).decode(Project.FollowUpVisitRecorded, stored)
    _same(transcoder.decode(stored), decoded)


def test_an_older_class_version_decodes_generically_and_is_upcast(tiny: Ledger) -> None:
    transcoder = _transcoder(tiny)
    state = _follow_up_state(tiny)
    assert state.pop("class_version") == 2
    state.pop("employees")
    stored = json.dumps(state, ensure_ascii=False).encode()
    decoder = StateDecoder(transcoder)
    compiled = decoder.schema_decoder(Project.FollowUpVisitRecorded)
    assert compiled is not None
    with pytest.raises(OlderClassVersion):
        compiled(stored)  # version 1: the typed schema refuses it
    decoded = decoder.decode(Project.FollowUpVisitRecorded, stored)
    _same(transcoder.decode(stored), decoded)
    event = revive_event(Project.FollowUpVisitRecorded, 2, "p", 7, decoded)
    assert event.employees is None and event.originator_version == 7


def test_other_offsets_and_exponents_are_kept(tiny: Ledger) -> None:
    transcoder = _transcoder(tiny)
    state = _follow_up_state(tiny)
    state["timestamp"] = {"_type_": "datetime_iso", "_data_": "2024-05-01T10:00:00.5+08:00"}
    state["tax"] = {"_type_": "decimal_str", "_data_": "1.2300E+5"}
    stored = json.dumps(state, ensure_ascii=False).encode()
    decoded = StateDecoder(transcoder).decode(Project.FollowUpVisitRecorded, stored)
    _same(transcoder.decode(stored), decoded)
    assert decoded["timestamp"].utcoffset() == timedelta(hours=8)
    assert decoded["timestamp"] == datetime(2024, 5, 1, 2, 0, 0, 500000, tzinfo=UTC)
    assert str(decoded["tax"]) == str(Decimal("1.2300E+5"))
    assert decoded["occurred_on"] == date.fromisoformat(state["occurred_on"]["_data_"])


def test_unreadable_state_still_fails_and_unknown_topics_decode_generically(
    tiny: Ledger,
) -> None:
    decoder = StateDecoder(_transcoder(tiny))
    with pytest.raises(ValueError):
        decoder.decode(Project.FollowUpVisitRecorded, b'{"timestamp": ')
    assert (
        decoder.decode_topic(
            "nowhere:Nothing", b'{"a": {"_type_": "uuid_hex", "_data_": "' + b"0" * 32 + b'"}}'
        )["a"].int
        == 0
    )


def test_verify_reads_chains_through_the_compiled_decoder(tiny: Ledger) -> None:
    tiny.mapper.state_decoder = StateDecoder(_transcoder(tiny)).decode_topic  # type: ignore[attr-defined]
    try:
        stream = next(
            n.originator_id
            for n in tiny.recorder.select_notifications(1, 1_000)
            if n.originator_version == 3
        )
        rows = tiny.recorder.select_events(stream)
        assert check_stream(tiny.mapper, rows).broken is None  # type: ignore[arg-type]
        # An edited state is still caught (the chain covers the stored bytes).
        edited = rows[0].state.replace(b'"source":"demo"', b'"source":"cli"')
        assert edited != rows[0].state
        rows[0] = type(rows[0])(rows[0].originator_id, 1, rows[0].topic, edited)
        broken = check_stream(tiny.mapper, rows).broken  # type: ignore[arg-type]
        assert broken is not None and broken.code == "event_altered" and broken.version == 1
    finally:
        tiny.mapper.state_decoder = None  # type: ignore[attr-defined]


def test_fewer_collections_raises_the_first_threshold_and_restores_it() -> None:
    import gc

    from adapters.decoding import BULK_GEN0_THRESHOLD, fewer_collections

    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == BULK_GEN0_THRESHOLD
        with fewer_collections():  # nested (the reader inside a rebuild)
            assert gc.get_threshold()[0] == BULK_GEN0_THRESHOLD
        assert gc.get_threshold()[0] == BULK_GEN0_THRESHOLD
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a failing fold")
    assert gc.get_threshold() == before


def test_decoding_only_some_fields_gives_those_of_the_whole_decoding(tiny: Ledger) -> None:
    """A rebuild's lean decoding (`decode_fields`): the named fields as the whole decoding
    gives them (same values, same types), the class version kept for the upcasters, nothing
    else."""
    transcoder = _transcoder(tiny)
    decoder = StateDecoder(transcoder)
    fields = frozenset({"occurred_on", "tax", "referrals", "amount", "name", "absent"})
    seen = 0
    for n in tiny.recorder.select_notifications(1, 1_000_000):
        cls = resolve_topic(n.topic)
        whole = transcoder.decode(n.state)
        expected = {k: v for k, v in whole.items() if k in fields or k == "class_version"}
        _same(expected, decoder.decode_fields(cls, n.state, fields))
        seen += 1
    assert seen > 500


def test_lean_decoding_falls_back_to_the_whole_state_when_the_schema_does_not_fit(
    tiny: Ledger,
) -> None:
    transcoder = _transcoder(tiny)
    decoder = StateDecoder(transcoder)
    fields = frozenset({"occurred_on", "tax"})
    state = _follow_up_state(tiny)
    # An older class version: decoded whole, so that the upcaster finds every field.
    older = dict(state)
    older.pop("class_version")
    older.pop("employees")
    stored = json.dumps(older, ensure_ascii=False).encode()
    _same(
        transcoder.decode(stored),
        decoder.decode_fields(Project.FollowUpVisitRecorded, stored, fields),
    )
    # A named field of another type: decoded whole (as `decode` would), not refused.
    odd = dict(state, tax="12.5")
    stored = json.dumps(odd, ensure_ascii=False).encode()
    _same(
        transcoder.decode(stored),
        decoder.decode_fields(Project.FollowUpVisitRecorded, stored, fields),
    )
    # Fields it does not name are skipped whatever they hold.
    other = dict(state, notes={"_type_": "nothing", "_data_": 1}, unknown=[1, 2])
    stored = json.dumps(other, ensure_ascii=False).encode()
    lean = decoder.decode_fields(Project.FollowUpVisitRecorded, stored, fields)
    assert set(lean) == {"occurred_on", "tax", "class_version"}
