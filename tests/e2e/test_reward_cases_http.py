"""The worked cases of `../shared/cases/hunan-2022-rewards.yaml`, driven entirely through HTTP, on an
SQLite file and on PostgreSQL.

The file is read at run time (one test per case and database, named by the case), so a new case
is picked up without touching this code. Associations are registered, projects referred, signed,
funded and attested through the endpoints, with the role that does it in the office (staff
registers, refers and attests; the follow-up officer records signings and funds). `GET
/rewards/{year}` is compared with `expect`. A case with `settle` is settled with `POST
/settlements` on its date, its `then` events are recorded over HTTP afterwards, and `GET
/settlements/{policy}/{year}/audit` (as the auditor) is compared with `expect_settlement`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.e2e.conftest import Api, shanghai_morning
from tests.reward_cases import (
    ARRIVAL_KEYS,
    POLICY_ID,
    PROJECT_KEYS,
    case_clock,
    case_params,
    check_audit,
    check_figures,
    check_unknown,
    dates,
    day,
    expected_by_year,
    missing,
)


def _share(value: Any) -> Any:
    """A share as the API takes it: a JSON number as written in the case, else a string."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


class HttpCasePlayer:
    """Records a case's history through the HTTP API and keeps the ids it answers."""

    def __init__(self, api: Api, case: dict[str, Any]) -> None:
        self.api = api
        self.case = case
        self.associations: dict[str, str] = {}  # key → id
        self.projects: dict[str, str] = {}  # key → id
        self.arrivals: dict[str, tuple[str, str]] = {}  # case id → (project id, arrival id)

    @property
    def association_keys(self) -> dict[str, str]:
        return {v: k for k, v in self.associations.items()}

    @property
    def project_keys(self) -> dict[str, str]:
        return {v: k for k, v in self.projects.items()}

    def _post(self, path: str, body: dict[str, Any], role: str) -> dict[str, Any]:
        r = self.api.post(path, body, role=role)
        assert r.status_code == 201, f"POST {path} as {role}: {r.status_code} {r.text}"
        answer: dict[str, Any] = r.json()
        return answer

    def _referrals(self, mapping: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"association_id": self.associations[k], "share": _share(v)} for k, v in mapping.items()
        ]

    def record_history(self) -> None:
        for key in self.case["associations"]:
            body = {
                "name": f"商会{key}",
                "kind": "domestic_chamber",
                "based_in": "北京",
                "occurred_on": "2022-01-01",
            }
            self.associations[key] = str(self._post("/associations", body, "staff")["id"])
        for project in self.case["projects"]:
            check_unknown("project", project, PROJECT_KEYS)
            self._record_project(project)

    def _record_project(self, p: dict[str, Any]) -> None:
        body: dict[str, Any] = {
            "name": f"项目{p['key']}",
            "investor": "某投资有限公司",
            "industry": p["industry"],
            "project_type": p.get("project_type", "ordinary"),
            "origin": p.get("origin", "other_province"),
            "city": p.get("city", "changsha"),
            "planned_investment": str(p.get("planned_investment", "100000000.00")),
            "referrals": self._referrals(p["referrals"]),
            "occurred_on": day(p.get("referred_on", "2022-06-01")),
        }
        if p.get("designations") is not None:
            body["designations"] = p["designations"]
        project_id = str(self._post("/projects", body, "staff")["id"])
        self.projects[p["key"]] = project_id
        if "signed_on" in p:
            self._post(
                f"/projects/{project_id}/signing",
                {
                    "occurred_on": day(p["signed_on"]),
                    "contract_amount": "100000000.00",
                    "currency": "CNY",
                },
                "officer",
            )
        for arrival in p.get("arrivals", []):
            self._arrival(project_id, arrival)
        if "attested_on" in p:
            self._attest(project_id, p["attested_on"], True)
        for attestation in p.get("attestations", []):
            self._attest(project_id, attestation["on"], bool(attestation.get("granted", True)))

    def _arrival(self, project_id: str, arrival: dict[str, Any]) -> None:
        check_unknown("arrival", arrival, ARRIVAL_KEYS)
        body: dict[str, Any] = {
            "occurred_on": day(arrival["date"]),
            "amount": str(arrival["amount"]),
            "currency": arrival["currency"],
        }
        if arrival.get("rate_to_cny") is not None:
            body["rate_to_cny"] = str(arrival["rate_to_cny"])
        if arrival.get("source") is not None:
            body["source"] = arrival["source"]
        answer = self._post(f"/projects/{project_id}/funds", body, "officer")
        if "id" in arrival:
            self.arrivals[str(arrival["id"])] = (project_id, str(answer["arrival_id"]))

    def _attest(self, project_id: str, on: Any, granted: bool) -> None:
        self._post(
            f"/projects/{project_id}/attestations",
            {
                "kind": "positive_local_impact",
                "occurred_on": day(on),
                "granted": granted,
                "reason": "对当地经济社会发展起到积极作用" if granted else "撤销认定",
            },
            "staff",
        )

    def apply(self, event: dict[str, Any]) -> None:
        """One entry of a case's `then`: an event recorded after the settlement."""
        if "correct_arrival" in event:
            project_id, arrival_id = self.arrivals[str(event["correct_arrival"])]
            body: dict[str, Any] = {
                "occurred_on": day(event["corrected_on"]),
                "amount": str(event["amount"]),
                "currency": event["currency"],
                "reason": event.get("reason", "correction"),
            }
            if event.get("rate_to_cny") is not None:
                body["rate_to_cny"] = str(event["rate_to_cny"])
            if "arrived_on" in event:
                body["arrived_on"] = day(event["arrived_on"])
            self._post(f"/projects/{project_id}/funds/{arrival_id}/corrections", body, "officer")
        elif "void_arrival" in event:
            project_id, arrival_id = self.arrivals[str(event["void_arrival"])]
            self._post(
                f"/projects/{project_id}/funds/{arrival_id}/void",
                {
                    "occurred_on": day(event["voided_on"]),
                    "reason": event.get("reason", "duplicate"),
                },
                "officer",
            )
        elif "arrival" in event:
            self._arrival(self.projects[event["project"]], event["arrival"])
        elif "attest" in event:
            self._attest(self.projects[event["attest"]], event["on"], event.get("granted", True))
        elif "change_attribution" in event:
            self._post(
                f"/projects/{self.projects[event['change_attribution']]}/attribution",
                {
                    "occurred_on": day(event["on"]),
                    "referrals": self._referrals(event["referrals"]),
                    "reason": event.get("reason", "attribution corrected"),
                    "approver": "处长",
                },
                "staff",
            )
        elif "reclassify" in event:
            body = {
                "occurred_on": day(event["on"]),
                "reason": event.get("reason", "reclassified"),
                "approver": "处长",
            }
            body.update({k: event[k] for k in ("industry", "project_type") if k in event})
            self._post(
                f"/projects/{self.projects[event['reclassify']]}/classification", body, "staff"
            )
        else:
            pytest.fail(f"this test does not play the `then` event {sorted(event)} yet")


