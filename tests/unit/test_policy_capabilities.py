"""Each capability of DESIGN §7 through the test policies in `tests/policies/` — data, no code.

| capability                                    | policy file                          |
|-----------------------------------------------|--------------------------------------|
| `>` threshold (超过)                          | changsha-fai-2023, hengyang-above-2023 |
| base: fixed-asset investment                  | changsha-fai-2023                    |
| base: follow-up tax                           | liuyang-tax-2024                     |
| base: arrivals of some sources only           | gaoxin-overseas-2023, hengyang-above-2023 |
| flat rate / rate by industry                  | gaoxin-overseas-2023 / xiangtan-industry-2023 |
| whole-amount bands / progressive bands        | changsha-fai-2023 / liuyang-tax-2024 |
| exclusion by industry and project type        | changsha-fai-2023                    |
| scope by industry and origin                  | liuyang-tax-2024, hengyang-above-2023 |
| eligibility by designation                    | gaoxin-overseas-2023                 |
| attestation (dated by the year's end)         | gaoxin-overseas-2023                 |
| multiplier and bonus for designations         | gaoxin-overseas-2023                 |
| condition on planned / contract investment    | gaoxin-overseas-2023 / hengyang-above-2023 |
| per-project cap, fixed / by band              | gaoxin-overseas, xiangtan / changsha-fai |
| per-association cap (`>` and `>=`)           | liuyang-tax-2024 / xiangtan-industry-2023 |
| yearly budget, pro rata                       | liuyang-tax-2024, hengyang-above-2023 |
| rows reduced pro rata after a cap             | xiangtan-industry-2023               |
| threshold in US dollars at a fixed rate       | gaoxin-overseas-2023                 |
| several dated versions, changes and removals  | xiangtan-industry-2023, hengyang-above-2023 |
| city / county / park jurisdiction             | changsha-fai / liuyang-tax / gaoxin-overseas |
| rate above the threshold; rounding to yuan     | hengyang-above-2023                  |
"""

from __future__ import annotations

from decimal import Decimal

from projections.policy import AttributionFact, evaluate, load_policies, policy_from_data
from projections.policy.loader import parse_yaml
from tests.unit.policy_support import (
    TEST_POLICIES,
    arrival,
    d,
    facts,
    granted,
    policy,
    rows,
    shares,
    totals,
    withdrawn,
)


def _row(report: object, association: str, project: str) -> dict[str, str]:
    return rows(report)[(association, project)]  # type: ignore[arg-type]


class TestChangshaFixedAssetInvestment:
    policy = policy("changsha-fai-2023")

    def evaluate(self, *projects: object) -> object:
        return evaluate(self.policy, 2023, projects)  # type: ignore[arg-type]

    def test_over_means_strictly_over(self) -> None:
        at = facts("at", fai={2023: "50000000.00"})
        over = facts("over", fai={2023: "50000000.01"})
        report = self.evaluate(at, over)
        assert _row(report, "X", "at")["status"] == "below_threshold"
        assert _row(report, "X", "over")["reward"] == "100000.00"  # the band's fixed amount

    def test_whole_amount_bands_and_a_cap_that_depends_on_the_band(self) -> None:
        report = self.evaluate(
            facts("b2", fai={2023: "300000000.00"}),  # 2‰ = 600,000, cap 800,000
            facts("b2cap", fai={2023: "450000000.00"}),  # 2‰ = 900,000 → 800,000
            facts("b3", fai={2023: "1200000000.00"}),  # 1.5‰ = 1,800,000 → 1,500,000
        )
        assert [_row(report, "X", p)["project_reward"] for p in ("b2", "b2cap", "b3")] == [
            "600000.00",
            "800000.00",
            "1500000.00",
        ]
        result = report.projects["b3"]  # type: ignore[attr-defined]
        cap = result.steps[-1]
        assert cap.kind == "cap.project" and cap.outcome == "applied"
        assert (str(cap.value("before")), str(cap.value("cap"))) == ("1800000.00", "1500000.00")
        assert "≥500000000.00" in cap.text_en

    def test_exclusions_the_city_and_the_year_reported(self) -> None:
        report = self.evaluate(
            facts("property", industry="K", fai={2023: "900000000.00"}),
            facts("road", industry="G", project_type="large_infrastructure", fai={2023: "9e8"}),
            facts("elsewhere", city="yueyang", fai={2023: "900000000.00"}),
            facts("other_year", fai={2024: "900000000.00"}),
            facts("only_funds", arrivals=[arrival("2023-02-01", "900000000.00")]),
        )
        table = rows(report)  # type: ignore[arg-type]
        assert set(table) == {("X", "property"), ("X", "road")}
        assert {r["status"] for r in table.values()} == {"excluded"}

    def test_a_band_cap_can_depend_on_another_figure_than_the_base(self) -> None:
        text = (TEST_POLICIES / "changsha-fai-2023.yaml").read_text(encoding="utf-8")
        text = text.replace("figure: base", "figure: funds_in_year")
        by_funds = policy_from_data(parse_yaml(text))
        project = facts(
            "p",
            fai={2023: "450000000.00"},  # 2‰ = 900,000
            arrivals=[arrival("2023-05-01", "600000000.00")],  # funds ≥ 500M: cap 1,500,000
        )
        row = _row(evaluate(by_funds, 2023, [project]), "X", "p")
        assert row["project_reward"] == "900000.00"
        assert _row(self.evaluate(project), "X", "p")["project_reward"] == "800000.00"


