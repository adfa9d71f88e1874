"""Hand-written project facts and policies for the policy-engine tests (no database)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

from projections.policy import (
    ArrivalFact,
    AttestationFact,
    AttributionFact,
    Policy,
    ProjectFacts,
    RewardReport,
    load_policies,
)

TEST_POLICIES = Path(__file__).resolve().parents[1] / "policies"
_arrival_ids = count(1)


def d(text: str) -> date:
    return date.fromisoformat(text)


def arrival(
    day: str, amount: str, source: str = "other_province", arrival_id: str = ""
) -> ArrivalFact:
    return ArrivalFact(arrival_id or f"a{next(_arrival_ids)}", d(day), Decimal(amount), source)


def granted(day: str = "2023-12-01") -> AttestationFact:
    return AttestationFact("positive_local_impact", True, d(day))


def withdrawn(day: str) -> AttestationFact:
    return AttestationFact("positive_local_impact", False, d(day))


def shares(*pairs: tuple[str, str]) -> tuple[tuple[str, Decimal], ...]:
    return tuple((a, Decimal(s)) for a, s in pairs)


def facts(
    project_id: str = "p1",
    *,
    arrivals: Iterable[ArrivalFact] = (),
    referrers: Iterable[tuple[str, str]] = (("X", "100"),),
    attributions: Iterable[AttributionFact] | None = None,
    attestations: Iterable[AttestationFact] = (granted(),),
    industry: str = "C",
    project_type: str = "ordinary",
    origin: str = "other_province",
    city: str = "changsha",
    county: str = "",
    park: str = "",
    designations: Iterable[str] = (),
    planned: str = "100000000.00",
    contract: str | None = None,
    fai: dict[int, str] | None = None,
    tax: dict[int, str] | None = None,
) -> ProjectFacts:
    return ProjectFacts(
        project_id=project_id,
        name=f"项目{project_id}",
        industry=industry,
        project_type=project_type,
        origin=origin,
        city=city,
        designations=tuple(designations),
        planned_investment_cny=Decimal(planned),
        arrivals=tuple(arrivals),
        attributions=tuple(attributions)
        if attributions is not None
        else (AttributionFact(d("2022-06-01"), shares(*referrers)),),
        attestations=tuple(attestations),
        fixed_asset_investment_cny={y: Decimal(v) for y, v in (fai or {}).items()},
        tax_reported_cny={y: Decimal(v) for y, v in (tax or {}).items()},
        county=county,
        park=park,
        contract_amount_cny=None if contract is None else Decimal(contract),
    )


_registry = None


def policy(policy_id: str) -> Policy:
    global _registry
    if _registry is None:
        _registry = load_policies([TEST_POLICIES])
    return _registry.get(policy_id)


def rows(report: RewardReport) -> dict[tuple[str, str], dict[str, Any]]:
    """(association, project) → the row of `as_dict()`."""
    body = report.as_dict()
    return {
        (a["association_id"], r["project_id"]): r
        for a in body["associations"]
        for r in a["projects"]
    }


def totals(report: RewardReport) -> dict[str, tuple[str, bool, str]]:
    """association → (total, capped, uncapped_total) as in `as_dict()`."""
    body = report.as_dict(langs=())
    return {
        a["association_id"]: (a["total"], a["capped"], a["uncapped_total"])
        for a in body["associations"]
    }