def _history_clock(case: dict[str, Any]) -> datetime:
    """When the history is recorded: on the settlement's date when the case settles (the
    settlement is dated by the clock), else after every date of the case."""
    if "settle" not in case:
        return case_clock(case)
    history = max(dates(case["projects"]))
    settle_on = case["settle"].get("date")
    if settle_on is None or day(settle_on) < history.isoformat():
        return case_clock({"projects": case["projects"]})
    return shanghai_morning(day(settle_on))


@pytest.mark.parametrize("case", **case_params())
def test_shared_reward_case_over_http(api: Api, case: dict[str, Any]) -> None:
    if case is None:
        missing()
        return
    api.clock[0] = _history_clock(case)
    player = HttpCasePlayer(api, case)
    player.record_history()

    settled_year = None
    if "settle" in case:
        settled_year = int(case["settle"]["year"])
        r = api.post("/settlements", {"policy": POLICY_ID, "year": settled_year}, role="staff")
        assert r.status_code == 201, r.text
        settled = r.json()
        assert settled["revision"] == 0 and settled["document_intact"] is True
        assert settled["policy"] == POLICY_ID and settled["year"] == settled_year
        if case["settle"].get("date") is not None:
            assert settled["settled_on"] == api.clock[0].date().isoformat()
    api.clock[0] = case_clock(case)
    for event in case.get("then", []):
        player.apply(event)

    for year, entries in expected_by_year(case["expect"]).items():
        r = api.get(f"/rewards/{year}", params={"policy": POLICY_ID}, role="auditor")
        assert r.status_code == 200, r.text
        check_figures(r.json(), year, entries, player.association_keys, player.project_keys)

    if settled_year is None:
        assert "expect_settlement" not in case
        return
    r = api.get(f"/settlements/{POLICY_ID}/{settled_year}/audit", role="auditor")
    assert r.status_code == 200, r.text
    check_audit(
        r.json(),
        settled_year,
        case.get("expect_settlement", []),
        player.associations,
        player.project_keys,
    )
