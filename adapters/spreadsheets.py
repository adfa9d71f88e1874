"""Reading uploaded spreadsheets into a grid of cell values: `.xlsx` and `.xls` with
python-calamine, `.csv` in UTF-8 (with or without BOM) or GB18030.

The first sheet is read. Calamine gives each formula cell's value as the workbook saved it and
never evaluates a formula; merged areas are filled with their top-left value, so a group header
merged over its sub-columns, or a header merged down over two rows, reads in every cell it
covers. Anything that is none of the three formats is `UnsupportedMediaType` (HTTP 415).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook

from domain.errors import UnsupportedMediaType

Grid = list[list[Any]]

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound file of an .xls
SPREADSHEET_SUFFIXES = (".xlsx", ".xls", ".csv")


def read_grid(data: bytes, file_name: str = "") -> Grid:
    """The first sheet's cells, row by row (None for an empty cell)."""
    suffix = _suffix(file_name)
    if suffix and suffix not in SPREADSHEET_SUFFIXES:
        raise UnsupportedMediaType(
            "the file is neither .xlsx, .xls nor .csv (只接受 .xlsx、.xls、.csv 文件)",
            field="file",
        )
    if data.startswith(ZIP_MAGIC) or data.startswith(OLE_MAGIC):
        return _read_workbook(data)
    if suffix in (".xlsx", ".xls"):
        raise UnsupportedMediaType(
            f"{file_name} is not an Excel workbook (不是 Excel 工作簿)", field="file"
        )
    return _read_csv(data)


def _suffix(file_name: str) -> str:
    name = file_name.lower().strip()
    return name[name.rfind(".") :] if "." in name else ""


def _read_workbook(data: bytes) -> Grid:
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = workbook.get_sheet_by_index(0)
        rows: Grid = [
            [None if cell == "" else cell for cell in row]
            for row in sheet.to_python(skip_empty_area=False)
        ]
        merged = sheet.merged_cell_ranges or []
    except (CalamineError, ValueError, OSError) as e:
        raise UnsupportedMediaType(
            f"the file cannot be read as a spreadsheet ({type(e).__name__}) (无法作为电子表格读取)",
            field="file",
        ) from None
    for (top, left), (bottom, right) in merged:
        if top >= len(rows) or left >= len(rows[top]):
            continue
        value = rows[top][left]
        for r in range(top, min(bottom, len(rows) - 1) + 1):
            row = rows[r]
            if len(row) <= right:
                row.extend([None] * (right + 1 - len(row)))
            for c in range(left, right + 1):
                if row[c] is None:
                    row[c] = value
    return rows


def _read_csv(data: bytes) -> Grid:
    if b"\x00" in data[:4096]:
        raise UnsupportedMediaType(
            "the file is neither .xlsx, .xls nor .csv (只接受 .xlsx、.xls、.csv 文件)",
            field="file",
        )
    text: str | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise UnsupportedMediaType(
            "the file is neither .xlsx, .xls nor .csv (只接受 .xlsx、.xls、.csv 文件)",
            field="file",
        )
    # Tab-separated when the first lines hold more tabs than commas (a sheet copied out of
    # Excel), else comma-separated.
    head = text[:4096]
    delimiter = "\t" if head.count("\t") > head.count(",") else ","
    return [
        [cell if cell.strip() else None for cell in row]
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    ]