class TestLiuyangTax:
    policy = policy("liuyang-tax-2024")

    def test_progressive_bands_a_cap_per_association_and_the_budget_pro_rata(self) -> None:
        # tax 30,000,000: 5M × 1% + 15M × 2% + 10M × 3% = 650,000 → capped at 600,000 (A)
        # tax 10,000,000: 50,000 + 5M × 2% = 150,000 (B)
        # tax 20,000,000: 50,000 + 15M × 2% = 350,000 (C)
        # 1,100,000 asked of a 1,000,000 budget: A 545,454.545…, B 136,363.636…, C 318,181.818…
        # rounded down, the two left-over fens to the largest remainders (C, then B).
        where = {"county": "浏阳市"}
        report = evaluate(
            self.policy,
            2024,
            [
                facts("pa", referrers=[("A", "100")], tax={2024: "30000000.00"}, **where),
                facts("pb", referrers=[("B", "100")], tax={2024: "10000000.00"}, **where),
                facts("pc", referrers=[("C", "100")], tax={2024: "20000000.00"}, **where),
            ],
        )
        assert totals(report) == {
            "A": ("545454.54", True, "650000.00"),
            "B": ("136363.64", True, "150000.00"),
            "C": ("318181.82", True, "350000.00"),
        }
        a = report.association("A")
        assert a is not None
        assert [s.kind for s in a.explanation] == ["association.sum", "cap.association", "budget"]
        budget = a.explanation[-1]
        assert str(budget.value("requested")) == "1100000.00" and budget.outcome == "applied"
        progressive = report.projects["pa"].steps[3]
        assert progressive.kind == "amount.bands_progressive"
        assert str(progressive.result) == "650000.00"

    def test_scope_threshold_and_the_county(self) -> None:
        report = evaluate(
            self.policy,
            2024,
            [
                facts("small", county="浏阳市", tax={2024: "999999.99"}),
                facts("trade", county="浏阳市", industry="F", tax={2024: "5000000.00"}),
                facts("ningxiang", county="宁乡市", tax={2024: "5000000.00"}),
                facts("nothing_this_year", county="浏阳市", tax={2025: "5000000.00"}),
            ],
        )
        table = rows(report)
        assert {k[1]: v["status"] for k, v in table.items()} == {
            "small": "below_threshold",
            "trade": "out_of_scope",
        }
        step = report.projects["trade"].steps[-1]
        assert "不属于制造业或信息技术服务业" in step.text_zh
        assert "neither manufacturing nor IT services" in step.text_en

    def test_within_budget_nothing_is_reduced(self) -> None:
        report = evaluate(
            self.policy,
            2024,
            [facts("pb", referrers=[("B", "100")], county="浏阳市", tax={2024: "10000000.00"})],
        )
        assert totals(report) == {"B": ("150000.00", False, "150000.00")}
        assert report.association("B").explanation[-1].outcome == "not_applied"  # type: ignore[union-attr]


