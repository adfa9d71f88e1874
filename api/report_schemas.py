"""Response bodies of the reports (DESIGN §7, §8, §12): policies, reward figures, settlements and
their audit, the evaluation, the purchased service, checkpoints, dispatches, the follow-up due list
and a project's chain verification.

These bodies are built by the projections as plain JSON-ready dicts (money and scores as decimal
strings). The models here *document* them in OpenAPI (`responses=documented(Model)`) without
re-validating what the projections made, so a province-sized report costs no second pass; the
schemathesis test (`tests/e2e/test_schemathesis.py`) holds every answer to its model. Objects are
closed (`additionalProperties: false`): a new field is documented here or the test fails.
Open-ended parts (an explanation step's inputs, a dispatch's figures, a checkpoint's signed
document) are objects with free keys.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.exports import XLSX_TYPE

UUID_EXAMPLE = "3f1c2b9e-5d7a-4c1e-9a8b-2d4f6e8a0b1c"
PROJECT_EXAMPLE = "5b0e3f0c-2f0b-4a43-8f3c-4d2f8e3b9c11"
HASH_EXAMPLE = "5dfcda1f5b5f60b14620951fc665bd5f9a95fd68392bd33f538da9d208faa505"


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


def documented(
    model: type[BaseModel], description: str, status: int = 200, files: bool = False
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for an answer the route returns as a plain dict: its JSON model,
    and with `files` the CSV and XLSX forms of `?format=`."""
    response: dict[str, Any] = {"model": model, "description": description}
    if files:
        response["content"] = {
            "text/csv": {"schema": {"type": "string", "description": "UTF-8 with BOM"}},
            XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
        }
    return {status: response}


# ---- policies ------------------------------------------------------------------------------


class FileErrorOut(BaseModel):
    model_config = _example({"path": "rules.threshold.amount", "reason": "expected a number"})

    path: str
    reason: str


class TextOut(BaseModel):
    model_config = _example({"zh": "湖南省…实施办法（试行）", "en": "Implementation Measures…"})

    zh: str
    en: str


class JurisdictionOut(BaseModel):
    model_config = _example({"level": "province", "name": "湖南省", "name_en": "Hunan Province"})

    level: str
    name: str
    name_en: str
    city: str | None = None
    county: str | None = None
    park: str | None = None


class ValidityOut(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"examples": [{"from": "2022-09-01", "to": "2024-08-31"}]},
    )

    valid_from: str = Field(alias="from")
    valid_to: str = Field(alias="to")


class PolicyVersionOut(BaseModel):
    model_config = _example({"effective_from": "2022-09-01", "note": "原文（2022-09-30印发）"})

    effective_from: str
    note: str


class PolicyFileOut(BaseModel):
    """One reward-policy file: valid and loaded, or refused with every reason."""

    model_config = _example(
        {
            "id": "hunan-2022",
            "file": "projections/policies/hunan-2022.yaml",
            "valid": True,
            "errors": [],
            "title": {"zh": "湖南省…实施办法（试行）", "en": "Implementation Measures…"},
            "jurisdiction": {"level": "province", "name": "湖南省", "name_en": "Hunan Province"},
            "validity": {"from": "2022-09-01", "to": "2024-08-31"},
            "versions": [{"effective_from": "2022-09-01", "note": "原文"}],
        }
    )

    id: str | None
    file: str
    valid: bool
    errors: list[FileErrorOut]
    title: TextOut | None
    jurisdiction: JurisdictionOut | None
    validity: ValidityOut | None
    versions: list[PolicyVersionOut]


class EvaluationRulesFileOut(BaseModel):
    """One evaluation-rules file (三(二)); `version` and `provisional` when it loaded."""

    model_config = _example(
        {
            "kind": "evaluation",
            "id": "hunan-2022-evaluation",
            "policy": "hunan-2022",
            "file": "projections/policies/hunan-2022-evaluation.yaml",
            "valid": True,
            "errors": [],
            "version": 1,
            "provisional": True,
        }
    )

    kind: str
    id: str | None
    policy: str | None
    file: str
    valid: bool
    errors: list[FileErrorOut]
    version: int | None = None
    provisional: bool | None = None


class PoliciesOut(BaseModel):
    model_config = _example({"items": [], "evaluation_rules": []})

    items: list[PolicyFileOut]
    evaluation_rules: list[EvaluationRulesFileOut]


