"""Amount kinds and adjustments are one class each, registered by kind: the loader, the engine
and the explainer take everything from the class, so a new kind is one class and its test."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from projections.policy import evaluate, policy_from_data
from projections.policy.amounts import (
    ADJUSTMENT_KINDS,
    AMOUNT_KINDS,
    Adjustment,
    AmountRule,
    Bonus,
    FlatRate,
    Multiplier,
)
from projections.policy.conditions import Context
from projections.policy.explain import TEMPLATES, Parameter, Step, add_templates
from projections.policy.files import BUILTIN_POLICY_DIR, PolicyFileError, parse_yaml
from projections.policy.model import exact
from tests.unit.policy_support import arrival, facts

if TYPE_CHECKING:
    from projections.policy.loader import PathT, _VersionBuilder

HUNAN: dict[str, Any] = parse_yaml(
    (BUILTIN_POLICY_DIR / "hunan-2022.yaml").read_text(encoding="utf-8")
)


def test_every_kind_is_registered_with_its_sentences() -> None:
    assert set(AMOUNT_KINDS) == {
        "flat_rate",
        "rate_by_industry",
        "rate_table",
        "bands",
        "decision_table",
    }
    assert set(ADJUSTMENT_KINDS) == {"multiplier", "bonus"}
    for cls in AMOUNT_KINDS.values():
        for step_kind, sentences in cls.TEMPLATES.items():
            for outcome in sentences:
                assert (step_kind, outcome) in TEMPLATES
    for adjustment in (Multiplier, Bonus):
        for outcome in ("applied", "not_applied", "applied_if", "not_applied_if"):
            assert (f"adjustment.{adjustment.KIND}", outcome) in TEMPLATES
    assert isinstance(policy_from_data(copy.deepcopy(HUNAN)).versions[0].amount, FlatRate)


@dataclass(frozen=True, kw_only=True)
class PerProject(AmountRule):
    """A test kind: a fixed amount for every eligible project, whatever its funds."""

    amount: Decimal

    KIND = "per_project"
    REQUIRED = ("amount",)
    TEMPLATES = {
        "amount.per_project": {
            "": ("每个项目奖励{amount}元：{result}元", "{amount} yuan per project: {result} yuan")
        }
    }

    @classmethod
    def parse(cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT) -> dict[str, Any]:
        return {"amount": b.c.decimal(m, "amount", path, low=Decimal(0), places=2, what="amount")}

    def evaluate(self, ctx: Context, portion: Decimal, steps: list[Step]) -> Decimal:
        steps.append(
            Step(
                "amount.per_project",
                self.id,
                self.clause,
                (),
                (ctx.p(self, "amount", self.amount),),
                exact(self.amount),
            )
        )
        return self.amount


def test_a_new_amount_kind_is_one_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(AMOUNT_KINDS, PerProject.KIND, PerProject)
    for step_kind, sentences in PerProject.TEMPLATES.items():
        add_templates(step_kind, sentences)
    data = copy.deepcopy(HUNAN)
    amount = data["versions"][0]["parameters"]["amount"]
    amount.pop("rate")
    amount.update(kind="per_project", amount="50000.00")
    policy = policy_from_data(data)
    project = facts(arrivals=[arrival("2023-05-01", "30000000.00")])
    report = evaluate(policy, 2023, [project])
    result = report.projects["p1"]
    # 50,000.00 per project whatever the 30,000,000.00 of funds; rounded half-up to the fen.
    assert result.project_reward == Decimal("50000.00")
    texts = [s.text("en") for s in result.steps]
    assert any("50,000.00 yuan per project: 50,000.00 yuan" in t for t in texts)
    assert any("每个项目奖励50,000.00元" in s.text("zh") for s in result.steps)
    # Its keys are checked like any kind's: an unknown one is refused with its path.
    amount["colour"] = "red"
    with pytest.raises(PolicyFileError) as caught:
        policy_from_data(data, "bad.yaml")
    assert [e.path for e in caught.value.errors] == ["versions[0].parameters.amount.colour"]


def test_a_kind_not_registered_is_refused_naming_the_registered_ones() -> None:
    data = copy.deepcopy(HUNAN)
    data["versions"][0]["parameters"]["amount"]["kind"] = "per_project"
    with pytest.raises(PolicyFileError) as caught:
        policy_from_data(data, "bad.yaml")
    [error] = caught.value.errors
    assert error.path == "versions[0].parameters.amount.kind"
    assert error.reason.startswith("'per_project' is not one of: flat_rate, rate_by_industry")


@dataclass(frozen=True, kw_only=True)
class Floor(Adjustment):
    """A test adjustment: the amount raised to at least `minimum` when it applies."""

    minimum: Decimal

    KIND = "floor"
    VALUE_KEY = "minimum"
    TEMPLATES = {
        "applied": (
            "投资方称号{matched}：奖励不低于{minimum}元，{before}元 → {result}元",
            "Investor designation {matched}: at least {minimum} yuan, {before} → {result} yuan",
        ),
        "not_applied": ("投资方无{designations}称号，不调整", "No {designations}: no floor"),
    }

    @classmethod
    def parse(cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT) -> dict[str, Any]:
        return {"minimum": b.c.decimal(m, "minimum", path, low=Decimal(0), places=2, what="amount")}

    def apply(self, raw: Decimal) -> Decimal:
        return max(raw, self.minimum)

    def parameters(self, ctx: Context) -> tuple[Parameter, ...]:
        return (ctx.p(self, "minimum", self.minimum),)

    def inputs(self) -> tuple[tuple[str, Any], ...]:
        return (("minimum", self.minimum),)


def test_a_new_adjustment_kind_is_one_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ADJUSTMENT_KINDS, Floor.KIND, Floor)
    add_templates("adjustment.floor", Floor.TEMPLATES)
    data = copy.deepcopy(HUNAN)
    data["versions"][0]["parameters"]["adjustments"] = [
        {
            "id": "fortune_floor",
            "clause": "四(二)3",
            "kind": "floor",
            "minimum": "80000.00",
            "designations": ["fortune_global_500"],
        }
    ]
    policy = policy_from_data(data)
    funds = [arrival("2023-05-01", "30000000.00")]
    held = facts("p1", arrivals=funds, designations=["fortune_global_500"])
    plain = facts("p2", arrivals=funds)
    report = evaluate(policy, 2023, [held, plain])
    # 30,000,000.00 × 0.001 = 30,000.00; raised to the 80,000.00 floor for the designated
    # investor only.
    assert report.projects["p1"].project_reward == Decimal("80000.00")
    assert report.projects["p2"].project_reward == Decimal("30000.00")
    texts = [s.text("en") for s in report.projects["p1"].steps]
    assert any("at least 80,000.00 yuan, 30,000.00 → 80,000.00 yuan" in t for t in texts)
