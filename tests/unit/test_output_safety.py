"""Output safety (DESIGN §21, issue 13 item 3): no live formula from user text in CSV or XLSX,
no control sequence from user text on a terminal."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from api.exports import ExportColumn, Sheet, csv_bytes, xlsx_bytes
from domain.output_safety import spreadsheet_safe, terminal_safe
from projections.history import render_lines

DANGEROUS = [
    '=HYPERLINK("http://evil.example","点击查看")',
    "=1+2",
    "+1+2",
    "-1+2",
    "@SUM(A1)",
    "\tleading tab",
    "\rleading return",
]
COLUMNS = [ExportColumn("name", "项目名称"), ExportColumn("amount", "金额（元）", money=True)]


def sheet(names: list[str], amount: str = "-12.50") -> Sheet:
    return Sheet("台账", COLUMNS, [{"name": n, "amount": Decimal(amount)} for n in names])


@pytest.mark.parametrize("text", DANGEROUS)
def test_a_formula_trigger_gets_a_leading_quote(text: str) -> None:
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["普通项目", "a=1", "", 12, Decimal("-3.20"), -1.5, None])
def test_other_values_pass_unchanged(value: object) -> None:
    assert spreadsheet_safe(value) == value


def test_csv_neutralises_every_dangerous_cell_and_keeps_negative_amounts_plain() -> None:
    text = csv_bytes(sheet(DANGEROUS)).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert [r[0] for r in rows[1:]] == ["'" + t for t in DANGEROUS]
    assert {r[1] for r in rows[1:]} == {"-12.50"}


def test_xlsx_keeps_user_text_as_string_cells_and_amounts_as_numbers() -> None:
    workbook = load_workbook(io.BytesIO(xlsx_bytes([sheet(DANGEROUS)])))
    ws = workbook.active
    assert ws is not None
    names = [ws.cell(row=r, column=1) for r in range(2, len(DANGEROUS) + 2)]
    assert [c.data_type for c in names] == ["s"] * len(DANGEROUS)
    # XML reads a carriage return back as a newline; the text is otherwise as given.
    assert [c.value for c in names] == [t.replace("\r", "\n") for t in DANGEROUS]
    amounts = [ws.cell(row=r, column=2) for r in range(2, len(DANGEROUS) + 2)]
    assert {c.data_type for c in amounts} == {"n"}
    assert {c.value for c in amounts} == {-12.5}


def test_xlsx_raw_xml_holds_no_formula() -> None:
    import zipfile

    data = xlsx_bytes([sheet(["=1+2", '=HYPERLINK("http://x","y")'])])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31m红色\x1b[0m项目", "红色项目"),
        ("\x1b]0;owned\x07标题", "标题"),
        ("\x1b]8;;http://evil\x1b\\链接\x1b]8;;\x1b\\", "链接"),
        ("a\x00b\x07c\x08d\x7fe", "abcde"),
        ("c1\x9b2Jcsi\x85nel", "c1csinel"),
        ("bidi\u202eevil\u2066x\u2069", "bidievilx"),
        ("第一行\n\t第二行", "第一行\n\t第二行"),
        ("\x1bc重置", "重置"),
    ],
)
def test_terminal_safe_strips_control_sequences(raw: str, shown: str) -> None:
    assert terminal_safe(raw) == shown


def test_terminal_safe_can_fold_newlines() -> None:
    assert terminal_safe("a\nb", keep_newlines=False) == "a b"


def test_history_lines_reach_the_terminal_without_escapes() -> None:
    out = render_lines(["项目 \x1b[2J\x1b[H名称", "备注 \x1b]0;x\x07ok"])
    assert "\x1b" not in out and "\x07" not in out
    assert out == "项目 名称\n备注 ok\n"