class TestGaoxinOverseas:
    policy = policy("gaoxin-overseas-2023")
    where = {"park": "高新区", "designations": ["fortune_global_500"]}

    def evaluate(self, *projects: object, year: int = 2023) -> object:
        return evaluate(self.policy, year, projects)  # type: ignore[arg-type]

    def test_overseas_funds_only_a_dollar_threshold_a_multiplier_and_a_bonus(self) -> None:
        project = facts(
            "fg500",
            arrivals=[
                arrival("2023-03-01", "28400000.00", "overseas"),  # USD 4,000,000 × 7.10
                arrival("2023-04-01", "10000000.00", "in_province"),  # not an overseas source
            ],
            park="高新区",
            designations=["fortune_global_500", "little_giant"],
        )
        row = _row(self.evaluate(project), "X", "fg500")
        # 28,400,000 × 0.002 = 56,800 × 1.5 = 85,200 + 50,000 = 135,200
        assert (row["funds_in_year"], row["project_reward"]) == ("28400000.00", "135200.00")
        steps = {s["kind"]: s for s in row["explanation"]}
        threshold = steps["condition.threshold"]
        assert threshold["inputs"]["threshold"] == "21000000.00"
        assert threshold["parameters"][1]["value"] == "3000000.00 USD × 7.00 = 21000000.00 CNY"
        assert steps["adjustment.multiplier"]["result"] == "85200.00"
        assert steps["adjustment.bonus"]["outcome"] == "applied"
        assert steps["base.funds_arrived"]["inputs"]["not_counted"] == 1

    def test_the_dollar_threshold_is_inclusive_at_its_yuan_value(self) -> None:
        at = facts("at", arrivals=[arrival("2023-03-01", "21000000.00", "overseas")], **self.where)
        below = facts(
            "below", arrivals=[arrival("2023-03-01", "20999999.99", "overseas")], **self.where
        )
        report = self.evaluate(at, below)
        assert _row(report, "X", "at")["status"] == "eligible"
        assert _row(report, "X", "below")["status"] == "below_threshold"

    def test_a_fixed_cap_per_project(self) -> None:
        big = facts(
            "big", arrivals=[arrival("2023-03-01", "100000000.00", "overseas")], **self.where
        )
        row = _row(self.evaluate(big), "X", "big")  # 200,000 × 1.5 = 300,000 → 200,000
        assert row["project_reward"] == "200000.00"

    def test_designation_planned_investment_sources_and_an_attestation_dated_by_year_end(
        self,
    ) -> None:
        funds = [arrival("2023-03-01", "50000000.00", "overseas")]
        report = self.evaluate(
            facts("plain", arrivals=funds, park="高新区"),
            facts("small", arrivals=funds, planned="99999999.99", **self.where),
            facts(
                "domestic", arrivals=[arrival("2023-03-01", "5e7", "other_province")], **self.where
            ),
            facts("late", arrivals=funds, attestations=[granted("2024-01-15")], **self.where),
            facts("outside_park", arrivals=funds, park="经开区", designations=["china_500"]),
        )
        assert {k[1]: v["status"] for k, v in rows(report).items()} == {
            "plain": "not_strategic_investor",
            "small": "project_too_small",
            "domestic": "no_overseas_funds",
            "late": "pending_attestation",
        }
        # The same attestation counts for 2024, dated before that year's end.
        later = facts(
            "late",
            arrivals=[arrival("2024-03-01", "50000000.00", "overseas")],
            attestations=[granted("2024-01-15")],
            **self.where,
        )
        assert _row(self.evaluate(later, year=2024), "X", "late")["status"] == "eligible"


