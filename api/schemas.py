"""Request and response bodies of the HTTP API (DESIGN §12), named by purpose.

Input types are deliberately loose where the domain validates (codes, texts, currencies, dates
are strings the domain parses and refuses with its own stable codes), and strict where JSON
itself can lose or invent meaning:

- money crosses the API as decimal strings (`"1250000.00"`); a JSON number with a fraction is
  refused with 422 `invalid_amount` (a float has already lost the fen). Whole JSON integers are
  accepted, they lose nothing;
- a referral share is a number or a decimal string with at most two decimals (`60`, `33.34`);
- dates are `YYYY-MM-DD` strings; whole numbers (`year`, `count`, `employees`) and `granted`
  must be real JSON integers and booleans, never `"2024"` or `"yes"`;
- unknown fields are refused, so a misspelt optional field is not silently dropped;
- the bounds the domain enforces (`domain.values`, DESIGN §21) are stated in the OpenAPI — text
  lengths and the control characters a text may not hold, amounts (10^13 yuan, 15 digits in
  another currency), rates, counts — and left to the domain to check, so a refusal carries the
  domain's code (`out_of_range`, `invalid_text`, …) whichever layer could have made it.

Every response model is built from the domain's objects in one place (`ProjectOut.of`,
`AssociationOut.of`, `HistoryEntryOut.of`).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import Path
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from domain.application import HistoryEntry
from domain.association import Association
from domain.project import STAGE_LABELS, Project

# ---- value types -------------------------------------------------------------------------

# ASCII digits only: `\\d` would take "１００" and "١٠٠" as numbers.
_DECIMAL = re.compile(r"[+-]?[0-9]{1,15}(\.[0-9]{1,20})?")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _money(value: Any) -> str:
    if isinstance(value, float):
        raise PydanticCustomError(
            "invalid_amount",
            'money is a decimal string such as "1250000.00", not a JSON number with a fraction',
        )
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise PydanticCustomError(
            "invalid_amount", 'money is a decimal string such as "1250000.00"'
        )
    if not _DECIMAL.fullmatch(value):
        raise PydanticCustomError(
            "invalid_amount",
            "not a plain decimal number (digits, at most 15 before the point, no exponent)",
        )
    return value


def _share(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PydanticCustomError("validation_error", "a share is a number such as 60 or 33.34")
    text = repr(value) if isinstance(value, float) else str(value)
    if not _DECIMAL.fullmatch(text):
        raise PydanticCustomError(
            "validation_error", "a share is a number with at most two decimals (60, 33.34)"
        )
    return text


def _day(value: Any) -> str:
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise PydanticCustomError("validation_error", "a date is written YYYY-MM-DD")
    return value


def _designation(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "kind" in value and set(value) <= {"kind", "source"}:
        return value
    raise PydanticCustomError(
        "validation_error", "a designation is a code or an object {kind, source}"
    )


# An amount in its own currency: 15 digits at most before the point; its CNY value is at most
# 10^13 yuan (checked with the rate).
Money = Annotated[
    str,
    BeforeValidator(_money),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{1,15}(\.[0-9]{1,2})?$",
            "description": "a decimal string; its CNY value at most 10000000000000 (10^13) yuan",
            "examples": ["1250000.00"],
        }
    ),
]
# An amount in CNY: at most 10^13 yuan.
Yuan = Annotated[
    str,
    BeforeValidator(_money),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(10000000000000(\.0{1,2})?|[0-9]{1,13}(\.[0-9]{1,2})?)$",
            "description": "a decimal string in CNY, at most 10000000000000 (10^13)",
            "examples": ["1250000.00"],
        }
    ),
]
Rate = Annotated[
    str,
    BeforeValidator(_money),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(10000(\.0{1,6})?|[0-9]{1,4}(\.[0-9]{1,6})?)$",
            "description": "the rate to CNY, positive and at most 10000",
            "examples": ["7.1234"],
        }
    ),
]
Share = Annotated[
    str,
    BeforeValidator(_share),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}], "examples": [60, 33.34]}),
]
Day = Annotated[
    str,
    BeforeValidator(_day),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2024-05-20"]}),
]
Evidence = Annotated[str, StringConstraints(min_length=1, max_length=200)]

# What the domain's `parse_text` refuses, stated for the OpenAPI: control characters (line
# breaks allowed only in notes, descriptions and reasons), bidirectional overrides.
_ONE_LINE = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"
_LINES = r"^[^\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]*$"


def _text(limit: int, pattern: str) -> Any:
    return Field(json_schema_extra={"maxLength": limit, "pattern": pattern})


Line100 = Annotated[str, _text(100, _ONE_LINE)]
Line200 = Annotated[str, _text(200, _ONE_LINE)]
Note = Annotated[str, _text(2000, _LINES)]
# A count, reach or number of employees: a whole number up to 10^7.
_COUNT_MAX = 10**7
# A year in a path (`/rewards/{year}`): whole years the application keeps, nothing else.
YearPath = Annotated[
    int, Path(ge=2000, le=2100, description="a calendar year such as 2023", examples=[2023])
]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class In(BaseModel):
    """Base of every request body: unknown fields refused, NUL characters refused."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if _has_nul(data):
            raise PydanticCustomError("validation_error", "text must not contain NUL characters")
        return data

    def fields(self) -> dict[str, Any]:
        """The command's keyword arguments: everything given, the envelope's evidence aside."""
        return self.model_dump(exclude={"evidence"}, exclude_none=True)


