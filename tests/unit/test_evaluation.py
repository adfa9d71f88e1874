"""The annual evaluation without a database: scores by hand, ties, publication, rules files."""

from __future__ import annotations

import dataclasses
import random
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from projections.evaluation import (
    BUILTIN_RULES_DIR,
    EvaluationRules,
    EvaluationRulesError,
    EvaluationRulesNotFound,
    compute_evaluation,
    load_evaluation_registry,
    load_evaluation_rules,
    load_rules_file,
)
from services.settings import Settings

RULES_FILE = BUILTIN_RULES_DIR / "hunan-2022-evaluation.yaml"


@pytest.fixture(scope="module")
def rules() -> EvaluationRules:
    return load_evaluation_rules("hunan-2022", paths=[])


def association(
    aid: str, name: str = "", registered_on: str = "2022-01-01", active: int = 1
) -> dict[str, Any]:
    return {
        "association_id": aid,
        "name": name or f"商会{aid}",
        "registered_on": registered_on,
        "active": active,
    }


# Hand-made indicators for evaluation year 2024 (money in fen, as the read models give it).
INDICATORS: dict[str, dict[str, int]] = {
    # A: activities 6 × 1.5 = 9; talent 1 × 3 = 3; referrals 2 × 3 = 6; visits+negotiations
    #    4 × 1 = 4; signings 1 × 5 = 5; funds 30,000,000.00 is the best → 30.  Score 57.00.
    "a": {
        "promotion": 4,
        "service": 2,
        "talent": 1,
        "referrals": 2,
        "visits": 3,
        "negotiations": 1,
        "signings": 1,
        "funds_fen": 3_000_000_000,
        "activities": 7,  # not an indicator: ignored
    },
    # B: promotion 20 × 1.5 = 30 → capped at 15; referrals 7 × 3 = 21 → 15; signings 2 × 5 = 10;
    #    funds 10,000,000.00 of the best 30,000,000.00 → 30 × 1/3 = 10.00.  Score 50.00.
    "b": {"promotion": 20, "referrals": 7, "signings": 2, "funds_fen": 1_000_000_000},
    # C: referrals 1 → 3; technology 2 → 6; funds 0.01 → 0.00000001 points → 0.00.  Score 9.00.
    "c": {"referrals": 1, "technology": 2, "funds_fen": 1},
    # D: signings 3 → 15; funds 125,000.00 → 30 × 12,500,000 / 3,000,000,000 = 0.125 → 0.13
    #    (half-up, not half-even).  Score 15.13.
    "d": {"signings": 3, "funds_fen": 12_500_000},
    "e": {"referrals": 5},  # registered after 30 November 2024: not ranked
    "f": {"referrals": 5},  # deactivated: not ranked
    "g": {},  # nothing done: ranked last with 0.00
}
ASSOCIATIONS = [
    association("a"),
    association("b"),
    association("c"),
    association("d"),
    association("e", registered_on="2024-12-01"),
    association("f", active=0),
    association("g"),
]


