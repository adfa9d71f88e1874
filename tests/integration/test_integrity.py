"""Tamper evidence on a real database (SQLite file and PostgreSQL): rows are edited, deleted and
swapped with raw SQL behind the application's back, and `verify_all`, the checkpoints and the
command line must name the stream and version."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event, select, text

from cli.main import main
from domain import errors
from domain.application import Ledger
from domain.integrity import GENESIS, PREV_HASH
from projections.integrity import (
    events_table,
    list_checkpoints,
    make_checkpoint,
    private_key_pem,
    public_key_hex,
    public_key_pem,
    record_checkpoint,
    verify_all,
    verify_checkpoint,
    verify_project,
)
from tests import factories
from tests.conftest import OFFICER

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """Run `zhaoshang …` on the test database: answer (exit code, stdout, stderr)."""
    monkeypatch.setenv("ZHAOSHANG_DATABASE_URL", database_url)
    for name in ("PRIVATE_KEY", "PUBLIC_KEY", "PRIVATE_KEY_FILE", "PUBLIC_KEY_FILE"):
        monkeypatch.delenv(f"ZHAOSHANG_CHECKPOINT_{name}", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def busy_project(app: Ledger) -> UUID:
    """Six events: referred, signed, funds (3,000,000), visit, negotiation, funds (100)."""
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


def row(app: Ledger, stream: UUID, version: int) -> Any:
    """The stored row (id, topic, state) of one event, read directly."""
    table = events_table(app)
    engine = app.recorder.datastore.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        found = conn.execute(
            select(table.c.id, table.c.topic, table.c.state).where(
                table.c.originator_id == stream, table.c.originator_version == version
            )
        ).one()
    return found


def raw_sql(app: Ledger, *statements: tuple[str, dict[str, Any]]) -> None:
    """Statements run straight on the database, in one transaction, as an intruder would."""
    engine = app.recorder.datastore.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        for sql, params in statements:
            conn.execute(text(sql), params)


def edit_amount(app: Ledger, stream: UUID, version: int, old: bytes, new: bytes) -> None:
    r = row(app, stream, version)
    state = bytes(r.state)
    assert old in state
    raw_sql(
        app,
        (
            "UPDATE zhaoshang_events SET state = :state WHERE id = :id",
            {
                "state": state.replace(old, new),
                "id": r.id,
            },
        ),
    )


def delete_event(app: Ledger, stream: UUID, version: int) -> None:
    raw_sql(
        app, ("DELETE FROM zhaoshang_events WHERE id = :id", {"id": row(app, stream, version).id})
    )


def swap_events(app: Ledger, stream: UUID, a: int, b: int) -> None:
    ra, rb = row(app, stream, a), row(app, stream, b)
    update = "UPDATE zhaoshang_events SET topic = :topic, state = :state WHERE id = :id"
    raw_sql(
        app,
        (update, {"topic": rb.topic, "state": bytes(rb.state), "id": ra.id}),
        (update, {"topic": ra.topic, "state": bytes(ra.state), "id": rb.id}),
    )


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Any]:
    """A trusted key pair written as PEM files, and a stranger's key."""
    key = Ed25519PrivateKey.generate()
    private, public = tmp_path / "trusted.key", tmp_path / "trusted.pub"
    private.write_bytes(private_key_pem(key))
    public.write_bytes(public_key_pem(key))
    return {"key": key, "private": str(private), "public": str(public), "tmp": tmp_path}


