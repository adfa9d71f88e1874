"""The ledger import (DESIGN §19): one command for the CLI, the HTTP route and the page.

    report = services.imports.run(ImportRequest(data, "台账.xlsx", actor, dry_run=True))

Reads the first sheet (`adapters/spreadsheets.py`), finds the header below any title rows
(a group header merged over its sub-columns included; every header variant of §19; units
元 / 万元 / 亿元 in a header or in a `单位：万元` title line), types each row's cells (Excel serial
and text dates, amounts to exact `Decimal` yuan, associations by name), skips 合计 / 小计 rows,
reports rows that match a project already recorded (by 项目编号, or name + investor + city), and
hands the rest to `Ledger.import_ledger`, which checks them as the API's commands do and records
all of them with their batch in one save, or only the fine ones when asked. The batch id is the
SHA-256 of the file's SHA-256 and the column mapping, so the same file again records nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from adapters.decoding import fewer_collections
from adapters.spreadsheets import Grid, read_grid
from domain import errors
from domain.application import Ledger
from domain.duplicates import comparable
from domain.events import Actor
from domain.import_batch import LedgerRow, RowProblem, project_id_for_number
from domain.output_safety import is_formula_text
from domain.values import (
    CITIES,
    FEN,
    INDUSTRIES,
    ORIGINS,
    PROJECT_TYPES,
    parse_city,
)
from i18n import localise_error

# field → the template's header first, then the variants ledgers use (§19's table).
HEADERS: dict[str, tuple[str, ...]] = {
    "number": ("项目编号", "编号", "项目代码"),
    "name": ("项目名称", "项目"),
    "investor": ("投资方", "投资主体", "企业名称", "投资企业"),
    "association": ("引荐商协会", "引荐单位", "商协会", "引荐商会"),
    "city": ("落地市州", "市州", "所在市州"),
    "county": ("县市区", "落地县市区"),
    "park": ("园区", "落地园区"),
    "industry": ("行业", "所属行业", "行业门类"),
    "project_type": ("项目类型", "类型"),
    "origin": ("项目来源", "资金来源地", "来源"),
    "planned_investment": ("计划总投资", "总投资"),
    "referred_on": ("引荐日期",),
    "signed_on": ("签约日期",),
    "contract_amount": ("签约金额", "合同投资额", "合同金额"),
    "arrived_on": ("到位日期",),
    "arrival_amount": ("到位资金", "实际到位资金", "累计到位资金"),
    "production_started_on": ("投产日期",),
}
TEMPLATE_HEADERS = {name: headers[0] for name, headers in HEADERS.items()}
REQUIRED = (
    "name",
    "investor",
    "association",
    "city",
    "industry",
    "origin",
    "planned_investment",
    "referred_on",
)
MONEY = frozenset({"planned_investment", "contract_amount", "arrival_amount"})
DATES = frozenset({"referred_on", "signed_on", "arrived_on", "production_started_on"})
# A group header over generic sub-columns (`签约情况` over `日期` and `金额`).
_GROUPED = {
    ("签约", "日期"): "signed_on",
    ("签约", "时间"): "signed_on",
    ("签约", "金额"): "contract_amount",
    ("到位", "日期"): "arrived_on",
    ("到位", "时间"): "arrived_on",
    ("到位", "金额"): "arrival_amount",
    ("投产", "日期"): "production_started_on",
    ("投产", "时间"): "production_started_on",
    ("引荐", "日期"): "referred_on",
    ("引荐", "时间"): "referred_on",
}
_BY_HEADER = {header: name for name, headers in HEADERS.items() for header in headers}
UNITS = {"元": Decimal(1), "万元": Decimal(10_000), "亿元": Decimal(100_000_000)}
_UNIT_IN_HEADER = re.compile(
    r"^(?P<head>.*?)[（(\[【/]?(?:单位[:：])?(?P<unit>亿元|万元|元)[）)\]】]?$"
)
_UNIT_LINE = re.compile(r"单位[:：]\s*(?P<unit>亿元|万元|元)")
_TOTALS = ("合计", "小计", "总计")
_TEXT_DATE = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_COMPACT_DATE = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
_AMOUNT_TEXT = re.compile(r"^(?P<number>[+-]?\d+(?:\.\d+)?)(?P<unit>亿元|万元|元)?$")
_WITH_CITY = re.compile(r"^(?P<name>.+?)[（(](?P<city>[^（()）]+)[）)]$")
EXCEL_EPOCH = date(1899, 12, 30)
HEADER_SEARCH_ROWS = 30
PROJECT_TYPE_ALIASES = {"一般": "ordinary", "大型基础设施": "large_infrastructure"}


@dataclass(frozen=True)
class Column:
    index: int
    header: str
    multiplier: Decimal = Decimal(1)


@dataclass(frozen=True)
class Layout:
    """Where the header is and which column holds which field."""

    header_row: int  # 0-based index of the (lowest) header row
    columns: dict[str, Column]

    def mapping(self) -> list[list[Any]]:
        return [
            [name, c.index, c.header, str(c.multiplier)]
            for name, c in sorted(self.columns.items(), key=lambda item: item[1].index)
        ]

    def header(self, name: str) -> str:
        column = self.columns.get(name)
        return column.header if column else TEMPLATE_HEADERS[_ledger_to_column(name)]


@dataclass(frozen=True)
class ImportRequest:
    """One upload to import: the bytes, the file's name, who imports, and how."""

    data: bytes
    file_name: str
    actor: Actor
    # A liaison imports only its own association's rows; None for the roles that import all.
    association_scope: str | None = None
    dry_run: bool = True
    fine_rows_only: bool = False
    lang: str = "zh"