# ---- reward figures ---------------------------------------------------------------------------


class ParameterOut(BaseModel):
    model_config = _example({"name": "amount", "value": "20000000.00", "since": "2022-09-01"})

    name: str
    value: Any
    since: str


class ExplanationStepOut(BaseModel):
    """One step of a figure's explanation: the rule that fired, the clause it cites, its inputs,
    the parameters (with the date each took effect), the result, and the sentence (zh, en)."""

    model_config = _example(
        {
            "kind": "condition.threshold",
            "rule": "threshold",
            "clause": "四(二)3",
            "inputs": {"base": "25000000.00", "threshold": "20000000.00"},
            "parameters": [{"name": "operator", "value": ">=", "since": "2022-09-01"}],
            "result": True,
            "outcome": "met",
            "text_zh": "[四(二)3] 项目合计25,000,000.00元 ≥ 门槛20,000,000.00元，达到门槛",
            "text_en": "[四(二)3] Project total 25,000,000.00 yuan ≥ threshold …: threshold met",
        }
    )

    kind: str
    rule: str
    clause: str
    inputs: dict[str, Any]
    parameters: list[ParameterOut]
    result: Any
    outcome: str
    text_zh: str | None = None
    text_en: str | None = None


class ProjectRewardOut(BaseModel):
    """A project's row in an association's figures; `reward` is this association's part."""

    model_config = _example(
        {
            "project_id": PROJECT_EXAMPLE,
            "share": "100.00",
            "funds_in_year": "25000000.00",
            "status": "eligible",
            "project_reward": "25000.00",
            "reward": "25000.00",
            "explanation": [],
        }
    )

    project_id: str
    share: str
    funds_in_year: str
    status: str = Field(
        description="eligible | below_threshold | excluded | pending_attestation | "
        "no_funds_in_window (and the statuses other policies define)"
    )
    project_reward: str
    reward: str
    explanation: list[ExplanationStepOut] | None = Field(
        default=None, description="absent with `explain=false`"
    )


class AssociationRewardOut(BaseModel):
    model_config = _example(
        {
            "association_id": UUID_EXAMPLE,
            "total": "25000.00",
            "capped": False,
            "uncapped_total": "25000.00",
            "projects": [],
        }
    )

    association_id: str
    total: str
    capped: bool
    uncapped_total: str
    projects: list[ProjectRewardOut]
    explanation: list[ExplanationStepOut] | None = None


class RewardsOut(BaseModel):
    """A year's reward figures under a policy, per association and project (DESIGN §12)."""

    model_config = _example({"year": 2023, "policy": "hunan-2022", "associations": []})

    year: int
    policy: str
    associations: list[AssociationRewardOut]
    total: int | None = Field(default=None, description="with `page`: associations matching")
    page: int | None = None
    size: int | None = None


# ---- settlements ------------------------------------------------------------------------------


class SettlementTotalOut(BaseModel):
    model_config = _example(
        {
            "association_id": UUID_EXAMPLE,
            "total": "25000.00",
            "uncapped_total": "25000.00",
            "capped": False,
        }
    )

    association_id: str
    total: str
    uncapped_total: str
    capped: bool


class StampOut(BaseModel):
    model_config = _example(
        {"by": "财务处 王处长", "on": "2024-02-01", "reference": "湘商务〔2024〕12号"}
    )

    by: str
    on: str
    reference: str


class SettlementRevisionOut(BaseModel):
    model_config = _example(
        {
            "revision": 0,
            "settled_on": "2024-01-20",
            "position": 11,
            "document_hash": HASH_EXAMPLE,
            "total": "25000.00",
            "reason": "",
        }
    )

    revision: int
    settled_on: str
    position: int
    document_hash: str
    total: str
    reason: str


class SettlementOut(BaseModel):
    """A frozen settlement (结算): its totals, the policy version and event position it was
    computed at, its revisions, approval and payment; `figures` (the frozen reward figures)
    when asked for, and always in the answer to `POST /settlements`."""

    model_config = _example(
        {
            "id": "38933935-e75b-53b3-8c07-db218ccb02f8",
            "policy": "hunan-2022",
            "policy_version": "2022-09-01",
            "year": 2023,
            "revision": 0,
            "settled_on": "2024-01-20",
            "reason": None,
            "position": 11,
            "document_hash": HASH_EXAMPLE,
            "document_intact": True,
            "total": "25000.00",
            "totals": [],
            "approval": None,
            "payment": None,
            "revisions": [],
            "version": 1,
        }
    )

    id: str
    policy: str
    policy_version: str
    year: int
    revision: int
    settled_on: str
    reason: str | None
    position: int
    document_hash: str
    document_intact: bool
    total: str
    totals: list[SettlementTotalOut]
    approval: StampOut | None
    payment: StampOut | None
    revisions: list[SettlementRevisionOut]
    version: int
    figures: RewardsOut | None = None


