"""The project ledger (台账) from the read models: list with filters, exports, the follow-up
due list, and a project's chain verification."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict

from api.auth import Permission, Principal
from api.deps import get_ledger, require
from api.exports import ExportColumn, Sheet, association_labels, check_format, export
from api.read_models import get_read_models, get_services, not_ready
from api.report_schemas import FollowUpsDueOut, LedgerExportOut, VerifyOut, documented
from domain.application import Ledger
from domain.project import STAGE_LABELS
from domain.values import (
    CITIES,
    INDUSTRIES,
    ORIGINS,
    PROJECT_TYPES,
    business_date,
    check_year,
    from_fen,
    parse_city,
    parse_code,
    parse_industry,
)
from projections.integrity import verify_project
from projections.queries import ReadModels
from services.bootstrap import Services

router = APIRouter(tags=["ledger"])
P = Permission
Reader = Annotated[Principal, Depends(require(P.READ, P.READ_OWN))]
Read = Annotated[ReadModels, Depends(get_read_models)]

MONEY_COLUMNS = {
    "contract_amount_fen": "contract_amount",
    "funds_total_fen": "funds_total_cny",
    "planned_investment_fen": "planned_investment_cny",
}


class LedgerRowOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "project_id": "5b0e3f0c-2f0b-4a43-8f3c-4d2f8e3b9c11",
                    "name": "新材料产业园",
                    "investor": "华科实业有限公司",
                    "industry": "C",
                    "project_type": "ordinary",
                    "origin": "other_province",
                    "city": "changsha",
                    "county": "",
                    "park": "",
                    "stage": "in_production",
                    "status": "active",
                    "referred_on": "2023-01-05",
                    "signed_on": "2023-03-10",
                    "contract_amount": "80000000.00",
                    "funds_total_cny": "32100000.00",
                    "planned_investment_cny": "100000000.00",
                    "production_started_on": "2023-11-01",
                    "capacity_reached_on": None,
                    "last_follow_up_on": "2023-12-01",
                    "open_issues": 1,
                    "version": 9,
                    "referrals": [{"association_id": "0c7d…", "share": "100"}],
                }
            ]
        }
    )

    project_id: str
    name: str
    investor: str
    industry: str
    project_type: str
    origin: str
    city: str
    county: str | None
    park: str | None
    stage: str
    status: str
    referred_on: str
    first_visit_on: str | None
    signed_on: str | None
    contract_amount: str | None
    registered_on: str | None
    construction_started_on: str | None
    production_started_on: str | None
    capacity_reached_on: str | None
    funds_total_cny: str
    planned_investment_cny: str
    visits: int
    negotiations: int
    follow_ups: int
    last_follow_up_on: str | None
    open_issues: int
    attested: bool | None
    version: int
    referrals: list[dict[str, str]]


class LedgerPageOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [], "total": 0, "page": 1, "size": 50}]}
    )

    items: list[LedgerRowOut]
    total: int
    page: int
    size: int


def _row(row: dict[str, Any]) -> dict[str, Any]:
    out = {
        k: v
        for k, v in row.items()
        if k not in MONEY_COLUMNS and k not in ("designations", "last_event_on")
    }
    for column, name in MONEY_COLUMNS.items():
        value = row.get(column)
        out[name] = None if value is None else str(from_fen(value))
    out["attested"] = None if row.get("attested") is None else bool(row["attested"])
    return out


def _scope(user: Principal) -> str | None:
    return None if user.can(P.READ) else (user.association_id or "none")


# A project's status as the ledger lists it (the labels people filter by; 正常 means active).
LEDGER_STATUSES = {"active": "推进中", "stalled": "停滞", "withdrawn": "已撤销"}
_STATUS_ALIASES = {"正常": "active", "在办": "active", "撤销": "withdrawn", "已停滞": "stalled"}


class Filters(BaseModel):
    stage: str | None
    city: str | None
    industry: str | None
    status: str | None


def _filters(
    stage: str | None, city: str | None, industry: str | None, status: str | None
) -> Filters:
    """The filters as codes: each given as its code or its Chinese label (`已投产`, `长沙`,
    `制造业`, `正常`); an unknown value is 422 listing the valid ones."""
    return Filters(
        stage=None if stage is None else parse_code(stage, STAGE_LABELS, "stage"),
        city=None if city is None else parse_city(city),
        industry=None if industry is None else parse_industry(industry),
        status=None
        if status is None
        else parse_code(status, LEDGER_STATUSES, "status", _STATUS_ALIASES),
    )


@router.get("/projects", response_model=LedgerPageOut)
def list_projects(
    user: Reader,
    read: Read,
    stage: Annotated[str | None, Query(description="a stage code or label (`已投产`)")] = None,
    city: Annotated[str | None, Query(description="`changsha`, `长沙市` or `长沙`")] = None,
    association_id: str | None = None,
    industry: Annotated[str | None, Query(description="a letter (`C`) or name")] = None,
    status: Annotated[str | None, Query(description="`active` (正常), `stalled`…")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
    officer: Annotated[
        str | None,
        Query(
            max_length=100,
            description="`me` or an officer's account id: the projects they are assigned to follow",
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="project name, investor or association name: Chinese substring, "
            "pinyin or initials (`lxkg`); best matches first",
        ),
    ] = None,
) -> dict[str, Any]:
    """The ledger, newest referral first (with `q`, best matches first); a liaison sees only
    its association's projects."""
    f = _filters(stage, city, industry, status)
    try:
        result = read.ledger_page(
            stage=f.stage,
            city=f.city,
            association_id=association_id,
            industry=f.industry,
            year=year,
            status=f.status,
            page=page,
            size=size,
            association_scope=_scope(user),
            officer_id=user.id if officer == "me" else officer,
            q=q,
        )
    except LookupError as e:
        raise not_ready(e) from e
    return {
        "items": [_row(r) for r in result.items],
        "total": result.total,
        "page": page,
        "size": size,
    }


