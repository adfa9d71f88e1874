"""The reward figures kept between requests (issue 23): after further events, a report brought
forward project by project, whole or by page, equals the year computed afresh from the read
model and from the log; it says the position it is of; a read during a move is never answered
as the position it began at."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from adapters.reader import reader_for
from domain.application import Ledger
from projections.rewards import (
    KeptYear,
    RewardQuery,
    fold_log,
    reward_page,
    reward_report,
    reward_report_of_fold,
)
from projections.runtime import engine_of
from services.bootstrap import Services
from tests import factories
from tests.conftest import OFFICER, STAFF, services_for

YEAR = 2023
POLICY = "hunan-2022"


def _arrive(ledger: Ledger, project_id: UUID, day: str, amount: str) -> str:
    arrival_id, _ = ledger.record_funds_arrival(
        ledger.context(OFFICER), project_id, occurred_on=day, amount=amount, currency="CNY"
    )
    return arrival_id


def _attest(ledger: Ledger, project_id: UUID, granted: bool = True) -> None:
    ledger.record_attestation(
        ledger.context(STAFF),
        project_id,
        kind="positive_local_impact",
        occurred_on="2023-03-01",
        granted=granted,
        reason="县商务局认定",
    )


def _whole_year(services: Services) -> dict[str, Any]:
    """The year computed afresh from the read model, and checked against the log's fold."""
    policy = services.settlements.policy(POLICY)
    fresh = reward_report(engine_of(services.ledger), policy, YEAR).as_dict()
    _, fold = fold_log(reader_for(services.ledger))
    assert reward_report_of_fold(fold, policy, YEAR).as_dict() == fresh
    return fresh


def _pages(services: Services, size: int) -> list[dict[str, Any]]:
    pages = []
    for page in range(1, 10):
        body = services.settlements.figures(POLICY, YEAR, RewardQuery(page=page, size=size))
        pages.append(body)
        if page * size >= body["total"]:
            return pages
    raise AssertionError("more pages than the test made")


class TestKeptRewards:
    def test_after_further_events_the_kept_report_is_the_whole_year_afresh(
        self, ledger: Ledger, database_url: str
    ) -> None:
        services = services_for(ledger, database_url)
        service = services.settlements
        associations = [factories.association(ledger) for _ in range(4)]
        projects = []
        for n in range(6):
            referrers = (associations[n % 4],) if n % 3 else (associations[0], associations[n % 4])
            if len(set(referrers)) < len(referrers):
                referrers = (associations[n % 4],)
            project_id = factories.signed_project(ledger, *referrers)
            _attest(ledger, project_id)
            projects.append(project_id)
        arrivals = [_arrive(ledger, p, "2023-04-01", "35000000.00") for p in projects[:4]]
        services.runner.run_once()
        first_position, first = service.figures_at(POLICY, YEAR)
        assert first == _whole_year(services)
        assert first_position == services.read_models.position("rewards")
        listed = {a["association_id"] for a in first["associations"]}

        # Further events of every kind a figure follows: a new arrival, a correction, a void,
        # an attestation withdrawn, a changed attribution, a project newly listed, a
        # withdrawal; and events that change no figure of the year.
        later = _arrive(ledger, projects[0], "2023-06-01", "12000000.00")
        ledger.correct_funds_arrival(
            ledger.context(OFFICER),
            projects[1],
            arrivals[1],
            occurred_on="2023-07-01",
            amount="52000000.00",
            currency="CNY",
            reason="银行回单更正",
        )
        ledger.void_funds_arrival(
            ledger.context(OFFICER),
            projects[2],
            arrivals[2],
            occurred_on="2023-07-02",
            reason="重复登记",
        )
        _attest(ledger, projects[3], granted=False)
        ledger.change_attribution(
            ledger.context(STAFF),
            projects[0],
            occurred_on="2023-05-01",
            referrals=[{"association_id": associations[3], "share": "100"}],
            reason="引荐关系更正",
            approver="处长",
        )
        newly = _arrive(ledger, projects[5], "2023-09-01", "61000000.00")
        _arrive(ledger, projects[4], "2024-02-01", "61000000.00")  # another year
        ledger.change_status(
            ledger.context(STAFF),
            projects[4],
            occurred_on="2024-03-01",
            status="withdrawn",
            reason="投资方撤回",
        )
        services.runner.run_once()

        position, kept = service.figures_at(POLICY, YEAR)
        assert position == services.read_models.position("rewards") > first_position
        assert kept == _whole_year(services)
        assert kept != first  # the events moved figures
        assert {a["association_id"] for a in kept["associations"]} != listed

        # By page, explained or not, in one language: the pages of the whole year afresh.
        whole = reward_page(reward_report(engine_of(ledger), service.policy(POLICY), YEAR))
        for size in (1, 3):
            pages = _pages(services, size)
            assert [a for p in pages for a in p["associations"]] == whole["associations"]
        bare = service.figures(POLICY, YEAR, RewardQuery(page=1, size=2, explain=False, lang="zh"))
        fresh = reward_page(
            reward_report(engine_of(ledger), service.policy(POLICY), YEAR),
            RewardQuery(page=1, size=2, explain=False, lang="zh"),
        )
        assert bare == fresh

        # Every arrival of the year voided: the projects, then the associations, leave.
        voided = [
            (projects[0], arrivals[0]),
            (projects[0], later),
            (projects[1], arrivals[1]),
            (projects[3], arrivals[3]),
            (projects[5], newly),
        ]
        for project_id, arrival_id in voided:
            ledger.void_funds_arrival(
                ledger.context(OFFICER),
                project_id,
                arrival_id,
                occurred_on="2023-11-01",
                reason="重复登记",
            )
        services.runner.run_once()
        emptied = service.figures(POLICY, YEAR)
        assert emptied == _whole_year(services)
        assert emptied["associations"] == []

    def test_a_read_during_a_move_answers_the_later_position_exactly(
        self, ledger: Ledger, database_url: str
    ) -> None:
        services = services_for(ledger, database_url)
        project_id = factories.signed_project(ledger)
        _attest(ledger, project_id)
        _arrive(ledger, project_id, "2023-04-01", "35000000.00")
        services.runner.run_once()
        engine = engine_of(ledger)
        reader = reader_for(ledger)
        policy = services.settlements.policy(POLICY)
        kept = KeptYear(policy, YEAR)
        _, report = kept.current(engine, reader, lambda: services.read_models.position("rewards"))
        assert report.as_dict() == _whole_year(services)

        # The runner commits between the two readings of the position (the later event's rows
        # may or may not have been read): the answer is the later position, exactly.
        other = factories.signed_project(ledger)
        _attest(ledger, other)
        _arrive(ledger, other, "2023-05-01", "45000000.00")
        services.runner.run_once()
        _arrive(ledger, project_id, "2023-06-01", "5000000.00")
        readings: list[int] = []

        def position() -> int:
            if len(readings) == 1:
                services.runner.run_once()  # the move lands while the changes are read
            readings.append(services.read_models.position("rewards"))
            return readings[-1]

        position_now, report = kept.current(engine, reader, position)
        assert readings[0] < readings[1]  # it did move between the readings
        assert position_now == services.read_models.position("rewards") == readings[-1]
        assert report.as_dict() == _whole_year(services)
        assert len(report.associations) == 2
