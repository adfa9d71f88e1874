"""Rewards, policies, settlements and their audit (DESIGN §7, §12)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import ConfigDict, Field

from adapters.lock import CommandLock
from api.auth import Permission, Principal
from api.deps import get_ledger, get_write_lock, require
from api.errors import error_responses
from api.exports import ExportColumn, Sheet, association_labels, check_format, export
from api.read_models import get_services, get_settlements
from api.report_schemas import (
    PoliciesOut,
    RewardsOut,
    SettlementAuditOut,
    SettlementOut,
    documented,
)
from api.schemas import Day, In, VersionOut, WriteIn, YearPath
from domain.application import Ledger
from projections.policy.explain import STATUS_LABELS
from projections.rewards import RewardQuery
from services.bootstrap import Services
from services.settlements import SettlementService

router = APIRouter(tags=["rewards"])
# The read-model position (the last event applied) the figures of an answer are exactly of.
POSITION_HEADER = "X-Read-Models-Position"
P = Permission
Reader = Annotated[Principal, Depends(require(P.READ))]
Auditor = Annotated[Principal, Depends(require(P.READ_AUDIT))]
Settler = Annotated[Principal, Depends(require(P.SETTLEMENTS))]
Settlements = Annotated[SettlementService, Depends(get_settlements)]
Ledgers = Annotated[Ledger, Depends(get_ledger)]
WriteLock = Annotated[CommandLock, Depends(get_write_lock)]


class SettlementIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"policy": "hunan-2022", "year": 2023},
                {
                    "policy": "hunan-2022",
                    "year": 2023,
                    "revise": True,
                    "reason": "2024-02-10 银行回单更正",
                },
            ]
        },
    )

    policy: str = Field(default="hunan-2022", min_length=1, max_length=64)
    year: int = Field(ge=2000, le=2100)
    revise: bool = False
    reason: str | None = Field(default=None, max_length=2000)


class SettlementStampIn(WriteIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "occurred_on": "2024-02-01",
                    "by": "财务处 王处长",
                    "reference": "湘商务〔2024〕12号",
                }
            ]
        },
    )

    occurred_on: Day
    by: str = Field(min_length=1, max_length=100)
    reference: str = Field(min_length=1, max_length=200)


@router.get(
    "/policies",
    response_model=None,
    responses=documented(PoliciesOut, "the policy and evaluation-rules files loaded"),
)
def policies(user: Reader, services: Annotated[Services, Depends(get_services)]) -> dict[str, Any]:
    """Every policy file loaded (project folder and ZHAOSHANG_POLICY_PATH) with its validation
    result, and the evaluation rules files beside them."""
    return services.rules.listing()


@router.post("/policies/reload", response_model=None)
def reload_policies(
    user: Annotated[Principal, Depends(require(P.POLICIES))],
    services: Annotated[Services, Depends(get_services)],
) -> dict[str, Any]:
    """Read every policy and evaluation-rules file again (a department dropped or edited one):
    the ids now loaded and every file refused, with file, path and reason. Admins only."""
    return services.reload_rules().summary()


REWARD_COLUMNS = [
    ExportColumn("association_name", "商协会"),
    ExportColumn("association_total", "商协会奖励合计（元）", money=True),
    ExportColumn("capped", "是否封顶"),
    ExportColumn("project_name", "项目名称"),
    ExportColumn("share", "引荐占比（%）", kind="number"),
    ExportColumn("funds_in_year", "当年实际到位资金（元）", money=True),
    ExportColumn("status_label", "资格状态"),
    ExportColumn("project_reward", "项目奖励（元）", money=True),
    ExportColumn("reward", "本会所得（元）", money=True),
]


@router.get(
    "/rewards/{year}",
    response_model=None,
    responses={
        **documented(RewardsOut, "the figures, or `?format=csv|xlsx`", files=True),
        **error_responses(409),
    },
)
def rewards(
    year: YearPath,
    user: Reader,
    service: Settlements,
    services: Annotated[Services, Depends(get_services)],
    policy: str = "hunan-2022",
    format: str = "json",
    page: Annotated[
        int | None, Query(ge=1, le=100_000, description="a page of `size` associations")
    ] = None,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
    association_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    status: Annotated[
        str | None,
        Query(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="only project rows of this status"),
    ] = None,
    explain: Annotated[bool, Query(description="each row's explanation (default true)")] = True,
    lang: Annotated[
        Literal["zh", "en"] | None, Query(description="explanations in this language only")
    ] = None,
) -> Response | dict[str, Any]:
    """A year's reward figures per association and project, each with its explanation; with
    `page`, that page of associations and `total`, `page`, `size`. The workbook names
    associations (with their city where two share a name) and projects."""
    fmt = check_format(format)
    query = RewardQuery(page, size, association_id, status, explain, lang)
    # The figures are exactly those of the read model at the position said (the last event it
    # applied): every event recorded before the request, perhaps a few more.
    if fmt == "json":
        # Encoded by msgspec, each association once for as long as it is unchanged: FastAPI's
        # generic encoder walks every value of a province's figures (seconds).
        position, content = service.figures_json(policy, year, query)
        return Response(
            content, media_type="application/json", headers={POSITION_HEADER: str(position)}
        )
    position, body = service.figures_at(policy, year, query)
    stamp = {POSITION_HEADER: str(position)}
    try:
        names = association_labels(services.read_models.associations())
        project_names = services.read_models.project_names()
    except LookupError:  # no read models yet: the ids stand in for the names
        names, project_names = {}, {}
    rows = [
        {
            "association_id": a["association_id"],
            "association_name": names.get(a["association_id"], a["association_id"]),
            "association_total": a["total"],
            "capped": "是" if a["capped"] else "否",
            **project,
            "project_name": project_names.get(project["project_id"], project["project_id"]),
            "status_label": STATUS_LABELS.get(project["status"], (project["status"],))[0],
        }
        for a in body["associations"]
        for project in a["projects"]
    ]
    # Ids stay in the workbook, after the names, so a row can be traced back.
    columns = [
        *REWARD_COLUMNS,
        ExportColumn("association_id", "商协会编号"),
        ExportColumn("project_id", "项目编号"),
    ]
    sheets = [Sheet("奖励测算", columns, rows)]
    answer = export(fmt, f"奖励测算-{policy}-{year}", sheets, body, f"rewards-{policy}-{year}")
    answer.headers.update(stamp)
    return answer


@router.post(
    "/settlements",
    status_code=201,
    response_model=None,
    responses={
        **documented(SettlementOut, "the frozen settlement, with its figures", 201),
        **error_responses(404),
    },
)
def settle(
    body: SettlementIn, user: Settler, service: Settlements, ledger: Ledgers, lock: WriteLock
) -> dict[str, Any]:
    """Freeze a year's figures; again → 409 `settlement_exists` unless `revise` with a reason."""
    ctx = ledger.context(user.actor(), source="api")
    with lock:
        return service.settle(ctx, body.policy, body.year, revise=body.revise, reason=body.reason)


