"""The small demo province covers what a demo and the tests need (issue: demo province)."""

from __future__ import annotations

from demo.province import generate
from domain.application import Ledger
from domain.project import STAGES
from domain.values import CITIES


def test_small_province_has_every_city_stage_and_kind_of_event() -> None:
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    summary = generate(app, "small")
    assert summary.associations >= 50 and summary.projects >= 500
    assert set(summary.cities) == set(CITIES)
    assert set(summary.stages) == set(STAGES)
    assert len(summary.currencies) >= 3
    assert summary.corrections > 0 and summary.voids > 0
    assert summary.joint_referrals > 0 and summary.attribution_changes > 0
    assert summary.follow_ups > 0 and summary.issues > 0
    assert {2022, 2023, 2024, 2025} <= set(summary.arrival_years)
    kinds = {
        app.get_association(e.originator_id).kind
        for e in app.recorder.select_notifications(1, 100)
        if e.topic.endswith("Association.Registered")
    }
    assert kinds == {"domestic_chamber", "overseas_chamber", "alumni"}
