"""The frozen quarterly dispatches (季调度) and their revisions, as JSON, CSV or XLSX."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from adapters.documents import Document, DocumentStore
from api.auth import Permission, Principal
from api.deps import require
from api.exports import ExportColumn, Sheet, check_format, export
from api.read_models import get_documents
from api.report_schemas import DispatchListOut, DispatchOut, documented
from domain import errors
from domain.periods import parse_quarter
from domain.values import CITIES, from_fen

router = APIRouter(tags=["dispatch"])
Reader = Annotated[Principal, Depends(require(Permission.READ))]
Documents = Annotated[DocumentStore, Depends(get_documents)]

METRICS = [
    ("referrals", "引荐项目", False),
    ("visits", "考察", False),
    ("negotiations", "洽谈", False),
    ("signings", "签约项目", False),
    ("signed_amount_fen", "签约金额（元）", True),
    ("funds_fen", "到位资金（元）", True),
    ("production_starts", "投产项目", False),
    ("capacity_reached", "达产项目", False),
    ("follow_ups", "回访", False),
    ("issues_raised", "新提问题诉求", False),
    ("issues_closed", "办结问题诉求", False),
]


@router.get(
    "/dispatches",
    response_model=None,
    responses=documented(DispatchListOut, "every dispatch and revision"),
)
def list_dispatches(user: Reader, documents: Documents) -> dict[str, Any]:
    """Every dispatch with its revisions (newest revision last within a quarter)."""
    items = [d.summary() for d in documents.list("dispatch")]
    return {"items": items, "total": len(items)}


def _quarter(value: str) -> str:
    try:
        year, q = parse_quarter(value)
    except ValueError:
        raise errors.InvalidInput("a quarter is written like 2023Q4", field="quarter") from None
    return f"{year}Q{q}"


def _figure_rows(document: Document) -> list[dict[str, Any]]:
    figures = document.content["figures"]["quarter_figures"]
    ytd = document.content["figures"]["year_to_date"]
    names = document.content.get("association_names", {})
    rows = []

    def add(scope: str, name: str, values: dict[str, int], to_date: dict[str, int]) -> None:
        row: dict[str, Any] = {"scope": scope, "name": name}
        for key, _, money in METRICS:
            for prefix, source in (("", values), ("ytd_", to_date)):
                raw = source.get(key, 0)
                row[prefix + key] = from_fen(raw) if money else raw
        rows.append(row)

    add("全省", "湖南省", figures["province"], ytd["province"])
    for city, values in figures["by_city"].items():
        add("市州", CITIES.get(city, city), values, ytd["by_city"].get(city, {}))
    for association_id, values in figures["by_association"].items():
        add(
            "商协会",
            names.get(association_id, association_id),
            values,
            ytd["by_association"].get(association_id, {}),
        )
    return rows


FIGURE_COLUMNS = [ExportColumn("scope", "口径"), ExportColumn("name", "名称")] + [
    ExportColumn(prefix + key, label_prefix + label, money)
    for key, label, money in METRICS
    for prefix, label_prefix in (("", "本季"), ("ytd_", "年累计"))
]
PROGRESS_COLUMNS = [
    ExportColumn("project_id", "项目编号"),
    ExportColumn("name", "项目名称"),
    ExportColumn("city_label", "落地市州"),
    ExportColumn("associations", "引荐商协会"),
    ExportColumn("stage_label", "项目阶段"),
    ExportColumn("progress", "本季进展"),
    ExportColumn("open_problems", "未解决问题"),
    ExportColumn("next_step", "下一步工作"),
]
STALLED_COLUMNS = [
    ExportColumn("project_id", "项目编号"),
    ExportColumn("name", "项目名称"),
    ExportColumn("city_label", "落地市州"),
    ExportColumn("signed_on", "签约日期"),
]
OVERDUE_COLUMNS = [
    ExportColumn("project_id", "项目编号"),
    ExportColumn("name", "项目名称"),
    ExportColumn("city_label", "落地市州"),
    ExportColumn("last_contact_on", "最近回访（或投产）日期"),
    ExportColumn("days_since", "间隔天数"),
]


def _with_city_labels(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "city_label": CITIES.get(r["city"], r["city"])} for r in rows]


@router.get(
    "/dispatches/{quarter}",
    response_model=None,
    responses=documented(DispatchOut, "the dispatch, or `?format=csv|xlsx`", files=True),
)
def get_dispatch(
    quarter: str,
    user: Reader,
    documents: Documents,
    format: str = "json",
    revision: int | None = None,
) -> Response | dict[str, Any]:
    """The frozen dispatch of a quarter (latest revision unless one is named)."""
    fmt = check_format(format)
    period = _quarter(quarter)
    document = documents.get("dispatch", period, revision)
    if document is None:
        raise errors.NotFound(f"no dispatch for {period} (yet)", field="quarter")
    body = {**document.summary(), "content": document.content}
    if fmt == "json":
        return body
    content = document.content
    sheets = [
        Sheet("季调度数据", FIGURE_COLUMNS, _figure_rows(document)),
        Sheet("项目进展", PROGRESS_COLUMNS, _with_city_labels(content["progress"])),
        Sheet("签约未落地", STALLED_COLUMNS, _with_city_labels(content["stalled_signings"])),
        Sheet("回访逾期", OVERDUE_COLUMNS, _with_city_labels(content["overdue_follow_ups"])),
    ]
    name = f"季调度-{period}-r{document.revision}"
    return export(fmt, name, sheets, body, f"dispatch-{period}-r{document.revision}")