class TestXiangtanByIndustryWithTwoVersions:
    policy = policy("xiangtan-industry-2023")
    where = {"city": "xiangtan"}

    def test_the_version_in_force_for_each_year_and_the_date_of_each_parameter(self) -> None:
        project = facts(
            "c",
            arrivals=[arrival("2023-05-01", "9000000.00"), arrival("2024-05-01", "9000000.00")],
            **self.where,
        )
        assert self.policy.version_for(2023).effective_from == d("2023-01-01")
        assert self.policy.version_for(2024).effective_from == d("2024-01-01")
        assert _row(evaluate(self.policy, 2023, [project]), "X", "c")["status"] == "below_threshold"
        row = _row(evaluate(self.policy, 2024, [project]), "X", "c")
        assert (row["status"], row["reward"]) == ("eligible", "27000.00")  # 3‰ from 2024
        steps = {s["kind"]: s for s in row["explanation"]}
        since = {p["name"]: p["since"] for p in steps["condition.threshold"]["parameters"]}
        assert since == {
            "operator": "2023-01-01",
            "amount": "2024-01-01",
            "applies_to": "2023-01-01",
        }
        assert steps["amount.rate_by_industry"]["parameters"] == [
            {"name": "rate", "value": "0.003", "since": "2024-01-01"}
        ]

    def test_rates_by_industry_with_a_default(self) -> None:
        report = evaluate(
            self.policy,
            2024,
            [
                facts(
                    "it",
                    industry="I",
                    arrivals=[arrival("2024-02-01", "20000000.00")],
                    **self.where,
                ),
                facts(
                    "farm",
                    industry="A",
                    arrivals=[arrival("2024-02-01", "20000000.00")],
                    **self.where,
                ),
            ],
        )
        it = _row(report, "X", "it")
        assert it["project_reward"] == "30000.00"
        rate = next(s for s in it["explanation"] if s["kind"] == "amount.rate_by_industry")
        assert rate["parameters"][0]["since"] == "2023-01-01"  # the I rate was not changed
        assert _row(report, "X", "farm")["project_reward"] == "20000.00"

    def test_a_cap_at_or_over_and_rows_reduced_pro_rata(self) -> None:
        # 400,000 → per-project cap 300,000; with 250,000 the association asks 550,000 ≥ 500,000:
        # capped at 500,000 and the rows scaled: 272,727.27 and 227,272.73 (left-over fen).
        report = evaluate(
            self.policy,
            2024,
            [
                facts("p1", arrivals=[arrival("2024-02-01", "133333333.34")], **self.where),
                facts("p2", arrivals=[arrival("2024-02-01", "83333333.33")], **self.where),
            ],
        )
        assert totals(report) == {"X": ("500000.00", True, "550000.00")}
        table = rows(report)
        assert table[("X", "p1")]["project_reward"] == "300000.00"
        assert [table[("X", p)]["reward"] for p in ("p1", "p2")] == ["272727.27", "227272.73"]
        assert table[("X", "p1")]["explanation"][-1]["kind"] == "rows.pro_rata"
        exactly = evaluate(
            self.policy,
            2024,
            [
                facts("p3", arrivals=[arrival("2024-02-01", "166666666.67")], **self.where),
                facts("p4", arrivals=[arrival("2024-02-01", "66666666.67")], **self.where),
            ],
        )
        assert totals(exactly)["X"] == ("500000.00", True, "500000.00")  # ">=": capped at it

    def test_a_half_up_split_by_the_shares_at_the_start_of_the_year(self) -> None:
        project = facts(
            "joint",
            arrivals=[arrival("2024-02-01", "10000016.67")],  # 3‰ = 30,000.05001 → 30,000.05
            attributions=[
                AttributionFact(
                    d("2022-06-01"), shares(("A", "33.34"), ("B", "33.33"), ("C", "33.33"))
                ),
                AttributionFact(d("2024-06-01"), shares(("A", "100"))),
            ],
            **self.where,
        )
        table = rows(evaluate(self.policy, 2024, [project]))
        parts = [Decimal(table[(a, "joint")]["reward"]) for a in "ABC"]
        # 3,000,005 fen × 33.34% = 1,000,201.667 → 1,000,202; × 33.33% = 999,901.6665 → 999,902
        assert [str(p) for p in parts] == ["10002.02", "9999.02", "9999.02"]
        assert sum(parts) == Decimal("30000.06")  # half-up parts need not add up: the file's rule