@dataclass
class Problem:
    column: str
    value: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {
            "column": self.column,
            "value": self.value,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class RowReport:
    row: int  # the sheet's row number as the office sees it (1-based)
    status: str  # fine | problem | duplicate | skipped
    problems: list[Problem] = field(default_factory=list)
    project_id: str | None = None
    values: list[Any] = field(default_factory=list)  # the row's cells, for the problems workbook

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "status": self.status,
            "problems": [p.as_dict() for p in self.problems],
            "project_id": self.project_id,
        }


@dataclass
class ImportReport:
    batch_id: str
    file_sha256: str
    file_name: str
    status: str  # preview | recorded | not_recorded | already_imported
    rows: list[RowReport] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    batch: dict[str, Any] | None = None

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def has_problems(self) -> bool:
        return any(r.status == "problem" for r in self.rows)

    @property
    def rows_recorded(self) -> int:
        return self.count("fine") if self.status == "recorded" else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "status": self.status,
            "file_sha256": self.file_sha256,
            "file_name": self.file_name,
            "rows_fine": self.count("fine"),
            "rows_with_problems": self.count("problem"),
            "rows_duplicate": self.count("duplicate"),
            "rows_skipped": self.count("skipped"),
            "rows_recorded": self.rows_recorded,
            "rows": [r.as_dict() for r in self.rows],
            "batch": self.batch,
        }

    def problem_lines(self) -> list[str]:
        """`row N: column: reason` for every problem (the CLI's output)."""
        return [
            f"row {r.row}: {p.column}: {p.message}"
            for r in self.rows
            if r.status in ("problem", "duplicate")
            for p in r.problems
        ]


# (phase, done, total): `read` the rows' cells, `check` them as commands (and `save`).
Progress = Callable[[str, int, int], None]


