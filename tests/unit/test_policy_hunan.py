"""The Hunan 2022 file under the engine: each interpretation, including what the shared cases
cannot tell apart (a total exactly at the cap, ties in a split, shares after an attribution
change, the attestation in force), and the shape and wording of the figures."""

from __future__ import annotations

import json

from projections.policy import AttributionFact, evaluate, evaluate_project, load_policies
from tests.unit.policy_support import arrival, d, facts, granted, rows, shares, totals, withdrawn

HUNAN = load_policies().get("hunan-2022")


def test_the_file_carries_every_interpretation_as_a_parameter() -> None:
    v = HUNAN.versions[0]
    assert (HUNAN.valid_from, HUNAN.valid_to) == (d("2022-09-01"), d("2024-08-31"))
    threshold = v.threshold()
    assert threshold is not None and threshold.operator == ">="  # I1
    assert str(threshold.amount.cny) == "20000000.00" and threshold.applies_to == "project_total"
    assert (v.period.starts_month, v.period.starts_day, v.period.timezone) == (
        1,
        1,
        "Asia/Shanghai",
    )  # I2
    assert v.counting.window == "inside_validity"  # I3
    assert str(v.amount.rate) == "0.001" and v.amount.portion == "whole"  # I4
    assert v.amount.rounding == "half_up" and v.counting.arrival_rounding == "half_up"
    assert v.counting.conversion == "recorded_rate"  # I5
    assert v.split.shares_at == "year_end_or_validity_end"  # I6
    assert v.split.method == "down_largest_remainder"
    assert v.split.ties == ("larger_share", "association_id")
    attestation = next(c for c in v.conditions if c.id == "positive_impact")
    assert attestation.in_force == "latest_recorded"  # type: ignore[attr-defined]  # I7
    cap = v.association_caps[0]
    assert str(cap.amount.cny) == "1000000.00" and cap.capped_when == ">"  # I8
    assert v.rows.after_caps == "keep_uncapped"
    assert [c.status for c in v.conditions] + [v.eligible_status] == [  # I9
        "excluded",
        "no_funds_in_window",
        "below_threshold",
        "pending_attestation",
        "eligible",
    ]
    assert v.listing.projects == "any_arrival_in_year"  # I10
    assert all(c.clause for c in v.conditions)


def test_a_total_exactly_at_the_cap_is_not_capped() -> None:
    projects = [
        facts("p1", arrivals=[arrival("2023-03-01", "600000000.00")]),
        facts("p2", arrivals=[arrival("2023-04-01", "400000000.00")]),
    ]
    assert totals(evaluate(HUNAN, 2023, projects)) == {"X": ("1000000.00", False, "1000000.00")}
    projects.append(facts("p3", arrivals=[arrival("2023-05-01", "20000000.00")]))
    assert totals(evaluate(HUNAN, 2023, projects)) == {"X": ("1000000.00", True, "1020000.00")}
    table = rows(evaluate(HUNAN, 2023, projects))
    assert table[("X", "p1")]["reward"] == "600000.00"  # rows keep their uncapped parts


def test_a_three_way_split_gives_left_over_fens_to_the_largest_remainders() -> None:
    # 20,000.01 yuan = 2,000,001 fen among 33.34 / 33.33 / 33.33: exact parts 666,800.3334 /
    # 666,600.3333 / 666,600.3333 fen; floors leave one fen, which the largest remainder takes.
    project = facts(
        arrivals=[arrival("2023-03-01", "20000005.00")],
        referrers=[("C", "33.33"), ("B", "33.33"), ("A", "33.34")],
    )
    table = rows(evaluate(HUNAN, 2023, [project]))
    assert [table[(a, "p1")]["reward"] for a in "ABC"] == ["6668.01", "6666.00", "6666.00"]


def test_a_tie_on_the_remainder_goes_to_the_larger_share_before_the_association_id() -> None:
    # 20,000.05 yuan = 2,000,005 fen among Z 50 / A 30 / B 20: exact 1,000,002.5 / 600,001.5 /
    # 400,001 fen; one fen is left and Z and A tie on the remainder: Z has the larger share
    # (A would win on the id alone).
    project = facts(
        arrivals=[arrival("2023-03-01", "20000050.00")],
        referrers=[("A", "30"), ("B", "20"), ("Z", "50")],
    )
    table = rows(evaluate(HUNAN, 2023, [project]))
    assert [table[(a, "p1")]["reward"] for a in "ZAB"] == ["10000.03", "6000.01", "4000.01"]