class FileEvidenceIn(In):
    """A stored file as evidence (`POST /files` answers its sha256). Its type and size come
    from the store; `name` defaults to the name it was uploaded under."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "name": "入账凭证.pdf",
                }
            ]
        }
    )

    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
    name: Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=_ONE_LINE)] | (
        None
    ) = None


class WriteIn(In):
    """A write; `evidence` (document numbers, bank slip ids, and stored files as
    `{"sha256": …}`) goes on the envelope."""

    evidence: list[Evidence | FileEvidenceIn] | None = Field(
        default=None,
        max_length=20,
        description="references recorded on the event's envelope: texts, or files uploaded "
        "with `POST /files` as {sha256, name?}",
    )

    def evidence_refs(self) -> tuple[str, ...]:
        """The text references."""
        return tuple(e for e in self.evidence or () if isinstance(e, str))

    def file_refs(self) -> list[tuple[int, dict[str, Any]]]:
        """The file references with their place in `evidence` (for error paths)."""
        return [
            (i, e.model_dump(exclude_none=True))
            for i, e in enumerate(self.evidence or ())
            if isinstance(e, FileEvidenceIn)
        ]


# ---- associations ------------------------------------------------------------------------


class AssociationIn(WriteIn):
    """Register an association (商协会 / 校友会)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "北京湖南商会",
                    "kind": "domestic_chamber",
                    "based_in": "北京",
                    "contact": "秘书处 010-12345678",
                }
            ]
        }
    )

    name: Line200 = Field(description="the association's name")
    kind: str = Field(description="`domestic_chamber`, `overseas_chamber` or `alumni`")
    based_in: Line200 = Field(description="city or country it is based in")
    contact: Line200 | None = None
    occurred_on: Day | None = Field(default=None, description="registration date (default today)")


class ActivityIn(WriteIn):
    """An association's promotion, service, talent or technology activity."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "promotion",
                    "occurred_on": "2024-04-18",
                    "description": "湘商回归推介会（北京）",
                    "count": 120,
                }
            ]
        }
    )

    kind: str = Field(description="`promotion`, `service`, `talent` or `technology`")
    occurred_on: Day
    description: Note
    count: StrictInt | None = Field(
        default=None,
        description="reach or number (default 1), 1 to 10^7",
        json_schema_extra={"minimum": 1, "maximum": _COUNT_MAX},
    )


class AssociationDesignationIn(WriteIn):
    """A designation awarded to an association for a year (staff)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "year": 2024,
                    "designation": "liaison_station",
                    "occurred_on": "2024-12-20",
                    "reason": "湘商发〔2024〕12号",
                }
            ]
        }
    )

    year: StrictInt
    designation: str = Field(description="`advanced_unit`, `liaison_station` or `ambassador`")
    occurred_on: Day
    reason: Note | None = None


class CreatedOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "3f1c2b9e-5d7a-4c1e-9a8b-2d4f6e8a0b1c", "version": 1}]
        }
    )

    id: UUID
    version: int


class VersionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"version": 7}]})

    version: int


class ActivityCreatedOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"activity_id": "9b2e7c1a-0f3d-4e5b-8a6c-1d2e3f4a5b6c", "version": 4}]
        }
    )

    activity_id: str
    version: int


class ActivityOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "activity_id": "9b2e7c1a-0f3d-4e5b-8a6c-1d2e3f4a5b6c",
                    "kind": "promotion",
                    "occurred_on": "2024-04-18",
                    "description": "湘商回归推介会（北京）",
                    "count": 120,
                }
            ]
        }
    )

    activity_id: str
    kind: str
    occurred_on: date
    description: str
    count: int


class AssociationDesignationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "year": 2024,
                    "designation": "liaison_station",
                    "occurred_on": "2024-12-20",
                    "reason": "",
                }
            ]
        }
    )

    year: int
    designation: str
    occurred_on: date
    reason: str


class AssociationOut(BaseModel):
    """An association as it stands now."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3f1c2b9e-5d7a-4c1e-9a8b-2d4f6e8a0b1c",
                    "version": 2,
                    "name": "北京湖南商会",
                    "kind": "domestic_chamber",
                    "based_in": "北京",
                    "contact": "",
                    "registered_on": "2022-01-01",
                    "active": True,
                    "activities": [ActivityOut.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
                    "designations": [],
                }
            ]
        }
    )

    id: UUID
    version: int
    name: str
    kind: str
    based_in: str
    contact: str
    registered_on: date
    active: bool
    activities: list[ActivityOut]
    designations: list[AssociationDesignationOut]

    @classmethod
    def of(cls, association: Association) -> AssociationOut:
        return cls(
            id=association.id,
            version=association.version,
            name=association.name,
            kind=association.kind,
            based_in=association.based_in,
            contact=association.contact,
            registered_on=association.registered_on,
            active=association.active,
            activities=[
                ActivityOut(
                    activity_id=a.activity_id,
                    kind=a.kind,
                    occurred_on=a.occurred_on,
                    description=a.description,
                    count=a.count,
                )
                for a in association.activities
            ],
            designations=[
                AssociationDesignationOut(
                    year=d.year,
                    designation=d.designation,
                    occurred_on=d.occurred_on,
                    reason=d.reason,
                )
                for d in association.designations
            ],
        )


class AssociationListOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [AssociationOut.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
                    "total": 1,
                    "page": 1,
                    "size": 50,
                }
            ]
        }
    )

    items: list[AssociationOut]
    total: int
    page: int
    size: int


# ---- projects: writes --------------------------------------------------------------------


class ReferralIn(In):
    """One referring association and its share in percent."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"association_id": "3f1c2b9e-5d7a-4c1e-9a8b-2d4f6e8a0b1c", "share": 60}]
        }
    )

    association_id: str
    share: Share


InvestorDesignation = Annotated[
    Any,
    BeforeValidator(_designation),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "examples": ["fortune_global_500"]},
                {
                    "type": "object",
                    "properties": {"kind": {"type": "string"}, "source": {"type": "string"}},
                    "required": ["kind"],
                    "examples": [{"kind": "fortune_global_500", "source": "Fortune 2024"}],
                },
            ]
        }
    ),
]


