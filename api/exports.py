"""Tabular exports: JSON, CSV (UTF-8 with BOM, so Excel opens it) and XLSX (openpyxl), with
Chinese column headers and amounts as numbers with two decimals; in XLSX, dates are dates and
shares are numbers (`ExportColumn.kind`)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from fastapi import Response
from fastapi.responses import JSONResponse
from openpyxl import Workbook
from openpyxl.styles import Font

from domain import errors
from domain.output_safety import is_formula_text, spreadsheet_safe

FORMATS = ("json", "csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class ExportColumn:
    key: str
    label: str  # the Chinese header
    money: bool = False  # a Decimal amount in yuan, shown with two decimals
    kind: str = "text"  # "date" (ISO text, a date cell in XLSX) or "number" (e.g. a share)


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: Sequence[ExportColumn]
    rows: Sequence[dict[str, Any]]


def check_format(value: str) -> str:
    if value not in FORMATS:
        raise errors.UnknownCode(f"format must be one of {', '.join(FORMATS)}", field="format")
    return value


def _cell(value: Any, money: bool) -> Any:
    if value is None:
        return ""
    if money:
        return Decimal(value).quantize(Decimal("0.01"))
    if isinstance(value, (list, tuple)):
        return "；".join(str(v) for v in value)
    return value


XLSX_FORMATS = {"date": "yyyy-mm-dd", "number": "0.00"}


def _typed(value: Any, kind: str) -> Any:
    """A date cell for ISO date text, a number for decimal text; anything else as it was."""
    try:
        if kind == "date" and isinstance(value, str):
            return date.fromisoformat(value)
        if kind == "number" and isinstance(value, str | int | float | Decimal):
            return float(Decimal(str(value)))
    except (ValueError, InvalidOperation):
        pass
    return value


def association_labels(associations: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Association id → its name, with its city where two associations share the name."""
    counts: dict[str, int] = {}
    for a in associations:
        counts[a["name"]] = counts.get(a["name"], 0) + 1
    return {
        a["association_id"]: a["name"]
        if counts[a["name"]] == 1
        else f"{a['name']}（{a.get('based_in') or ''}）"
        for a in associations
    }


def csv_bytes(sheet: Sheet) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.label for c in sheet.columns])
    for row in sheet.rows:
        writer.writerow([spreadsheet_safe(_cell(row.get(c.key), c.money)) for c in sheet.columns])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for sheet in sheets:
        ws = workbook.create_sheet(sheet.title[:31])
        ws.append([c.label for c in sheet.columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            values = []
            for column in sheet.columns:
                value = _cell(row.get(column.key), column.money)
                # XLSX stores numbers as binary floating point; two decimals show the fen.
                if column.money and value != "":
                    value = float(value)
                elif column.kind != "text" and value != "":
                    value = _typed(value, column.kind)
                values.append(value)
            ws.append(values)
            for cell in ws[ws.max_row]:
                if is_formula_text(cell.value):
                    cell.data_type = "s"  # user text, kept as text: never a live formula
        for index, column in enumerate(sheet.columns, start=1):
            letter = ws.cell(row=1, column=index).column_letter
            ws.column_dimensions[letter].width = max(10, min(40, len(column.label) * 2 + 4))
            number_format = "#,##0.00" if column.money else XLSX_FORMATS.get(column.kind)
            if number_format:
                for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = number_format
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _attachment(filename: str, ascii_filename: str) -> dict[str, str]:
    """The Chinese file name for browsers (RFC 6266 `filename*`), and an ASCII one for the
    tools that read only `filename` (`curl -OJ`, older clients)."""
    return {
        "Content-Disposition": f'attachment; filename="{ascii_filename}"; '
        f"filename*=UTF-8''{quote(filename)}"
    }


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def export(
    fmt: str, name: str, sheets: Sequence[Sheet], json_body: Any, ascii_name: str = "export"
) -> Response:
    """The same data as JSON, the first sheet as CSV, or every sheet as one workbook, as a
    download named `name` (`ascii_name` where only ASCII is read)."""
    plain = _UNSAFE.sub("-", ascii_name).strip("-.") or "export"
    if fmt == "csv":
        return Response(
            csv_bytes(sheets[0]),
            media_type="text/csv; charset=utf-8",
            headers=_attachment(f"{name}.csv", f"{plain}.csv"),
        )
    if fmt == "xlsx":
        return Response(
            xlsx_bytes(sheets),
            media_type=XLSX_TYPE,
            headers=_attachment(f"{name}.xlsx", f"{plain}.xlsx"),
        )
    return JSONResponse(json_body)
