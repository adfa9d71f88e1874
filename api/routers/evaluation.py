"""The annual evaluation (三(二)), designations from its ranking, and the purchased service
(三(三), 四(二)1) with its subsidies."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field

from adapters.lock import CommandLock
from api.auth import Permission, Principal
from api.deps import get_ledger, get_write_lock, require
from api.exports import ExportColumn, Sheet, check_format, export
from api.read_models import get_services, not_ready
from api.report_schemas import (
    DesignationsAwardedOut,
    EvaluationOut,
    ServiceContractOut,
    SubsidyCreatedOut,
    documented,
)
from api.schemas import CreatedOut, Day, Money, WriteIn, YearPath, plain
from domain.application import Ledger
from projections.evaluation import EvaluationRules
from services.bootstrap import Services
from services.designations import award_designations_from_ranking

router = APIRouter(tags=["evaluation"])
P = Permission
Reader = Annotated[Principal, Depends(require(P.READ))]
Ledgers = Annotated[Ledger, Depends(get_ledger)]
WriteLock = Annotated[CommandLock, Depends(get_write_lock)]
AllServices = Annotated[Services, Depends(get_services)]


class DesignationAwardIn(WriteIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"designation": "advanced_unit", "top": 10, "occurred_on": "2024-12-20"}]
        },
    )

    designation: str = Field(min_length=1, max_length=32)
    top: int | None = Field(default=None, ge=1, le=1000)
    occurred_on: Day | None = None


class ServiceContractIn(WriteIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "year": 2024,
                    "provider": "湖南省商会服务中心",
                    "amount": "2800000.00",
                    "occurred_on": "2024-03-01",
                }
            ]
        },
    )

    year: int = Field(ge=2000, le=2100)
    provider: str = Field(min_length=1, max_length=200)
    amount: Money
    occurred_on: Day


class SubsidyIn(WriteIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "association_id": "0c7d3f0e-…",
                    "amount": "50000.00",
                    "occurred_on": "2024-12-20",
                    "reason": "年度考评优秀",
                }
            ]
        },
    )

    association_id: str = Field(min_length=1, max_length=64)
    amount: Money
    occurred_on: Day
    reason: str = Field(min_length=1, max_length=2000)


@router.get(
    "/evaluations/{year}",
    response_model=None,
    responses=documented(
        EvaluationOut, "the ranking of the evaluation year, or `?format=csv|xlsx`", files=True
    ),
)
def evaluation(
    year: YearPath, user: Reader, services: AllServices, format: str = "json"
) -> Response | dict[str, Any]:
    """The evaluation year (1 December – 30 November) ranked; the top N published. Also
    `?format=csv|xlsx` with Chinese headers; any other format → 422."""
    fmt = check_format(format)
    try:
        result = services.evaluations.evaluation(year)
    except LookupError as e:
        raise not_ready(e) from e
    body = result.as_dict()
    if fmt == "json":
        # Already JSON-ready (decimal strings, counts, names): rendered as it is, without
        # FastAPI's walk over 2,000 rows' values (most of this answer's time at province scale).
        return JSONResponse(body)
    return export(
        fmt,
        f"商协会考评-{year}",
        [evaluation_sheet(result.rules, body)],
        body,
        f"evaluation-{year}",
    )


UNITS_ZH = {"count": "项", "yuan": "元"}


def evaluation_sheet(rules: EvaluationRules, body: dict[str, Any]) -> Sheet:
    """One row per association: rank, name, score, each indicator's value and points."""
    columns = [
        ExportColumn("rank", "排名"),
        ExportColumn("association_id", "商协会编号"),
        ExportColumn("name", "商协会名称"),
        ExportColumn("score", "总分"),
    ]
    for indicator in rules.indicators:
        columns.append(
            ExportColumn(
                f"{indicator.id}.value",
                f"{indicator.label_zh}（{UNITS_ZH.get(indicator.unit, indicator.unit)}）",
            )
        )
        columns.append(ExportColumn(f"{indicator.id}.points", f"{indicator.label_zh}得分"))
    columns.append(ExportColumn("published", "是否公布"))
    rows = []
    for item in body["items"]:
        row: dict[str, Any] = {
            "rank": item["rank"],
            "association_id": item["association_id"],
            "name": item["name"],
            "score": Decimal(item["score"]),
            "published": "是" if item["published"] else "否",
        }
        for indicator_id, figures in item["indicators"].items():
            value = figures["value"]
            row[f"{indicator_id}.value"] = Decimal(value) if isinstance(value, str) else value
            row[f"{indicator_id}.points"] = Decimal(figures["points"])
        rows.append(row)
    return Sheet(f"{year_title(body)}考评", columns, rows)


def year_title(body: dict[str, Any]) -> str:
    return f"{body['year']}年度"


@router.post(
    "/evaluations/{year}/designations", status_code=201, response_model=DesignationsAwardedOut
)
def award(
    year: YearPath,
    body: DesignationAwardIn,
    user: Annotated[Principal, Depends(require(P.DESIGNATIONS))],
    ledger: Ledgers,
    lock: WriteLock,
    services: AllServices,
) -> dict[str, Any]:
    """Award a designation (advanced_unit, liaison_station, ambassador) to the top ranks, as
    events on each association; associations already holding it are skipped."""
    ctx = ledger.context(user.actor(), source="api", evidence=body.evidence_refs())
    try:
        ranking = services.evaluations.evaluation(year)
    except LookupError as e:
        raise not_ready(e) from e
    with lock:
        return award_designations_from_ranking(
            ledger, ctx, ranking, body.designation, top=body.top, occurred_on=body.occurred_on
        )


@router.post("/service-contracts", status_code=201, response_model=CreatedOut)
def create_contract(
    body: ServiceContractIn,
    user: Annotated[Principal, Depends(require(P.SERVICE_CONTRACTS))],
    ledger: Ledgers,
    lock: WriteLock,
    services: AllServices,
) -> dict[str, Any]:
    """The year's purchased-service contract; above the annual cap → 409 `over_cap`."""
    ctx = ledger.context(user.actor(), source="api", evidence=body.evidence_refs())
    cap = services.evaluation_rules.purchased_service_cap
    with lock:
        contract_id, version = ledger.create_service_contract(ctx, cap=cap, **body.fields())
    return {"id": str(contract_id), "version": version}


@router.post(
    "/service-contracts/{year}/subsidies", status_code=201, response_model=SubsidyCreatedOut
)
def pay_subsidy(
    year: YearPath,
    body: SubsidyIn,
    user: Annotated[Principal, Depends(require(P.SERVICE_CONTRACTS))],
    ledger: Ledgers,
    lock: WriteLock,
) -> dict[str, Any]:
    """A subsidy paid to an association out of the contract; beyond it → 409 `over_cap`."""
    ctx = ledger.context(user.actor(), source="api", evidence=body.evidence_refs())
    with lock:
        subsidy_id, version = ledger.pay_subsidy(ctx, year, **body.fields())
    return {"subsidy_id": subsidy_id, "version": version}


@router.get(
    "/service-contracts/{year}",
    response_model=None,
    responses=documented(ServiceContractOut, "the contract, its subsidies, what is left"),
)
def contract(year: YearPath, user: Reader, ledger: Ledgers) -> dict[str, Any]:
    return dict(plain(ledger.service_contract(year)))
