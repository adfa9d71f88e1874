"""The shapes of `POST /imports` and `GET /imports` (DESIGN §12a, §19)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.config import JsonDict

BATCH_ID = "5b0e6f3c9d2a4e7f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f"
FILE_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
PROBLEM: JsonDict = {
    "column": "引荐日期",
    "value": "2023年2月30日",
    "code": "validation_error",
    "message": "'2023年2月30日' 不是日期（可写作 2023-05-06、2023/5/6、2023.5.6、2023年5月6日）",
}
ROW: JsonDict = {"row": 4, "status": "problem", "problems": [PROBLEM], "project_id": None}
BATCH: JsonDict = {
    "batch_id": BATCH_ID,
    "by": "chen",
    "at": "2025-03-01T02:00:00+00:00",
    "file_sha256": FILE_SHA256,
    "file_name": "2024年项目台账.xlsx",
    "rows_recorded": 118,
    "rows_refused": 2,
    "rows_duplicate": 3,
    "fine_rows_only": True,
}


class ImportProblemOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PROBLEM]})

    column: str  # the column's header as the file writes it
    value: str
    code: str
    message: str  # in the reader's language (Chinese unless English is asked for)


class ImportRowOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ROW]})

    row: int  # the sheet's row number (1-based, as the office sees it)
    status: str  # fine | problem | duplicate | skipped (合计 / 小计)
    problems: list[ImportProblemOut]
    project_id: str | None = None


class ImportOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batch_id": BATCH_ID,
                    "status": "preview",
                    "file_sha256": FILE_SHA256,
                    "file_name": "2024年项目台账.xlsx",
                    "rows_fine": 1,
                    "rows_with_problems": 1,
                    "rows_duplicate": 0,
                    "rows_skipped": 1,
                    "rows_recorded": 0,
                    "rows": [
                        {"row": 3, "status": "fine", "problems": [], "project_id": None},
                        ROW,
                        {"row": 5, "status": "skipped", "problems": [], "project_id": None},
                    ],
                    "batch": None,
                }
            ]
        }
    )

    batch_id: str
    status: str  # preview | recorded | not_recorded | already_imported
    file_sha256: str
    file_name: str
    rows_fine: int
    rows_with_problems: int
    rows_duplicate: int
    rows_skipped: int
    rows_recorded: int
    rows: list[ImportRowOut]
    batch: dict[str, Any] | None = None


class ImportBatchOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [BATCH]})

    batch_id: str
    by: str
    at: str
    file_sha256: str
    file_name: str
    rows_recorded: int
    rows_refused: int
    rows_duplicate: int
    fine_rows_only: bool


class ImportBatchesOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [BATCH], "total": 1}]})

    items: list[ImportBatchOut]
    total: int