class TestScores:
    def test_scores_and_ranks_are_the_hand_computed_ones(self, rules: EvaluationRules) -> None:
        evaluation = compute_evaluation(rules, 2024, INDICATORS, ASSOCIATIONS)
        assert evaluation.period == (date(2023, 12, 1), date(2024, 11, 30))
        assert evaluation.ranking() == [
            (1, "a", Decimal("57.00")),
            (2, "b", Decimal("50.00")),
            (3, "d", Decimal("15.13")),
            (4, "c", Decimal("9.00")),
            (5, "g", Decimal("0.00")),
        ]
        a = evaluation.items[0]
        assert {r.id: r.points for r in a.indicators} == {
            "promotion_service": Decimal("9.00"),
            "talent_technology": Decimal("3.00"),
            "referrals": Decimal("6.00"),
            "visits_negotiations": Decimal("4.00"),
            "signings": Decimal("5.00"),
            "funds": Decimal("30.00"),
        }
        assert a.indicator("funds").value == Decimal("30000000.00")
        b = evaluation.items[1]
        assert b.indicator("promotion_service").points == Decimal("15.00")  # capped at the weight
        assert b.indicator("referrals").points == Decimal("15.00")
        assert b.indicator("funds").points == Decimal("10.00")
        assert evaluation.items[2].indicator("funds").points == Decimal("0.13")
        assert evaluation.excluded == (("e", "registered_after_the_year"), ("f", "deactivated"))

    def test_the_output_has_the_design_shape(self, rules: EvaluationRules) -> None:
        evaluation = compute_evaluation(rules, 2024, INDICATORS, ASSOCIATIONS, {"figures": 9})
        doc = evaluation.as_dict()
        assert "positions" not in doc
        assert evaluation.as_dict(with_positions=True)["positions"] == {"figures": 9}
        assert {"year", "published_top_n", "tie_rule", "items"} <= set(doc)
        assert doc["year"] == 2024 and doc["published_top_n"] == 40
        assert doc["provisional"] is True and doc["rules"]["provisional"] is True
        assert doc["tie_rule"] == (
            "equal scores (to 0.01) are ordered by higher arrived funds (yuan), then more"
            " signings, then more referrals, then association id ascending"
        )
        assert doc["period"] == {"from": "2023-12-01", "to": "2024-11-30"}
        first = doc["items"][0]
        assert {"rank", "association_id", "score", "indicators", "published", "name"} <= set(first)
        assert first["score"] == "57.00" and first["name"] == "商会a"
        assert first["indicators"]["funds"] == {"value": "30000000.00", "points": "30.00"}
        assert first["indicators"]["referrals"] == {"value": 2, "points": "6.00"}
        assert first["tie_break"] == {"funds": "30000000.00", "signings": 1, "referrals": 2}
        assert doc["rules"]["max_score"] == "100"

    def test_an_evaluation_year_with_nobody_scores_zero_without_dividing_by_zero(
        self, rules: EvaluationRules
    ) -> None:
        evaluation = compute_evaluation(rules, 2024, {}, [association("x"), association("y")])
        assert evaluation.ranking() == [(1, "x", Decimal("0.00")), (2, "y", Decimal("0.00"))]
        assert evaluation.items[1].tie_broken_by == "association_id"


class TestTies:
    def test_equal_scores_are_ordered_by_funds_then_signings_then_id(
        self, rules: EvaluationRules
    ) -> None:
        indicators = {
            "z": {"funds_fen": 3_000_000_000},  # the best funds: 30.00
            # 15.00 each from referrals; funds of 2 fen and 1 fen both round to 0.00 points.
            "p1": {"referrals": 5, "funds_fen": 1},
            "p2": {"referrals": 5, "funds_fen": 2},
            # 5.00 each: one signing against five visits; no funds.
            "q1": {"visits": 5},
            "q2": {"signings": 1},
            # 3.00 each, identical in every tie-break metric: the association id decides.
            "r2": {"talent": 1},
            "r1": {"technology": 1},
        }
        rows = [association(a) for a in indicators]
        evaluation = compute_evaluation(rules, 2024, indicators, rows)
        assert [(i.association_id, str(i.score), i.tie_broken_by) for i in evaluation.items] == [
            ("z", "30.00", None),
            ("p2", "15.00", None),
            ("p1", "15.00", "funds"),
            ("q2", "5.00", None),
            ("q1", "5.00", "signings"),
            ("r1", "3.00", None),
            ("r2", "3.00", "association_id"),
        ]

    def test_the_tie_rule_comes_from_the_file(self, rules: EvaluationRules) -> None:
        by_referrals = dataclasses.replace(rules, tie_break=("referrals",))
        indicators = {"x": {"signings": 1}, "y": {"visits": 2, "referrals": 1}}
        # x: 5.00; y: 2.00 + 3.00 = 5.00; y referred more.
        evaluation = compute_evaluation(
            by_referrals, 2024, indicators, [association("x"), association("y")]
        )
        assert [i.association_id for i in evaluation.items] == ["y", "x"]
        assert by_referrals.tie_rule.endswith("more referrals, then association id ascending")