class ImportService:
    """Runs an import for whoever asks: the CLI, `POST /imports` and the page."""

    def __init__(
        self,
        ledger: Ledger,
        associations: Callable[[], list[dict[str, Any]]],
        project_keys: Callable[[], Iterable[tuple[str, str, str, str]]],
        on_recorded: Callable[[ImportReport, Actor], object] = lambda report, actor: None,
    ) -> None:
        self.ledger = ledger
        self.associations = associations
        self.project_keys = project_keys
        # Told of every batch recorded (its author's "import finished" notification).
        self.on_recorded = on_recorded

    def run(self, request: ImportRequest, progress: Progress | None = None) -> ImportReport:
        """Preview or record `request`'s file (see the module's docstring)."""
        # Thousands of aggregates and events alive at once: the cyclic collector would walk
        # them again and again (as in a rebuild); reference counting frees what they drop.
        with fewer_collections():
            return self._run(request, progress)

    def _run(self, request: ImportRequest, progress: Progress | None) -> ImportReport:
        file_sha256 = hashlib.sha256(request.data).hexdigest()
        grid = read_grid(request.data, request.file_name)
        layout = find_layout(grid)
        batch_id = hashlib.sha256(
            (file_sha256 + json.dumps(layout.mapping(), ensure_ascii=False)).encode()
        ).hexdigest()
        report = ImportReport(
            batch_id=batch_id,
            file_sha256=file_sha256,
            file_name=request.file_name,
            status="preview",
            headers=[_text(h) or "" for h in _header_cells(grid, layout)],
        )
        if self.ledger.find_import_batch(batch_id) is not None:
            return self._already_imported(report)
        reader = _RowReader(layout, _default_unit(grid, layout.header_row), request.lang)
        names = _AssociationNames(self.associations(), request.association_scope, request.lang)
        known = _KnownProjects(self.project_keys())
        data_rows = grid[layout.header_row + 1 :]
        ledger_rows: list[LedgerRow] = []
        by_row: dict[int, RowReport] = {}
        total = len(data_rows)
        for offset, cells in enumerate(data_rows):
            number = layout.header_row + 2 + offset
            if progress is not None and offset % 250 == 0:
                progress("read", offset, total)
            if all(_text(c) is None for c in cells):
                continue
            entry = RowReport(number, "fine", values=list(cells))
            report.rows.append(entry)
            by_row[number] = entry
            if _is_totals(cells):
                entry.status = "skipped"
                continue
            values = reader.read(cells, entry.problems)
            association_id = names.resolve(values.get("association"), layout, entry.problems)
            if entry.problems:
                entry.status = "problem"
                continue
            duplicate = known.match(values)
            if duplicate is not None:
                entry.status = "duplicate"
                found, matched_on = duplicate
                if isinstance(found, int):
                    error = errors.Conflict(
                        f"the same project as row {found} of this file; recorded once",
                        code="duplicate_row",
                    )
                else:
                    entry.project_id = found
                    error = errors.Conflict(
                        f"the project is already recorded ({found}); the row is not recorded again",
                        code="project_exists",
                    )
                entry.problems.append(
                    _problem(layout.header(matched_on), values.get(matched_on), error, request.lang)
                )
                continue
            known.add(values, number)
            ledger_rows.append(_ledger_row(number, values, association_id or ""))
        if progress is not None:
            progress("read", total, total)
        refused = [r.row for r in report.rows if r.status == "problem"]
        try:
            outcome = self.ledger.import_ledger(
                self.ledger.context(request.actor, source="import"),
                batch_id=batch_id,
                file_sha256=file_sha256,
                file_name=request.file_name,
                rows=ledger_rows,
                refused_rows=refused,
                duplicate_rows=report.count("duplicate"),
                record=not request.dry_run,
                fine_rows_only=request.fine_rows_only,
                progress=(lambda done, total: progress("check", done, total)) if progress else None,
            )
        except errors.AlreadyImported:  # another request recorded the same file meanwhile
            return self._already_imported(report)
        for number, problems in outcome.problems.items():
            entry = by_row[number]
            entry.status = "problem"
            for p in problems:
                column = _ledger_to_column(p.field)
                entry.problems.append(
                    _problem(
                        layout.header(column),
                        _cell(entry.values, layout, column),
                        p,
                        request.lang,
                    )
                )
        if outcome.recorded:
            report.status = "recorded"
            for number, project_id in outcome.projects.items():
                by_row[number].project_id = str(project_id)
            self.on_recorded(report, request.actor)
        elif not request.dry_run:
            report.status = "not_recorded"
        return report

    def _already_imported(self, report: ImportReport) -> ImportReport:
        existing = self.ledger.find_import_batch(report.batch_id)
        report.status = "already_imported"
        report.rows = []
        if existing is not None:
            report.batch = {
                "batch_id": existing.batch_id,
                "by": existing.by.get("id", ""),
                "at": existing.created_on.isoformat(),
                "file_sha256": existing.file_sha256,
                "file_name": existing.file_name,
                "rows_recorded": existing.rows_recorded,
                "rows_refused": existing.rows_refused,
            }
        return report

    def batches(self, by: str | None = None) -> list[dict[str, Any]]:
        """The batches recorded (by `by` only, when given), newest first."""
        found = self.ledger.import_batches()
        if by is not None:
            found = [b for b in found if b["by"] == by]
        return list(reversed(found))


