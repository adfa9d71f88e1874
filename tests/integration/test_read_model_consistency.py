"""`verify --read-models`: every read model against a fresh fold of the log (DESIGN §21). The
reward-facts row edited in the database (issue 13's reproduction) is caught; a clean record
passes; and the settlement freezes the log's figures, not the edited row's."""

from __future__ import annotations

import json
from argparse import Namespace
from decimal import Decimal

import pytest
from sqlalchemy import text

from cli import integrity
from domain.application import Ledger
from projections.consistency import verify_read_models
from services.settings import Settings
from tests import factories
from tests.conftest import OFFICER, STAFF, services_for


def _funded(ledger: Ledger) -> str:
    project_id = factories.signed_project(ledger)
    ledger.record_funds_arrival(
        ledger.context(OFFICER),
        project_id,
        occurred_on="2023-05-01",
        amount="111276200.00",
        currency="CNY",
    )
    return str(project_id)


class TestReadModelsAgainstTheLog:
    def test_a_clean_record_matches_a_fresh_fold(self, ledger: Ledger, database_url: str) -> None:
        services = services_for(ledger, database_url)
        _funded(ledger)
        services.runner.run_once()
        report = verify_read_models(services.runner)
        assert report.ok, report.as_dict()
        assert [c.name for c in report.checks] == [
            "ledger",
            "figures",
            "rewards",
            "search",
            "progress",
        ]
        with services.engine.connect() as conn:  # the scratch tables are gone
            names = services.engine.dialect.get_table_names(conn)
        assert not [n for n in names if n.endswith("_g0")]

    def test_an_edited_reward_fact_is_caught_and_never_settled(
        self, ledger: Ledger, database_url: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        services = services_for(ledger, database_url)
        project_id = _funded(ledger)
        services.runner.run_once()
        table = services.runner.projections[2].tables["facts"].name
        with services.engine.begin() as conn:
            doc = json.loads(
                conn.execute(
                    text(f"SELECT doc FROM {table} WHERE project_id = :p"), {"p": project_id}
                ).scalar_one()
            )
            doc["arrivals"][0]["amount_cny"] = "999999999.00"
            conn.execute(
                text(f"UPDATE {table} SET doc = :d WHERE project_id = :p"),
                {"d": json.dumps(doc), "p": project_id},
            )

        report = verify_read_models(services.runner)
        rewards = next(c for c in report.checks if c.name == "rewards")
        assert not report.ok and rewards.status == "mismatch"
        assert rewards.differences[0].keys == [project_id]
        assert {c.status for c in report.checks if c.name != "rewards"} == {"ok"}

        code = integrity._verify(
            Namespace(project=None, json=False, read_models=True),
            Settings(database_url=database_url),
        )
        out = capsys.readouterr().out
        assert code == 1 and "read model rewards: mismatch" in out and project_id in out

        body = services.settlements.settle(ledger.context(STAFF), "hunan-2022", 2023)
        [association] = body["figures"]["associations"]
        [row] = association["projects"]
        assert Decimal(row["funds_in_year"]) == Decimal("111276200.00")  # the log's, not the edit