def test_equal_shares_tie_on_the_remainder_and_the_share_then_go_by_association_id() -> None:
    # 20,000.01 yuan halved: 1,000,000.5 fen each; the one fen goes to the smaller id.
    project = facts(
        arrivals=[arrival("2023-03-01", "20000005.00")],
        referrers=[("Y", "50"), ("X", "50")],
    )
    table = rows(evaluate(HUNAN, 2023, [project]))
    assert (table[("X", "p1")]["reward"], table[("Y", "p1")]["reward"]) == ("10000.01", "10000.00")
    assert table[("X", "p1")]["share"] == "50.00"


def test_the_shares_at_the_end_of_the_year_decide_the_split_and_the_listing() -> None:
    project = facts(
        arrivals=[arrival("2023-03-01", "50000000.00")],
        attributions=[
            AttributionFact(d("2022-06-01"), shares(("X", "100"))),
            AttributionFact(d("2023-12-31"), shares(("X", "20"), ("Y", "80"))),
            AttributionFact(d("2024-01-01"), shares(("Z", "100"))),
        ],
    )
    table = rows(evaluate(HUNAN, 2023, [project]))
    assert {k: v["reward"] for k, v in table.items()} == {
        ("X", "p1"): "10000.00",
        ("Y", "p1"): "40000.00",
    }


def test_in_2024_the_shares_at_the_end_of_the_window_decide() -> None:
    project = facts(
        arrivals=[arrival("2024-03-01", "50000000.00")],
        attributions=[
            AttributionFact(d("2022-06-01"), shares(("X", "100"))),
            AttributionFact(d("2024-09-01"), shares(("Y", "100"))),  # after 2024-08-31
        ],
    )
    assert set(totals(evaluate(HUNAN, 2024, [project]))) == {"X"}


def test_the_latest_attestation_recorded_is_in_force_whatever_its_date() -> None:
    later_withdrawn = facts(
        arrivals=[arrival("2023-03-01", "30000000.00")],
        attestations=[granted("2023-06-01"), withdrawn("2023-02-01")],
    )
    granted_late = facts(
        "p2",
        arrivals=[arrival("2023-03-01", "30000000.00")],
        attestations=[withdrawn("2023-06-01"), granted("2025-02-01")],
    )
    table = rows(evaluate(HUNAN, 2023, [later_withdrawn, granted_late]))
    assert table[("X", "p1")]["status"] == "pending_attestation"
    assert table[("X", "p2")]["status"] == "eligible"


def test_status_precedence_first_match_wins() -> None:
    excluded_without_funds = facts(
        "p1", industry="K", arrivals=[arrival("2022-08-01", "50000000.00")]
    )
    no_funds_and_no_attestation = facts(
        "p2", attestations=[], arrivals=[arrival("2022-08-31", "50000000.00")]
    )
    below_and_not_attested = facts("p3", attestations=[], arrivals=[arrival("2022-09-01", "1.00")])
    table = rows(
        evaluate(
            HUNAN,
            2022,
            [excluded_without_funds, no_funds_and_no_attestation, below_and_not_attested],
        )
    )
    assert [table[("X", p)]["status"] for p in ("p1", "p2", "p3")] == [
        "excluded",
        "no_funds_in_window",
        "below_threshold",
    ]
    assert {r["reward"] for r in table.values()} == {"0.00"}
    assert {r["project_reward"] for r in table.values()} == {"0.00"}


def test_listing_needs_an_arrival_dated_in_the_year_counted_or_not() -> None:
    listed = facts("p1", arrivals=[arrival("2022-08-15", "10.00")])  # outside the window
    not_listed = facts("p2", arrivals=[arrival("2021-12-31", "50000000.00")])
    body = evaluate(HUNAN, 2022, [listed, not_listed]).as_dict()
    assert [r["project_id"] for a in body["associations"] for r in a["projects"]] == ["p1"]
    row = body["associations"][0]["projects"][0]
    assert (row["funds_in_year"], row["status"]) == ("0.00", "no_funds_in_window")