class TestHengyangThreeVersions:
    policy = policy("hengyang-above-2023")
    where = {"city": "hengyang"}

    def test_rate_on_the_part_above_rounded_down_to_the_yuan(self) -> None:
        project = facts(
            "p",
            arrivals=[
                arrival("2023-03-01", "31234567.89", "overseas"),
                arrival("2023-04-01", "99999999.00", "in_province"),  # not a counted source
            ],
            **self.where,
        )
        row = _row(evaluate(self.policy, 2023, [project]), "X", "p")
        # (31,234,567.89 − 30,000,000) × 0.5% = 6,172.83945 → 6,172 yuan
        assert (row["funds_in_year"], row["project_reward"]) == ("31234567.89", "6172.00")
        kinds = [s["kind"] for s in row["explanation"]]
        assert kinds.index("amount.portion") < kinds.index("amount.flat_rate")

    def test_a_later_version_drops_the_attestation_and_another_adds_a_contract_condition(
        self,
    ) -> None:
        def project(year: int, contract: str | None = None) -> object:
            return facts(
                f"p{year}",
                arrivals=[arrival(f"{year}-03-01", "40000000.00")],
                attestations=[],
                contract=contract,
                **self.where,
            )

        assert _row(evaluate(self.policy, 2023, [project(2023)]), "X", "p2023")["status"] == (
            "pending_attestation"
        )
        assert _row(evaluate(self.policy, 2024, [project(2024)]), "X", "p2024")["status"] == (
            "eligible"
        )
        late = evaluate(self.policy, 2025, [project(2025, contract="49999999.99")])
        assert _row(late, "X", "p2025")["status"] == "contract_too_small"
        assert [c.id for c in self.policy.version_for(2025).conditions] == [
            "scope",
            "funds_present",
            "threshold",
            "contract_size",
        ]

    def test_the_whole_year_counts_past_the_validity_and_the_budget_replaces_the_cap(self) -> None:
        projects = [
            facts(
                f"p{i}",
                referrers=[(a, "100")],
                arrivals=[arrival("2025-09-01", "70000000.00", "overseas")],  # after 2025-06-30
                contract="90000000.00",
                **self.where,
            )
            for i, a in enumerate("AB")
        ]
        report = evaluate(self.policy, 2025, projects)
        # 40,000,000 above × 0.5% = 200,000 each; no association cap in 2025, a 100,000 budget
        assert totals(report) == {
            "A": ("50000.00", True, "200000.00"),
            "B": ("50000.00", True, "200000.00"),
        }

    def test_the_scope_on_origin_and_industry(self) -> None:
        report = evaluate(
            self.policy,
            2023,
            [
                facts(
                    "local",
                    origin="in_province",
                    arrivals=[arrival("2023-03-01", "5e7")],
                    **self.where,
                ),
                facts("trade", industry="F", arrivals=[arrival("2023-03-01", "5e7")], **self.where),
            ],
        )
        assert {k[1]: v["status"] for k, v in rows(report).items()} == {
            "local": "out_of_scope",
            "trade": "out_of_scope",
        }


def test_every_step_of_every_policy_renders_in_both_languages() -> None:
    registry = load_policies([TEST_POLICIES])
    places = [
        {"city": "changsha", "county": "浏阳市", "park": "高新区"},
        {"city": "xiangtan"},
        {"city": "hengyang"},
    ]
    variants: list[object] = []
    for i, place in enumerate(places):
        for j, (industry, designations, attestations) in enumerate(
            [
                ("C", ["fortune_global_500", "little_giant"], [granted("2023-06-01")]),
                ("I", ["china_500"], [withdrawn("2023-06-01")]),
                ("K", [], []),
                ("F", ["industry_top_100"], [granted("2026-01-01")]),
            ]
        ):
            for k, amount in enumerate(["10.00", "25000000.00", "900000000.00"]):
                variants.append(
                    facts(
                        f"p{i}{j}{k}",
                        industry=industry,
                        designations=designations,
                        attestations=attestations,
                        referrers=[("A", "50"), ("B", "30"), ("C", "20")],
                        arrivals=[
                            arrival(f"{year}-03-01", amount, source)
                            for year in (2023, 2024, 2025)
                            for source in ("overseas", "in_province")
                        ],
                        fai={2023: amount, 2024: amount},
                        tax={2024: amount, 2025: amount},
                        contract=amount,
                        **place,
                    )
                )
    kinds: set[tuple[str, str]] = set()
    for policy_id in registry.ids():
        for year in (2022, 2023, 2024, 2025):
            report = evaluate(registry.get(policy_id), year, variants)  # type: ignore[arg-type]
            for association in report.associations:
                for step in association.explanation + tuple(
                    s for row in association.rows for s in row.explanation
                ):
                    kinds.add((step.kind, step.outcome))
                    for lang in ("zh", "en"):
                        text = step.text(lang)
                        assert "{" not in text and "None" not in text, (policy_id, step.kind, text)
    assert len(kinds) >= 30, sorted(kinds)