class ProjectIn(WriteIn):
    """Refer a project (引荐): version 1 of its history."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "新能源电池材料产业园",
                    "investor": "华科实业有限公司",
                    "industry": "C",
                    "project_type": "ordinary",
                    "origin": "other_province",
                    "city": "changsha",
                    "county": "长沙县",
                    "park": "长沙经开区",
                    "planned_investment": "1500000000.00",
                    "referrals": [
                        {"association_id": "3f1c2b9e-5d7a-4c1e-9a8b-2d4f6e8a0b1c", "share": 60},
                        {"association_id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "share": 40},
                    ],
                    "occurred_on": "2024-03-15",
                    "designations": [{"kind": "china_private_500", "source": "全国工商联 2023"}],
                }
            ]
        }
    )

    name: Line200
    investor: Line200
    industry: str = Field(description="GB/T 4754-2017 section letter (A–T)")
    project_type: str = Field(description="`ordinary` or `large_infrastructure`")
    origin: str = Field(description="`overseas`, `other_province` or `in_province`")
    city: str = Field(description="one of the 14 市州 (code such as `changsha`, or 长沙市)")
    county: Line100 | None = None
    park: Line100 | None = None
    planned_investment: Yuan = Field(description="planned total investment in CNY")
    referrals: list[ReferralIn] = Field(max_length=50, description="shares summing to 100")
    occurred_on: Day
    designations: list[InvestorDesignation] | None = Field(default=None, max_length=20)
    confirm: bool = Field(
        default=False,
        description="refer it although a project of the same name, investor and city is "
        "recorded (otherwise 409 `possible_duplicate`)",
    )


class VisitIn(WriteIn):
    """The investor's inspection visit (考察)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"occurred_on": "2024-04-02", "participants": "投资方董事长一行5人", "notes": ""}
            ]
        }
    )

    occurred_on: Day
    participants: Note | None = None
    notes: Note | None = None


class NegotiationIn(WriteIn):
    """A negotiation round (洽谈)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"occurred_on": "2024-05-10", "notes": "用地与税收"}]}
    )

    occurred_on: Day
    notes: Note | None = None


class SigningIn(WriteIn):
    """The contract signing (签约)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "occurred_on": "2024-06-18",
                    "contract_amount": "1200000000.00",
                    "currency": "CNY",
                    "place": "长沙",
                }
            ]
        }
    )

    occurred_on: Day
    contract_amount: Money
    currency: str = Field(description="ISO 4217 code, upper case")
    rate_to_cny: Rate | None = Field(default=None, description="required unless CNY")
    place: Line200 | None = None


class FundsArrivalIn(WriteIn):
    """Money actually arrived (资金到位)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "occurred_on": "2024-09-30",
                    "amount": "3000000.00",
                    "currency": "USD",
                    "rate_to_cny": "7.1234",
                    "source": "overseas",
                    "evidence": ["中国银行入账凭证 BOC-2024-0930-118"],
                }
            ]
        }
    )

    occurred_on: Day
    amount: Money
    currency: str = Field(description="ISO 4217 code, upper case")
    rate_to_cny: Rate | None = Field(default=None, description="required unless CNY")
    source: str | None = Field(
        default=None,
        description="`overseas`, `other_province` or `in_province` (default: the project's origin)",
    )


class FixedAssetInvestmentIn(WriteIn):
    """Fixed-asset investment completed in a year."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "year": 2024,
                    "amount": "450000000.00",
                    "currency": "CNY",
                    "occurred_on": "2025-01-20",
                }
            ]
        }
    )

    year: StrictInt
    amount: Money
    currency: str
    rate_to_cny: Rate | None = None
    occurred_on: Day