def test_a_corrected_arrival_date_moves_the_amount_between_years() -> None:
    # Facts carry arrivals after corrections: only the date in the facts counts.
    project = facts(arrivals=[arrival("2024-01-02", "30000000.00")])
    assert rows(evaluate(HUNAN, 2023, [project])) == {}
    assert rows(evaluate(HUNAN, 2024, [project]))[("X", "p1")]["reward"] == "30000.00"


def test_the_body_has_exactly_the_design_shape_with_money_as_two_place_strings() -> None:
    body = evaluate(HUNAN, 2023, [facts(arrivals=[arrival("2023-03-01", "20000000")])]).as_dict()
    assert list(body) == ["year", "policy", "associations"]
    association = body["associations"][0]
    assert list(association) == ["association_id", "total", "capped", "uncapped_total", "projects"]
    row = association["projects"][0]
    assert list(row) == [
        "project_id",
        "share",
        "funds_in_year",
        "status",
        "project_reward",
        "reward",
        "explanation",
    ]
    assert (row["funds_in_year"], row["reward"], association["total"]) == (
        "20000000.00",
        "20000.00",
        "20000.00",
    )
    json.dumps(body, ensure_ascii=False)  # JSON-able as it is


def test_every_step_names_its_rule_clause_parameters_with_dates_and_renders_in_both_languages() -> (
    None
):
    report = evaluate(
        HUNAN,
        2023,
        [
            facts(
                arrivals=[arrival("2023-03-01", "20000005.00")],
                referrers=[("X", "70"), ("Y", "30")],
            )
        ],
    )
    row = report.association("X").rows[0]  # type: ignore[union-attr]
    kinds = [s.kind for s in row.explanation]
    assert kinds == [
        "base.funds_arrived",
        "condition.exclusion",
        "condition.base_present",
        "condition.threshold",
        "condition.attestation",
        "amount.flat_rate",
        "rounding",
        "split",
        "association.sum",
        "cap.association",
    ]
    for step in row.explanation:
        assert step.rule and step.clause
        assert step.text_zh.startswith(f"[{step.clause}]") and step.text_en
        assert "{" not in step.text_zh and "{" not in step.text_en, step.kind
        for parameter in step.parameters:
            assert parameter.since == d("2022-09-01")
    amount = row.explanation[5]
    assert str(amount.result) == "20000.005"
    rounding = row.explanation[6]
    assert str(rounding.result) == "20000.01" and "half-up" in rounding.text_en
    split = row.explanation[7]
    assert split.value("extra_fen") == 1 and str(split.result) == "14000.01"
    assert "14,000.01" in split.text_zh
    cap = row.explanation[9]
    assert cap.outcome == "not_applied" and str(cap.value("cap")) == "1000000.00"
    step = row.explanation[3].as_dict()
    assert step["parameters"][1] == {
        "name": "amount",
        "value": "20000000.00",
        "since": "2022-09-01",
    }
    assert step["inputs"]["base"] == "20000005.00"


def test_a_capped_association_shows_the_amounts_before_and_after_the_cap() -> None:
    projects = [
        facts("p1", arrivals=[arrival("2023-02-01", "800000000.00")]),
        facts("p2", arrivals=[arrival("2023-09-01", "500000000.00")]),
    ]
    report = evaluate(HUNAN, 2023, projects)
    association = report.association("X")
    assert association is not None
    cap = association.explanation[-1]
    assert cap.outcome == "applied"
    assert (str(cap.value("before")), str(cap.result)) == ("1300000.00", "1000000.00")
    assert "1,300,000.00" in cap.text_zh and "1,000,000.00" in cap.text_en
    assert association.rows[0].explanation[-1] is cap
    detailed = report.as_dict(association_explanations=True)["associations"][0]
    assert detailed["explanation"][-1]["outcome"] == "applied"


def test_a_row_that_is_not_eligible_says_why_in_both_languages() -> None:
    result = evaluate_project(HUNAN, 2023, facts(arrivals=[arrival("2023-04-01", "19999999.99")]))
    assert result is not None and result.status == "below_threshold"
    last = result.steps[-1]
    assert last.kind == "status" and last.rule == "threshold"
    assert "未达到奖励门槛" in last.text_zh and "below the threshold" in last.text_en
    assert "19,999,999.99" in result.steps[-2].text_en