def problems_workbook(report: ImportReport) -> bytes:
    """The rows with a problem, as the office sent them plus a 问题 column, for fixing and
    sending again; user text is neutralised so no cell is a live formula."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "问题行"
    _append_as_text(sheet, ["行号", *report.headers, "问题"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for r in report.rows:
        if r.status not in ("problem", "duplicate"):
            continue
        reasons = "；".join(f"{p.column}：{p.message}" for p in r.problems)
        _append_as_text(sheet, [r.row, *r.values, reasons])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def template_workbook(association_names: Sequence[str] = ()) -> bytes:
    """The ledger template: the Chinese headers, and a sheet of the valid labels."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "项目台账"
    sheet.append(list(TEMPLATE_HEADERS.values()))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    labels = workbook.create_sheet("有效值")
    columns = {
        "落地市州": list(CITIES.values()),
        "行业": [f"{label}" for label in INDUSTRIES.values()],
        "项目类型": list(PROJECT_TYPES.values()),
        "项目来源": list(ORIGINS.values()),
        "引荐商协会": list(association_names),
    }
    labels.append(list(columns))
    for cell in labels[1]:
        cell.font = Font(bold=True)
    for i in range(max(len(v) for v in columns.values())):
        _append_as_text(labels, [v[i] if i < len(v) else None for v in columns.values()])
    notes = workbook.create_sheet("说明")
    for line in (
        "金额单位为元；表头可写作“计划总投资（万元）”或“（亿元）”，按表头单位换算。",
        "日期可写作 2023-05-06、2023/5/6、2023.5.6、2023年5月6日，或 Excel 日期。",
        "一行一个项目，最多一笔到位资金（到位日期与到位资金）。合计、小计行不导入。",
        "项目编号可留空；同一编号、或同名同投资方同市州的项目已登记时不重复导入。",
    ):
        notes.append([line])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# ---- the layout -------------------------------------------------------------------------


def find_layout(grid: Grid) -> Layout:
    """The header row (the one naming most ledger fields, read together with the row above it
    for a group header), and each field's column."""
    best: Layout | None = None
    for index in range(min(len(grid), HEADER_SEARCH_ROWS)):
        above = grid[index - 1] if index > 0 else []
        columns = _columns(grid[index], above)
        if "name" not in columns or len(columns) < 3:
            continue
        if best is None or len(columns) >= len(best.columns):
            best = Layout(index, columns)
    if best is None:
        raise errors.ImportHeaderNotFound(
            "no header row naming 项目名称 and the other ledger columns was found in the first "
            "30 rows",
            field="file",
        )
    missing = [TEMPLATE_HEADERS[n] for n in REQUIRED if n not in best.columns]
    if missing:
        raise errors.ImportHeaderNotFound(
            f"the ledger has no column {'、'.join(missing)}", field="file"
        )
    return best


