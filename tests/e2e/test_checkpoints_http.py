"""Signed checkpoints over HTTP: the server's Ed25519 keys come from its settings (never from the
database); an admin makes one, the auditor reads and verifies them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from projections.integrity import generate_private_key, private_key_pem, public_key_hex
from tests.e2e.conftest import Api, _client


@pytest.fixture
def keys() -> tuple[str, str]:
    private = generate_private_key()
    return private_key_pem(private).decode(), public_key_hex(private)


@pytest.fixture
def signing_api(database_url: str, clock: list[datetime], keys: tuple[str, str]) -> Iterator[Api]:
    private, public = keys
    yield from _client(
        database_url, clock, checkpoint_private_key=private, checkpoint_public_key=public
    )


def test_checkpoint_made_then_verified(signing_api: Api, keys: tuple[str, str]) -> None:
    api = signing_api
    project = api.signed_project()
    assert api.get("/checkpoints", role="auditor").json() == {"items": [], "total": 0}

    r = api.post("/checkpoints", role="admin")
    assert r.status_code == 201, r.text
    made = r.json()
    document = made["checkpoint"]
    assert document["public_key"] == keys[1]
    # An association, a project, and the test users' accounts (created, token issued).
    accounts = len(api.get("/users").json())
    assert document["streams"] == 2 + accounts and document["events"] == 3 + 2 * accounts
    heads = {h["id"]: h["version"] for h in document["heads"]}
    assert heads[project] == 2
    assert len(document["signature"]) == 128

    # The ledger moves on: the chains still extend every head.
    r = api.post(f"/projects/{project}/visits", {"occurred_on": "2024-02-01"}, role="officer")
    assert r.status_code == 201, r.text

    r = api.get("/checkpoints", params={"verify": "true"}, role="auditor")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1
    [item] = body["items"]
    assert item["id"] == made["id"] and item["document"] == document
    verification = item["verification"]
    assert verification["ok"] is True and verification["signature_ok"] is True
    assert verification["signed_by"] == keys[1]
    assert verification["problems"] == []
    assert verification["events_now"] == verification["events_then"] + 1

    # Without verify, the checkpoints are listed as they are.
    plain = api.get("/checkpoints", role="auditor").json()
    assert "verification" not in plain["items"][0]
    # The auditor reads but does not make; a liaison does neither.
    assert api.post("/checkpoints", role="auditor").status_code == 403
    own = api.association("长沙湖南商会")
    assert api.get("/checkpoints", role="liaison", association_id=own).status_code == 403


def test_checkpoint_keys_from_files(
    tmp_path: Path, clock: list[datetime], keys: tuple[str, str]
) -> None:
    (tmp_path / "cp.key").write_text(keys[0], encoding="utf-8")
    (tmp_path / "cp.pub").write_text(keys[1], encoding="utf-8")
    for api in _client(
        f"sqlite:///{tmp_path / 'files.db'}",
        clock,
        checkpoint_private_key_file=str(tmp_path / "cp.key"),
        checkpoint_public_key_file=str(tmp_path / "cp.pub"),
    ):
        api.association()
        assert api.post("/checkpoints").status_code == 201
        [item] = api.get("/checkpoints", params={"verify": "true"}).json()["items"]
        assert item["verification"]["ok"] is True


def test_without_keys_checkpoints_are_refused(sqlite_api: Api) -> None:
    r = sqlite_api.post("/checkpoints")
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_checkpoint_key"
    r = sqlite_api.get("/checkpoints", params={"verify": "true"}, role="auditor")
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_checkpoint_key"
    assert sqlite_api.get("/checkpoints", role="auditor").json()["total"] == 0