class FundsCorrectionIn(WriteIn):
    """A correction of a funds arrival (a new event; the original stays)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "occurred_on": "2024-10-08",
                    "amount": "2800000.00",
                    "currency": "USD",
                    "rate_to_cny": "7.1234",
                    "arrived_on": "2024-09-29",
                    "reason": "银行回单金额有误",
                }
            ]
        }
    )

    occurred_on: Day = Field(description="when the correction was made")
    amount: Money
    currency: str
    rate_to_cny: Rate | None = None
    arrived_on: Day | None = Field(default=None, description="a corrected arrival date")
    reason: Note


class FundsVoidIn(WriteIn):
    """Void a funds arrival entered twice."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"occurred_on": "2024-10-08", "reason": "重复录入"}]}
    )

    occurred_on: Day
    reason: Note


class MilestoneIn(WriteIn):
    """Company registration or construction start."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"occurred_on": "2024-07-01", "details": "统一社会信用代码 91430100MA4L"}]
        }
    )

    occurred_on: Day
    details: Note | None = None


class ProductionIn(WriteIn):
    """Production started (投产) or design capacity reached (达产)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"occurred_on": "2025-03-01", "milestone": "started"}]}
    )

    occurred_on: Day
    milestone: str = Field(description="`started` or `capacity_reached`")


class IssueIn(In):
    """A problem raised at a follow-up visit (问题诉求)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"category": "用工", "description": "技术工人招聘困难"}]}
    )

    category: Line100
    description: Note


class FollowUpIn(WriteIn):
    """A post-production follow-up visit (回访) and the problems raised at it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "occurred_on": "2025-06-10",
                    "operating_status": "normal",
                    "output_value": "86000000.00",
                    "tax": "4300000.00",
                    "employees": 320,
                    "issues": [{"category": "用工", "description": "技术工人招聘困难"}],
                }
            ]
        }
    )

    occurred_on: Day
    operating_status: str = Field(description="`normal`, `difficult` or `suspended`")
    output_value: Yuan | None = None
    tax: Yuan | None = None
    employees: StrictInt | None = Field(
        default=None,
        description="0 to 10^7",
        json_schema_extra={"minimum": 0, "maximum": _COUNT_MAX},
    )
    notes: Note | None = None
    issues: list[IssueIn] | None = Field(default=None, max_length=50)


class FollowUpOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"version": 12, "issue_ids": ["5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b"]}]
        }
    )

    version: int
    issue_ids: list[str]


class IssueUpdateIn(WriteIn):
    """An issue being handled, or closed (办结)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "closed", "occurred_on": "2025-07-02", "note": "人社局组织专场招聘会"}
            ]
        }
    )

    status: str = Field(description="`handling` or `closed`")
    occurred_on: Day
    note: Note


class AttestationIn(WriteIn):
    """A recorded judgement, e.g. positive local impact, or its withdrawal (staff)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "positive_local_impact",
                    "occurred_on": "2025-01-10",
                    "granted": True,
                    "reason": "带动就业300人，填补产业链空白",
                }
            ]
        }
    )

    kind: str = Field(description="`positive_local_impact`")
    occurred_on: Day
    granted: StrictBool
    reason: Note


class AttributionIn(WriteIn):
    """New referral shares (staff)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "occurred_on": "2024-08-01",
                    "referrals": [
                        {"association_id": "3f1c2b9e-5d7a-4c1e-9a8b-2d4f6e8a0b1c", "share": 50},
                        {"association_id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "share": 50},
                    ],
                    "reason": "双方商会共同引荐，经协调各占一半",
                    "approver": "投资促进处 张处长",
                }
            ]
        }
    )

    occurred_on: Day
    referrals: list[ReferralIn] = Field(max_length=50)
    reason: Note
    approver: Line100


class ClassificationIn(WriteIn):
    """A new industry category and/or project type (staff)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "occurred_on": "2024-08-01",
                    "industry": "D",
                    "reason": "主营业务为储能电站运营",
                    "approver": "投资促进处 张处长",
                }
            ]
        }
    )

    occurred_on: Day
    industry: str | None = None
    project_type: str | None = None
    reason: Note
    approver: Line100


