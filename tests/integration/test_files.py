"""Evidence files below HTTP: the envelope upcast, the references index written with the
events, verify through the command line (SQLite file and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from adapters.files import FileTooLarge, references_table
from cli.main import main
from domain.application import Ledger
from domain.project import Project
from projections.integrity import events_table, verify_all
from projections.runtime import engine_of
from services.bootstrap import Services
from tests import factories
from tests.conftest import OFFICER, services_for

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def services(ledger: Ledger, database_url: str, tmp_path: Path) -> Services:
    return services_for(ledger, database_url, files_dir=str(tmp_path / "files"))


def upload(services: Services, data: bytes, name: str, user: str = "u1") -> dict[str, Any]:
    incoming = services.files.receive()
    incoming.write(data)
    return services.files.keep(incoming, name, user)


def test_references_are_indexed_with_the_events_and_old_events_upcast(
    ledger: Ledger, services: Services
) -> None:
    project_id = factories.signed_project(ledger)
    stored = upload(services, PDF, "C:\\扫描\\slip.pdf")
    assert stored["name"] == "slip.pdf"  # the client's folders are not kept
    files = services.files.resolve([(0, {"sha256": stored["sha256"]})], "u1", lambda _: False)
    ctx = ledger.context(OFFICER, evidence=["BOC-1"], evidence_files=files)
    ledger.record_funds_arrival(
        ctx, project_id, occurred_on="2023-03-01", amount="100.00", currency="CNY"
    )
    table = events_table(ledger)
    first_event = (table.c.originator_id == project_id) & (table.c.originator_version == 1)
    with engine_of(ledger).connect() as c:
        rows = c.execute(select(references_table)).all()
        # An event stored before files existed: its state has no `evidence_files`.
        first = c.execute(select(table.c.state).where(first_event)).scalar()
    version = len(ledger.history(project_id))
    assert [(r.sha256, r.stream_id, r.version) for r in rows] == [
        (stored["sha256"], str(project_id), version)
    ]
    state = json.loads(bytes(first))
    del state["evidence_files"]
    with engine_of(ledger).begin() as c:
        c.execute(
            update(table)
            .where(first_event)
            .values(state=json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode())
        )
    fresh = Ledger(ledger.env, clock=ledger.clock)
    history = fresh.history(project_id)
    assert history[0].files == [] and history[-1].files == files
    project = fresh.repository.get(project_id)
    assert isinstance(project, Project)
    fresh.close()
    assert services.files.project_files(str(project_id))[0]["events"][0]["version"] == version


def test_unknown_and_unreadable_files_are_refused(services: Services) -> None:
    stored = upload(services, PDF, "a.pdf", user="someone")
    from domain.errors import UnknownFile

    for sha in (stored["sha256"], "0" * 64, "not-a-hash"):
        with pytest.raises(UnknownFile) as refused:
            services.files.resolve([(3, {"sha256": sha})], "u2", lambda _: True)
        assert refused.value.field == "evidence[3].sha256"


def test_size_limit_is_enforced_as_bytes_arrive(services: Services) -> None:
    incoming = services.files.store.receive(10)
    incoming.write(b"%PDF-1234")
    with pytest.raises(FileTooLarge):
        incoming.write(b"56")
    assert not incoming.path.exists()


def test_cli_verify_reports_an_altered_file(
    ledger: Ledger,
    services: Services,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project_id = factories.signed_project(ledger)
    stored = upload(services, PDF, "a.pdf")
    files = services.files.resolve([(0, {"sha256": stored["sha256"]})], "u1", lambda _: False)
    ledger.record_funds_arrival(
        ledger.context(OFFICER, evidence_files=files),
        project_id,
        occurred_on="2023-03-01",
        amount="100.00",
        currency="CNY",
    )
    monkeypatch.setenv("ZHAOSHANG_DATABASE_URL", database_url)
    monkeypatch.setenv("ZHAOSHANG_FILES_DIR", str(tmp_path / "files"))
    assert main(["verify"]) == 0
    assert "files: ok — 1 files in 1 references" in capsys.readouterr().out
    path = services.files.store.path_of(stored["sha256"])
    path.chmod(0o644)
    path.write_bytes(b"%PDF-altered")
    assert main(["verify", "--project", str(project_id)]) == 1
    out = capsys.readouterr().out
    assert f"project {project_id} version" in out and "[file_altered]" in out
    assert hashlib.sha256(b"%PDF-altered").hexdigest() in out
    path.unlink()
    assert main(["verify", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["files"]["broken_at"]["code"] == "file_missing"
    assert verify_all(ledger).ok  # the chains themselves still hold
