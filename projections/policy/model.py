"""A loaded, validated policy: plain typed data the engine reads (no YAML, no I/O here).

Every rule carries its id in the file, the clause it cites and, for each of its parameters, the
date the policy version that last set that parameter took effect (`since`), so explanations can
say not only which value was used but since when it has applied.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from projections.policy.explain import Parameter

if TYPE_CHECKING:  # the condition, amount and adjustment kinds build on `Rule` here
    from projections.policy.amounts import Adjustment, AmountRule
    from projections.policy.conditions import Condition, ThresholdCondition

FEN = Decimal("0.01")
ZERO = Decimal("0.00")

ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "down": ROUND_DOWN}
ROUNDING_TEXT = {
    "half_up": ("四舍五入", "half-up"),
    "half_even": ("四舍六入五成双", "half-even"),
    "down": ("舍去", "down"),
}
PLACES_TEXT = {2: ("分", "fen"), 1: ("角", "jiao"), 0: ("元", "yuan")}
OPERATORS = (">=", ">", "<=", "<")


def compare(left: Decimal, operator: str, right: Decimal) -> bool:
    if operator == ">=":
        return left >= right
    if operator == ">":
        return left > right
    if operator == "<=":
        return left <= right
    if operator == "<":
        return left < right
    raise ValueError(f"unknown operator {operator!r}")


def normalise_place(name: str) -> str:
    """A county or park name as compared: width-folded, without spaces, and without a final
    administrative suffix, so `浏阳市`, `浏阳` and ` 浏阳 ` are the same place."""
    text = "".join(unicodedata.normalize("NFKC", name).split()).casefold()
    for suffix in ("自治县", "县", "市", "区"):
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def round_to(amount: Decimal, mode: str, places: int = 2) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUNDING_MODES[mode])


def money(amount: Decimal) -> Decimal:
    """Exactly two places (an amount already in fen)."""
    return amount.quantize(FEN)


def exact(amount: Decimal) -> Decimal:
    """An unrounded amount as it is, without trailing zeros beyond the fen (20000.00500 →
    20000.005, 85200.000000 → 85200.00)."""
    to_fen = amount.quantize(FEN)
    return to_fen if to_fen == amount else amount.normalize()


@dataclass(frozen=True)
class Money:
    """An amount stated in a policy; a foreign one carries the fixed rate the policy gives, or
    a rate of 0 when it is compared only with amounts in its own currency."""

    amount: Decimal
    currency: str = "CNY"
    rate_to_cny: Decimal = Decimal(1)
    cny: Decimal = ZERO  # the amount in yuan, rounded half-up to the fen

    def describe(self) -> str:
        if self.currency == "CNY":
            return format(self.cny, "f")
        if not self.rate_to_cny:  # compared in its own currency, never converted
            return f"{self.amount} {self.currency}"
        return f"{self.amount} {self.currency} × {self.rate_to_cny} = {self.cny} CNY"


@dataclass(frozen=True, kw_only=True)
class Rule:
    id: str
    clause: str
    since: Mapping[str, date]  # parameter name → date the version that set it took effect
    created: date  # the date the rule itself first appeared

    def param(self, name: str, value: Any) -> Parameter:
        return Parameter(name, value, self.since.get(name, self.created))


@dataclass(frozen=True)
class Band:
    """A range of a figure; `lower is None` starts at 0, `upper is None` is open-ended."""

    lower: Decimal | None
    lower_inclusive: bool
    upper: Decimal | None
    upper_inclusive: bool
    rate: Decimal | None = None
    amount: Decimal | None = None  # a whole-band fixed amount (or a cap)

    def contains(self, x: Decimal) -> bool:
        if self.lower is not None and (
            x < self.lower or (x == self.lower and not self.lower_inclusive)
        ):
            return False
        return not (
            self.upper is not None
            and (x > self.upper or (x == self.upper and not self.upper_inclusive))
        )

    def portion(self, x: Decimal) -> Decimal:
        """How much of `x` lies in this band (for progressive, marginal bands)."""
        low = self.lower or Decimal(0)
        high = x if self.upper is None else min(x, self.upper)
        return max(high - low, Decimal(0))

    def label(self) -> str:
        low = "" if self.lower is None else f"{'≥' if self.lower_inclusive else '>'}{self.lower}"
        high = "" if self.upper is None else f"{'≤' if self.upper_inclusive else '<'}{self.upper}"
        return " ".join(p for p in (low, high) if p) or "all"


# ---- the rules of one version -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PeriodRule(Rule):
    """What "the year" is: by default the calendar year of a date in Asia/Shanghai."""

    starts_month: int
    starts_day: int
    label: str  # start | end: year N is the period that starts (or ends) in N
    timezone: str

    def bounds(self, year: int) -> tuple[date, date]:
        first_year = year if self.label == "start" else year - 1
        if (self.starts_month, self.starts_day) == (1, 1):
            first_year = year
        start = date(first_year, self.starts_month, self.starts_day)
        end = date(first_year + 1, self.starts_month, self.starts_day) - timedelta(days=1)
        return start, end

    @property
    def calendar(self) -> bool:
        return (self.starts_month, self.starts_day) == (1, 1)


@dataclass(frozen=True, kw_only=True)
class CountingRule(Rule):
    window: str  # inside_validity | whole_year
    conversion: str  # recorded_rate
    arrival_rounding: str  # half_up | half_even | down (to the fen)


@dataclass(frozen=True, kw_only=True)
class BaseRule(Rule):
    kind: str  # funds_arrived | fixed_asset_investment | follow_up_tax
    sources: frozenset[str] | None  # None: every source


@dataclass(frozen=True, kw_only=True)
class ListingRule(Rule):
    projects: str  # any_arrival_in_year | any_base_in_year | counted_base_in_year
    associations: str  # referrers (at the split date)
    order: tuple[str, ...]
    within_jurisdiction: bool


@dataclass(frozen=True, kw_only=True)
class ProjectCap(Rule):
    kind: str  # fixed | by_band
    amount: Money | None = None
    figure: str = "base"
    bands: tuple[Band, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SplitRule(Rule):
    shares_at: str  # year_end_or_validity_end | year_end | year_start
    method: str  # down_largest_remainder | half_up
    ties: tuple[str, ...]  # larger_share, association_id


@dataclass(frozen=True, kw_only=True)
class AssociationCap(Rule):
    amount: Money
    capped_when: str  # ">" (a total exactly at the cap is not capped) or ">="


@dataclass(frozen=True, kw_only=True)
class BudgetRule(Rule):
    amount: Money
    allocation: str  # pro_rata


@dataclass(frozen=True, kw_only=True)
class RowsRule(Rule):
    after_caps: str  # keep_uncapped | pro_rata


@dataclass(frozen=True)
class PolicyVersion:
    """The parameters in force from `effective_from` (until the next version)."""

    index: int
    effective_from: date
    note: str
    period: PeriodRule
    counting: CountingRule
    base: BaseRule
    listing: ListingRule
    conditions: tuple[Condition, ...]
    eligible_status: str
    amount: AmountRule
    adjustments: tuple[Adjustment, ...]
    project_caps: tuple[ProjectCap, ...]
    split: SplitRule
    association_caps: tuple[AssociationCap, ...]
    budget: BudgetRule | None
    rows: RowsRule

    def threshold(self) -> ThresholdCondition | None:
        from projections.policy.conditions import ThresholdCondition

        for condition in self.conditions:
            if isinstance(condition, ThresholdCondition):
                return condition
        return None


@dataclass(frozen=True)
class Jurisdiction:
    level: str  # province | city | county | park
    name: str
    name_en: str
    city: str | None = None  # a code of domain.values.CITIES
    county: str | None = None
    park: str | None = None

    def covers(self, city: str, county: str, park: str) -> bool:
        if self.city is not None and city != self.city:
            return False
        if self.county is not None and normalise_place(county) != normalise_place(self.county):
            return False
        return self.park is None or normalise_place(park) == normalise_place(self.park)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"level": self.level, "name": self.name, "name_en": self.name_en}
        for key in ("city", "county", "park"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass(frozen=True)
class Policy:
    id: str
    title_zh: str
    title_en: str
    jurisdiction: Jurisdiction
    valid_from: date
    valid_to: date
    validity_clause: str
    currency: str
    version_selection: str  # year_end | year_start | by_event_date (clamped to the validity)
    versions: tuple[PolicyVersion, ...]
    file: Path | None = None

    def reference_date(self, year: int) -> date:
        """The day whose version is in force for `year` (`by_event_date`: the year's end, for
        every rule but the amount of each counted arrival)."""
        start, end = self.versions[0].period.bounds(year)
        day = start if self.version_selection == "year_start" else end
        return max(min(day, self.valid_to), self.valid_from)

    def version_for(self, year: int) -> PolicyVersion:
        """The version in force on the year's reference date (by `version_selection`)."""
        return self.version_on(self.reference_date(year))

    def version_on(self, day: date) -> PolicyVersion:
        """The version in force on `day` (the first version before it takes effect)."""
        chosen = self.versions[0]
        for version in self.versions:
            if version.effective_from <= day:
                chosen = version
        return chosen

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": {"zh": self.title_zh, "en": self.title_en},
            "jurisdiction": self.jurisdiction.as_dict(),
            "validity": {"from": self.valid_from.isoformat(), "to": self.valid_to.isoformat()},
            "versions": [
                {"effective_from": v.effective_from.isoformat(), "note": v.note}
                for v in self.versions
            ],
        }