class TestChainOnDatabase:
    def test_every_event_is_chained_and_verify_all_is_clean(self, ledger: Ledger) -> None:
        projects = [busy_project(ledger) for _ in range(3)]
        report = verify_all(ledger)
        # Each busy project brings its own association: 3 × (1 + 6) events in 6 streams.
        assert report.ok, report.summary()
        assert (report.events, report.streams) == (21, 6)
        assert report.last_notification_id == ledger.recorder.max_notification_id()
        for project_id in projects:
            result = verify_project(ledger, project_id)
            assert result == {
                "ok": True,
                "broken_at": None,
                "events": 6,
                "version": 6,
                "hash": ledger.history(project_id)[-1].hash,
            }
            first = json.loads(bytes(row(ledger, project_id, 1).state))
            assert first[PREV_HASH] == GENESIS

    def test_verify_all_reads_the_record_in_one_query(self, ledger: Ledger) -> None:
        for _ in range(5):
            busy_project(ledger)
        engine = ledger.recorder.datastore.engine  # type: ignore[attr-defined]
        statements: list[str] = []

        def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", seen)
        try:
            assert verify_all(ledger).ok
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        reads = [s for s in statements if "zhaoshang_events" in s]
        assert len(reads) == 1 and "ORDER BY" in reads[0], statements

    def test_a_gap_in_notification_ids_proves_nothing(self, ledger: Ledger) -> None:
        project_id = factories.project(ledger)
        first, second = ledger.repository.get(project_id), ledger.repository.get(project_id)
        ctx = ledger.context(OFFICER)
        first.record_visit(ctx, "2022-07-01")
        second.record_visit(ctx, "2022-07-02")
        ledger.save_or_conflict(first)
        with pytest.raises(errors.VersionConflict):
            ledger.save_or_conflict(second)  # on PostgreSQL this burns a sequence value
        ledger.record_visit(ctx, project_id, occurred_on="2022-07-03")
        key = Ed25519PrivateKey.generate()
        report = verify_all(ledger)
        assert report.ok and report.events == 4
        assert verify_checkpoint(ledger, make_checkpoint(ledger, key), key.public_key()).ok


class TestTamperDetection:
    def test_a_state_edited_in_the_database_is_named(self, ledger: Ledger, cli: Cli) -> None:
        busy_project(ledger)
        project_id = busy_project(ledger)
        edit_amount(ledger, project_id, 3, b'"3000000.00"', b'"9000000.00"')

        report = verify_all(ledger)
        assert not report.ok and report.broken_streams == 1
        broken = report.first
        assert broken is not None
        assert (broken.stream_id, broken.version, broken.code) == (
            str(project_id),
            3,
            "event_altered",
        )
        assert verify_project(ledger, project_id)["broken_at"] == {
            "version": 3,
            "reason": broken.reason,
            "code": "event_altered",
        }
        code, out, _ = cli("verify")
        assert code == 1
        assert f"stream {project_id} version 3:" in out and "altered" in out
        code, out, _ = cli("verify", "--project", str(project_id))
        assert code == 1 and "version 3" in out

    def test_an_event_deleted_from_the_middle_is_named(self, ledger: Ledger, cli: Cli) -> None:
        project_id = busy_project(ledger)
        delete_event(ledger, project_id, 4)

        broken = verify_all(ledger).first
        assert broken is not None
        assert (broken.stream_id, broken.version, broken.code) == (
            str(project_id),
            4,
            "event_missing",
        )
        code, out, _ = cli("verify")
        assert code == 1
        assert f"stream {project_id} version 4: version 4 is missing" in out

    def test_two_swapped_events_are_named(self, ledger: Ledger, cli: Cli) -> None:
        project_id = busy_project(ledger)
        swap_events(ledger, project_id, 3, 4)

        broken = verify_all(ledger).first
        assert broken is not None
        assert (broken.stream_id, broken.version, broken.code) == (
            str(project_id),
            3,
            "events_reordered",
        )
        code, out, _ = cli("verify", "--json")
        assert code == 1
        reported = json.loads(out)
        assert reported["ok"] is False
        assert reported["broken"][0] == {
            "stream_id": str(project_id),
            "version": 3,
            "code": "events_reordered",
            "reason": broken.reason,
        }

    def test_intact_data_exits_zero_with_a_rate(self, ledger: Ledger, cli: Cli) -> None:
        busy_project(ledger)
        code, out, _ = cli("verify")
        assert code == 0
        assert out.startswith("verify: ok — 7 events in 2 streams") and "events/s" in out
        assert len(out.strip().splitlines()) == 1


