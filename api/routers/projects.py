"""Projects: referral, every event of a project's life, its state at any point, its history.

Every write answers 201 with the version the project reached (`ETag` too) and accepts an
optional `If-Match: "<version>"`; reads are scoped for a liaison to the projects its
association refers.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import TypeAdapter

from api.account_schemas import OfficerIn
from api.auth import Permission, Principal
from api.deps import Writer, etag, get_kept_answers, get_ledger, require, writer
from api.encoding import KeptAnswers, json_response
from api.schemas import (
    ArrivalCreatedOut,
    AttestationIn,
    AttributionIn,
    ClassificationIn,
    CreatedOut,
    FixedAssetInvestmentIn,
    FollowUpIn,
    FollowUpOut,
    FundsArrivalIn,
    FundsCorrectionIn,
    FundsVoidIn,
    HistoryEntryOut,
    IssueUpdateIn,
    MilestoneIn,
    NegotiationIn,
    ProductionIn,
    ProjectIn,
    ProjectOut,
    SigningIn,
    StatusIn,
    VersionOut,
    VisitIn,
)
from domain import errors
from domain.application import Ledger

router = APIRouter(prefix="/projects", tags=["projects"])

P = Permission
Reader = Annotated[Principal, Depends(require(P.READ, P.READ_OWN))]
Ledgers = Annotated[Ledger, Depends(get_ledger)]
Kept = Annotated[KeptAnswers, Depends(get_kept_answers)]
EventWriter = Annotated[Writer, Depends(writer(P.PROJECT_EVENTS))]
JudgementWriter = Annotated[Writer, Depends(writer(P.JUDGEMENTS))]
OfficerWriter = Annotated[Writer, Depends(writer(P.ASSIGN_OFFICERS))]

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _query_day(value: str, field: str) -> str:
    if not _DAY.fullmatch(value) or not 1900 <= int(value[:4]) <= 2999:
        raise errors.InvalidInput("a date is written YYYY-MM-DD (years 1900–2999)", field=field)
    return value


def _written(response: Response, version: int) -> VersionOut:
    response.headers["ETag"] = etag(version)
    return VersionOut(version=version)


# ---- referral and reads --------------------------------------------------------------------


@router.post("", status_code=201, response_model=CreatedOut, summary="Refer a project")
def refer_project(
    body: ProjectIn,
    response: Response,
    w: Annotated[Writer, Depends(writer(P.REFER_PROJECT, P.REFER_OWN_PROJECT, conditional=False))],
) -> CreatedOut:
    w.user.check_refers(r.association_id for r in body.referrals)
    project_id, version = w.create(w.ledger.refer_project, body)
    response.headers["Location"] = f"/projects/{project_id}"
    response.headers["ETag"] = etag(version)
    return CreatedOut(id=project_id, version=version)


@router.get("/{project_id}", response_model=ProjectOut, summary="A project's state")
def get_project(
    project_id: str,
    user: Reader,
    ledger: Ledgers,
    kept: Kept,
    as_of_version: Annotated[int | None, Query(description="the state at this version")] = None,
    as_of: Annotated[
        str | None, Query(description="the state from events that occurred on or before")
    ] = None,
    known_on: Annotated[
        str | None, Query(description="the state as recorded by the end of this day")
    ] = None,
) -> Response:
    """Now, or as of a version, a business date (`as_of`, by `occurred_on`) or a day the
    record stood on (`known_on`, by `recorded_at`, Asia/Shanghai). `ETag` is the version
    of the state answered."""
    current = ledger.get_project(project_id)
    user.check_reads_project(current.association_ids(), project_id)
    given = [
        n
        for n, v in (("as_of_version", as_of_version), ("as_of", as_of), ("known_on", known_on))
        if v is not None
    ]
    if len(given) > 1:
        raise errors.InvalidInput(
            f"give at most one of as_of_version, as_of, known_on (got {', '.join(given)})",
            field=given[1],
        )
    if as_of_version is not None:
        project = ledger.project_as_of_version(project_id, as_of_version)
    elif as_of is not None:
        project = ledger.project_as_of(project_id, _query_day(as_of, "as_of"))
    elif known_on is not None:
        project = ledger.project_known_on(project_id, _query_day(known_on, "known_on"))
    else:
        project = current

    def encoded() -> bytes:
        return ProjectOut.of(project).model_dump_json().encode()

    # The state at a version (now, or `as_of_version`) never changes: its answer is kept. A
    # state as of a date leaves events out, so its version does not name it.
    by_version = as_of is None and known_on is None
    body = kept.get(("project", project.id, project.version), encoded) if by_version else encoded()
    return json_response(body, {"ETag": etag(project.version)})


HISTORY = TypeAdapter(list[HistoryEntryOut])


@router.get(
    "/{project_id}/history", response_model=list[HistoryEntryOut], summary="A project's history"
)
def project_history(project_id: str, user: Reader, ledger: Ledgers, kept: Kept) -> Response:
    """Every stored event with its envelope, data and hash-chain link, oldest first. `ETag`
    is the version of the last."""
    project = ledger.get_project(project_id)
    user.check_reads_project(project.association_ids(), project_id)

    def encoded() -> bytes:
        entries = ledger.history(project_id, up_to_version=project.version)
        return HISTORY.dump_json([HistoryEntryOut.of(e) for e in entries])

    body = kept.get(("history", project.id, project.version), encoded)
    return json_response(body, {"ETag": etag(project.version)})


# ---- project events (officer, staff, admin) --------------------------------------------------


@router.post("/{project_id}/visits", status_code=201, response_model=VersionOut)
def record_visit(project_id: str, body: VisitIn, response: Response, w: EventWriter) -> VersionOut:
    return _written(response, w.project(w.ledger.record_visit, project_id, body))


@router.post("/{project_id}/negotiations", status_code=201, response_model=VersionOut)
def record_negotiation(
    project_id: str, body: NegotiationIn, response: Response, w: EventWriter
) -> VersionOut:
    return _written(response, w.project(w.ledger.record_negotiation, project_id, body))


@router.post("/{project_id}/signing", status_code=201, response_model=VersionOut)
def sign(project_id: str, body: SigningIn, response: Response, w: EventWriter) -> VersionOut:
    return _written(response, w.project(w.ledger.sign, project_id, body))


@router.post("/{project_id}/registration", status_code=201, response_model=VersionOut)
def register_company(
    project_id: str, body: MilestoneIn, response: Response, w: EventWriter
) -> VersionOut:
    return _written(response, w.project(w.ledger.register_company, project_id, body))


@router.post("/{project_id}/construction", status_code=201, response_model=VersionOut)
def start_construction(
    project_id: str, body: MilestoneIn, response: Response, w: EventWriter
) -> VersionOut:
    return _written(response, w.project(w.ledger.start_construction, project_id, body))


@router.post("/{project_id}/funds", status_code=201, response_model=ArrivalCreatedOut)
def record_funds_arrival(
    project_id: str, body: FundsArrivalIn, response: Response, w: EventWriter
) -> ArrivalCreatedOut:
    arrival_id, version = w.project(w.ledger.record_funds_arrival, project_id, body)
    response.headers["ETag"] = etag(version)
    return ArrivalCreatedOut(arrival_id=arrival_id, version=version)


@router.post(
    "/{project_id}/funds/{arrival_id}/corrections", status_code=201, response_model=VersionOut
)
def correct_funds_arrival(
    project_id: str, arrival_id: str, body: FundsCorrectionIn, response: Response, w: EventWriter
) -> VersionOut:
    version = w.project(w.ledger.correct_funds_arrival, project_id, body, arrival_id=arrival_id)
    return _written(response, version)


@router.post("/{project_id}/funds/{arrival_id}/void", status_code=201, response_model=VersionOut)
def void_funds_arrival(
    project_id: str, arrival_id: str, body: FundsVoidIn, response: Response, w: EventWriter
) -> VersionOut:
    version = w.project(w.ledger.void_funds_arrival, project_id, body, arrival_id=arrival_id)
    return _written(response, version)


@router.post("/{project_id}/fixed-asset-investment", status_code=201, response_model=VersionOut)
def report_fixed_asset_investment(
    project_id: str, body: FixedAssetInvestmentIn, response: Response, w: EventWriter
) -> VersionOut:
    version = w.project(w.ledger.report_fixed_asset_investment, project_id, body)
    return _written(response, version)


@router.post("/{project_id}/production", status_code=201, response_model=VersionOut)
def record_production(
    project_id: str, body: ProductionIn, response: Response, w: EventWriter
) -> VersionOut:
    return _written(response, w.project(w.ledger.record_production, project_id, body))


@router.post("/{project_id}/follow-ups", status_code=201, response_model=FollowUpOut)
def record_follow_up_visit(
    project_id: str, body: FollowUpIn, response: Response, w: EventWriter
) -> FollowUpOut:
    version, issue_ids = w.project(w.ledger.record_follow_up_visit, project_id, body)
    response.headers["ETag"] = etag(version)
    return FollowUpOut(version=version, issue_ids=issue_ids)


@router.post("/{project_id}/issues/{issue_id}", status_code=201, response_model=VersionOut)
def update_issue(
    project_id: str, issue_id: str, body: IssueUpdateIn, response: Response, w: EventWriter
) -> VersionOut:
    version = w.project(w.ledger.update_issue, project_id, body, issue_id=issue_id)
    return _written(response, version)


@router.post("/{project_id}/status", status_code=201, response_model=VersionOut)
def change_status(
    project_id: str, body: StatusIn, response: Response, w: EventWriter
) -> VersionOut:
    return _written(response, w.project(w.ledger.change_status, project_id, body))


# ---- judgements (staff, admin) ------------------------------------------------------------


@router.post("/{project_id}/attestations", status_code=201, response_model=VersionOut)
def record_attestation(
    project_id: str, body: AttestationIn, response: Response, w: JudgementWriter
) -> VersionOut:
    return _written(response, w.project(w.ledger.record_attestation, project_id, body))


@router.post("/{project_id}/attribution", status_code=201, response_model=VersionOut)
def change_attribution(
    project_id: str, body: AttributionIn, response: Response, w: JudgementWriter
) -> VersionOut:
    return _written(response, w.project(w.ledger.change_attribution, project_id, body))


@router.post("/{project_id}/classification", status_code=201, response_model=VersionOut)
def reclassify(
    project_id: str, body: ClassificationIn, response: Response, w: JudgementWriter
) -> VersionOut:
    return _written(response, w.project(w.ledger.reclassify, project_id, body))


# ---- officers following a project (staff, admin; issue 15) -----------------------------------


@router.post("/{project_id}/officers", status_code=201, response_model=VersionOut)
def assign_officer(
    project_id: str, body: OfficerIn, response: Response, w: OfficerWriter
) -> VersionOut:
    """Assign an officer (an active account of role officer or staff) to follow the project,
    or with `remove: true` unassign one. `GET /projects?officer=me` lists an officer's own."""
    return _written(response, w.project(w.ledger.assign_officer, project_id, body))