class TestPublication:
    def test_only_the_top_n_are_published(self, rules: EvaluationRules) -> None:
        top_two = dataclasses.replace(rules, published_top_n=2)
        evaluation = compute_evaluation(top_two, 2024, INDICATORS, ASSOCIATIONS)
        assert [(i.association_id, i.published) for i in evaluation.items] == [
            ("a", True),
            ("b", True),
            ("d", False),
            ("c", False),
            ("g", False),
        ]
        assert evaluation.as_dict()["published_top_n"] == 2

    def test_forty_published_out_of_fifty(self, rules: EvaluationRules) -> None:
        indicators = {f"{n:03d}": {"referrals": n % 6, "funds_fen": n} for n in range(50)}
        evaluation = compute_evaluation(
            rules, 2024, indicators, [association(a) for a in indicators]
        )
        assert sum(i.published for i in evaluation.items) == 40
        assert [i.rank for i in evaluation.items] == list(range(1, 51))
        assert all(i.published == (i.rank <= 40) for i in evaluation.items)


class TestReproducibility:
    def test_the_same_figures_give_the_same_ranking_in_any_input_order(
        self, rules: EvaluationRules
    ) -> None:
        first = compute_evaluation(rules, 2024, INDICATORS, ASSOCIATIONS).as_dict()
        shuffled_rows = list(ASSOCIATIONS)
        random.Random(7).shuffle(shuffled_rows)
        shuffled_indicators = dict(reversed(list(INDICATORS.items())))
        second = compute_evaluation(rules, 2024, shuffled_indicators, shuffled_rows).as_dict()
        assert first == second
        assert compute_evaluation(rules, 2024, INDICATORS, ASSOCIATIONS).as_dict() == first

    def test_the_rules_file_is_identified_by_version_and_hash(self, rules: EvaluationRules) -> None:
        summary = rules.summary()
        assert (summary["id"], summary["version"], summary["policy"]) == (
            "hunan-2022-evaluation",
            1,
            "hunan-2022",
        )
        assert len(summary["sha256"]) == 64


class TestRulesFile:
    def test_the_hunan_file_is_provisional_and_complete(self, rules: EvaluationRules) -> None:
        assert rules.provisional and "评价细则另行制定" in rules.note
        assert rules.published_top_n == 40 and rules.max_score == Decimal(100)
        assert (rules.starts_month, rules.ends_month) == (12, 11)
        assert rules.tie_break == ("funds", "signings", "referrals")
        assert {i.id for i in rules.indicators} == {
            "promotion_service",
            "talent_technology",
            "referrals",
            "visits_negotiations",
            "signings",
            "funds",
        }
        assert rules.purchased_service_cap == Decimal("3000000.00")
        assert rules.designations == {"advanced_unit": 10, "liaison_station": 20}

    def test_period_and_closed_years(self, rules: EvaluationRules) -> None:
        assert rules.period(2023) == (date(2022, 12, 1), date(2023, 11, 30))
        assert not rules.closed(2024, date(2024, 11, 30))
        assert rules.closed(2024, date(2024, 12, 1))
        assert rules.latest_closed_year(date(2025, 3, 1)) == 2024
        calendar_year = dataclasses.replace(rules, starts_month=1)
        assert calendar_year.period(2024) == (date(2024, 1, 1), date(2024, 12, 31))


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def variant(**changes: Any) -> str:
    """The Hunan file with top-level lines replaced (key: new text, or None to drop the key)."""
    lines = RULES_FILE.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    skipping = False
    for line in lines:
        if skipping and line.startswith(" "):
            continue  # the replaced key's block
        skipping = False
        key = line.split(":", 1)[0]
        if key in changes and not line.startswith(" "):
            if changes[key] is not None:
                out.append(f"{key}: {changes[key]}")
            skipping = True
            continue
        out.append(line)
    out += [f"{k}: {v}" for k, v in changes.items() if v is not None and f"{k}: {v}" not in out]
    return "\n".join(out) + "\n"


