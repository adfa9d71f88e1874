"""Loading policy files: validation names the file, the path in it and the reason; the registry
lists every file it saw, valid or not, from the project's folder and `ZHAOSHANG_POLICY_PATH`."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from projections.policy import (
    BUILTIN_POLICY_DIR,
    PolicyFileError,
    PolicyNotFound,
    load_policies,
    load_policy_file,
    policy_from_data,
    policy_paths,
)
from projections.policy.loader import parse_yaml
from services.settings import Settings
from tests.unit.policy_support import TEST_POLICIES

HUNAN_FILE = BUILTIN_POLICY_DIR / "hunan-2022.yaml"
HUNAN: dict[str, Any] = parse_yaml(HUNAN_FILE.read_text(encoding="utf-8"))


def hunan() -> dict[str, Any]:
    return copy.deepcopy(HUNAN)


def params(data: dict[str, Any], version: int = 0) -> dict[str, Any]:
    return data["versions"][version]["parameters"]  # type: ignore[no-any-return]


def condition(data: dict[str, Any], condition_id: str) -> dict[str, Any]:
    return next(c for c in params(data)["conditions"] if c["id"] == condition_id)  # type: ignore[no-any-return]


def errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(PolicyFileError) as caught:
        policy_from_data(data, "bad.yaml")
    assert all(e.file == "bad.yaml" for e in caught.value.errors)
    return [(e.path, e.reason) for e in caught.value.errors]


def only_error(data: dict[str, Any]) -> tuple[str, str]:
    found = errors(data)
    assert len(found) == 1, found
    return found[0]


class TestValidation:
    def test_the_project_and_test_policies_are_valid(self) -> None:
        registry = load_policies([TEST_POLICIES])
        assert [f.errors for f in registry.files] == [()] * len(registry.files)
        assert len(registry.files) >= 6 and "hunan-2022" in registry

    def test_overlapping_bands(self) -> None:
        data = hunan()
        params(data)["amount"] = {
            "clause": "四(二)3",
            "kind": "bands",
            "mode": "whole",
            "portion": "whole",
            "rounding": "half_up",
            "places": 2,
            "bands": [
                {"at_least": "0", "up_to": "50000000.00", "rate": "0.001"},
                {"at_least": "50000000.00", "rate": "0.002"},  # 50,000,000 is in both
            ],
        }
        path, reason = only_error(data)
        assert path == "versions[0].parameters.amount.bands[1]" and "overlaps band 0" in reason
        params(data)["amount"]["bands"][1] = {"above": "50000000.00", "rate": "0.002"}
        policy_from_data(data)  # ≤ then > meet without overlapping

    def test_progressive_bands_must_follow_on_without_a_gap(self) -> None:
        data = hunan()
        params(data)["amount"] = {
            "clause": "x",
            "kind": "bands",
            "mode": "progressive",
            "portion": "whole",
            "rounding": "half_up",
            "places": 2,
            "bands": [{"below": "100", "rate": "0.1"}, {"above": "100", "rate": "0.2"}],
        }
        path, reason = only_error(data)  # 100 itself is in neither band
        assert path.endswith("amount.bands[1]") and "no gap" in reason

    def test_a_rule_without_its_clause(self) -> None:
        data = hunan()
        del condition(data, "threshold")["clause"]
        assert only_error(data) == (
            "versions[0].parameters.conditions[threshold]",
            "missing 'clause'",
        )

    def test_an_unknown_industry(self) -> None:
        data = hunan()
        condition(data, "scope_exclusions")["industries"] = ["J", "Z"]
        path, reason = only_error(data)
        assert path == "versions[0].parameters.conditions[scope_exclusions].industries[1]"
        assert reason.startswith("unknown industry 'Z'")

    def test_a_rate_out_of_range(self) -> None:
        data = hunan()
        params(data)["amount"]["rate"] = "1.5"
        path, reason = only_error(data)
        assert path == "versions[0].parameters.amount.rate" and "out of range" in reason
        params(data)["amount"]["rate"] = "-0.001"
        assert "out of range" in only_error(data)[1]

    def test_unknown_keys_anywhere(self) -> None:
        data = hunan()
        data["valid_until"] = "2024-08-31"
        condition(data, "threshold")["inclusive"] = True
        found = errors(data)
        assert ("valid_until", found[0][1]) == found[0] and "unknown key" in found[0][1]
        assert found[1][0] == "versions[0].parameters.conditions[threshold].inclusive"

    def test_the_comparison_must_be_explicit_and_known(self) -> None:
        data = hunan()
        del condition(data, "threshold")["operator"]
        assert only_error(data)[1] == "missing 'operator'"
        condition(data, "threshold")["operator"] = "=>"
        assert "not one of: >=, >" in only_error(data)[1]

    def test_a_foreign_amount_needs_the_policys_fixed_rate(self) -> None:
        data = hunan()
        condition(data, "threshold")["amount"] = {"amount": "3000000.00", "currency": "USD"}
        path, reason = only_error(data)
        assert path.endswith("conditions[threshold].amount") and "rate_to_cny" in reason
        condition(data, "threshold")["amount"]["currency"] = "XYZ"
        condition(data, "threshold")["amount"]["rate_to_cny"] = "7"
        assert "ISO 4217" in only_error(data)[1]

    def test_floats_are_refused_but_unquoted_yaml_decimals_are_read_exactly(self) -> None:
        data = hunan()
        params(data)["amount"]["rate"] = 0.001
        assert "decimal string" in only_error(data)[1]
        text = HUNAN_FILE.read_text(encoding="utf-8").replace('rate: "0.001"', "rate: 0.001")
        rate = policy_from_data(parse_yaml(text)).versions[0].amount.rate
        assert rate == Decimal("0.001") and str(rate) == "0.001"
        big = parse_yaml("amount: 12345678901234567.89")["amount"]
        assert big == Decimal("12345678901234567.89")

    def test_dated_versions_in_order_and_inside_the_validity(self) -> None:
        data = hunan()
        data["versions"].append(
            {"effective_from": "2022-08-01", "parameters": {"amount": {"rate": "0.002"}}}
        )
        data["versions"].append(
            {"effective_from": "2024-09-01", "parameters": {"amount": {"rate": "0.002"}}}
        )
        reasons = [r for _, r in errors(data)]
        assert any("not after the previous version" in r for r in reasons)
        assert any("outside the validity" in r for r in reasons)
        data = hunan()
        data["versions"][0]["effective_from"] = "2022-10-01"
        assert "takes effect with the policy" in only_error(data)[1]

    def test_an_error_in_a_later_version_is_reported_at_that_version(self) -> None:
        data = hunan()
        data["versions"].append(
            {
                "effective_from": "2024-01-01",
                "parameters": {"conditions": [{"id": "threshold", "amount": "lots"}]},
            }
        )
        path, reason = only_error(data)
        assert path == "versions[1].parameters.conditions[threshold].amount"
        assert "not a decimal number" in reason

    def test_merging_versions_removes_and_adds_by_id(self) -> None:
        data = hunan()
        data["versions"].append(
            {
                "effective_from": "2024-01-01",
                "parameters": {"conditions": [{"id": "nothing_here", "remove": True}]},
            }
        )
        assert "names no earlier entry" in only_error(data)[1]
        data["versions"][1]["parameters"]["conditions"] = [
            {"id": "positive_impact", "remove": True},
            {"clause": "x", "kind": "base_present", "status": "s"},
        ]
        assert "needs an `id`" in only_error(data)[1]

    def test_the_year_cannot_change_between_versions(self) -> None:
        data = hunan()
        data["versions"].append(
            {"effective_from": "2024-01-01", "parameters": {"period": {"starts": "12-01"}}}
        )
        assert "cannot change between versions" in only_error(data)[1]

    def test_consistency_between_rules(self) -> None:
        data = hunan()
        params(data)["amount"]["portion"] = "above_threshold"
        params(data)["conditions"] = [
            c for c in params(data)["conditions"] if c["id"] != "threshold"
        ]
        assert only_error(data) == (
            "versions[0].parameters.amount.portion",
            "above_threshold needs a threshold condition",
        )
        data = hunan()
        params(data)["eligible_status"] = "excluded"
        assert "also a condition's status" in only_error(data)[1]
        data = hunan()
        params(data)["association_caps"][0]["id"] = "threshold"
        assert "also used at" in only_error(data)[1]

    def test_jurisdiction_and_split_rules(self) -> None:
        data = hunan()
        data["jurisdiction"] = {"level": "city", "name": "某市", "city": "atlantis"}
        assert "unknown city 'atlantis'" in only_error(data)[1]
        data = hunan()
        data["jurisdiction"] = {"level": "county", "name": "浏阳市", "city": "changsha"}
        assert "names its `county`" in only_error(data)[1]
        data = hunan()
        params(data)["split"]["ties"] = ["association_id", "larger_share"]
        assert "must end with association_id" in only_error(data)[1]

    def test_conditions_of_unknown_kind_and_designations(self) -> None:
        data = hunan()
        params(data)["conditions"].append(
            {"id": "x", "clause": "c", "kind": "vibes", "status": "s"}
        )
        assert "not a condition kind" in only_error(data)[1]
        data = hunan()
        params(data)["adjustments"] = [
            {
                "id": "m",
                "clause": "c",
                "kind": "multiplier",
                "designations": ["famous"],
                "factor": "2",
            }
        ]
        assert "unknown designation 'famous'" in only_error(data)[1]


class TestFiles:
    def test_bad_yaml_and_duplicate_keys_name_the_line(self, tmp_path: Path) -> None:
        broken = tmp_path / "broken.yaml"
        broken.write_text("id: x\nversions: [\n", encoding="utf-8")
        with pytest.raises(PolicyFileError) as caught:
            load_policy_file(broken)
        error = caught.value.errors[0]
        assert error.file == str(broken) and error.path.startswith("line ")
        twice = tmp_path / "twice.yaml"
        twice.write_text("id: a\nid: b\n", encoding="utf-8")
        with pytest.raises(PolicyFileError) as caught:
            load_policy_file(twice)
        assert "duplicate key 'id'" in caught.value.errors[0].reason
        assert caught.value.errors[0].path == "line 2, column 1"

    def test_folders_from_the_environment_and_the_listing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        extra = tmp_path / "city"
        extra.mkdir()
        bad = hunan()
        bad["id"] = "city-bad"
        del condition(bad, "threshold")["clause"]
        import yaml

        (extra / "city-bad.yaml").write_text(yaml.safe_dump(_plain(bad)), encoding="utf-8")
        duplicate = extra / "hunan-copy.yml"
        duplicate.write_text(HUNAN_FILE.read_text(encoding="utf-8"), encoding="utf-8")
        (extra / "notes.txt").write_text("not a policy", encoding="utf-8")
        missing = tmp_path / "nowhere"
        monkeypatch.setenv("ZHAOSHANG_POLICY_PATH", f"{TEST_POLICIES}:{extra}::{missing}")
        assert policy_paths(Settings().policy_path) == [
            BUILTIN_POLICY_DIR,
            TEST_POLICIES,
            extra,
            missing,
        ]
        registry = load_policies(Settings().policy_folders())
        assert registry.ids() == sorted(
            ["hunan-2022", *[p.stem for p in TEST_POLICIES.glob("*.yaml")]]
        )
        listing = {Path(entry["file"]).name: entry for entry in registry.listing()}
        assert listing["hunan-2022.yaml"]["valid"] is True
        hunan_entry = listing["hunan-2022.yaml"]
        assert hunan_entry["validity"] == {"from": "2022-09-01", "to": "2024-08-31"}
        assert hunan_entry["versions"] == [
            {"effective_from": "2022-09-01", "note": "原文（2022-09-30印发）"}
        ]
        assert hunan_entry["jurisdiction"]["level"] == "province"
        assert set(hunan_entry) >= {"id", "versions", "jurisdiction", "validity", "file", "valid"}
        assert listing["city-bad.yaml"]["valid"] is False
        assert listing["city-bad.yaml"]["errors"] == [
            {"path": "versions[0].parameters.conditions[threshold]", "reason": "missing 'clause'"}
        ]
        assert "already loaded from" in listing["hunan-copy.yml"]["errors"][0]["reason"]
        assert listing["nowhere"]["errors"][0]["reason"] == "not found"
        assert "notes.txt" not in listing
        with pytest.raises(PolicyNotFound, match=r"did not load.*missing 'clause'"):
            registry.get("city-bad")
        with pytest.raises(PolicyNotFound, match="no policy 'nope'"):
            registry.get("nope")
        assert registry.get("changsha-fai-2023").jurisdiction.city == "changsha"

    def test_without_the_environment_only_the_projects_folder(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("ZHAOSHANG_POLICY_PATH", raising=False)
        assert load_policies(Settings().policy_folders()).ids() == ["hunan-2022"]


def _plain(value: Any) -> Any:
    """Decimals as strings and dates as ISO, for `yaml.safe_dump`."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
