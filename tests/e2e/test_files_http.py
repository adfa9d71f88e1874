"""Evidence files through HTTP (DESIGN §18), on an SQLite file and on PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from adapters.files import files_table, references_table, uploads_table
from tests.e2e.conftest import Api

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
ELF = b"\x7fELF\x02\x01\x01" + bytes(100)


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(api: Api, data: bytes, name: str = "slip.pdf", role: str = "officer", **kw: Any) -> Any:
    return api.request("POST", "/files", role, files={"file": (name, data)}, **kw)


def count(api: Api, table: Any) -> int:
    with api.app.state.services.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(table)).scalar())


def stored_files(api: Api) -> list[Path]:
    root = api.app.state.services.files.store.root
    return [p for p in root.rglob("*") if p.is_file() and ".incoming" not in p.parts]


def funds(api: Api, project_id: str, evidence: list[Any], role: str = "officer", **kw: Any) -> Any:
    body = {"occurred_on": "2023-03-01", "amount": "1000000.00", "currency": "CNY"}
    return api.post(
        f"/projects/{project_id}/funds", {**body, "evidence": evidence}, role=role, **kw
    )


def test_upload_dedup_reference_download_and_history(api: Api) -> None:
    api.at("2024-01-10")
    project_id = api.signed_project()
    first = upload(api, PDF, "入账凭证.pdf")
    assert first.status_code == 201, first.text
    sha = hashlib.sha256(PDF).hexdigest()
    assert first.json() == {
        "sha256": sha,
        "size": len(PDF),
        "media_type": "application/pdf",
        "name": "入账凭证.pdf",
    }
    again = upload(api, PDF, "copy.pdf", role="staff")
    assert again.status_code == 201 and again.json()["sha256"] == sha
    assert len(stored_files(api)) == 1  # the same bytes twice are one file
    assert count(api, files_table) == 1 and count(api, uploads_table) == 2

    r = funds(api, project_id, ["BOC-118", {"sha256": sha}])
    assert r.status_code == 201, r.text
    history = api.get(f"/projects/{project_id}/history", role="auditor").json()
    last = history[-1]
    assert last["evidence"] == ["BOC-118"]
    assert last["files"] == [
        {"sha256": sha, "name": "入账凭证.pdf", "media_type": "application/pdf", "size": len(PDF)}
    ]
    assert all(entry["files"] == [] for entry in history[:-1])  # older events: upcast to none

    listing = api.get(f"/projects/{project_id}/files", role="auditor")
    assert listing.status_code == 200
    assert listing.json() == [
        {**last["files"][0], "events": [{"version": last["version"], "type": last["type"]}]}
    ]
    # An auditor uploaded nothing but may read the event, so the file.
    download = api.get(f"/files/{sha}", role="auditor")
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"].startswith("attachment;")

    verify = api.get(f"/projects/{project_id}/verify", role="auditor").json()
    assert verify["ok"] is True and verify["files"]["files"] == 1


def test_types_are_told_by_content(api: Api) -> None:
    r = upload(api, ELF, "invoice.pdf")
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    png = upload(api, PNG, "scan.pdf")
    assert png.status_code == 201 and png.json()["media_type"] == "image/png"
    not_xlsx = upload(api, zip_bytes({"[Content_Types].xml": b"<x/>", "a.txt": b"x"}), "a.xlsx")
    assert not_xlsx.status_code == 415
    assert not_xlsx.json()["error"]["code"] == "unsupported_media_type"
    xlsx = zip_bytes({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<workbook/>"})
    ok = upload(api, xlsx, "ledger.zip")
    assert ok.status_code == 201
    assert ok.json()["media_type"].endswith("spreadsheetml.sheet")
    ofd = upload(api, zip_bytes({"OFD.xml": b"<ofd:OFD/>"}), "fapiao.ofd")
    assert ofd.json()["media_type"] == "application/ofd"
    # 200 MiB of zeros deflate to about 200 KiB: a bomb.
    bomb = zip_bytes({"OFD.xml": b"<ofd/>", "Doc_0/zeros.bin": bytes(200 * 1024 * 1024)})
    refused = upload(api, bomb, "bomb.ofd")
    assert refused.status_code == 415, refused.text
    assert count(api, files_table) == 3 and len(stored_files(api)) == 3
    assert not list((api.app.state.services.files.store.root / ".incoming").iterdir())


def test_upload_limit_and_malformed_bodies(api: Api) -> None:
    limit = api.app.state.settings.max_upload_bytes
    assert limit == 20 * 1024 * 1024
    chunks_sent = []

    def body() -> Any:  # streamed: 20 MiB + 1 byte is never built in memory by the client
        boundary = b"--b0undary"
        yield (
            boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="x.pdf"\r\n\r\n'
        )
        yield b"%PDF-"
        left = limit + 1 - 5
        while left > 0:
            piece = min(left, 1024 * 1024)
            chunks_sent.append(piece)
            yield bytes(piece)
            left -= piece
        yield b"\r\n" + boundary + b"--\r\n"

    r = api.request(
        "POST",
        "/files",
        "officer",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert count(api, files_table) == 0 and stored_files(api) == []
    assert not list((api.app.state.services.files.store.root / ".incoming").iterdir())
    # JSON bodies keep their own 1 MiB limit.
    big = api.post("/associations", {"name": "x" * (2 * 1024 * 1024)})
    assert big.status_code == 413
    missing = api.request("POST", "/files", "officer", files={"other": ("a.pdf", PDF)})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "file"
    not_multipart = api.post("/files", {"file": "x"}, role="officer")
    assert not_multipart.status_code == 422
    assert upload(api, PDF, role="auditor").status_code == 403
    assert count(api, files_table) == 0


def test_references_are_scoped(api: Api) -> None:
    api.at("2024-01-10")
    mine, theirs = api.association("北京湖南商会"), api.association("上海湖南商会")
    own_project = api.signed_project(mine)
    other_project = api.signed_project(theirs)
    sha = upload(api, PDF, "slip.pdf", role="staff").json()["sha256"]
    # The officer may read every event, but no event references the file yet and it did not
    # upload it: the reference is refused, and nothing is stored.
    before = len(api.get(f"/projects/{other_project}/history").json())
    r = funds(api, other_project, [{"sha256": sha}])
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_file"
    assert r.json()["error"]["field"] == "evidence[0].sha256"
    assert len(api.get(f"/projects/{other_project}/history").json()) == before
    unknown = funds(api, other_project, [{"sha256": "0" * 64}])
    assert unknown.json()["error"]["code"] == "unknown_file"
    assert funds(api, other_project, [{"sha256": sha}], role="staff").status_code == 201
    # Now referenced: any reader of the event may reference and read it …
    assert funds(api, other_project, [{"sha256": sha}], role="officer").status_code == 201
    assert api.get(f"/files/{sha}", role="officer").status_code == 200
    # … but not a liaison of another association (404, as if it did not exist).
    assert api.get(f"/files/{sha}", role="liaison", association_id=mine).status_code == 404
    assert api.get(f"/files/{sha}", role="liaison", association_id=theirs).status_code == 200
    assert api.get(f"/files/{'f' * 64}", role="officer").status_code == 404
    listing = api.get(f"/projects/{other_project}/files", role="liaison", association_id=mine)
    assert listing.status_code == 404
    assert count(api, references_table) == 2
    assert own_project != other_project


def test_verify_catches_altered_and_missing_files(api: Api) -> None:
    api.at("2024-01-10")
    project_id = api.signed_project()
    shas = [upload(api, data, name).json()["sha256"] for data, name in ((PDF, "a"), (PNG, "b"))]
    assert funds(api, project_id, [{"sha256": s} for s in shas]).status_code == 201
    store = api.app.state.services.files.store
    path = store.path_of(shas[0])
    path.chmod(0o644)
    path.write_bytes(PDF + b"tampered")
    r = api.get(f"/projects/{project_id}/verify", role="auditor").json()
    assert r["ok"] is False
    broken = r["files"]["broken_at"]
    assert broken["code"] == "file_altered" and broken["sha256"] == shas[0]
    assert broken["project_id"] == project_id and broken["version"] == 3
    store.path_of(shas[1]).unlink()
    report = api.app.state.services.files.verify()
    assert [p.code for p in report.problems] == ["file_altered", "file_missing"]
    # Uploading the true bytes again restores the altered copy.
    assert upload(api, PDF).status_code == 201
    assert store.digest(shas[0]) == shas[0]


def test_concurrent_uploads_of_the_same_bytes(api: Api) -> None:
    data = PDF + bytes(512 * 1024)
    answers: list[Any] = []
    headers = api.auth("officer")  # the user exists before the threads start

    def send() -> None:
        answers.append(
            api.client.post("/files", files={"file": ("same.pdf", data)}, headers=headers)
        )

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["sha256"] for a in answers}) == 1
    assert len(stored_files(api)) == 1 and count(api, files_table) == 1
