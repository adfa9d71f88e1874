"""The one rules loader: reward policies and evaluation rules found, read and parsed once, told
apart by `kind`, refused with the one error type — each file listed once, under its kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from projections.policy import files
from projections.policy.evaluation_rules import EvaluationRulesError
from projections.policy.files import BUILTIN_POLICY_DIR, PolicyFileError
from projections.policy.registry import load_evaluation_registry, load_policies, load_rules
from tests.unit.policy_support import TEST_POLICIES

RULES_TEXT = (BUILTIN_POLICY_DIR / "hunan-2022-evaluation.yaml").read_text(encoding="utf-8")
POLICY_TEXT = (TEST_POLICIES / "gaoxin-overseas-2023.yaml").read_text(encoding="utf-8")


def test_the_evaluation_refusal_is_the_policy_refusal() -> None:
    assert EvaluationRulesError is PolicyFileError


def test_every_file_is_read_once_and_handed_to_the_validator_of_its_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "policy.yaml").write_text(
        POLICY_TEXT.replace("id: gaoxin-overseas-2023", "id: copy-2023"), encoding="utf-8"
    )
    (tmp_path / "rules.yaml").write_text(
        RULES_TEXT.replace("version: 1", "version: 2"), encoding="utf-8"
    )
    read: list[Path] = []
    original = files.read_rules_file

    def counting(path: str | Path) -> files.RulesFile:
        read.append(Path(path))
        return original(path)

    monkeypatch.setattr("projections.policy.registry.read_rules_file", counting)
    registry = load_rules([tmp_path])
    builtin = sorted(p for p in BUILTIN_POLICY_DIR.iterdir() if p.suffix == ".yaml")
    assert read == [*builtin, tmp_path / "policy.yaml", tmp_path / "rules.yaml"]
    assert "copy-2023" in registry.policies.ids()
    assert registry.evaluation.get("hunan-2022").version == 2
    assert not registry.errors()
    # An evaluation file never shows among the policies, nor a policy among the rules.
    assert all("rules.yaml" not in item["file"] for item in registry.listing()["items"])
    assert all("policy.yaml" not in item["file"] for item in registry.listing()["evaluation_rules"])


def test_broken_yaml_is_refused_once_under_the_kind_its_lines_say(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        RULES_TEXT.replace("version: 1", "version: 2\n  :"), encoding="utf-8"
    )
    (tmp_path / "policy.yaml").write_text(
        POLICY_TEXT.replace("id: gaoxin-overseas-2023", "id: bad-2023\n  :"), encoding="utf-8"
    )
    registry = load_rules([tmp_path])
    refused = [(Path(e.file).name, e.reason.split(":")[0]) for e in registry.errors()]
    assert refused == [("policy.yaml", "not valid YAML"), ("rules.yaml", "not valid YAML")]
    [bad_rules] = [f for f in registry.evaluation.files if not f.valid]
    assert (bad_rules.rules_id, bad_rules.policy) == ("hunan-2022-evaluation", "hunan-2022")
    [bad_policy] = [f for f in registry.policies.files if not f.valid]
    assert bad_policy.policy_id == "bad-2023"


def test_a_missing_folder_is_listed_with_both_kinds_but_refused_once(tmp_path: Path) -> None:
    registry = load_rules([tmp_path / "nowhere"])
    assert [e.path for e in registry.errors()] == ["(folder)"]
    assert any(not f["valid"] for f in registry.listing()["items"])
    assert any(not f["valid"] for f in registry.listing()["evaluation_rules"])


def test_unknown_keys_are_refused_in_the_same_words_in_both_kinds(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        RULES_TEXT.replace("version: 1", "version: 2\ncolour: red"), encoding="utf-8"
    )
    (tmp_path / "policy.yaml").write_text(
        POLICY_TEXT.replace("id: gaoxin-overseas-2023", "id: red-2023\ncolour: red"),
        encoding="utf-8",
    )
    registry = load_rules([tmp_path])
    reasons = {Path(e.file).name: (e.path, e.reason) for e in registry.errors()}
    assert reasons["rules.yaml"][0] == reasons["policy.yaml"][0] == "colour"
    assert reasons["rules.yaml"][1].startswith("unknown key 'colour'; allowed here: ")
    assert reasons["policy.yaml"][1].startswith("unknown key 'colour'; allowed here: ")


def test_the_halves_load_the_same_as_the_whole(tmp_path: Path) -> None:
    whole = load_rules([TEST_POLICIES])
    assert load_policies([TEST_POLICIES]).ids() == whole.policies.ids()
    assert [f.rules_id for f in load_evaluation_registry([TEST_POLICIES]).files] == [
        f.rules_id for f in whole.evaluation.files
    ]
    assert load_policies([TEST_POLICIES], include_builtin=False).ids() == [
        i for i in whole.policies.ids() if i != "hunan-2022"
    ]