@router.get(
    "/settlements/{policy}/{year}",
    response_model=None,
    responses=documented(SettlementOut, "the settlement (`?figures=true`: with its figures)"),
)
def settlement(
    policy: str, year: YearPath, user: Reader, service: Settlements, figures: bool = False
) -> dict[str, Any]:
    return service.describe(policy, year, with_content=figures)


@router.post("/settlements/{policy}/{year}/approval", status_code=201, response_model=VersionOut)
def approve(
    policy: str,
    year: YearPath,
    body: SettlementStampIn,
    user: Settler,
    service: Settlements,
    ledger: Ledgers,
    lock: WriteLock,
) -> dict[str, Any]:
    ctx = ledger.context(user.actor(), source="api", evidence=body.evidence_refs())
    with lock:
        return {"version": service.approve(ctx, policy, year, **body.fields())}


@router.post("/settlements/{policy}/{year}/payment", status_code=201, response_model=VersionOut)
def pay(
    policy: str,
    year: YearPath,
    body: SettlementStampIn,
    user: Settler,
    service: Settlements,
    ledger: Ledgers,
    lock: WriteLock,
) -> dict[str, Any]:
    ctx = ledger.context(user.actor(), source="api", evidence=body.evidence_refs())
    with lock:
        return {"version": service.pay(ctx, policy, year, **body.fields())}


@router.get(
    "/settlements/{policy}/{year}/audit",
    response_model=None,
    responses=documented(SettlementAuditOut, "the settlement recomputed now"),
)
def audit(policy: str, year: YearPath, user: Auditor, service: Settlements) -> dict[str, Any]:
    """Recompute now and list every difference with the events that caused it."""
    return service.audit(policy, year)
