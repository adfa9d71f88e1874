"""The shapes of `POST /imports` and `GET /imports` (DESIGN §12a, §19)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ImportProblemOut(BaseModel):
    column: str  # the column's header as the file writes it
    value: str
    code: str
    message: str  # in the reader's language (Chinese unless English is asked for)


class ImportRowOut(BaseModel):
    row: int  # the sheet's row number (1-based, as the office sees it)
    status: str  # fine | problem | duplicate | skipped (合计 / 小计)
    problems: list[ImportProblemOut]
    project_id: str | None = None


class ImportOut(BaseModel):
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
    items: list[ImportBatchOut]
    total: int
