"""The worked cases of `../shared/cases/hunan-2022-rewards.yaml`, played through the real Ledger.

The file is read at run time and every case becomes one test per database (named by the case's
`name`), so a case added to the file is picked up without touching this code. Each case's history
is recorded with the application's commands; the reward projection folds it (brought up to every
recorded event first), the loaded policy file evaluates it, and the `GET /rewards/{year}` body is
compared with `expect` exactly. A case's `settle` is a real settlement, and its
`expect_settlement` is checked against the real audit.

The shared folder is found through `ZHAOSHANG_SHARED_DIR`, else as a `shared/cases` folder beside
one of this file's parent folders (the repository root's parent holds `shared/`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml

from domain.application import Ledger
from projections.settlements import SettlementService
from tests.conftest import OFFICER, STAFF

CASES_FILE = Path("cases") / "hunan-2022-rewards.yaml"
DEFAULT_CLOCK = datetime(2025, 6, 30, 2, 0, tzinfo=UTC)  # after every case date


def shared_dir() -> Path | None:
    configured = os.environ.get("ZHAOSHANG_SHARED_DIR")
    if configured:
        return Path(configured)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared"
        if (candidate / "cases").is_dir():
            return candidate
    return None


def _load() -> tuple[str, list[dict[str, Any]]] | None:
    folder = shared_dir()
    if folder is None or not (folder / CASES_FILE).is_file():
        return None
    data = yaml.safe_load((folder / CASES_FILE).read_text(encoding="utf-8"))
    return str(data["policy"]), list(data["cases"])


LOADED = _load()
POLICY_ID = LOADED[0] if LOADED else ""
CASES = LOADED[1] if LOADED else []


def _missing() -> None:
    message = f"{CASES_FILE} not found (set ZHAOSHANG_SHARED_DIR to the shared folder)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


# ---- playing a case through the application ---------------------------------------------------

PROJECT_KEYS = {
    "key",
    "industry",
    "project_type",
    "referrals",
    "signed_on",
    "attested_on",
    "arrivals",
    "referred_on",
    "origin",
    "city",
    "designations",
    "planned_investment",
    "attestations",
}
ARRIVAL_KEYS = {"date", "amount", "currency", "rate_to_cny", "id", "source"}


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _referrals(mapping: dict[str, Any], ids: dict[str, str]) -> list[dict[str, Any]]:
    return [{"association_id": ids[k], "share": str(v)} for k, v in mapping.items()]


def _dates(value: Any) -> Iterator[date]:
    if isinstance(value, date):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _dates(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dates(item)


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
            unknown = set(project) - PROJECT_KEYS
            if unknown:
                pytest.fail(f"the case uses {sorted(unknown)}, which this test does not play yet")
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
            occurred_on=_day(p.get("referred_on", "2022-06-01")),
            designations=p.get("designations"),
        )
        self.projects[p["key"]] = project_id
        if "signed_on" in p:
            self.ledger.sign(
                officer,
                project_id,
                occurred_on=_day(p["signed_on"]),
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
        unknown = set(arrival) - ARRIVAL_KEYS
        if unknown:
            pytest.fail(f"the case's arrival uses {sorted(unknown)}, not played by this test yet")
        arrival_id, _ = self.ledger.record_funds_arrival(
            self.ledger.context(OFFICER),
            project_id,
            occurred_on=_day(arrival["date"]),
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
            occurred_on=_day(on),
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
                occurred_on=_day(event["corrected_on"]),
                amount=str(event["amount"]),
                currency=event["currency"],
                rate_to_cny=event.get("rate_to_cny"),
                arrived_on=_day(event["arrived_on"]) if "arrived_on" in event else None,
                reason=event.get("reason", "correction"),
            )
        elif "void_arrival" in event:
            project_id, arrival_id = self.arrivals[str(event["void_arrival"])]
            self.ledger.void_funds_arrival(
                officer,
                project_id,
                arrival_id,
                occurred_on=_day(event["voided_on"]),
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
                occurred_on=_day(event["on"]),
                referrals=_referrals(event["referrals"], self.associations),
                reason=event.get("reason", "attribution corrected"),
                approver="处长",
            )
        elif "reclassify" in event:
            fields = {k: event[k] for k in ("industry", "project_type") if k in event}
            self.ledger.reclassify(
                staff,
                self.projects[event["reclassify"]],
                occurred_on=_day(event["on"]),
                reason=event.get("reason", "reclassified"),
                approver="处长",
                **fields,
            )
        else:
            pytest.fail(f"this test does not play the `then` event {sorted(event)} yet")


# ---- the test ----------------------------------------------------------------------------------


def _case_clock(case: dict[str, Any]) -> datetime:
    latest = max(_dates(case), default=DEFAULT_CLOCK.date())
    return max(
        DEFAULT_CLOCK, datetime.combine(latest + timedelta(days=1), datetime.min.time(), UTC)
    )


def check_expectations(
    service: SettlementService, player: CasePlayer, expect: list[dict[str, Any]]
) -> None:
    by_year: dict[int, list[dict[str, Any]]] = {}
    for entry in expect:
        by_year.setdefault(int(entry["year"]), []).append(entry)
    names = player.association_keys
    projects = player.project_keys
    for year, entries in by_year.items():
        # Through the reward projection, brought up to every recorded event first.
        body = service.figures(POLICY_ID, year)
        assert set(body) == {"year", "policy", "associations"}
        assert body["year"] == year and body["policy"] == POLICY_ID
        listed = {names[a["association_id"]]: a for a in body["associations"]}
        assert set(listed) == {e["association"] for e in entries}, f"associations listed in {year}"
        ids = [a["association_id"] for a in body["associations"]]
        assert ids == sorted(ids), "associations are sorted by id"
        for entry in entries:
            got = listed[entry["association"]]
            where = f"{year} {entry['association']}"
            assert got["total"] == entry["total"], where
            assert got["capped"] is entry["capped"], where
            if "uncapped_total" in entry:
                assert got["uncapped_total"] == entry["uncapped_total"], where
            rows = {projects[r["project_id"]]: r for r in got["projects"]}
            assert set(rows) == {p["project"] for p in entry["projects"]}, where
            row_ids = [r["project_id"] for r in got["projects"]]
            assert row_ids == sorted(row_ids), "rows are sorted by project id"
            for expected in entry["projects"]:
                row = rows[expected["project"]]
                for key in ("funds_in_year", "status", "reward"):
                    assert row[key] == expected[key], f"{where} {expected['project']} {key}"
                if expected.get("project_reward") is not None:
                    assert row["project_reward"] == expected["project_reward"]
                assert row["explanation"], "every row is explained"


@pytest.mark.parametrize(
    "case", CASES or [None], ids=[c["name"] for c in CASES] if CASES else ["cases-file-missing"]
)
def test_shared_reward_case(ledger: Ledger, clock: list[datetime], case: dict[str, Any]) -> None:
    if case is None:
        _missing()
        return
    clock[0] = _case_clock(case)
    service = SettlementService.for_ledger(ledger)
    player = CasePlayer(ledger, case)
    player.record_history()
    settled_year = None
    if "settle" in case:
        settled_year = int(case["settle"]["year"])
        body = service.settle(ledger.context(STAFF), POLICY_ID, settled_year)
        assert body["revision"] == 0 and body["document_intact"] is True
    for event in case.get("then", []):
        player.apply(event)
    check_expectations(service, player, case["expect"])
    if settled_year is None:
        assert "expect_settlement" not in case
        return
    audit = service.audit(POLICY_ID, settled_year)
    differences = {d["association_id"]: d for d in audit["differences"]}
    names = player.association_keys
    expected = case.get("expect_settlement", [])
    nonzero = {names[a] for a, d in differences.items() if d["difference"] != "0.00"}
    assert nonzero == {e["association"] for e in expected if e["difference"] != "0.00"}
    for entry in expected:
        assert int(entry["year"]) == settled_year
        got = differences[player.associations[entry["association"]]]
        for key in ("settled_total", "recomputed_total", "difference"):
            assert got[key] == entry[key], key
        causes = {(player.project_keys[c["project_id"]], c["type"]) for c in got["caused_by"]}
        for cause in entry["caused_by"]:
            assert (cause["project"], cause["type"]) in causes
        assert all(c["version"] > 0 for c in got["caused_by"])