class CauseOut(BaseModel):
    model_config = _example(
        {"project_id": PROJECT_EXAMPLE, "version": 5, "type": "funds_arrival_corrected"}
    )

    project_id: str
    version: int
    type: str


class DifferenceOut(BaseModel):
    model_config = _example(
        {
            "association_id": UUID_EXAMPLE,
            "settled_total": "25000.00",
            "recomputed_total": "0.00",
            "difference": "-25000.00",
            "projects": [PROJECT_EXAMPLE],
            "caused_by": [
                {"project_id": PROJECT_EXAMPLE, "version": 5, "type": "funds_arrival_corrected"}
            ],
        }
    )

    association_id: str
    settled_total: str
    recomputed_total: str
    difference: str = Field(description="recomputed minus settled")
    projects: list[str]
    caused_by: list[CauseOut]


class SettledOut(BaseModel):
    model_config = _example(
        {
            "revision": 0,
            "settled_on": "2024-01-20",
            "position": 11,
            "total": "25000.00",
            "document_hash": HASH_EXAMPLE,
        }
    )

    revision: int
    settled_on: str
    position: int
    total: str
    document_hash: str


class RecomputedOut(BaseModel):
    model_config = _example({"position": 14, "total": "0.00"})

    position: int
    total: str


class SettlementAuditOut(BaseModel):
    """The settlement recomputed now: every association whose figures moved, with the events
    recorded after the settlement's position that caused it."""

    model_config = _example(
        {
            "policy": "hunan-2022",
            "year": 2023,
            "settled": {
                "revision": 0,
                "settled_on": "2024-01-20",
                "position": 11,
                "total": "25000.00",
                "document_hash": HASH_EXAMPLE,
            },
            "recomputed": {"position": 14, "total": "0.00"},
            "differences": [],
        }
    )

    policy: str
    year: int
    settled: SettledOut
    recomputed: RecomputedOut
    differences: list[DifferenceOut]


# ---- evaluation -------------------------------------------------------------------------------


class IndicatorScoreOut(BaseModel):
    model_config = _example({"value": 2, "points": "3.00"})

    value: int | str = Field(description="a count, or yuan as a decimal string")
    points: str


class RankedAssociationOut(BaseModel):
    model_config = _example(
        {
            "rank": 1,
            "association_id": UUID_EXAMPLE,
            "name": "北京湖南商会",
            "score": "6.00",
            "indicators": {"promotion_service": {"value": 2, "points": "3.00"}},
            "tie_break": {"funds": "0.00", "signings": 0, "referrals": 1},
            "tie_broken_by": None,
            "published": True,
        }
    )

    rank: int
    association_id: str
    name: str
    score: str
    indicators: dict[str, IndicatorScoreOut]
    tie_break: dict[str, int | str]
    tie_broken_by: str | None
    published: bool


class ExcludedOut(BaseModel):
    model_config = _example({"association_id": UUID_EXAMPLE, "reason": "deactivated"})

    association_id: str
    reason: str


class PeriodOut(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"examples": [{"from": "2023-12-01", "to": "2024-11-30"}]},
    )

    period_from: str = Field(alias="from")
    period_to: str = Field(alias="to")


class EvaluationOut(BaseModel):
    """The evaluation year (1 December – 30 November) ranked; the top N published; ties
    broken as `tie_rule` states. `rules` names the rules file (version, SHA-256)."""

    model_config = _example(
        {
            "year": 2024,
            "period": {"from": "2023-12-01", "to": "2024-11-30"},
            "published_top_n": 40,
            "tie_rule": "equal scores (to 0.01) are ordered by higher arrived funds (yuan), …",
            "tie_rule_zh": "得分相同（精确到0.01）时依次按实际到位资金多者在前，…",
            "provisional": True,
            "rules": {"id": "hunan-2022-evaluation", "version": 1},
            "items": [],
            "excluded": [],
        }
    )

    year: int
    period: PeriodOut
    published_top_n: int
    tie_rule: str
    tie_rule_zh: str
    provisional: bool
    rules: dict[str, Any]
    items: list[RankedAssociationOut]
    excluded: list[ExcludedOut]
    positions: dict[str, int] | None = None