LEDGER_COLUMNS = [
    ExportColumn("project_id", "项目编号"),
    ExportColumn("name", "项目名称"),
    ExportColumn("investor", "投资方"),
    ExportColumn("industry_label", "行业门类"),
    ExportColumn("project_type_label", "项目类型"),
    ExportColumn("origin_label", "资金来源地"),
    ExportColumn("city_label", "落地市州"),
    ExportColumn("county", "县市区"),
    ExportColumn("park", "园区"),
    ExportColumn("associations", "引荐商协会（占比%）"),
    ExportColumn("stage_label", "项目阶段"),
    ExportColumn("status_label", "状态"),
    ExportColumn("referred_on", "引荐日期", kind="date"),
    ExportColumn("signed_on", "签约日期", kind="date"),
    ExportColumn("contract_amount", "合同投资额（元）", money=True),
    ExportColumn("funds_total_cny", "累计到位资金（元）", money=True),
    ExportColumn("production_started_on", "投产日期", kind="date"),
    ExportColumn("capacity_reached_on", "达产日期", kind="date"),
    ExportColumn("last_follow_up_on", "最近回访日期", kind="date"),
    ExportColumn("open_issues", "未办结问题诉求"),
]


@router.get(
    "/projects/export",
    response_model=None,
    responses=documented(LedgerExportOut, "the ledger as XLSX (default), CSV or JSON", files=True),
)
def export_projects(
    user: Reader,
    read: Read,
    format: str = "xlsx",
    stage: str | None = None,
    city: str | None = None,
    association_id: str | None = None,
    industry: str | None = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    """The whole ledger (with the same filters) as JSON, CSV or XLSX with Chinese headers."""
    fmt = check_format(format)
    f = _filters(stage, city, industry, None)
    try:
        names = association_labels(read.associations())
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            result = read.ledger_page(
                stage=f.stage,
                city=f.city,
                association_id=association_id,
                industry=f.industry,
                year=year,
                page=page,
                size=500,
                association_scope=_scope(user),
            )
            rows.extend(_row(r) for r in result.items)
            if page * 500 >= result.total:
                break
            page += 1
    except LookupError as e:
        raise not_ready(e) from e
    for row in rows:
        row["industry_label"] = f"{row['industry']} {INDUSTRIES.get(row['industry'], '')}"
        row["project_type_label"] = PROJECT_TYPES.get(row["project_type"], row["project_type"])
        row["origin_label"] = ORIGINS.get(row["origin"], row["origin"])
        row["city_label"] = CITIES.get(row["city"], row["city"])
        row["stage_label"] = STAGE_LABELS.get(row["stage"], row["stage"])
        row["status_label"] = LEDGER_STATUSES.get(row["status"], row["status"])
        row["associations"] = [
            f"{names.get(r['association_id'], r['association_id'])}（{r['share']}）"
            for r in row["referrals"]
        ]
    sheet = Sheet("项目台账", LEDGER_COLUMNS, rows)
    return export(fmt, "项目台账", [sheet], {"items": rows, "total": len(rows)}, "ledger")


@router.get(
    "/follow-ups/due",
    response_model=None,
    responses=documented(FollowUpsDueOut, "the projects overdue a follow-up visit"),
)
def follow_ups_due(
    user: Reader,
    read: Read,
    ledger: Annotated[Ledger, Depends(get_ledger)],
    services: Annotated[Services, Depends(get_services)],
    as_of: date | None = None,
) -> dict[str, Any]:
    """Projects in production overdue a follow-up visit (回访) on `as_of` (default today)."""
    if as_of is not None:
        check_year(as_of, "as_of")  # 0001-01-01 minus the interval is no date at all
    day = as_of or business_date(ledger.clock())
    interval = services.follow_up_interval_days
    try:
        rows = read.follow_ups_due(day, interval)
        if not user.can(P.READ):
            own = {
                r["project_id"]
                for r in read.ledger_page(association_scope=_scope(user), size=500).items
            }
            rows = [r for r in rows if r["project_id"] in own]
    except LookupError as e:
        raise not_ready(e) from e
    return {"as_of": day.isoformat(), "interval_days": interval, "items": rows, "total": len(rows)}


@router.get(
    "/projects/{project_id}/verify",
    response_model=None,
    responses=documented(VerifyOut, "the project's hash chain recomputed"),
)
def verify(
    project_id: str,
    user: Annotated[Principal, Depends(require(P.READ_AUDIT, P.READ))],
    ledger: Annotated[Ledger, Depends(get_ledger)],
    services: Annotated[Services, Depends(get_services)],
) -> dict[str, Any]:
    """Recompute the project's hash chain: {ok, broken_at: {version, reason} | null}, and check
    that every file its events reference exists and hashes to its name (`files`)."""
    result: dict[str, Any] = dict(verify_project(ledger, project_id))
    files = services.files.verify(project_id)
    result["files"] = files.as_dict()
    result["ok"] = result["ok"] and files.ok
    return result