def errors_of(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(EvaluationRulesError) as caught:
        load_rules_file(path)
    assert all(e.file == str(path) for e in caught.value.errors)
    return [(e.path, e.reason) for e in caught.value.errors]


class TestValidation:
    def test_each_error_names_the_file_the_path_and_the_reason(self, tmp_path: Path) -> None:
        text = RULES_FILE.read_text(encoding="utf-8")
        text = text.replace(
            "weight: 15\n    scale: {kind: per_unit, points: 1.5}",
            "weight: -2\n    scale: {kind: per_unit, points: 1.5}",
        )
        text = text.replace("metrics: [signings]", "metrics: [signatures]")
        text = text.replace("scale: {kind: share_of_best}", "scale: {kind: best_share}")
        text = text.replace('ends: "11-30"', 'ends: "11-29"')
        text = text.replace("published_top_n: 40", "published_top_n: 0")
        text = text.replace("tie_break: [funds, signings, referrals]", "tie_break: [funds, funds]")
        errors = errors_of(write(tmp_path, text))
        assert ("indicators[promotion_service].weight", "must be positive, found -2") in errors
        paths = {p for p, _ in errors}
        assert "indicators[signings].metrics[0]" in paths
        assert "indicators[funds].scale.kind" in paths
        assert "evaluation_year.ends" in paths
        assert "ranking.published_top_n" in paths
        assert ("ranking.tie_break[1]", "'funds' is listed twice") in errors

    def test_unknown_keys_missing_keys_and_a_wrong_kind(self, tmp_path: Path) -> None:
        errors = errors_of(write(tmp_path, variant(kind="policy", ranking=None, colour="red")))
        paths = {p for p, _ in errors}
        assert {"kind", "ranking", "colour"} <= paths
        assert any(p == "colour" and r.startswith("unknown key") for p, r in errors)

    def test_provisional_rules_need_their_note(self, tmp_path: Path) -> None:
        text = variant(note=None)
        assert ("note", "provisional rules need a note saying what replaces them and how") in (
            errors_of(write(tmp_path, text))
        )

    def test_a_year_must_be_whole_months(self, tmp_path: Path) -> None:
        text = RULES_FILE.read_text(encoding="utf-8").replace('starts: "12-01"', 'starts: "12-15"')
        assert "evaluation_year.starts" in {p for p, _ in errors_of(write(tmp_path, text))}

    def test_counts_and_yuan_cannot_be_added(self, tmp_path: Path) -> None:
        text = RULES_FILE.read_text(encoding="utf-8").replace(
            "metrics: [signings]", "metrics: [signings, signed_amount]"
        )
        assert (
            "indicators[signings].metrics",
            "an indicator cannot add counts and yuan together",
        ) in errors_of(write(tmp_path, text))

    def test_designations_cannot_reach_below_the_published_ranks(self, tmp_path: Path) -> None:
        text = RULES_FILE.read_text(encoding="utf-8").replace("{top: 20}", "{top: 41}")
        errors = errors_of(write(tmp_path, text))
        assert ("designations.liaison_station.top", "41 is more than the 40 ranks published") in (
            errors
        )

    def test_the_cap_is_money(self, tmp_path: Path) -> None:
        text = RULES_FILE.read_text(encoding="utf-8").replace(
            'annual_cap: "3000000.00"', 'annual_cap: "3000000.001"'
        )
        assert "purchased_service.annual_cap" in {p for p, _ in errors_of(write(tmp_path, text))}

    def test_a_duplicate_key_and_broken_yaml_are_reported_with_their_line(
        self, tmp_path: Path
    ) -> None:
        duplicate = RULES_FILE.read_text(encoding="utf-8").replace(
            "version: 1\n", "version: 1\nversion: 2\n"
        )
        [(where, reason)] = errors_of(write(tmp_path, duplicate))
        assert where.startswith("line ") and "duplicate key 'version'" in reason
        broken = RULES_FILE.read_text(encoding="utf-8").replace("weight: 30", "weight: [30")
        [(where, reason)] = errors_of(write(tmp_path, broken, "broken.yaml"))
        assert where.startswith("line ") and reason.startswith("not valid YAML")

    def test_floats_never_creep_in(self, tmp_path: Path) -> None:
        rules = load_rules_file(write(tmp_path, RULES_FILE.read_text(encoding="utf-8")))
        points = rules.indicators[0].scale.points
        assert isinstance(points, Decimal) and points == Decimal("1.5")


class TestRegistry:
    def test_other_yaml_files_in_the_folders_are_left_alone(self, tmp_path: Path) -> None:
        write(tmp_path, "id: some-city-2023\njurisdiction: {level: city}\n", "city.yaml")
        registry = load_evaluation_registry([tmp_path])
        assert [f.rules_id for f in registry.files] == ["hunan-2022-evaluation"]

    def test_a_higher_version_on_the_policy_path_replaces_the_builtin(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write(tmp_path, variant(version="2", provisional="false", note="正式评价细则"), "v2.yaml")
        monkeypatch.setenv("ZHAOSHANG_POLICY_PATH", f"/nonexistent-folder:{tmp_path}")
        registry = load_evaluation_registry(Settings().policy_folders())
        rules = registry.get("hunan-2022")
        assert (rules.version, rules.provisional) == (2, False)
        assert any(
            f["file"] == "/nonexistent-folder" and not f["valid"] for f in registry.listing()
        )

    def test_a_broken_new_version_is_never_replaced_by_the_old_one(self, tmp_path: Path) -> None:
        text = variant(version="2").replace("published_top_n: 40", "published_top_n: forty")
        write(tmp_path, text, "v2.yaml")
        with pytest.raises(EvaluationRulesError) as caught:
            load_evaluation_rules("hunan-2022", paths=[tmp_path])
        [error] = caught.value.errors
        assert error.file == str(tmp_path / "v2.yaml")
        assert error.path == "ranking.published_top_n"

    def test_broken_yaml_that_says_it_is_evaluation_rules_is_reported(self, tmp_path: Path) -> None:
        text = RULES_FILE.read_text(encoding="utf-8").replace("version: 1", "version: 2\n  :")
        write(tmp_path, text, "v2.yaml")
        registry = load_evaluation_registry([tmp_path])
        [bad] = [f for f in registry.files if not f.valid]
        assert bad.policy == "hunan-2022" and bad.errors[0].reason.startswith("not valid YAML")
        with pytest.raises(EvaluationRulesError):
            registry.get("hunan-2022")

    def test_the_same_version_twice_is_a_duplicate(self, tmp_path: Path) -> None:
        write(tmp_path, RULES_FILE.read_text(encoding="utf-8"), "copy.yaml")
        registry = load_evaluation_registry([tmp_path])
        [duplicate] = [f for f in registry.files if not f.valid]
        assert duplicate.errors[0].path == "version"
        assert "already loaded" in duplicate.errors[0].reason

    def test_an_unknown_policy_has_no_rules(self) -> None:
        with pytest.raises(EvaluationRulesNotFound):
            load_evaluation_rules("changsha-2023", paths=[])


def test_the_follow_up_interval_comes_from_the_rules_file_unless_a_setting_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from projections.policy import BUILTIN_POLICY_DIR
    from services.bootstrap import bootstrap
    from services.settings import Settings

    def follow_up_interval_days(override: int | None = None) -> int:
        return bootstrap(Settings(follow_up_interval_days=override)).follow_up_interval_days

    assert follow_up_interval_days() == 180
    text = (BUILTIN_POLICY_DIR / "hunan-2022-evaluation.yaml").read_text(encoding="utf-8")
    newer = text.replace("version: 1\n", "version: 2\n").replace(
        "interval_days: 180", "interval_days: 90"
    )
    (tmp_path / "hunan-2022-evaluation-v2.yaml").write_text(newer, encoding="utf-8")
    monkeypatch.setenv("ZHAOSHANG_POLICY_PATH", str(tmp_path))
    assert follow_up_interval_days() == 90  # the department edits a file, not the code
    assert follow_up_interval_days(30) == 30
