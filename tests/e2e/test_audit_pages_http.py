"""The auditor's pages over HTTP (issue 19's remainder): each event's evidence files on the
history page, verify covering the files (a missing or altered file named by project, version and
file, in words), and a checkpoint file uploaded on `/app/checkpoints` checked in words — on an
SQLite file and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from projections.integrity import (
    generate_private_key,
    make_checkpoint,
    private_key_pem,
    public_key_hex,
)
from tests.e2e.conftest import Api, _client

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SHA = hashlib.sha256(PDF).hexdigest()


@pytest.fixture
def signing_key() -> Any:
    return generate_private_key()


@pytest.fixture
def audit_api(
    database_url: str, clock: list[datetime], tmp_path: Path, signing_key: Any
) -> Iterator[Api]:
    yield from _client(
        database_url,
        clock,
        files_dir=str(tmp_path / "files"),
        checkpoint_private_key=private_key_pem(signing_key).decode(),
        checkpoint_public_key=public_key_hex(signing_key),
    )


def text_of(response: Any) -> str:
    return unescape(response.text)


def project_with_a_file(api: Api) -> tuple[str, int]:
    api.at("2024-01-10")
    project = api.signed_project()
    r = api.request("POST", "/files", "officer", files={"file": ("回单.pdf", PDF)})
    assert r.status_code == 201, r.text
    r = api.post(
        f"/projects/{project}/funds",
        {
            "occurred_on": "2023-03-01",
            "amount": "1000000.00",
            "currency": "CNY",
            "evidence": ["BOC-118", {"sha256": SHA}],
        },
        role="officer",
    )
    assert r.status_code == 201, r.text
    return project, int(r.json()["version"])


def test_history_shows_each_event_s_files_with_a_download_link(audit_api: Api) -> None:
    api = audit_api
    project, version = project_with_a_file(api)
    page = api.get(f"/app/projects/{project}/history", role="auditor")
    assert page.status_code == 200, page.text
    html = text_of(page)
    event = html[html.index(f'id="v{version}"') :]
    assert f'<a href="/files/{SHA}" download>回单.pdf</a>' in event
    assert f"application/pdf · {len(PDF)} B" in event and SHA in event
    assert html.count(f"/files/{SHA}") == 1  # only the event that references it
    # The link works for the auditor's session as for the API.
    download = api.get(f"/files/{SHA}", role="auditor")
    assert download.status_code == 200 and download.content == PDF


def test_verify_reports_a_missing_and_an_altered_file_in_words(audit_api: Api) -> None:
    api = audit_api
    project, version = project_with_a_file(api)
    ok = text_of(api.get(f"/app/projects/{project}/verify", role="auditor"))
    assert "凭证文件完整：1 个文件，1 处引用。" in ok and "哈希链完整" in ok

    stored = api.app.state.services.files.store.path_of(SHA)
    stored.chmod(0o644)
    stored.write_bytes(PDF + b"tampered")
    page = api.get(f"/app/projects/{project}/verify", role="auditor")
    html = text_of(page)
    altered = hashlib.sha256(PDF + b"tampered").hexdigest()
    assert "发现篡改迹象" in html and "文件缺失或被改动" in html
    assert (
        f"项目“新材料产业园”第 {version} 版的文件 回单.pdf（SHA-256 {SHA}）："
        f"文件内容已被改动，现在的 SHA-256 为 {altered}。"
    ) in html
    assert f'href="/app/projects/{project}/history#v{version}"' in html

    stored.unlink()
    everything = text_of(api.get("/app/verify", role="auditor"))
    assert "文件库中找不到该文件" in everything and "file_missing" in everything
    assert "凭证文件有 1 处引用异常" in everything


def test_an_uploaded_checkpoint_file_is_verified_in_words(audit_api: Api, signing_key: Any) -> None:
    api = audit_api
    project = api.signed_project()
    ledger = api.app.state.services.ledger
    document = json.dumps(make_checkpoint(ledger, signing_key)).encode()

    def upload(content: bytes, name: str = "checkpoint.json") -> Any:
        return api.request(
            "POST",
            "/app/checkpoints/upload",
            "auditor",
            files={"checkpoint_file": (name, content, "application/json")},
        )

    page = api.get("/app/checkpoints", role="auditor")
    assert 'type="file" id="f-checkpoint_file" name="checkpoint_file"' in page.text
    held = upload(document)
    assert held.status_code == 200, held.text
    assert "检查点 checkpoint.json 核验通过" in text_of(held)
    assert "仍延续全部" in text_of(held)

    # An event recorded afterwards with a back-dated time is not covered by the checkpoint.
    signed_at = datetime.fromisoformat(json.loads(document)["created_at"])
    api.clock[0] = signed_at.replace(year=signed_at.year - 1)
    r = api.post(f"/projects/{project}/visits", {"occurred_on": "2022-07-01"}, role="officer")
    assert r.status_code == 201, r.text
    failed = text_of(upload(document))
    assert "核验未通过" in failed and "uncovered_event" in failed
    assert "它是事后补记并倒填了时间" in failed
    assert f"事件链 {project} 第 3 版" in failed

    tampered = json.loads(document)
    tampered["events"] += 1
    forged = text_of(upload(json.dumps(tampered).encode()))
    assert "bad_signature" in forged and "签名与文件内容不符" in forged

    refused = upload(b"not json")
    assert refused.status_code == 422 and "核验未通过" not in text_of(refused)
    liaison = api.request(
        "POST",
        "/app/checkpoints/upload",
        "liaison",
        association_id=api.association("另一商会"),
        files={"checkpoint_file": ("checkpoint.json", document, "application/json")},
    )
    assert liaison.status_code == 403  # the roles that read audits only


def test_a_kept_checkpoint_is_verified_in_the_same_words(audit_api: Api) -> None:
    api = audit_api
    api.signed_project()
    made = api.request("POST", "/app/checkpoints", "admin", follow_redirects=False)
    assert made.status_code == 303, made.text
    listed = api.get("/app/checkpoints", role="auditor")
    assert 'action="/app/checkpoints/1/verify"' in listed.text
    checked = text_of(api.request("POST", "/app/checkpoints/1/verify", "auditor"))
    assert "检查点 第 1 号 核验通过" in checked and "北京时间" in checked


def test_the_history_and_verify_pages_in_english(audit_api: Api) -> None:
    api = audit_api
    project, version = project_with_a_file(api)
    english = {"Accept-Language": "en"}
    history = text_of(api.get(f"/app/projects/{project}/history", "auditor", headers=english))
    assert "<h1>Project history</h1>" in history
    assert f"Version {version} · " in history and "Files</dt>" in history
    assert "Hash chain intact: 3 events, the newest version 3." in history
    assert "项目历史" not in history and "哈希链" not in history
    verify = text_of(api.get(f"/app/projects/{project}/verify", "auditor", headers=english))
    assert "Evidence files intact: 1 files in 1 references." in verify and "Intact" in verify
