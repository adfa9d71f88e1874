"""The evaluation's indicators summed in the database (`ReadModels.evaluation_indicators`), on
SQLite and PostgreSQL: whole quarters from the quarterly counters and the other months from the
monthly ones give the figures the monthly counters alone give, and counters past 64 bits —
one long counter, or many short ones whose sum SQLite would refuse — are summed exactly."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import insert

from domain.application import Ledger
from domain.values import CITIES
from projections.catalogue import all_projections
from projections.figures import CITY_TOTAL
from projections.queries import ReadModels, evaluation_months
from projections.runtime import ProjectionRunner, engine_of
from tests import factories
from tests.conftest import OFFICER

BIG = "big-association"
SHORT = 999_999_999_999_999_999  # 18 digits: each fits 64 bits, their sum does not


def by_monthly_counters(read: ReadModels, year: int) -> dict[str, dict[str, int]]:
    """The indicators as the monthly counters give them, summed in Python."""
    found: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in read._monthly(evaluation_months(year)):
        if row.association_id != CITY_TOTAL:
            found[row.association_id][row.metric] += row.value
    return {a: dict(v) for a, v in found.items()}


def test_indicators_from_quarters_and_months_are_the_monthly_sums(ledger: Ledger) -> None:
    association = factories.association(ledger, "北京湖南商会")
    officer = ledger.context(OFFICER)
    # Evaluation year 2023: 2022-12 … 2023-11, i.e. December, Q1–Q3 whole, October, November.
    for day in ("2022-12-05", "2023-02-10", "2023-05-20", "2023-09-30", "2023-11-30"):
        project = factories.signed_project(ledger, association, signed_on=day)
        ledger.record_funds_arrival(
            officer, project, occurred_on=day, amount="1000.00", currency="CNY"
        )
    ledger.record_visit(officer, project, occurred_on="2023-12-01")  # after the year
    ProjectionRunner(ledger, all_projections()).run_once()
    read = ReadModels(engine_of(ledger))

    indicators = read.evaluation_indicators(2023)
    assert {k: v for k, v in indicators[association].items() if v} == {
        k: v for k, v in by_monthly_counters(read, 2023)[association].items() if v
    }
    assert indicators[association]["funds_fen"] == 5 * 100_000
    assert indicators[association]["signings"] == 5


def test_counters_past_64_bits_are_summed_exactly(ledger: Ledger) -> None:
    factories.association(ledger, "北京湖南商会")
    ProjectionRunner(ledger, all_projections()).run_once()
    read = ReadModels(engine_of(ledger))
    tables = read._bound(read._figures).tables
    long_value = 2**64 + 7
    with engine_of(ledger).begin() as conn:
        rows = [
            {
                "quarter": q,
                "association_id": BIG,
                "city": city,
                "metric": "funds_fen",
                "value": SHORT,
            }
            for q in ("2023Q1", "2023Q2", "2023Q3")
            for city in CITIES
        ]
        rows.append(
            {
                "quarter": "2023Q1",
                "association_id": BIG,
                "city": "",
                "metric": "visits",
                "value": long_value,
            }
        )
        conn.execute(insert(tables["quarterly"]), rows)
        conn.execute(
            insert(tables["monthly"]),
            [
                {
                    "month": "2022-12",
                    "association_id": BIG,
                    "city": "changsha",
                    "metric": "visits",
                    "value": 5,
                }
            ],
        )

    figures = read.evaluation_indicators(2023)[BIG]
    assert figures["funds_fen"] == 3 * len(CITIES) * SHORT > 2**63
    assert figures["visits"] == long_value + 5
