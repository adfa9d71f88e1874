"""Ledger imports (DESIGN §19): `POST /imports` previews or records an uploaded 项目台账,
`GET /imports` lists the batches recorded, `GET /imports/template` is the workbook to fill in.

Every route runs the one import command (`services/imports.py`), as the page and the CLI do.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from adapters.lock import CommandLock
from api.auth import Permission, Principal
from api.deps import get_write_lock, require
from api.errors import error_responses
from api.exports import XLSX_TYPE, _attachment
from api.import_schemas import ImportBatchesOut, ImportOut
from api.read_models import get_services
from domain import errors
from i18n import language_from_request
from services.imports import ImportReport, ImportRequest, problems_workbook, template_workbook

router = APIRouter(tags=["imports"])
P = Permission
Importer = Annotated[Principal, Depends(require(P.IMPORT, P.IMPORT_OWN))]
Reader = Annotated[Principal, Depends(require(P.READ, P.IMPORT_OWN))]


def run_import(
    request: Request,
    user: Principal,
    data: bytes,
    file_name: str,
    *,
    dry_run: bool,
    fine_rows_only: bool,
    lock: CommandLock,
) -> ImportReport:
    """The import command for the user of a request (the API's route and the page's)."""
    scope = None
    if not user.can(P.IMPORT):
        if not user.association_id:
            raise errors.NotOwnAssociation(
                "a liaison may import only its own association's projects", field="file"
            )
        scope = user.association_id
    the_request = ImportRequest(
        data=data,
        file_name=file_name,
        actor=user.actor(),
        association_scope=scope,
        dry_run=dry_run,
        fine_rows_only=fine_rows_only,
        lang=language_from_request(request),
    )
    imports = get_services(request).imports
    if dry_run:
        return imports.run(the_request)
    with lock:
        return imports.run(the_request)


@router.post(
    "/imports",
    response_model=ImportOut,
    responses={
        200: {
            "description": "the preview (or `not_recorded`, `already_imported`); with "
            "`format=xlsx` the rows with a problem as a workbook",
            "content": {XLSX_TYPE: {}},
        },
        201: {"model": ImportOut, "description": "recorded"},
        **error_responses(413, 415),
    },
    summary="Preview or record a ledger (项目台账) from .xlsx, .xls or .csv",
)
def import_ledger(
    request: Request,
    user: Importer,
    lock: Annotated[CommandLock, Depends(get_write_lock)],
    file: Annotated[UploadFile, File(description="the ledger: .xlsx, .xls or .csv")],
    dry_run: Annotated[bool, Form()] = True,
    fine_rows_only: Annotated[bool, Form()] = False,
    format: Annotated[str, Form(pattern="^(json|xlsx)$")] = "json",
) -> Response:
    """A preview by default (`dry_run` true): every row fine, or each problem by row, column,
    value, stable code and reason. With `dry_run` false the rows are recorded all-or-nothing
    in one save (201), or only the fine ones with `fine_rows_only`; with a problem and without
    `fine_rows_only` nothing is recorded (200, status `not_recorded`). The same file again
    answers 200 `already_imported` and records nothing. `format=xlsx` answers the rows with a
    problem as a workbook with a 问题 column."""
    data = file.file.read()
    report = run_import(
        request,
        user,
        data,
        file.filename or "",
        dry_run=dry_run,
        fine_rows_only=fine_rows_only,
        lock=lock,
    )
    if format == "xlsx":
        return Response(
            problems_workbook(report),
            media_type=XLSX_TYPE,
            headers=_attachment("导入问题行.xlsx", "import-problems.xlsx"),
        )
    status = 201 if report.status == "recorded" else 200
    return JSONResponse(status_code=status, content=report.as_dict())


@router.get("/imports", response_model=ImportBatchesOut, summary="The imported batches")
def import_batches(request: Request, user: Reader) -> dict[str, Any]:
    """Every batch recorded, newest first: batch id, who, when, file SHA-256, rows recorded,
    refused and already recorded. A liaison sees its own."""
    imports = get_services(request).imports
    items = imports.batches(None if user.can(P.READ) else user.actor().id)
    return {"items": items, "total": len(items)}


@router.get(
    "/imports/template",
    response_class=Response,
    responses={200: {"content": {XLSX_TYPE: {}}, "description": "the template workbook"}},
    summary="The ledger template (Chinese headers and a sheet of the valid labels)",
)
def import_template(request: Request, user: Importer) -> Response:
    services = get_services(request)
    scope = None if user.can(P.READ) else user.association_id
    names = [a["name"] for a in services.read_models.associations(scope) if a.get("name")]
    return Response(
        template_workbook(sorted(names)),
        media_type=XLSX_TYPE,
        headers=_attachment("项目台账模板.xlsx", "ledger-template.xlsx"),
    )
