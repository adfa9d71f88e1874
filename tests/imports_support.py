"""Workbooks for the import tests, built with openpyxl (DESIGN §19's variations)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook

HEADERS = [
    "项目编号",
    "项目名称",
    "投资方",
    "引荐商协会",
    "落地市州",
    "行业",
    "项目类型",
    "项目来源",
    "计划总投资",
    "引荐日期",
    "签约日期",
    "签约金额",
    "到位日期",
    "到位资金",
    "投产日期",
]


def row(number: int, association: str = "北京湖南商会", **overrides: Any) -> list[Any]:
    """One fine template row (amounts in 元), as a list in `HEADERS` order."""
    values: dict[str, Any] = {
        "项目编号": f"XM-{number:05d}",
        "项目名称": f"智能装备基地{number}",
        "投资方": f"某某机械{number}",
        "引荐商协会": association,
        "落地市州": "株洲市",
        "行业": "制造业",
        "项目类型": "一般项目",
        "项目来源": "省外",
        "计划总投资": 80000000,
        "引荐日期": "2023-05-06",
        "签约日期": "2023/6/1",
        "签约金额": 50000000,
        "到位日期": "2023年7月1日",
        "到位资金": 12000000.5,
        "投产日期": "2023.9.1",
    }
    values.update(overrides)
    return [values[h] for h in HEADERS]


def workbook(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str] = HEADERS,
    above: Sequence[Sequence[Any]] = (),
    merges: Sequence[str] = (),
) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for line in above:
        sheet.append(list(line))
    sheet.append(list(headers))
    for values in rows:
        sheet.append(list(values))
    for area in merges:
        sheet.merge_cells(area)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_cached_values(data: bytes, values: dict[str, str]) -> bytes:
    """Give formula cells the value Excel would have saved with them (openpyxl writes none):
    `{formula: value}`."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                text = content.decode()
                for formula, value in values.items():
                    text = re.sub(
                        rf"<f>{re.escape(formula)}</f><v\s*/>|<f>{re.escape(formula)}</f><v></v>",
                        f"<f>{formula}</f><v>{value}</v>",
                        text,
                    )
                content = text.encode()
            target.writestr(item, content)
    return out.getvalue()