class StatusIn(WriteIn):
    """Stall, withdraw or reactivate a project."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"occurred_on": "2024-11-01", "status": "stalled", "reason": "资金链紧张"}]
        }
    )

    occurred_on: Day
    status: str = Field(description="`stalled`, `withdrawn` or `active`")
    reason: Note


class ArrivalCreatedOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"arrival_id": "0c9b8a7f-6e5d-4c3b-2a19-0f8e7d6c5b4a", "version": 6}]
        }
    )

    arrival_id: str
    version: int


# ---- projects: reads ---------------------------------------------------------------------


def money(value: Decimal) -> str:
    """A Decimal as a plain decimal string, never in exponent notation."""
    return format(value, "f")


def share_number(value: Decimal) -> int | float:
    """A share as the JSON number it was given as (`60`, `33.34`)."""
    return int(value) if value == value.to_integral_value() else float(value)


class ReferralOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"association_id": "3f1c2b9e-5d7a-4c1e-9a8b-2d4f6e8a0b1c", "share": 60}]
        }
    )

    association_id: str
    share: int | float


class InvestorDesignationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"kind": "china_private_500", "source": "全国工商联 2023"}]}
    )

    kind: str
    source: str


class SigningOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "signed_on": "2024-06-18",
                    "contract_amount": "1200000000.00",
                    "currency": "CNY",
                    "rate_to_cny": "1",
                    "contract_amount_cny": "1200000000.00",
                    "place": "长沙",
                }
            ]
        }
    )

    signed_on: date
    contract_amount: str
    currency: str
    rate_to_cny: str
    contract_amount_cny: str
    place: str


class ArrivalOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "arrival_id": "0c9b8a7f-6e5d-4c3b-2a19-0f8e7d6c5b4a",
                    "arrived_on": "2024-09-30",
                    "amount": "3000000.00",
                    "currency": "USD",
                    "rate_to_cny": "7.1234",
                    "amount_cny": "21370200.00",
                    "source": "overseas",
                    "voided": False,
                    "corrections": 0,
                }
            ]
        }
    )

    arrival_id: str
    arrived_on: date
    amount: str
    currency: str
    rate_to_cny: str
    amount_cny: str
    source: str
    voided: bool
    corrections: int


class FollowUpVisitOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "occurred_on": "2025-06-10",
                    "operating_status": "normal",
                    "output_value": "86000000.00",
                    "tax": "4300000.00",
                    "employees": 320,
                    "issue_ids": ["5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b"],
                }
            ]
        }
    )

    occurred_on: date
    operating_status: str
    output_value: str | None
    tax: str | None
    employees: int | None
    issue_ids: list[str]


class IssueOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "issue_id": "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b",
                    "category": "用工",
                    "description": "技术工人招聘困难",
                    "raised_on": "2025-06-10",
                    "status": "closed",
                    "closed_on": "2025-07-02",
                    "notes": ["人社局组织专场招聘会"],
                }
            ]
        }
    )

    issue_id: str
    category: str
    description: str
    raised_on: date
    status: str
    closed_on: date | None
    notes: list[str]


class AttestationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "positive_local_impact",
                    "granted": True,
                    "occurred_on": "2025-01-10",
                    "reason": "带动就业300人",
                }
            ]
        }
    )

    kind: str
    granted: bool
    occurred_on: date
    reason: str


class ProjectOut(BaseModel):
    """A project's state: now, or as of a version, a business date or a recording date."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "d2c1b0a9-8f7e-4d6c-5b4a-3f2e1d0c9b8a",
                    "version": 9,
                    "name": "新能源电池材料产业园",
                    "investor": "华科实业有限公司",
                    "designations": [{"kind": "china_private_500", "source": "全国工商联 2023"}],
                    "industry": "C",
                    "project_type": "ordinary",
                    "origin": "other_province",
                    "city": "changsha",
                    "county": "长沙县",
                    "park": "长沙经开区",
                    "planned_investment": "1500000000.00",
                    "referrals": [
                        {"association_id": "3f1c2b9e-5d7a-4c1e-9a8b-2d4f6e8a0b1c", "share": 60},
                        {"association_id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "share": 40},
                    ],
                    "referred_on": "2024-03-15",
                    "stage": "in_production",
                    "stage_label": "已投产",
                    "status": "active",
                    "visits": 1,
                    "negotiations": 2,
                    "first_visit_on": "2024-04-02",
                    "signing": SigningOut.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
                    "registered_on": "2024-07-01",
                    "construction_started_on": "2024-08-15",
                    "production_started_on": "2025-03-01",
                    "capacity_reached_on": None,
                    "funds_total_cny": "21370200.00",
                    "funds_by_year_cny": {"2024": "21370200.00"},
                    "arrivals": [ArrivalOut.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
                    "fixed_asset_investment_cny": {"2024": "450000000.00"},
                    "follow_ups": [],
                    "last_follow_up_on": None,
                    "issues": [],
                    "open_issues": 0,
                    "attestation": None,
                    "positive_impact_attested": False,
                }
            ]
        }
    )

    id: UUID
    version: int
    name: str
    investor: str
    designations: list[InvestorDesignationOut]
    industry: str
    project_type: str
    origin: str
    city: str
    county: str
    park: str
    planned_investment: str
    referrals: list[ReferralOut]
    referred_on: date
    stage: str
    stage_label: str
    status: str = Field(description="`active`, `stalled` or `withdrawn`")
    visits: int
    negotiations: int
    first_visit_on: date | None
    signing: SigningOut | None
    registered_on: date | None
    construction_started_on: date | None
    production_started_on: date | None
    capacity_reached_on: date | None
    funds_total_cny: str
    funds_by_year_cny: dict[str, str]
    arrivals: list[ArrivalOut]
    fixed_asset_investment_cny: dict[str, str]
    follow_ups: list[FollowUpVisitOut]
    last_follow_up_on: date | None
    issues: list[IssueOut]
    open_issues: int
    attestation: AttestationOut | None
    positive_impact_attested: bool

    @classmethod
    def of(cls, project: Project) -> ProjectOut:
        """The one place a Project aggregate becomes an API answer."""
        p = project
        signing = None
        if p.signed_on is not None:
            assert p.contract_amount is not None and p.contract_rate_to_cny is not None
            assert p.contract_amount_cny is not None and p.contract_currency is not None
            signing = SigningOut(
                signed_on=p.signed_on,
                contract_amount=money(p.contract_amount),
                currency=p.contract_currency,
                rate_to_cny=money(p.contract_rate_to_cny),
                contract_amount_cny=money(p.contract_amount_cny),
                place=p.signing_place,
            )
        return cls(
            id=p.id,
            version=p.version,
            name=p.name,
            investor=p.investor,
            designations=[
                InvestorDesignationOut(kind=d["kind"], source=d.get("source", ""))
                for d in p.designations
            ],
            industry=p.industry,
            project_type=p.project_type,
            origin=p.origin,
            city=p.city,
            county=p.county,
            park=p.park,
            planned_investment=money(p.planned_investment),
            referrals=[
                ReferralOut(
                    association_id=str(r["association_id"]),
                    share=share_number(Decimal(r["share"])),
                )
                for r in p.referrals
            ],
            referred_on=p.referred_on,
            stage=p.stage,
            stage_label=STAGE_LABELS[p.stage],
            status=p.status,
            visits=p.visits,
            negotiations=p.negotiations,
            first_visit_on=p.first_visit_on,
            signing=signing,
            registered_on=p.registered_on,
            construction_started_on=p.construction_started_on,
            production_started_on=p.production_started_on,
            capacity_reached_on=p.capacity_reached_on,
            funds_total_cny=money(p.funds_total_cny),
            funds_by_year_cny={str(y): money(v) for y, v in p.funds_by_year_cny().items()},
            arrivals=[
                ArrivalOut(
                    arrival_id=a.arrival_id,
                    arrived_on=a.arrived_on,
                    amount=money(a.amount),
                    currency=a.currency,
                    rate_to_cny=money(a.rate_to_cny),
                    amount_cny=money(a.amount_cny),
                    source=a.source,
                    voided=a.voided,
                    corrections=a.corrections,
                )
                for a in p.arrivals.values()
            ],
            fixed_asset_investment_cny={
                str(y): money(v) for y, v in sorted(p.fixed_asset_investment.items())
            },
            follow_ups=[
                FollowUpVisitOut(
                    occurred_on=f.occurred_on,
                    operating_status=f.operating_status,
                    output_value=None if f.output_value is None else money(f.output_value),
                    tax=None if f.tax is None else money(f.tax),
                    employees=f.employees,
                    issue_ids=list(f.issue_ids),
                )
                for f in p.follow_ups
            ],
            last_follow_up_on=p.last_follow_up_on,
            issues=[
                IssueOut(
                    issue_id=i.issue_id,
                    category=i.category,
                    description=i.description,
                    raised_on=i.raised_on,
                    status=i.status,
                    closed_on=i.closed_on,
                    notes=list(i.notes),
                )
                for i in p.issues.values()
            ],
            open_issues=len(p.open_issues()),
            attestation=None
            if p.attestation is None
            else AttestationOut(
                kind=p.attestation.kind,
                granted=p.attestation.granted,
                occurred_on=p.attestation.occurred_on,
                reason=p.attestation.reason,
            ),
            positive_impact_attested=p.positive_impact_attested,
        )