def _columns(row: Sequence[Any], above: Sequence[Any]) -> dict[str, Column]:
    """The fields a header row names, read with the row above it: a group header over this
    row's sub-headers, or a header standing over an empty cell of this row (two header rows
    without merged cells). Empty when this row itself names no field (a data row)."""
    columns: dict[str, Column] = {}
    own = 0
    for index in range(max(len(row), len(above))):
        header = _text(row[index]) if index < len(row) else None
        group = _text(above[index]) if index < len(above) else None
        found = _field_of(header, group)
        if found is not None:
            own += 1
        elif header is None:
            found = _field_of(group, None)
        if found is None:
            continue
        name, multiplier, shown = found
        if name not in columns:
            columns[name] = Column(index, shown, multiplier)
    return columns if own else {}


def _field_of(header: str | None, group: str | None) -> tuple[str, Decimal, str] | None:
    if header is None:
        return None
    clean = "".join(header.split())
    unit = Decimal(1)
    unit_match = _UNIT_IN_HEADER.match(clean)
    if unit_match and unit_match["head"]:
        clean, unit = unit_match["head"], UNITS[unit_match["unit"]]
    clean = clean.strip("（()）*")
    name = _BY_HEADER.get(clean)
    if name is None and group:
        group_clean = "".join(group.split())
        for (prefix, suffix), grouped in _GROUPED.items():
            if prefix in group_clean and clean == suffix:
                name = grouped
                break
    if name is None:
        return None
    shown = (
        f"{''.join(group.split())}/{''.join(header.split())}"
        if group and _BY_HEADER.get(clean) is None
        else "".join(header.split())
    )
    return name, unit, shown


def _default_unit(grid: Grid, header_row: int) -> Decimal | None:
    """A `单位：万元` line among the title rows, the unit of amount headers that name none."""
    for row in grid[:header_row]:
        for cell in row:
            text = _text(cell)
            if text and (m := _UNIT_LINE.search(text)):
                return UNITS[m["unit"]]
    return None


def _header_cells(grid: Grid, layout: Layout) -> list[Any]:
    return list(grid[layout.header_row]) if layout.header_row < len(grid) else []


# ---- the cells --------------------------------------------------------------------------


