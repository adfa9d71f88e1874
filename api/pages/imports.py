"""The import page (DESIGN §19): upload a 项目台账 → the preview, every row fine or each problem
by row, column, value and reason → confirm, through the one import command the API and the
CLI run (`api.routers.imports.run_import`).

Nothing is kept on the server between preview and confirm: the confirm form carries the
previewed file back (base64, within the pages' upload limit), so what is recorded is exactly
what was previewed, and the batch id (the file's hash) makes a resend record nothing.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from api.auth import Permission, Principal
from api.errors import ApiError
from api.exports import XLSX_TYPE, _attachment
from api.pages.forms import SubmittedForm
from api.pages.render import page_language, render, words
from api.pages.session import PageUser, need
from api.read_models import get_services
from api.routers.imports import run_import
from domain import errors
from i18n import N_, localise_error
from services.imports import ImportReport, problems_workbook

router = APIRouter(prefix="/app", include_in_schema=False)
P = Permission
STATUS_LABELS = {
    "preview": "预览（尚未导入）",
    "recorded": "已导入",
    "not_recorded": "有问题行，未导入任何行",
    "already_imported": "该文件已导入过，未重复导入",
}
ROW_LABELS = {"fine": "可导入", "problem": "有问题", "duplicate": "已登记", "skipped": "合计行"}
STATUS_LABELS_EN = {
    "preview": "Preview (not imported yet)",
    "recorded": "Imported",
    "not_recorded": "Rows with problems: no row imported",
    "already_imported": "This file was imported before: not imported again",
}
ROW_LABELS_EN = {
    "fine": "can be imported",
    "problem": "has problems",
    "duplicate": "already recorded",
    "skipped": "total row",
}
CHOOSE_A_FILE = N_("Please choose the ledger file to import (.xlsx, .xls, .csv)")
UPLOAD_AGAIN = N_("Please upload the ledger file again")


def _page(
    request: Request,
    user: Principal,
    *,
    report: ImportReport | None = None,
    message: str | None = None,
    file_data: str = "",
    status: int = 200,
) -> Response:
    imports = get_services(request).imports
    batches = imports.batches(None if user.can(P.READ) else user.actor().id)
    shown = [r for r in (report.rows if report else []) if r.status != "fine"]
    return render(
        request,
        "app/imports.html",
        {
            "page_title": words(request)(N_("Import the project ledger")),
            "report": report,
            "summary": report.as_dict() if report else None,
            "shown_rows": shown,
            "message": message,
            "file_data": file_data,
            "status_labels": STATUS_LABELS,
            "status_labels_en": STATUS_LABELS_EN,
            "row_labels": ROW_LABELS,
            "row_labels_en": ROW_LABELS_EN,
            "batches": batches[:50],
            "key": secrets.token_urlsafe(18),
        },
        status=status,
    )


@router.get("/imports")
def imports_page(request: Request, user: PageUser) -> Response:
    need(user, P.IMPORT, P.IMPORT_OWN)
    return _page(request, user)


def _refusal(request: Request, e: errors.DomainError | ApiError) -> str:
    return localise_error(e.code, e.message, page_language(request))


@router.post("/imports")
def preview(request: Request, user: PageUser, form: SubmittedForm) -> Response:
    """Upload: the preview (nothing is recorded)."""
    need(user, P.IMPORT, P.IMPORT_OWN)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, user, message=words(request)(CHOOSE_A_FILE), status=422)
    data = upload.file.read()
    return _run(request, user, data, upload.filename, dry_run=True)


@router.post("/imports/confirm")
def confirm(request: Request, user: PageUser, form: SubmittedForm) -> Response:
    """Confirm: the previewed file recorded, all rows or (when ticked) only the fine ones."""
    need(user, P.IMPORT, P.IMPORT_OWN)
    data, name = _carried(form)
    if data is None:
        return _page(request, user, message=words(request)(UPLOAD_AGAIN), status=422)
    return _run(
        request,
        user,
        data,
        name,
        dry_run=False,
        fine_rows_only=form.get("fine_rows_only") in ("true", "on", "1"),
    )


@router.post("/imports/problems")
def problem_rows(request: Request, user: PageUser, form: SubmittedForm) -> Response:
    """The previewed file's rows with a problem, as a workbook to fix and send again."""
    need(user, P.IMPORT, P.IMPORT_OWN)
    data, name = _carried(form)
    if data is None:
        return _page(request, user, message=words(request)(UPLOAD_AGAIN), status=422)
    report = _command(request, user, data, name, dry_run=True, fine_rows_only=False)
    return Response(
        problems_workbook(report),
        media_type=XLSX_TYPE,
        headers=_attachment("导入问题行.xlsx", "import-problems.xlsx"),
    )


def _carried(form: Any) -> tuple[bytes | None, str]:
    encoded = form.get("file_data")
    name = form.get("file_name")
    if not isinstance(encoded, str) or not isinstance(name, str):
        return None, ""
    try:
        return base64.b64decode(encoded, validate=True), name
    except (binascii.Error, ValueError):
        return None, ""


def _command(
    request: Request,
    user: Principal,
    data: bytes,
    name: str,
    *,
    dry_run: bool,
    fine_rows_only: bool,
) -> ImportReport:
    return run_import(
        request,
        user,
        data,
        name,
        dry_run=dry_run,
        fine_rows_only=fine_rows_only,
        lock=request.app.state.write_lock,
    )


def _run(
    request: Request,
    user: Principal,
    data: bytes,
    name: str,
    *,
    dry_run: bool,
    fine_rows_only: bool = False,
) -> Response:
    try:
        report = _command(request, user, data, name, dry_run=dry_run, fine_rows_only=fine_rows_only)
    except (errors.DomainError, ApiError) as e:
        return _page(request, user, message=_refusal(request, e), status=422)
    carried = base64.b64encode(data).decode("ascii") if report.status == "preview" else ""
    return _page(request, user, report=report, file_data=carried)
