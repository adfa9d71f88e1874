"""The pure parts of tamper evidence, without a database: chain diagnosis on stored rows held in
memory, keys, signing and checkpoint checks on the in-memory store, and the history printout."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from uuid import UUID

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import StoredEvent

from cli.main import build_parser, main
from domain import errors
from domain.application import Ledger
from domain.association import Association
from domain.canonical import canonical_json
from domain.events import EnvelopedEvent, event_type_name
from domain.integrity import (
    GENESIS,
    PREV_HASH,
    ChainedMapper,
    check_stream,
    stored_event_hash,
    verify_stream,
)
from domain.project import Project
from projections.history import (
    ASSOCIATION_EVENT_TYPE_LABELS,
    ASSOCIATION_EVENT_TYPE_LABELS_EN,
    EVENT_TYPE_LABELS,
    EVENT_TYPE_LABELS_EN,
    history_view,
    render_history,
)
from projections.integrity import (
    load_private_key,
    load_public_key,
    make_checkpoint,
    parse_checkpoint,
    private_key_pem,
    public_key_hex,
    public_key_pem,
    verify_all,
    verify_checkpoint,
    verify_project,
)
from tests import factories
from tests.conftest import OFFICER


def _mapper(app: Ledger) -> ChainedMapper:
    assert isinstance(app.mapper, ChainedMapper)
    return app.mapper


def _busy_project(app: Ledger) -> UUID:
    """A project with six events: referred, signed, funds, visit, negotiation, funds."""
    project_id = factories.signed_project(app)
    ctx = app.context(OFFICER)
    app.record_funds_arrival(
        ctx, project_id, occurred_on="2023-02-01", amount="3000000.00", currency="CNY"
    )
    app.record_visit(ctx, project_id, occurred_on="2023-02-02", notes="second look")
    app.record_negotiation(ctx, project_id, occurred_on="2023-02-03")
    app.record_funds_arrival(
        ctx, project_id, occurred_on="2023-02-04", amount="100.00", currency="CNY"
    )
    return project_id


@pytest.fixture
def rows(memory_ledger: Ledger) -> list[StoredEvent]:
    return list(memory_ledger.recorder.select_events(_busy_project(memory_ledger)))


def _swap(rows: list[StoredEvent], a: int, b: int, *, topics: bool = True) -> list[StoredEvent]:
    """Exchange the states (and topics) of versions a and b, as an UPDATE would."""
    out = list(rows)
    ra, rb = rows[a - 1], rows[b - 1]
    out[a - 1] = replace(ra, state=rb.state, topic=rb.topic if topics else ra.topic)
    out[b - 1] = replace(rb, state=ra.state, topic=ra.topic if topics else rb.topic)
    return out


class TestCheckStream:
    def test_an_intact_stream_holds_and_knows_its_hashes(
        self, memory_ledger: Ledger, rows: list[StoredEvent]
    ) -> None:
        check = check_stream(_mapper(memory_ledger), rows)
        assert check.broken is None
        assert (check.events, check.head_version, check.trusted_version) == (6, 6, 6)
        assert check.head_hash == stored_event_hash(rows[-1])
        assert check.hash_at(3) == stored_event_hash(rows[2]) and check.hash_at(7) is None
        assert verify_stream(_mapper(memory_ledger), rows) == (check.head_hash, 6, None)

    def test_an_edited_state_names_the_edited_version(
        self, memory_ledger: Ledger, rows: list[StoredEvent]
    ) -> None:
        edited = list(rows)
        assert b'"3000000.00"' in rows[2].state
        edited[2] = replace(rows[2], state=rows[2].state.replace(b'"3000000.00"', b'"9000000.00"'))
        broken = check_stream(_mapper(memory_ledger), edited).broken
        assert broken is not None
        assert (broken.version, broken.code) == (3, "event_altered")
        assert "version 3 was altered" in broken.reason
        assert broken.stream_id == str(rows[0].originator_id)
        head, trusted, _ = verify_stream(_mapper(memory_ledger), edited)
        assert (head, trusted) == (stored_event_hash(rows[1]), 2)

    def test_a_deleted_event_is_named_missing(
        self, memory_ledger: Ledger, rows: list[StoredEvent]
    ) -> None:
        broken = check_stream(_mapper(memory_ledger), rows[:3] + rows[4:]).broken
        assert broken is not None
        assert (broken.version, broken.code) == (4, "event_missing")
        assert "version 4 is missing: version 5 follows version 3" in broken.reason

    @pytest.mark.parametrize("topics", [True, False], ids=["states-and-topics", "states-only"])
    def test_swapped_events_are_named_reordered(
        self, memory_ledger: Ledger, rows: list[StoredEvent], topics: bool
    ) -> None:
        broken = check_stream(_mapper(memory_ledger), _swap(rows, 3, 4, topics=topics)).broken
        assert broken is not None
        assert (broken.version, broken.code) == (3, "events_reordered")
        assert "now stored at version 4" in broken.reason

    def test_swapping_the_first_two_events_is_named_at_version_1(
        self, memory_ledger: Ledger, rows: list[StoredEvent]
    ) -> None:
        broken = check_stream(_mapper(memory_ledger), _swap(rows, 1, 2)).broken
        assert broken is not None and (broken.version, broken.code) == (1, "events_reordered")

    def test_a_changed_topic_is_named_on_its_version(
        self, memory_ledger: Ledger, rows: list[StoredEvent]
    ) -> None:
        """A funds arrival relabelled a visit (the original topic is still used elsewhere in
        the stream, so the diagnosis can name it; otherwise it says only "altered")."""
        edited = list(rows)
        edited[2] = replace(rows[2], topic="domain.project:Project.VisitRecorded")
        broken = check_stream(_mapper(memory_ledger), edited).broken
        assert broken is not None and (broken.version, broken.code) == (3, "event_altered")
        assert "topic of version 3 was changed" in broken.reason
        assert "it was domain.project:Project.FundsArrived" in broken.reason

    def test_a_renumbered_stream_without_its_first_event_fails_at_genesis(
        self, memory_ledger: Ledger, rows: list[StoredEvent]
    ) -> None:
        renumbered = [replace(r, originator_version=r.originator_version - 1) for r in rows[1:]]
        broken = check_stream(_mapper(memory_ledger), renumbered).broken
        assert broken is not None and (broken.version, broken.code) == (1, "genesis_mismatch")

    def test_a_deletion_hidden_by_renumbering_is_still_a_broken_link(
        self, memory_ledger: Ledger, rows: list[StoredEvent]
    ) -> None:
        """Hashes alone cannot tell this from an edit of the predecessor: the reason says so."""
        renumbered = rows[:2] + [
            replace(r, originator_version=r.originator_version - 1) for r in rows[3:]
        ]
        broken = check_stream(_mapper(memory_ledger), renumbered).broken
        assert broken is not None and (broken.version, broken.code) == (2, "event_altered")
        assert "deleted and the stream renumbered" in broken.reason

    def test_unreadable_state_and_missing_link_are_named(
        self, memory_ledger: Ledger, rows: list[StoredEvent]
    ) -> None:
        garbled = list(rows)
        garbled[1] = replace(rows[1], state=b"\x00not json")
        broken = check_stream(_mapper(memory_ledger), garbled).broken
        assert broken is not None and (broken.version, broken.code) == (2, "state_unreadable")
        unlinked = list(rows)
        state = json.loads(rows[4].state)
        del state[PREV_HASH]
        unlinked[4] = replace(rows[4], state=json.dumps(state).encode())
        broken = check_stream(_mapper(memory_ledger), unlinked).broken
        assert broken is not None and (broken.version, broken.code) == (5, "link_missing")

    def test_the_newest_event_alone_is_beyond_the_chain(
        self, memory_ledger: Ledger, rows: list[StoredEvent]
    ) -> None:
        """What a chain cannot see, and a checkpoint must: the head edited, or dropped."""
        edited = list(rows)
        edited[-1] = replace(rows[-1], state=rows[-1].state.replace(b'"100.00"', b'"900.00"'))
        check = check_stream(_mapper(memory_ledger), edited)
        assert check.broken is None and check.head_hash != stored_event_hash(rows[-1])
        assert check_stream(_mapper(memory_ledger), rows[:-1]).broken is None

    def test_an_empty_stream_is_trivially_whole(self, memory_ledger: Ledger) -> None:
        check = check_stream(_mapper(memory_ledger), [])
        assert (check.broken, check.head_version, check.head_hash) == (None, 0, GENESIS)


class TestRememberedHashes:
    """What the mapper remembers of streams it read or wrote, and forgets after a failed save."""

    @staticmethod
    def _stored(stream: UUID, version: int) -> StoredEvent:
        return StoredEvent(originator_id=stream, originator_version=version, topic="t", state=b"{}")

    def test_forgetting_a_stream_drops_all_of_its_hashes_and_no_other(
        self, memory_ledger: Ledger
    ) -> None:
        mapper = _mapper(memory_ledger)
        kept, failed = UUID(int=1), UUID(int=2)
        for version in range(1, 6):
            mapper._remember(self._stored(kept, version))
            mapper._remember(self._stored(failed, version))
        mapper.forget({failed})
        assert all(mapper._hashes.get((failed, v)) is None for v in range(1, 6))
        assert all(
            mapper._hashes.get((kept, v)) == stored_event_hash(self._stored(kept, v))
            for v in range(1, 6)
        )

    def test_what_is_remembered_stays_within_the_cache_whatever_the_streams(
        self, memory_ledger: Ledger
    ) -> None:
        mapper = _mapper(memory_ledger)
        mapper.cache_size = 100
        for number in range(mapper.cache_size * 3):
            mapper._remember(self._stored(UUID(int=number + 1), 1))
            mapper._remember(self._stored(UUID(int=number + 1), 2))
        assert len(mapper._hashes) == mapper.cache_size
        assert sum(len(v) for v in mapper._versions.values()) == mapper.cache_size
        newest = UUID(int=mapper.cache_size * 3)
        mapper.forget({newest, UUID(int=1)})  # the first stream's hashes are long gone
        assert (newest, 2) not in mapper._hashes and newest not in mapper._versions
        assert len(mapper._hashes) == mapper.cache_size - 2

    def test_forgetting_while_other_threads_remember_never_fails(
        self, memory_ledger: Ledger
    ) -> None:
        """The API's threads read streams (remembering their hashes) while one of them forgets
        a failed save; a scan of the remembered hashes used to fail with "OrderedDict mutated
        during iteration", turning a version conflict into a server error."""
        import threading

        mapper = _mapper(memory_ledger)
        stop = threading.Event()
        failures: list[BaseException] = []

        def remember() -> None:
            number = 100
            while not stop.is_set():
                number += 1
                for version in range(1, 20):
                    mapper._remember(self._stored(UUID(int=number), version))

        readers = [threading.Thread(target=remember) for _ in range(2)]
        for reader in readers:
            reader.start()
        try:
            for attempt in range(300):
                stream = UUID(int=3)
                for version in range(1, 50):
                    mapper._remember(self._stored(stream, version))
                try:
                    mapper.forget({stream, UUID(int=attempt + 100)})
                except RuntimeError as error:
                    failures.append(error)
                    break
                assert mapper._hashes.get((stream, 7)) is None
        finally:
            stop.set()
            for reader in readers:
                reader.join()
        assert failures == []