class _RowReader:
    def __init__(self, layout: Layout, default_unit: Decimal | None, lang: str) -> None:
        self.layout = layout
        self.default_unit = default_unit
        self.lang = lang

    def read(self, cells: Sequence[Any], problems: list[Problem]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, column in self.layout.columns.items():
            cell = cells[column.index] if column.index < len(cells) else None
            try:
                values[name] = self._value(name, column, cell)
            except errors.DomainError as e:
                problems.append(_problem(column.header, cell, e, self.lang))
        for name in REQUIRED:
            if name in values and values[name] is None:
                problems.append(
                    _problem(
                        self.layout.header(name),
                        None,
                        errors.InvalidInput("a value is required (必填)", field=name),
                        self.lang,
                    )
                )
        return values

    def _value(self, name: str, column: Column, cell: Any) -> Any:
        if name in DATES:
            return read_date(cell, name)
        if name in MONEY:
            multiplier = column.multiplier
            if multiplier == 1 and self.default_unit is not None:
                multiplier = self.default_unit
            amount = read_amount(cell, multiplier, name)
            if amount is not None and amount == 0 and name != "planned_investment":
                return None  # a ledger's 0 in 到位资金 or 签约金额 means none yet
            return amount
        text = _text(cell)
        if text is None:
            return None
        if name == "industry":
            return _industry(text)
        if name == "project_type":
            return PROJECT_TYPE_ALIASES.get(text, text)
        return text


def read_date(cell: Any, field_name: str) -> date | None:
    """A date cell: a date, an Excel serial, or text (2023-05-06, 2023/5/6, 2023.5.6,
    2023年5月6日, 20230506)."""
    if cell is None:
        return None
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    number = isinstance(cell, int | float) and not isinstance(cell, bool)
    if number and 1 <= cell < 2958466:  # an Excel serial; a time of day is dropped
        return EXCEL_EPOCH + timedelta(days=int(cell))
    text = _text(cell)
    if text is None:
        return None
    found = _TEXT_DATE.match(text) or _COMPACT_DATE.match(text)
    if found:
        try:
            return date(int(found["y"]), int(found["m"]), int(found["d"]))
        except ValueError:
            pass
    raise errors.InvalidInput(
        f"{text!r} is not a date (2023-05-06, 2023/5/6, 2023.5.6, 2023年5月6日)",
        field=field_name,
    )


def read_amount(cell: Any, multiplier: Decimal, field_name: str) -> Decimal | None:
    """An amount in yuan, exactly: the cell's number (as Excel shows it, 15 significant
    digits) times the column's unit; more than 2 places in yuan is refused."""
    if cell is None or isinstance(cell, bool):
        return None
    if isinstance(cell, int):
        number = Decimal(cell)
    elif isinstance(cell, float):
        number = Decimal(format(cell, ".15g"))
    else:
        text = _text(cell)
        if text is None:
            return None
        compact = "".join(text.replace(",", "").replace("，", "").replace("¥", "").split())
        found = _AMOUNT_TEXT.match(compact)
        if found is None:
            raise errors.InvalidAmount(
                f"{text!r} is not an amount (金额须为数字，可带 元、万元 或 亿元)", field=field_name
            )
        number = Decimal(found["number"])
        if found["unit"]:
            multiplier = UNITS[found["unit"]]
    try:
        amount = number * multiplier
        exact = amount.quantize(FEN)
    except InvalidOperation:
        raise errors.OutOfRange(f"{cell!r} is too large (金额超出范围)", field=field_name) from None
    if exact != amount:
        raise errors.InvalidAmount(
            f"{amount} yuan has more than 2 decimal places (金额精确到分)", field=field_name
        )
    return exact


def _industry(text: str) -> str:
    """`C`, `制造业`, `C 制造业` or `C制造业` → what the domain's parser reads."""
    compact = "".join(text.split())
    if len(compact) > 1 and compact[0].upper() in INDUSTRIES and not compact[1].isascii():
        return compact[0].upper()
    return compact


def _text(cell: Any) -> str | None:
    if cell is None:
        return None
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    if isinstance(cell, datetime | date):
        return cell.isoformat()
    text = str(cell).strip()
    return text or None


def _is_totals(cells: Sequence[Any]) -> bool:
    for cell in cells[:4]:
        text = _text(cell)
        if text and "".join(text.split()).startswith(_TOTALS):
            return True
    return False


def _append_as_text(sheet: Any, values: Sequence[Any]) -> None:
    """Append a row; user text that reads as a formula stays a text cell, never a live
    formula (as `api/exports.py` writes workbooks)."""
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if is_formula_text(cell.value):
            cell.data_type = "s"


def _cell(values: Sequence[Any], layout: Layout, column: str) -> Any:
    c = layout.columns.get(column)
    return values[c.index] if c is not None and c.index < len(values) else None


def _problem(column: str, value: Any, error: errors.DomainError | RowProblem, lang: str) -> Problem:
    shown = "" if value is None else (_text(value) or "")
    return Problem(column, shown, error.code, localise_error(error.code, error.message, lang))


def _ledger_to_column(name: str) -> str:
    """A `LedgerRow` field → the importer's column name (the association is read by name)."""
    return {"association_id": "association", "number": "number"}.get(name, name)


def _ledger_row(number: int, values: Mapping[str, Any], association_id: str) -> LedgerRow:
    return LedgerRow(
        row=number,
        number=values.get("number"),
        name=values.get("name"),
        investor=values.get("investor"),
        association_id=association_id,
        industry=values.get("industry"),
        project_type=values.get("project_type") or "ordinary",
        origin=values.get("origin"),
        city=values.get("city"),
        county=values.get("county"),
        park=values.get("park"),
        planned_investment=values.get("planned_investment"),
        referred_on=values.get("referred_on"),
        signed_on=values.get("signed_on"),
        contract_amount=values.get("contract_amount"),
        arrived_on=values.get("arrived_on"),
        arrival_amount=values.get("arrival_amount"),
        production_started_on=values.get("production_started_on"),
    )


# ---- associations and projects already recorded -------------------------------------------


class _AssociationNames:
    """Associations by name (`名称` or `名称（城市）` when one name is used in two cities)."""

    def __init__(self, rows: list[dict[str, Any]], scope: str | None, lang: str) -> None:
        self.by_name: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            self.by_name.setdefault(comparable(row.get("name") or ""), []).append(row)
        self.scope = scope
        self.lang = lang

    def resolve(self, value: Any, layout: Layout, problems: list[Problem]) -> str | None:
        if not isinstance(value, str):
            return None
        header = layout.header("association")
        found = self.by_name.get(comparable(value), [])
        if not found and (m := _WITH_CITY.match(value)):
            found = [
                a
                for a in self.by_name.get(comparable(m["name"]), [])
                if comparable(a.get("based_in") or "") == comparable(m["city"])
            ]
        if len(found) == 1:
            association_id = str(found[0]["association_id"])
            if self.scope is not None and association_id != self.scope:
                problems.append(
                    _problem(
                        header,
                        value,
                        errors.NotOwnAssociation(
                            "a liaison may import only its own association's projects",
                            field="association",
                        ),
                        self.lang,
                    )
                )
                return None
            return association_id
        if found:
            candidates = "、".join(f"{a['name']}（{a.get('based_in') or ''}）" for a in found)
            error = errors.UnknownAssociation(
                f"{value!r} names several associations: {candidates}", field="association"
            )
        else:
            candidates = "、".join(self._similar(value)) or "—"
            error = errors.UnknownAssociation(
                f"no association is named {value!r}; similar names: {candidates}",
                field="association",
            )
        problems.append(_problem(header, value, error, self.lang))
        return None

    def _similar(self, value: str) -> list[str]:
        wanted = comparable(value)
        names = sorted(
            rows[0]["name"]
            for key, rows in self.by_name.items()
            if key and (wanted in key or key in wanted or wanted[:2] == key[:2])
        )
        return names[:5]


class _KnownProjects:
    """Projects recorded before (the read models, by id), and the rows of this file so far
    (by row number)."""

    def __init__(self, keys: Iterable[tuple[str, str, str, str]]) -> None:
        self.ids: set[str] = set()
        self.by_key: dict[tuple[str, str, str], str | int] = {}
        for project_id, name, investor, city in keys:
            self.ids.add(str(project_id))
            key = (comparable(name or ""), comparable(investor or ""), city or "")
            self.by_key[key] = str(project_id)
        self.numbers: dict[str, int] = {}

    @staticmethod
    def _key(values: Mapping[str, Any]) -> tuple[str, str, str]:
        city = values.get("city") or ""
        with contextlib.suppress(errors.DomainError):
            city = parse_city(city)
        return (
            comparable(str(values.get("name") or "")),
            comparable(str(values.get("investor") or "")),
            city,
        )

    def match(self, values: Mapping[str, Any]) -> tuple[str | int, str] | None:
        """(the project id or the row number it matches, the field it matched on), or None."""
        number = values.get("number")
        if number:
            if number in self.numbers:
                return self.numbers[number], "number"
            project_id = str(project_id_for_number(number))
            if project_id in self.ids:
                return project_id, "number"
        found = self.by_key.get(self._key(values))
        return (found, "name") if found is not None else None

    def add(self, values: Mapping[str, Any], row: int) -> None:
        number = values.get("number")
        if number:
            self.numbers[number] = row
        self.by_key[self._key(values)] = row