class DesignationsAwardedOut(BaseModel):
    model_config = _example({"awarded": [UUID_EXAMPLE], "skipped": []})

    awarded: list[str]
    skipped: list[str]


# ---- purchased service ------------------------------------------------------------------------


class SubsidyCreatedOut(BaseModel):
    model_config = _example({"subsidy_id": "ce9150db-0d32-4f9c-bbd4-ec0b3a2e84aa", "version": 2})

    subsidy_id: str
    version: int


class SubsidyOut(BaseModel):
    model_config = _example(
        {
            "subsidy_id": "ce9150db-0d32-4f9c-bbd4-ec0b3a2e84aa",
            "association_id": UUID_EXAMPLE,
            "amount": "50000.00",
            "occurred_on": "2024-12-20",
            "reason": "年度考评优秀",
        }
    )

    subsidy_id: str
    association_id: str
    amount: str
    occurred_on: str
    reason: str


class AmendmentOut(BaseModel):
    model_config = _example(
        {
            "occurred_on": "2024-06-01",
            "provider": "湖南省商会服务中心",
            "amount": "2900000.00",
            "reason": "增补",
        }
    )

    occurred_on: str
    provider: str
    amount: str
    reason: str


class ServiceContractOut(BaseModel):
    """The year's purchased-service contract (三(三)), its subsidies, what is paid and left."""

    model_config = _example(
        {
            "year": 2024,
            "contract_id": "8b532af5-3822-5346-9c92-50397e76c48e",
            "version": 2,
            "provider": "湖南省商会服务中心",
            "amount": "2800000.00",
            "annual_cap": "3000000.00",
            "clause": "三(三)",
            "occurred_on": "2024-03-01",
            "amendments": [],
            "subsidies": [],
            "paid_total": "50000.00",
            "remaining": "2750000.00",
        }
    )

    year: int
    contract_id: str
    version: int
    provider: str
    amount: str
    annual_cap: str
    clause: str
    occurred_on: str
    amendments: list[AmendmentOut]
    subsidies: list[SubsidyOut]
    paid_total: str
    remaining: str


# ---- checkpoints ------------------------------------------------------------------------------


class CheckpointProblemOut(BaseModel):
    model_config = _example(
        {
            "code": "head_missing",
            "reason": "the checkpoint's head is no longer in the stream",
            "stream_id": PROJECT_EXAMPLE,
            "version": 7,
            "detail": None,
        }
    )

    code: str
    reason: str
    stream_id: str | None
    version: int | None
    detail: str | None


class CheckpointVerificationOut(BaseModel):
    model_config = _example(
        {
            "ok": True,
            "signature_ok": True,
            "signed_by": "882a7c77245c76da05525d2b1d865e643e906b6ef051e3b3e5e6a38e4f00985a",
            "created_at": "2024-01-20T02:00:00Z",
            "last_notification_id": 6,
            "heads": 3,
            "heads_checked": 3,
            "streams_extended": 1,
            "events_then": 6,
            "events_now": 7,
            "problem_count": 0,
            "problems": [],
        }
    )

    ok: bool
    signature_ok: bool
    signed_by: str
    created_at: str
    last_notification_id: int | None
    heads: int
    heads_checked: int
    streams_extended: int
    events_then: int
    events_now: int
    problem_count: int
    problems: list[CheckpointProblemOut]


class CheckpointOut(BaseModel):
    model_config = _example(
        {
            "id": 1,
            "created_at": "2024-01-20T02:00:00Z",
            "last_notification_id": 6,
            "public_key": "882a7c77245c76da05525d2b1d865e643e906b6ef051e3b3e5e6a38e4f00985a",
            "document": {"format": "zhaoshang-checkpoint/1", "heads": [], "signature": "31ab…"},
        }
    )

    id: int
    created_at: str
    last_notification_id: int | None
    public_key: str
    document: dict[str, Any] = Field(description="the signed checkpoint, as exported")
    verification: CheckpointVerificationOut | None = None


class CheckpointListOut(BaseModel):
    model_config = _example({"items": [], "total": 0})

    items: list[CheckpointOut]
    total: int


