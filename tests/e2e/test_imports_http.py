"""`POST /imports`, `GET /imports` and the template over HTTP (DESIGN §12a, §19), on an SQLite
file and on PostgreSQL."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from services.imports import TEMPLATE_HEADERS
from tests.e2e.conftest import Api, project_read_models
from tests.imports_support import HEADERS, row, workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def post(  # type: ignore[no-untyped-def]
    api: Api,
    data: bytes,
    role: str = "staff",
    name: str = "台账.xlsx",
    headers: dict[str, str] | None = None,
    **form: str,
):
    association_id = form.pop("association_id", None)
    return api.request(
        "POST",
        "/imports",
        role,
        association_id=association_id,
        files={"file": (name, data, XLSX)},
        data=form,
        headers=headers,
    )


def test_preview_record_and_the_same_file_again(api: Api) -> None:
    api.association("北京湖南商会")
    project_read_models(api)
    data = workbook([row(1), row(2)])

    preview = post(api, data)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["status"] == "preview" and body["rows_fine"] == 2
    assert [r["status"] for r in body["rows"]] == ["fine", "fine"]
    assert api.get("/imports").json()["total"] == 0

    recorded = post(api, data, dry_run="false")
    assert recorded.status_code == 201, recorded.text
    batch_id = recorded.json()["batch_id"]
    assert recorded.json()["batch_id"] == body["batch_id"]
    project_id = recorded.json()["rows"][0]["project_id"]
    history = api.get(f"/projects/{project_id}/history").json()
    assert {e["source"] for e in history} == {f"import:{batch_id}"}

    again = post(api, data, dry_run="false")
    assert again.status_code == 200
    assert again.json()["status"] == "already_imported"
    assert again.json()["batch"]["rows_recorded"] == 2

    listed = api.get("/imports", role="auditor").json()
    assert listed["total"] == 1
    (batch,) = listed["items"]
    assert batch["batch_id"] == batch_id and batch["rows_recorded"] == 2
    assert batch["rows_refused"] == 0 and batch["by"].startswith("staff")
    assert len(batch["file_sha256"]) == 64 and batch["at"].startswith("2025-03-01")


def test_a_bad_row_records_nothing_and_its_problems_come_as_a_workbook(api: Api) -> None:
    api.association("北京湖南商会")
    project_read_models(api)
    # A CSV: its cells are text, one of them written like a formula.
    lines = [HEADERS, row(1), row(2, **{"投资方": '=HYPERLINK(""http://x"")', "行业": "造船"})]
    data = "\n".join(",".join(f'"{v}"' for v in line) for line in lines).encode("gb18030")
    refused = post(api, data, dry_run="false", name="台账.csv")
    assert refused.status_code == 200
    body = refused.json()
    assert body["status"] == "not_recorded" and body["rows_recorded"] == 0
    (problem,) = [r for r in body["rows"] if r["status"] == "problem"]
    assert problem["row"] == 3
    assert problem["problems"][0]["column"] == "行业"
    assert problem["problems"][0]["value"] == "造船"
    assert problem["problems"][0]["code"] == "unknown_industry"
    assert (
        "GB/T 4754" in problem["problems"][0]["message"]
        or "行业" in problem["problems"][0]["message"]
    )

    sheet = post(api, data, format="xlsx", name="台账.csv")
    assert sheet.status_code == 200 and sheet.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(sheet.content))
    rows = list(book.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0][0] == "行号" and rows[0][-1] == "问题" and list(rows[0][1:-1]) == HEADERS
    assert len(rows) == 2 and rows[1][0] == 3 and "行业" in rows[1][-1]
    cell = book.active.cell(row=2, column=4)  # type: ignore[union-attr]
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"  # text, not a formula

    fine = post(api, data, dry_run="false", fine_rows_only="true", name="台账.csv")
    assert fine.status_code == 201 and fine.json()["rows_recorded"] == 1
    assert api.get("/imports").json()["items"][0]["rows_refused"] == 1


def test_a_liaison_imports_its_own_rows_and_is_refused_another_association_s(api: Api) -> None:
    own = api.association("北京湖南商会")
    api.association("上海湖南商会")
    project_read_models(api)
    data = workbook([row(1), row(2, association="上海湖南商会")])
    r = post(api, data, role="liaison", association_id=own, dry_run="false")
    assert r.status_code == 200 and r.json()["status"] == "not_recorded"
    codes = [p["code"] for x in r.json()["rows"] for p in x["problems"]]
    assert codes == ["not_own_association"]
    r = post(api, data, role="liaison", association_id=own, dry_run="false", fine_rows_only="true")
    assert r.status_code == 201 and r.json()["rows_recorded"] == 1
    mine = api.get("/imports", role="liaison", association_id=own).json()
    assert mine["total"] == 1


def test_a_file_that_is_not_a_spreadsheet_is_415(api: Api) -> None:
    r = post(api, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n\x00\x00", name="slip.pdf")
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "unsupported_media_type"
    r = post(api, b"\x89PNG\r\n\x1a\n\x00\x00", name="ledger.xlsx")
    assert r.status_code == 415
    r = post(api, workbook([["a"]], headers=["姓名"]))
    assert r.status_code == 422 and r.json()["error"]["code"] == "import_header_not_found"


def test_the_template_has_the_chinese_headers_and_the_valid_labels(api: Api) -> None:
    api.association("北京湖南商会")
    project_read_models(api)
    r = api.get("/imports/template", role="staff")
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames[:2] == ["项目台账", "有效值"]
    headers = next(book["项目台账"].iter_rows(values_only=True))
    assert list(headers) == list(TEMPLATE_HEADERS.values())
    assert set(HEADERS) < set(headers) and {"县市区", "园区"} < set(headers)
    labels = list(book["有效值"].iter_rows(values_only=True))
    assert labels[0][0] == "落地市州" and labels[1][0] == "长沙市"
    assert any(r[4] == "北京湖南商会" for r in labels[1:])
    # the template, filled in, imports
    filled = workbook([row(1)])
    assert post(api, filled).json()["rows_fine"] == 1


def test_the_page_uploads_previews_and_confirms(sqlite_api: Api) -> None:
    api = sqlite_api
    api.association("北京湖南商会")
    project_read_models(api)
    page = api.get("/app/imports", role="staff")
    assert page.status_code == 200 and "上传台账" in page.text and "尚无导入记录" in page.text
    assert 'href="/app/imports"' in api.get("/app/", role="staff").text
    assert 'href="/app/imports"' not in api.get("/app/", role="officer").text
    assert api.get("/app/imports", role="officer").status_code == 403

    data = workbook([row(1), row(2, **{"落地市州": "<b>广州</b>"})])
    preview = api.request(
        "POST",
        "/app/imports?idempotency_key=k1",
        "staff",
        files={"file": ("台账.xlsx", data, XLSX)},
    )
    assert preview.status_code == 200, preview.text
    assert "预览（尚未导入）" in preview.text and "有问题" in preview.text
    assert "&lt;b&gt;广州&lt;/b&gt;" in preview.text and "<b>广州" not in preview.text
    assert 'name="file_data"' in preview.text and "只导入可导入的 1 行" in preview.text
    assert api.get("/imports").json()["total"] == 0
    import base64

    carried = {"file_data": base64.b64encode(data).decode(), "file_name": "台账.xlsx"}

    problems = api.request("POST", "/app/imports/problems", "staff", data=carried)
    assert problems.status_code == 200 and problems.headers["content-type"] == XLSX

    refused = api.request("POST", "/app/imports/confirm?idempotency_key=k2", "staff", data=carried)
    assert "有问题行，未导入任何行" in refused.text
    confirmed = api.request(
        "POST",
        "/app/imports/confirm?idempotency_key=k3",
        "staff",
        data={**carried, "fine_rows_only": "true"},
    )
    assert confirmed.status_code == 200 and "已导入" in confirmed.text
    assert "/app/projects/" in confirmed.text
    listed = api.get("/app/imports", role="staff").text
    assert "台账.xlsx" in listed and "尚无导入记录" not in listed

    bad = api.request(
        "POST",
        "/app/imports?idempotency_key=k4",
        "staff",
        files={"file": ("x.pdf", b"%PDF-1.7\n\x00", "application/pdf")},
    )
    assert bad.status_code == 422 and "只接受 .xlsx、.xls、.csv 文件" in bad.text


def test_an_idempotent_resend_answers_the_first_answer(sqlite_api: Api) -> None:
    api = sqlite_api
    api.association("北京湖南商会")
    project_read_models(api)
    # A resend is the same bytes, multipart boundary included.
    boundary = "zs-import-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="dry_run"\r\n\r\nfalse\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="ledger.xlsx"\r\nContent-Type: {XLSX}\r\n\r\n'
        ).encode()
        + workbook([row(1)])
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {
        "Idempotency-Key": "import-1",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    first = api.request("POST", "/imports", "staff", content=body, headers=headers)
    again = api.request("POST", "/imports", "staff", content=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert first.json() == again.json()
    assert api.get("/imports").json()["total"] == 1


def test_the_author_is_told_the_import_finished(api: Api) -> None:
    api.association("北京湖南商会")
    project_read_models(api)
    data = workbook([row(1), row(2)])
    assert post(api, data).status_code == 200  # a preview tells nobody
    assert api.get("/notifications", role="staff").json()["total"] == 0

    assert post(api, data, dry_run="false").status_code == 201
    assert post(api, data, dry_run="false").json()["status"] == "already_imported"
    (notice,) = api.get("/notifications", role="staff").json()["items"]
    assert notice["rule"] == "import_finished" and notice["link"].endswith("/app/imports")
    assert "2" in notice["text"] and not notice["read"]
    assert api.get("/notifications", role="auditor").json()["total"] == 0  # only its author