class TestCheckpoints:
    def test_a_truncated_stream_passes_the_chain_but_not_the_checkpoint(
        self, ledger: Ledger, cli: Cli, keys: dict[str, Any]
    ) -> None:
        project_id = busy_project(ledger)
        other = busy_project(ledger)
        doc = make_checkpoint(ledger, keys["key"])
        delete_event(ledger, project_id, 6)  # the newest funds arrival disappears

        assert verify_all(ledger).ok  # what is left is a perfectly good chain
        report = verify_checkpoint(ledger, doc, keys["key"].public_key())
        assert report.signature_ok and not report.ok
        problem = report.problems[0]
        assert (problem.code, problem.stream_id, problem.version) == (
            "head_missing",
            str(project_id),
            6,
        )
        assert report.problem_count == 1 and report.heads_checked == 3  # the other streams hold
        assert verify_project(ledger, other)["ok"]

        checkpoint = keys["tmp"] / "checkpoint.json"
        checkpoint.write_text(json.dumps(doc))
        assert cli("verify")[0] == 0
        code, out, _ = cli("checkpoint", "verify", str(checkpoint), "--public-key", keys["public"])
        assert code == 1
        assert f"stream {project_id} version 6:" in out and "head_missing" in out

    def test_an_edited_newest_event_and_a_deleted_stream_are_caught(
        self, ledger: Ledger, keys: dict[str, Any]
    ) -> None:
        edited, deleted = busy_project(ledger), busy_project(ledger)
        doc = make_checkpoint(ledger, keys["key"])
        edit_amount(ledger, edited, 6, b'"100.00"', b'"900.00"')
        for version in range(6, 0, -1):
            delete_event(ledger, deleted, version)

        assert verify_all(ledger).ok
        report = verify_checkpoint(ledger, doc, keys["key"].public_key())
        found = {(p.code, p.stream_id, p.version) for p in report.problems}
        assert found == {
            ("head_mismatch", str(edited), 6),
            ("stream_missing", str(deleted), 1),
            # The deleted stream held the newest events: the log's end moved back too.
            ("notification_id_regressed", None, None),
        }

    def test_later_events_extend_the_checkpoint(self, ledger: Ledger, keys: dict[str, Any]) -> None:
        project_id = busy_project(ledger)
        doc = make_checkpoint(ledger, keys["key"])
        ledger.record_visit(ledger.context(OFFICER), project_id, occurred_on="2023-03-01")
        busy_project(ledger)
        report = verify_checkpoint(ledger, doc, keys["key"].public_key())
        assert report.ok, report.summary()
        assert (report.heads_checked, report.streams_extended) == (2, 1)
        assert (report.events_then, report.events_now) == (7, 15)

    def test_events_added_later_with_a_time_before_the_checkpoint_are_flagged(
        self, ledger: Ledger, keys: dict[str, Any], clock: list[Any]
    ) -> None:
        project_id = busy_project(ledger)
        doc = make_checkpoint(ledger, keys["key"])
        signed = clock[0]
        clock[0] = signed - timedelta(days=1)  # an intruder's back-dated appends
        ledger.record_visit(ledger.context(OFFICER), project_id, occurred_on="2023-03-01")
        planted = factories.project(ledger)
        clock[0] = signed + timedelta(seconds=30)  # an honest later write is not flagged
        busy_project(ledger)
        report = verify_checkpoint(ledger, doc, keys["key"].public_key())
        assert not report.ok
        found = {(p.code, p.stream_id, p.version) for p in report.problems}
        # The visit, the planted project, and the association made for it; not the later ones.
        assert {("uncovered_event", str(project_id), 7), ("uncovered_event", str(planted), 1)} <= (
            found
        )
        assert {code for code, _, _ in found} == {"uncovered_event"} and len(found) == 3
        assert "back-dated" in report.problems[0].reason

    def test_an_event_in_flight_when_the_checkpoint_was_signed_is_not_flagged(
        self, ledger: Ledger, keys: dict[str, Any], clock: list[Any]
    ) -> None:
        project_id = busy_project(ledger)
        doc = make_checkpoint(ledger, keys["key"])
        clock[0] = clock[0] - timedelta(seconds=5)  # read the clock, committed just after
        ledger.record_visit(ledger.context(OFFICER), project_id, occurred_on="2023-03-01")
        assert verify_checkpoint(ledger, doc, keys["key"].public_key()).ok

    def test_a_forged_or_altered_checkpoint_is_refused(
        self, ledger: Ledger, cli: Cli, keys: dict[str, Any]
    ) -> None:
        project_id = busy_project(ledger)
        doc = make_checkpoint(ledger, keys["key"])
        delete_event(ledger, project_id, 6)
        # The intruder "updates" the checkpoint to the truncated stream's new head...
        forged = json.loads(json.dumps(doc))
        head = next(h for h in forged["heads"] if h["id"] == str(project_id))
        head["version"] = 5
        head["hash"] = ledger.history(project_id)[-1].hash
        report = verify_checkpoint(ledger, forged, keys["key"].public_key())
        assert not report.ok and not report.signature_ok
        assert report.problems[0].code == "bad_signature"
        # ...or flips a bit of the signature itself.
        tampered = dict(
            doc, signature=("1" if doc["signature"][0] == "0" else "0") + doc["signature"][1:]
        )
        assert verify_checkpoint(ledger, tampered, keys["key"].public_key()).problems[0].code == (
            "bad_signature"
        )
        path = keys["tmp"] / "forged.json"
        path.write_text(json.dumps(forged))
        code, out, _ = cli("checkpoint", "verify", str(path), "--public-key", keys["public"])
        assert code == 1 and "bad_signature" in out and "altered after signing" in out

    def test_a_checkpoint_signed_with_another_key_is_refused(
        self, ledger: Ledger, cli: Cli, keys: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        busy_project(ledger)
        stranger = Ed25519PrivateKey.generate()
        doc = make_checkpoint(ledger, stranger)
        report = verify_checkpoint(ledger, doc, keys["key"].public_key())
        assert not report.ok and report.problems[0].code == "wrong_key"
        # The stranger may even write the trusted key's name into the document: refused still.
        doc["public_key"] = public_key_hex(keys["key"])
        assert verify_checkpoint(ledger, doc, keys["key"].public_key()).problems[0].code == (
            "bad_signature"
        )
        path = keys["tmp"] / "stranger.json"
        path.write_text(json.dumps(make_checkpoint(ledger, stranger)))
        monkeypatch.setenv("ZHAOSHANG_CHECKPOINT_PUBLIC_KEY", public_key_hex(keys["key"]))
        code, out, _ = cli("checkpoint", "verify", str(path))
        assert code == 1 and "wrong_key" in out

    def test_export_and_verify_through_the_command_line(
        self, ledger: Ledger, cli: Cli, keys: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        busy_project(ledger)
        path = keys["tmp"] / "cp.json"
        code, _, err = cli("checkpoint", "export", str(path))
        assert code == 2 and "invalid_key" in err  # no key anywhere: nothing is signed
        # The private key from the environment as 64 hex digits, the public one from a file.
        raw = keys["key"].private_bytes_raw().hex()
        monkeypatch.setenv("ZHAOSHANG_CHECKPOINT_PRIVATE_KEY", raw)
        code, out, _ = cli("checkpoint", "export", str(path), "--record")
        assert code == 0 and "2 stream heads, 7 events" in out and "recorded as #1" in out
        doc = json.loads(path.read_text())
        assert doc["public_key"] == public_key_hex(keys["key"]) and len(doc["heads"]) == 2
        monkeypatch.setenv("ZHAOSHANG_CHECKPOINT_PUBLIC_KEY_FILE", keys["public"])
        code, out, _ = cli("checkpoint", "verify", str(path))
        assert code == 0 and out.startswith("checkpoint: ok") and "2 heads" in out
        # A --key file wins over the environment.
        code, _, _ = cli("checkpoint", "export", str(path), "--key", keys["private"])
        assert code == 0
        assert [c["id"] for c in list_checkpoints(ledger)] == [1]
        assert record_checkpoint(ledger, json.loads(path.read_text())) == 2
        code, out, _ = cli("checkpoint", "list")
        assert code == 0 and out.startswith("#2 ")

    def test_no_checkpoint_is_signed_over_a_broken_chain(
        self, ledger: Ledger, cli: Cli, keys: dict[str, Any]
    ) -> None:
        project_id = busy_project(ledger)
        swap_events(ledger, project_id, 2, 3)
        with pytest.raises(errors.ChainBroken, match=f"stream {project_id} version 2"):
            make_checkpoint(ledger, keys["key"])
        path = keys["tmp"] / "cp.json"
        code, _, err = cli("checkpoint", "export", str(path), "--key", keys["private"])
        assert code == 1 and "refused" in err and not path.exists()


class TestAtScale:
    def test_a_demo_province_verifies_clean_and_fast(
        self, ledger: Ledger, cli: Cli, keys: dict[str, Any]
    ) -> None:
        from demo.province import generate

        summary = generate(ledger, "small")
        report = verify_all(ledger)
        print(report.summary())
        assert report.ok and report.events == summary.events > 8000
        assert report.streams == summary.associations + summary.projects
        doc = make_checkpoint(ledger, keys["key"])
        assert verify_checkpoint(ledger, doc, keys["key"].public_key()).ok
        code, out, _ = cli("verify")
        assert code == 0 and f"{summary.events:,} events" in out


class TestHistoryCommand:
    def test_history_prints_events_and_state_in_chinese_and_english(
        self, ledger: Ledger, cli: Cli
    ) -> None:
        project_id = busy_project(ledger)
        hashes = [h.hash for h in ledger.history(project_id)]
        code, out, _ = cli("history", str(project_id))
        assert code == 0
        assert "第 3 版 · 资金到位 (funds_arrived)" in out and f"哈希 {hashes[2][:12]}" in out
        assert "发生日期 2023-02-01" in out and "记录时间 2025-03-01 10:00:00+08:00" in out
        assert "到位资金合计（折人民币）: 3,000,100.00" in out and "哈希链: 完整" in out
        code, out, _ = cli("history", str(project_id), "--lang", "en", "--version", "3")
        assert code == 0
        assert "up to version 3" in out and "v3 · Funds arrived" in out and "v4" not in out
        assert "funds arrived (CNY): 3,000,000.00" in out
        code, out, _ = cli("history", str(project_id), "--as-of", "2023-01-31", "--lang", "en")
        assert code == 0 and "stage: signed" in out and "v3 ·" not in out
        code, out, _ = cli("history", str(project_id), "--known-on", "2025-02-28")
        assert code == 2  # nothing had been recorded by then

    def test_history_shows_a_broken_chain_and_refuses_unknown_projects(
        self, ledger: Ledger, cli: Cli
    ) -> None:
        project_id = busy_project(ledger)
        edit_amount(ledger, project_id, 3, b'"3000000.00"', b'"9000000.00"')
        code, out, _ = cli("history", str(project_id), "--lang", "en")
        assert code == 0
        assert "Hash chain: broken at version 3" in out and "[link broken]" in out
        code, out, _ = cli("history", str(project_id))
        verdict = next(line for line in out.splitlines() if line.startswith("哈希链"))
        assert "第 3 版" in verdict and "事件被篡改" in verdict and "[event_altered]" in verdict
        code, _, err = cli("history", str(UUID(int=7)))
        assert code == 2 and "not_found" in err

    def test_history_of_an_unreadable_project_points_to_verify(
        self, ledger: Ledger, cli: Cli
    ) -> None:
        project_id = busy_project(ledger)
        raw_sql(
            ledger,
            (
                "UPDATE zhaoshang_events SET state = :state WHERE id = :id",
                {"state": b"{garbled", "id": row(ledger, project_id, 2).id},
            ),
        )
        code, _, err = cli("history", str(project_id))
        assert code == 1 and f"zhaoshang verify --project {project_id}" in err
        code, out, _ = cli("verify", "--project", str(project_id))
        assert code == 1 and "version 2: the stored state of version 2 cannot be decoded" in out