class CheckpointMadeOut(BaseModel):
    model_config = _example(
        {"id": 1, "checkpoint": {"format": "zhaoshang-checkpoint/1", "heads": [], "signature": "…"}}
    )

    id: int
    checkpoint: dict[str, Any] = Field(
        description="the signed checkpoint: every stream's head (id, version, hash), created_at, "
        "last_notification_id, the signer's public key and the Ed25519 signature"
    )


# ---- dispatches, follow-ups, verification, the ledger export ----------------------------------


class DocumentSummaryOut(BaseModel):
    model_config = _example(
        {
            "id": 9,
            "kind": "dispatch",
            "period": "2023Q4",
            "revision": 0,
            "content_hash": HASH_EXAMPLE,
            "position": 14,
            "generated_at": "2024-01-01T16:05:00+00:00",
            "generated_by": "scheduler",
            "revises": None,
            "changes": None,
        }
    )

    id: int
    kind: str
    period: str
    revision: int
    content_hash: str
    position: int
    generated_at: str
    generated_by: str
    revises: int | None
    changes: dict[str, Any] | None


class DispatchListOut(BaseModel):
    model_config = _example({"items": [], "total": 0})

    items: list[DocumentSummaryOut]
    total: int


class DispatchOut(DocumentSummaryOut):
    """A frozen quarterly dispatch (季调度): its summary and its content (figures per province,
    city and association; per-project progress; signings without funds or construction;
    projects overdue a follow-up)."""

    model_config = _example(
        {
            "id": 9,
            "kind": "dispatch",
            "period": "2023Q4",
            "revision": 0,
            "content_hash": HASH_EXAMPLE,
            "position": 14,
            "generated_at": "2024-01-01T16:05:00+00:00",
            "generated_by": "scheduler",
            "revises": None,
            "changes": None,
            "content": {"figures": {}, "progress": [], "stalled_signings": []},
        }
    )

    content: dict[str, Any]


class FollowUpDueOut(BaseModel):
    model_config = _example(
        {
            "project_id": PROJECT_EXAMPLE,
            "name": "新材料产业园",
            "city": "changsha",
            "stage": "in_production",
            "production_started_on": "2023-07-01",
            "last_follow_up_on": "2023-12-01",
            "open_issues": 1,
            "last_contact_on": "2023-12-01",
            "days_since": 385,
            "overdue_days": 205,
        }
    )

    project_id: str
    name: str
    city: str
    stage: str
    production_started_on: str
    last_follow_up_on: str | None
    open_issues: int
    last_contact_on: str
    days_since: int
    overdue_days: int


class FollowUpsDueOut(BaseModel):
    model_config = _example({"as_of": "2024-12-20", "interval_days": 180, "items": [], "total": 0})

    as_of: str
    interval_days: int
    items: list[FollowUpDueOut]
    total: int


class BrokenAtOut(BaseModel):
    model_config = _example(
        {"version": 4, "reason": "the stored state was altered", "code": "event_altered"}
    )

    version: int
    reason: str
    code: str


class FileProblemOut(BaseModel):
    model_config = _example(
        {
            "project_id": "5b0e3f0c-2f0b-4a43-8f3c-4d2f8e3b9c11",
            "version": 5,
            "sha256": HASH_EXAMPLE,
            "name": "入账凭证.pdf",
            "code": "file_altered",
            "reason": "the stored bytes hash to 41ab…",
        }
    )

    project_id: str
    version: int
    sha256: str
    name: str
    code: str  # file_missing | file_altered
    reason: str


class FilesVerifyOut(BaseModel):
    """Every file the events reference: present and hashing to its name, or the first not."""

    model_config = _example({"ok": True, "files": 2, "references": 3, "broken_at": None})

    ok: bool
    files: int
    references: int
    broken_at: FileProblemOut | None


class VerifyOut(BaseModel):
    model_config = _example(
        {"ok": True, "broken_at": None, "events": 7, "version": 7, "hash": HASH_EXAMPLE}
    )

    ok: bool
    broken_at: BrokenAtOut | None
    events: int
    version: int
    hash: str
    files: FilesVerifyOut | None = None


class LedgerExportOut(BaseModel):
    """The ledger export as JSON: the list rows with Chinese labels added."""

    model_config = _example({"items": [], "total": 0})

    items: list[dict[str, Any]]
    total: int