class TestKeys:
    def test_pem_hex_and_openssh_forms_load_to_the_same_key(self) -> None:
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        ssh = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        for material in (private_key_pem(key), private_key_pem(key).decode(), raw.hex(), ssh):
            assert public_key_hex(load_private_key(material)) == public_key_hex(key)
        public_ssh = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        for material in (public_key_pem(key), public_key_hex(key), public_ssh.decode() + "\n"):
            assert public_key_hex(load_public_key(material)) == public_key_hex(key)

    @pytest.mark.parametrize("material", ["", "abc", "zz" * 32, "-----BEGIN PRIVATE KEY-----"])
    def test_what_is_not_an_ed25519_key_is_refused(self, material: str) -> None:
        with pytest.raises(errors.InvalidKey):
            load_private_key(material)
        with pytest.raises(errors.InvalidKey):
            load_public_key(material)

    def test_a_key_of_another_kind_is_refused(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        other = ec.generate_private_key(ec.SECP256R1())
        pem = other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with pytest.raises(errors.InvalidKey, match="not an Ed25519"):
            load_private_key(pem)


class TestCheckpointsInMemory:
    def test_canonical_json_is_independent_of_key_order(self) -> None:
        assert canonical_json({"b": 1, "a": [1, "长"]}) == canonical_json({"a": [1, "长"], "b": 1})
        assert canonical_json({"a": "长"}).encode() == '{"a":"长"}'.encode()

    def test_a_checkpoint_round_trips_and_detects_forgery_and_other_keys(
        self, memory_ledger: Ledger
    ) -> None:
        project_id = _busy_project(memory_ledger)
        key = Ed25519PrivateKey.generate()
        doc = make_checkpoint(memory_ledger, key)
        assert doc["format"] == "zhaoshang-checkpoint/1" and doc["created_at"].endswith("Z")
        assert doc["events"] == 7 and doc["streams"] == 2  # the association and the project
        assert {"id": str(project_id), "version": 6, "hash": doc["heads"][1]["hash"]} in doc[
            "heads"
        ] or {"id": str(project_id), "version": 6, "hash": doc["heads"][0]["hash"]} in doc["heads"]
        report = verify_checkpoint(memory_ledger, json.dumps(doc), key.public_key())
        assert report.ok and report.heads_checked == 2, report.summary()

        forged = json.loads(json.dumps(doc))
        forged["heads"][0]["version"] += 1
        report = verify_checkpoint(memory_ledger, forged, key.public_key())
        assert not report.ok and report.problems[0].code == "bad_signature"

        other = Ed25519PrivateKey.generate()
        report = verify_checkpoint(
            memory_ledger, make_checkpoint(memory_ledger, other), key.public_key()
        )
        assert not report.ok and report.problems[0].code == "wrong_key"
        assert "not signed with the trusted key" in report.summary()

    def test_new_events_extend_a_checkpoint(self, memory_ledger: Ledger) -> None:
        project_id = _busy_project(memory_ledger)
        key = Ed25519PrivateKey.generate()
        doc = make_checkpoint(memory_ledger, key)
        memory_ledger.record_visit(
            memory_ledger.context(OFFICER), project_id, occurred_on="2023-03-01"
        )
        factories.association(memory_ledger, name="深圳湖南商会")
        report = verify_checkpoint(memory_ledger, doc, key.public_key())
        assert report.ok and report.streams_extended == 1 and report.events_now == 9

    @pytest.mark.parametrize(
        "doc",
        [
            "not json",
            "[]",
            '{"format": "other"}',
            '{"format": "zhaoshang-checkpoint/1", "signature": "00", "public_key": "00",'
            ' "created_at": "x", "heads": [{"id": "s", "version": 0, "hash": "00"}]}',
        ],
    )
    def test_a_malformed_checkpoint_is_refused(self, doc: str) -> None:
        with pytest.raises(errors.CheckpointInvalid):
            parse_checkpoint(doc)


class TestVerifyInMemory:
    def test_verify_all_and_verify_project_on_the_memory_store(self, memory_ledger: Ledger) -> None:
        project_id = _busy_project(memory_ledger)
        report = verify_all(memory_ledger)
        assert report.ok and (report.events, report.streams) == (7, 2)
        assert report.summary().startswith("verify: ok — 7 events in 2 streams")
        result = verify_project(memory_ledger, project_id)
        assert result["ok"] and result["broken_at"] is None and result["version"] == 6
        with pytest.raises(errors.NotFound):
            verify_project(memory_ledger, "not-a-uuid")
        with pytest.raises(errors.NotFound):
            verify_project(memory_ledger, UUID(int=1))


class TestHistoryLabels:
    def test_every_event_type_has_a_chinese_and_an_english_label(self) -> None:
        def types(cls: type) -> set[str]:
            return {
                event_type_name(name)
                for name, v in vars(cls).items()
                if isinstance(v, type)
                and issubclass(v, EnvelopedEvent)
                and name not in ("Event", "Created")  # the library's own, never triggered
            }

        assert types(Project) == set(EVENT_TYPE_LABELS) == set(EVENT_TYPE_LABELS_EN)
        assert (
            types(Association)
            == set(ASSOCIATION_EVENT_TYPE_LABELS)
            == set(ASSOCIATION_EVENT_TYPE_LABELS_EN)
        )

    def test_history_prints_envelope_hash_and_state_in_both_languages(
        self, memory_ledger: Ledger
    ) -> None:
        project_id = _busy_project(memory_ledger)
        view = history_view(memory_ledger, project_id)
        zh = "\n".join(render_history(view))
        assert "第 3 版 · 资金到位 (funds_arrived)" in zh
        assert "操作人 officer-1 (跟踪人员)" in zh and "来源 api" in zh
        assert f"哈希 {view.entries[2].hash[:12]}" in zh
        assert "阶段: 已签约 (signed)" in zh and "到位资金合计（折人民币）: 3,000,100.00" in zh
        assert "哈希链: 完整（共 6 个事件" in zh
        en = "\n".join(render_history(view, "en"))
        assert "v3 · Funds arrived (funds_arrived)" in en and "stage: signed (signed)" in en
        assert "industry: C Manufacturing" in en and "Hash chain: intact (6 events" in en

    def test_history_names_the_associations_with_their_city(self, memory_ledger: Ledger) -> None:
        project_id = _busy_project(memory_ledger)
        association = memory_ledger.get_project(project_id).association_ids()[0]
        named = memory_ledger.get_association(association)
        zh = "\n".join(render_history(history_view(memory_ledger, project_id)))
        assert f"{named.name}（{named.based_in}） 100%" in zh
        assert str(association) not in zh.replace(str(project_id), "")

    def test_history_views_stop_at_a_version_a_date_or_a_day_known(
        self, memory_ledger: Ledger
    ) -> None:
        project_id = _busy_project(memory_ledger)
        assert [e.version for e in history_view(memory_ledger, project_id, version=3).entries] == [
            1,
            2,
            3,
        ]
        as_of = history_view(memory_ledger, project_id, as_of="2023-02-02")
        assert [e.version for e in as_of.entries] == [1, 2, 3, 4]
        assert as_of.state.funds_total_cny == 3000000
        known = history_view(memory_ledger, project_id, known_on="2025-03-01")
        assert len(known.entries) == 6
        assert "截至 2023-02-02（按发生日期）" in render_history(as_of)[0]
        with pytest.raises(errors.InvalidInput):
            history_view(memory_ledger, project_id, version=2, as_of="2023-01-01")


class TestCommandLine:
    def test_the_integrity_commands_are_registered(self) -> None:
        parser, handlers = build_parser()
        assert {"verify", "checkpoint", "history"} <= set(handlers)
        args = parser.parse_args(["history", "x", "--as-of", "2024-01-01", "--lang", "en"])
        assert (args.as_of, args.lang) == ("2024-01-01", "en")
        with pytest.raises(SystemExit):
            parser.parse_args(["history", "x", "--as-of", "2024-01-01", "--version", "2"])

    def test_keygen_writes_a_private_key_only_its_owner_reads(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        prefix = tmp_path / "auditor"
        assert main(["checkpoint", "keygen", "--out", str(prefix)]) == 0
        private = Path(f"{prefix}.key")
        assert private.stat().st_mode & 0o777 == 0o600
        key = load_private_key(private.read_text())
        public = load_public_key(Path(f"{prefix}.pub").read_text())
        assert public_key_hex(key) == public_key_hex(public)
        assert public_key_hex(key) in capsys.readouterr().out
        assert main(["checkpoint", "keygen", "--out", str(prefix)]) == 2  # no silent overwrite
