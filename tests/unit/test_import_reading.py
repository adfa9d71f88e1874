"""Reading ledgers (DESIGN §19): the workbooks offices keep, built here with openpyxl, read into
a layout and typed values without a database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from adapters.spreadsheets import read_grid
from domain import errors
from services.imports import (
    HEADERS,
    _RowReader,
    find_layout,
    read_amount,
    read_date,
)
from tests.imports_support import HEADERS as TEMPLATE
from tests.imports_support import row, workbook


def layout_of(data: bytes, name: str = "台账.xlsx"):  # type: ignore[no-untyped-def]
    grid = read_grid(data, name)
    return grid, find_layout(grid)


def test_the_template_header_maps_every_column() -> None:
    _grid, layout = layout_of(workbook([row(1)]))
    assert layout.header_row == 0
    assert {n: c.header for n, c in layout.columns.items()} == {
        name: header
        for name, header in zip(
            [
                "number",
                "name",
                "investor",
                "association",
                "city",
                "industry",
                "project_type",
                "origin",
                "planned_investment",
                "referred_on",
                "signed_on",
                "contract_amount",
                "arrived_on",
                "arrival_amount",
                "production_started_on",
            ],
            TEMPLATE,
            strict=True,
        )
    }


def test_title_rows_and_merged_cells_above_the_header_are_passed_over() -> None:
    data = workbook(
        [row(1)],
        above=[
            ["2023年度招商引荐项目台账"],
            ["填报单位：株洲市商务局", None, None, "单位：万元"],
            [],
        ],
        merges=["A1:O1", "A2:C2"],
    )
    grid, layout = layout_of(data)
    assert layout.header_row == 3
    assert grid[layout.header_row + 1][1] == "智能装备基地1"


def test_a_group_header_merged_over_its_sub_columns() -> None:
    headers = [
        "项目名称",
        "投资方",
        "引荐商协会",
        "落地市州",
        "行业",
        "项目来源",
        "计划总投资",
        "引荐日期",
        "签约情况",
        None,
        "资金到位情况",
        None,
    ]
    subs = [None, None, None, None, None, None, None, None, "签约日期", "签约金额", "日期", "金额"]
    book_rows = [
        subs,
        [
            "基地",
            "某某",
            "北京湖南商会",
            "长沙",
            "C",
            "境外",
            100,
            "2023-01-01",
            "2023-02-01",
            90,
            "2023-03-01",
            10,
        ],
    ]
    data = workbook(book_rows, headers=headers, merges=["I1:J1", "K1:L1", "A1:A2", "B1:B2"])
    _, layout = layout_of(data)
    assert layout.header_row == 1
    assert layout.columns["signed_on"].index == 8
    assert layout.columns["contract_amount"].index == 9
    assert layout.columns["arrived_on"].index == 10
    assert layout.columns["arrival_amount"].index == 11
    assert layout.columns["name"].index == 0


@pytest.mark.parametrize("field", sorted(HEADERS))
def test_every_header_variant_is_recognised(field: str) -> None:
    for variant in HEADERS[field]:
        base = {
            "name": "项目名称",
            "investor": "投资方",
            "association": "引荐单位",
            "city": "市州",
            "industry": "行业",
            "origin": "来源",
            "planned_investment": "总投资",
            "referred_on": "引荐日期",
        }
        base[field] = variant
        headers = list(base.values())
        _, layout = layout_of(workbook([["x"] * len(headers)], headers=headers))
        assert layout.columns[field].header == variant


@pytest.mark.parametrize(
    ("header", "cell", "expected"),
    [
        ("计划总投资", 80000000, Decimal("80000000.00")),
        ("计划总投资（元）", "1,234.56", Decimal("1234.56")),
        ("计划总投资（万元）", 1234.5678, Decimal("12345678.00")),
        ("计划总投资(亿元)", 1.5, Decimal("150000000.00")),
        ("计划总投资/万元", "0.01", Decimal("100.00")),
        ("计划总投资", "3.5亿元", Decimal("350000000.00")),
    ],
)
def test_units_in_the_header_give_exact_yuan(header: str, cell: object, expected: Decimal) -> None:
    headers = [
        "项目名称",
        "投资方",
        "引荐商协会",
        "落地市州",
        "行业",
        "项目来源",
        header,
        "引荐日期",
    ]
    grid, layout = layout_of(
        workbook([["a", "b", "c", "长沙", "C", "境外", cell, "2023-01-01"]], headers=headers)
    )
    problems: list[object] = []
    values = _RowReader(layout, None, "zh").read(grid[1], problems)  # type: ignore[arg-type]
    assert problems == []
    assert values["planned_investment"] == expected
    assert isinstance(values["planned_investment"], Decimal)


def test_a_unit_line_among_the_title_rows_applies_to_amount_headers_without_one() -> None:
    headers = [
        "项目名称",
        "投资方",
        "引荐商协会",
        "落地市州",
        "行业",
        "项目来源",
        "计划总投资",
        "引荐日期",
    ]
    data = workbook(
        [["a", "b", "c", "长沙", "C", "境外", 2.5, "2023-01-01"]],
        headers=headers,
        above=[["项目台账（单位：亿元）"]],
    )
    from services.imports import _default_unit

    grid, layout = layout_of(data)
    reader = _RowReader(layout, _default_unit(grid, layout.header_row), "zh")
    assert reader.read(grid[2], [])["planned_investment"] == Decimal("250000000.00")


@pytest.mark.parametrize(
    "cell",
    [
        date(2023, 5, 6),
        45052,
        45052.0,
        "2023-05-06",
        "2023/5/6",
        "2023.5.6",
        "2023年5月6日",
        "2023 年 5 月 6 日",
        "20230506",
        "2023-05-06 00:00:00",
    ],
)
def test_dates_as_excel_serials_and_common_chinese_text(cell: object) -> None:
    assert read_date(cell, "referred_on") == date(2023, 5, 6)


@pytest.mark.parametrize("cell", ["2023-13-01", "五月六日", "2023/02/30", "soon"])
def test_a_cell_that_is_no_date_is_refused(cell: str) -> None:
    with pytest.raises(errors.InvalidInput):
        read_date(cell, "referred_on")


def test_amounts_beyond_the_fen_and_non_numbers_are_refused() -> None:
    with pytest.raises(errors.InvalidAmount):
        read_amount("12.345", Decimal(1), "planned_investment")
    with pytest.raises(errors.InvalidAmount):
        read_amount("一百万", Decimal(1), "planned_investment")
    # Excel's own double 0.1 + 0.2 shows as 0.3: read as Excel shows it
    assert read_amount(0.1 + 0.2, Decimal(10000), "x") == Decimal("3000.00")


def test_csv_in_utf8_with_bom_and_gb18030_read_alike() -> None:
    text = ",".join(TEMPLATE) + "\n" + ",".join(str(v) for v in row(1)) + "\n"
    grids = [
        read_grid(text.encode("utf-8"), "a.csv"),
        read_grid(b"\xef\xbb\xbf" + text.encode("utf-8"), "a.csv"),
        read_grid(text.encode("gb18030"), "a.csv"),
    ]
    assert grids[0] == grids[1] == grids[2]
    assert grids[2][0][1] == "项目名称" and grids[2][1][3] == "北京湖南商会"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00", "slip.pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.png"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "ledger.csv"),
        (b"not a workbook at all", "ledger.xlsx"),
        (b"PK\x03\x04broken zip", "ledger.xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 a compound file, no workbook", "ledger.xls"),
        (b"name,phone\n", "ledger.txt"),
    ],
)
def test_a_file_that_is_no_spreadsheet_is_unsupported(data: bytes, name: str) -> None:
    with pytest.raises(errors.UnsupportedMediaType):
        read_grid(data, name)


def test_a_sheet_without_a_ledger_header_is_refused() -> None:
    with pytest.raises(errors.ImportHeaderNotFound):
        find_layout(read_grid(workbook([["a", "b"]], headers=["姓名", "电话"]), "x.xlsx"))
    with pytest.raises(errors.ImportHeaderNotFound) as missing:
        find_layout(read_grid(workbook([], headers=["项目名称", "投资方", "行业"]), "x.xlsx"))
    assert "引荐商协会" in missing.value.message