def plain(value: Any) -> Any:
    """Event data as JSON values: decimals as strings, dates as ISO strings."""
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


class ActorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "wang.li", "role": "officer"}]}
    )

    id: str
    role: str


class HistoryEntryOut(BaseModel):
    """One stored event: its envelope, its data and its link in the stream's hash chain."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": 2,
                    "type": "visit_recorded",
                    "occurred_on": "2024-04-02",
                    "recorded_at": "2024-04-03T02:15:09.120000+00:00",
                    "actor": {"id": "wang.li", "role": "officer"},
                    "source": "api",
                    "evidence": [],
                    "data": {"participants": "投资方董事长一行5人", "notes": ""},
                    "prev_hash": "9f2c…(64 hex digits)",
                    "hash": "41ab…(64 hex digits)",
                }
            ]
        }
    )

    version: int
    type: str
    occurred_on: date
    recorded_at: datetime
    actor: ActorOut
    source: str
    evidence: list[str]
    files: list[FileRefOut] = []
    data: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryEntryOut:
        return cls(
            version=entry.version,
            type=entry.type,
            occurred_on=entry.occurred_on,
            recorded_at=entry.recorded_at,
            actor=ActorOut(id=entry.actor.get("id", ""), role=entry.actor.get("role", "")),
            source=entry.source,
            evidence=list(entry.evidence),
            files=[FileRefOut(**f) for f in entry.files],
            data=plain(entry.data),
            prev_hash=entry.prev_hash,
            hash=entry.hash,
        )


# ---- evidence files (DESIGN §18) ----------------------------------------------------------


_FILE_EXAMPLE: dict[str, Any] = {
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "name": "中国银行入账凭证.pdf",
    "media_type": "application/pdf",
    "size": 48213,
}


class FileRefOut(BaseModel):
    """A file as an event's envelope references it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_FILE_EXAMPLE]})

    sha256: str
    name: str
    media_type: str
    size: int


class FileOut(FileRefOut):
    """`POST /files`: the stored file."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "size": 48213,
                    "media_type": "application/pdf",
                    "name": "中国银行入账凭证.pdf",
                }
            ]
        }
    )


class FileEventOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"version": 5, "type": "funds_arrived"}]}
    )

    version: int
    type: str


class ProjectFileOut(FileRefOut):
    """`GET /projects/{id}/files`: a file and the project's events that reference it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**_FILE_EXAMPLE, "events": [{"version": 5, "type": "funds_arrived"}]}]
        }
    )

    events: list[FileEventOut]
