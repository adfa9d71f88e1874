"""The second-step constructs (DESIGN §7a) on `tests/policies/liuyang-openness-2024.yaml`, with the
arithmetic of each case written out, and the refusals of files that misuse them."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from projections.policy import ArrivalFact, PolicyFileError, evaluate, policy_from_data
from projections.policy.loader import parse_yaml
from tests.unit.policy_support import TEST_POLICIES, facts, policy, rows

FILE = TEST_POLICIES / "liuyang-openness-2024.yaml"


def usd(arrival_id: str, day: str, amount: str, rate: str) -> ArrivalFact:
    cny = (Decimal(amount) * Decimal(rate)).quantize(Decimal("0.01"))
    return ArrivalFact(
        arrival_id, date.fromisoformat(day), cny, "overseas", Decimal(amount), "USD", Decimal(rate)
    )


def cny(arrival_id: str, day: str, amount: str, source: str = "other_province") -> ArrivalFact:
    return ArrivalFact(
        arrival_id, date.fromisoformat(day), Decimal(amount), source, Decimal(amount)
    )


PROJECTS = [
    # 60,000,000 (v1, 2024-03-01) × 0.005 = 300,000.00 + 60,000,000 (v2, 2024-09-01) × 0.006
    # = 360,000.00 → 660,000.00; domestic: 120,000,000 ≥ 100,000,000 from other provinces.
    facts(
        "p1",
        county="浏阳",
        referrers=(("X1", "100"),),
        arrivals=[cny("a1", "2024-03-01", "60000000.00"), cny("a2", "2024-09-01", "60000000.00")],
    ),
    # USD 15,000,000 × 7.1 = 106,500,000.00 (v1) and USD 10,000,000 × 7.2 = 72,000,000.00 (v2);
    # the band is chosen by USD 25,000,000 ≥ 20,000,000 → 0.015 on the CNY amounts:
    # 1,597,500 + 1,080,000 = 2,677,500; Fortune Global 500 with overseas funds: + 100,000
    # → 2,777,500.00.
    facts(
        "p2",
        county="浏阳市",
        origin="overseas",
        designations=["fortune_global_500"],
        referrers=(("X2", "100"),),
        arrivals=[
            usd("a3", "2024-04-01", "15000000.00", "7.1"),
            usd("a4", "2024-10-01", "10000000.00", "7.2"),
        ],
    ),
    # USD 12,000,000 × 7.0 = 84,000,000.00, band < USD 20,000,000 → 0.01 → 840,000.00 (under
    # version 1, its date's); not Fortune Global 500: no bonus.
    facts(
        "p3",
        county="浏阳市",
        origin="overseas",
        referrers=(("X3", "100"),),
        arrivals=[usd("a5", "2024-05-01", "12000000.00", "7.0")],
    ),
    # Real estate (K): `not` real estate fails → excluded.
    facts(
        "p4",
        county="浏阳市",
        industry="K",
        referrers=(("X4", "100"),),
        arrivals=[cny("a6", "2024-05-01", "150000000.00")],
    ),
    # USD 5,000,000 < 10,000,000 and no domestic funds: neither branch → below_threshold.
    facts(
        "p5",
        county="浏阳市",
        origin="overseas",
        referrers=(("X5", "100"),),
        arrivals=[usd("a7", "2024-05-01", "5000000.00", "7.0")],
    ),
    # Another county: not listed by a county policy.
    facts(
        "p6",
        county="长沙县",
        referrers=(("X6", "100"),),
        arrivals=[cny("a8", "2024-05-01", "150000000.00")],
    ),
]


def test_the_hand_computed_figures() -> None:
    report = evaluate(policy("liuyang-openness-2024"), 2024, PROJECTS)
    got = {k: (r["status"], r["reward"]) for k, r in rows(report).items()}
    assert got == {
        ("X1", "p1"): ("eligible", "660000.00"),
        ("X2", "p2"): ("eligible", "2777500.00"),
        ("X3", "p3"): ("eligible", "840000.00"),
        ("X4", "p4"): ("excluded", "0.00"),
        ("X5", "p5"): ("below_threshold", "0.00"),
    }


def test_the_explanation_names_rows_branches_bands_and_versions() -> None:
    report = evaluate(policy("liuyang-openness-2024"), 2024, PROJECTS)
    steps = rows(report)[("X2", "p2")]["explanation"]
    kinds = [s["kind"] for s in steps]
    assert "condition.any_of" in kinds and "amount.decision_table" in kinds
    table = next(s for s in steps if s["kind"] == "amount.decision_table")
    assert table["inputs"] == {"row": "overseas", "skipped": []}
    assert "命中行overseas" in table["text_zh"] and "row overseas fired" in table["text_en"]
    size = next(s for s in steps if s["kind"] == "condition.any_of")
    assert size["inputs"]["fired"] == ["overseas_usd"]
    bands = [s for s in steps if s["kind"] == "amount.bands_selected"]
    assert len(bands) == 2 and all("≥20000000.00" in s["text_en"] for s in bands)
    segments = [s for s in steps if s["kind"] == "amount.version_segment"]
    assert [s["inputs"]["effective_from"] for s in segments] == ["2024-01-01", "2024-07-01"]
    assert "2024-07-01起施行的版本" in segments[1]["text_zh"]
    bonus = next(s for s in steps if s["kind"] == "adjustment.bonus")
    assert bonus["outcome"] == "applied_if" and bonus["result"] == "2777500.00"
    assert all(p["since"] for s in steps for p in s["parameters"])
    refused = rows(report)[("X5", "p5")]["explanation"]
    assert any("没有分支满足" in s["text_zh"] for s in refused)
    assert any("no branch is met" in s["text_en"] for s in refused)


def test_the_county_is_matched_by_its_normalised_name() -> None:
    report = evaluate(policy("liuyang-openness-2024"), 2024, PROJECTS)
    assert "p6" not in report.projects and {"p1", "p2"} <= set(report.projects)


def test_band_edges_in_dollars_converted_at_the_files_rate() -> None:
    data = _data()
    amount = data["versions"][0]["parameters"]["amount"]
    # USD 10,000,000 × 7.0 = 70,000,000.00 yuan: 84,000,000 falls in the upper band (2%).
    amount["rows"][0]["rule"] = {
        "kind": "bands",
        "mode": "whole",
        "selected_by": "base",
        "edges_currency": "USD",
        "edges_rate_to_cny": Decimal("7.0"),
        "bands": [
            {"below": Decimal("10000000.00"), "rate": Decimal("0.01")},
            {"at_least": Decimal("10000000.00"), "rate": Decimal("0.02")},
        ],
    }
    del data["versions"][1]
    loaded = policy_from_data(data, "edges.yaml")
    report = evaluate(loaded, 2024, [PROJECTS[2]])
    # 84,000,000.00 × 0.02 = 1,680,000.00
    assert rows(report)[("X3", "p3")]["reward"] == "1680000.00"


def _data() -> Any:
    return copy.deepcopy(parse_yaml(FILE.read_text(encoding="utf-8")))


def _refused(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(PolicyFileError) as caught:
        policy_from_data(data, "bad.yaml")
    assert all(e.file == "bad.yaml" for e in caught.value.errors)
    return [(e.path, e.reason) for e in caught.value.errors]


def _first(data: Any) -> Any:
    return data["versions"][0]["parameters"]


def test_an_unknown_key_in_a_nested_condition_is_refused() -> None:
    data = _data()
    _first(data)["conditions"][0]["conditions"][0]["thresold"] = "1"
    [(path, reason)] = _refused(data)
    assert path == "versions[0].parameters.conditions[size].conditions[overseas_usd].thresold"
    assert "unknown key 'thresold'" in reason


def test_not_holds_exactly_one_condition() -> None:
    data = _data()
    inner = _first(data)["conditions"][1]["conditions"]
    inner.append({"id": "mining", "kind": "attribute", "attribute": "industry", "in": ["B"]})
    [(path, reason)] = _refused(data)
    assert path.endswith("conditions[not_real_estate].conditions")
    assert "exactly one" in reason


def test_a_decision_table_needs_its_default_row() -> None:
    data = _data()
    del _first(data)["amount"]["default"]
    assert ("versions[0].parameters.amount", "missing 'default'") in _refused(data)


def test_a_dollar_figure_is_not_compared_with_yuan() -> None:
    data = _data()
    _first(data)["conditions"][0]["conditions"][0]["amount"] = "70000000.00"
    [(path, reason)] = _refused(data)
    assert path.endswith("conditions[overseas_usd].amount") and "in USD" in reason


def test_top_level_notes_take_only_texts() -> None:
    data = _data()
    data["notes"] = {"threshold": "1"}
    assert _refused(data) == [("notes", "expected a text or a list of texts, found a mapping")]


def test_a_rate_table_is_keyed_by_a_single_valued_attribute() -> None:
    data = _data()
    _first(data)["amount"]["rows"][1]["rule"]["key"] = "designations"
    del data["versions"][1]
    errors = dict(_refused(data))
    assert (
        "'designations' is not one of"
        in errors["versions[0].parameters.amount.rows[domestic].rule.key"]
    )


def test_progressive_bands_are_not_chosen_by_another_figure() -> None:
    data = _data()
    rule = _first(data)["amount"]["rows"][0]["rule"]
    rule["mode"] = "progressive"
    rule["bands"] = [
        {"below": "20000000.00", "rate": "0.01"},
        {"at_least": "20000000.00", "rate": "0.015"},
    ]
    del data["versions"][1]
    paths = [p for p, _ in _refused(data)]
    assert "versions[0].parameters.amount.rows[overseas].rule.selected_by" in paths


def test_dollar_edges_on_a_yuan_figure_need_a_rate() -> None:
    data = _data()
    rule = _first(data)["amount"]["rows"][0]["rule"]
    rule["selected_by"] = "base"
    del data["versions"][1]
    [(path, reason)] = _refused(data)
    assert path == "versions[0].parameters.amount.rows[overseas].rule"
    assert "edges_rate_to_cny" in reason


def test_by_event_date_refuses_a_portion_above_the_threshold() -> None:
    data = _data()
    _first(data)["amount"]["portion"] = "above_threshold"
    _first(data)["conditions"].append(
        {
            "id": "t",
            "clause": "x",
            "kind": "threshold",
            "operator": ">=",
            "amount": "1.00",
            "applies_to": "project_total",
            "status": "below_t",
        }
    )
    assert any(p == "version_selection" for p, _ in _refused(data))


def test_every_test_policy_still_loads() -> None:
    from projections.policy import load_policies

    registry = load_policies([TEST_POLICIES])
    assert registry.errors() == []
    assert "liuyang-openness-2024" in registry.ids()
    assert Path(str(registry.get("liuyang-openness-2024").file)).name == FILE.name
