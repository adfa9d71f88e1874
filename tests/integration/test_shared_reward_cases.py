"""The worked cases of `../shared/cases/hunan-2022-rewards.yaml`, played through the real Ledger.

The file is read at run time and every case becomes one test per database (named by the case's
`name`), so a case added to the file is picked up without touching this code. Each case's history
is recorded with the application's commands; the reward projection folds it (brought up to every
recorded event first), the loaded policy file evaluates it, and the `GET /rewards/{year}` body is
compared with `expect` exactly. A case's `settle` is a real settlement, and its
`expect_settlement` is checked against the real audit.

Loading the file and checking the answers is shared with the HTTP players (`tests/reward_cases.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import pytest

from domain.application import Ledger
from tests.conftest import OFFICER, STAFF, services_for
from tests.reward_cases import (
    ARRIVAL_KEYS,
    POLICY_ID,
    PROJECT_KEYS,
    case_clock,
    case_params,
    check_audit,
    check_figures,
    check_unknown,
    day,
    expected_by_year,
    missing,
)


def _referrals(mapping: dict[str, Any], ids: dict[str, str]) -> list[dict[str, Any]]:
    return [{"association_id": ids[k], "share": str(v)} for k, v in mapping.items()]


class CasePlayer:
    """Records a case's history with the Ledger's commands and reads its facts back."""

    def __init__(self, ledger: Ledger, case: dict[str, Any]) -> None:
        self.ledger = ledger
        self.case = case
        self.associations: dict[str, str] = {}  # key → id
        self.projects: dict[str, UUID] = {}  # key → id
        self.arrivals: dict[str, tuple[UUID, str]] = {}  # case id → (project id, arrival id)

    @property
    def association_keys(self) -> dict[str, str]:
        return {v: k for k, v in self.associations.items()}

    @property
    def project_keys(self) -> dict[str, str]:
        return {str(v): k for k, v in self.projects.items()}

    def record_history(self) -> None:
        staff = self.ledger.context(STAFF)
        for key in self.case["associations"]:
            association_id, _ = self.ledger.register_association(
                staff,
                name=f"商会{key}",
                kind="domestic_chamber",
                based_in="北京",
                occurred_on="2022-01-01",
            )
            self.associations[key] = str(association_id)
        for project in self.case["projects"]:
            check_unknown("project", project, PROJECT_KEYS)
            self._record_project(project)

    def _record_project(self, p: dict[str, Any]) -> None:
        staff, officer = self.ledger.context(STAFF), self.ledger.context(OFFICER)
        project_id, _ = self.ledger.refer_project(
            staff,
            name=f"项目{p['key']}",
            investor="某投资有限公司",
            industry=p["industry"],
            project_type=p.get("project_type", "ordinary"),
            origin=p.get("origin", "other_province"),
            city=p.get("city", "changsha"),
            planned_investment=str(p.get("planned_investment", "100000000.00")),
            referrals=_referrals(p["referrals"], self.associations),
            occurred_on=day(p.get("referred_on", "2022-06-01")),
            designations=p.get("designations"),
        )
        self.projects[p["key"]] = project_id
        if "signed_on" in p:
            self.ledger.sign(
                officer,
                project_id,
                occurred_on=day(p["signed_on"]),
                contract_amount="100000000.00",
                currency="CNY",
            )
        for arrival in p.get("arrivals", []):
            self._arrival(project_id, arrival)
        if "attested_on" in p:
            self._attest(project_id, p["attested_on"], True)
        for attestation in p.get("attestations", []):
            self._attest(project_id, attestation["on"], bool(attestation.get("granted", True)))

    def _arrival(self, project_id: UUID, arrival: dict[str, Any]) -> None:
        check_unknown("arrival", arrival, ARRIVAL_KEYS)
        arrival_id, _ = self.ledger.record_funds_arrival(
            self.ledger.context(OFFICER),
            project_id,
            occurred_on=day(arrival["date"]),
            amount=str(arrival["amount"]),
            currency=arrival["currency"],
            rate_to_cny=arrival.get("rate_to_cny"),
            source=arrival.get("source"),
        )
        if "id" in arrival:
            self.arrivals[str(arrival["id"])] = (project_id, arrival_id)

    def _attest(self, project_id: UUID, on: Any, granted: bool) -> None:
        self.ledger.record_attestation(
            self.ledger.context(STAFF),
            project_id,
            kind="positive_local_impact",
            occurred_on=day(on),
            granted=granted,
            reason="对当地经济社会发展起到积极作用" if granted else "撤销认定",
        )

    def apply(self, event: dict[str, Any]) -> None:
        """One entry of a case's `then`: an event recorded after the settlement."""
        staff, officer = self.ledger.context(STAFF), self.ledger.context(OFFICER)
        if "correct_arrival" in event:
            project_id, arrival_id = self.arrivals[str(event["correct_arrival"])]
            self.ledger.correct_funds_arrival(
                officer,
                project_id,
                arrival_id,
                occurred_on=day(event["corrected_on"]),
                amount=str(event["amount"]),
                currency=event["currency"],
                rate_to_cny=event.get("rate_to_cny"),
                arrived_on=day(event["arrived_on"]) if "arrived_on" in event else None,
                reason=event.get("reason", "correction"),
            )
        elif "void_arrival" in event:
            project_id, arrival_id = self.arrivals[str(event["void_arrival"])]
            self.ledger.void_funds_arrival(
                officer,
                project_id,
                arrival_id,
                occurred_on=day(event["voided_on"]),
                reason=event.get("reason", "duplicate"),
            )
        elif "arrival" in event:
            self._arrival(self.projects[event["project"]], event["arrival"])
        elif "attest" in event:
            self._attest(self.projects[event["attest"]], event["on"], event.get("granted", True))
        elif "change_attribution" in event:
            self.ledger.change_attribution(
                staff,
                self.projects[event["change_attribution"]],
                occurred_on=day(event["on"]),
                referrals=_referrals(event["referrals"], self.associations),
                reason=event.get("reason", "attribution corrected"),
                approver="处长",
            )
        elif "reclassify" in event:
            fields = {k: event[k] for k in ("industry", "project_type") if k in event}
            self.ledger.reclassify(
                staff,
                self.projects[event["reclassify"]],
                occurred_on=day(event["on"]),
                reason=event.get("reason", "reclassified"),
                approver="处长",
                **fields,
            )
        else:
            pytest.fail(f"this test does not play the `then` event {sorted(event)} yet")


# ---- the test ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", **case_params())
def test_shared_reward_case(
    ledger: Ledger, database_url: str, clock: list[datetime], case: dict[str, Any]
) -> None:
    if case is None:
        missing()
        return
    clock[0] = case_clock(case)
    services = services_for(ledger, database_url)
    service = services.settlements
    player = CasePlayer(ledger, case)
    player.record_history()
    settled_year = None
    if "settle" in case:
        settled_year = int(case["settle"]["year"])
        body = service.settle(ledger.context(STAFF), POLICY_ID, settled_year)
        assert body["revision"] == 0 and body["document_intact"] is True
    for event in case.get("then", []):
        player.apply(event)
    for year, entries in expected_by_year(case["expect"]).items():
        # Through the reward projection, brought up to every recorded event first.
        services.runner.run_once()
        body = service.figures(POLICY_ID, year)
        check_figures(body, year, entries, player.association_keys, player.project_keys)
    if settled_year is None:
        assert "expect_settlement" not in case
        return
    check_audit(
        service.audit(POLICY_ID, settled_year),
        settled_year,
        case.get("expect_settlement", []),
        player.associations,
        player.project_keys,
    )
