"""Condition kinds: one class per `kind:` of a policy file, registered by that kind.

Each class states its keys, reads itself from the file (`parse`), evaluates itself on a project
(`evaluate` → `Outcome`) and carries its own sentences (`TEMPLATES`, registered with the
explainer). The loader, the engine and the explainer only look kinds up in `CONDITION_KINDS`, so
a new kind is one new class here (and its test).

Conditions nest: `any_of`, `all_of` and `not` hold conditions of any kind. A nested condition
has no `status` (only a top-level condition, the first not met, gives the project its status).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from domain.values import (
    ATTESTATION_KINDS,
    CITIES,
    CURRENCIES,
    DESIGNATIONS,
    INDUSTRIES,
    ORIGINS,
    PROJECT_TYPES,
)
from projections.policy.explain import Parameter, Step, add_templates
from projections.policy.facts import ProjectFacts
from projections.policy.model import OPERATORS, Money, Rule, compare, normalise_place

if TYPE_CHECKING:
    from projections.policy.loader import _VersionBuilder

ZERO = Decimal("0.00")
PathT = tuple[str, ...]

# ---- figures and attributes a rule may test -----------------------------------------------------

FIGURE_LABELS: dict[str, tuple[str, str]] = {
    "base": ("计奖基数", "the base"),
    "funds_in_year": ("当年计入的到位资金", "funds counted in the year"),
    "planned_investment": ("计划总投资", "planned total investment"),
    "contract_amount": ("合同投资额", "contract investment amount"),
    "fixed_asset_investment_in_year": ("当年固定资产投资", "fixed-asset investment of the year"),
    "tax_in_year": ("当年回访填报税收", "tax reported at follow-ups in the year"),
}
SOURCE_FIGURE = "funds_from."  # + a source: the year's counted-window funds from it, in CNY
CURRENCY_FIGURE = "funds_in_currency."  # + a currency: the year's funds as recorded, in it
for _code, _label in ORIGINS.items():
    FIGURE_LABELS[SOURCE_FIGURE + _code] = (f"当年{_label}到位资金", f"funds of the year ({_code})")


def figure_label(name: str) -> tuple[str, str]:
    if name.startswith(CURRENCY_FIGURE):
        currency = name[len(CURRENCY_FIGURE) :]
        return (
            f"当年以{currency}计的到位资金（原币）",
            f"funds of the year in {currency} (original)",
        )
    return FIGURE_LABELS[name]


def figure_unit(name: str) -> str:
    """The currency a figure is stated in: CNY, except the original-currency figures."""
    return name[len(CURRENCY_FIGURE) :] if name.startswith(CURRENCY_FIGURE) else "CNY"


def known_figure(name: Any) -> bool:
    if not isinstance(name, str):
        return False
    if name.startswith(CURRENCY_FIGURE):
        return name[len(CURRENCY_FIGURE) :] in CURRENCIES
    return name in FIGURE_LABELS


FIGURE_HELP = ", ".join(FIGURE_LABELS) + f", {CURRENCY_FIGURE}<ISO currency such as USD>"


# attribute → (what the codes are, the allowed codes or None for a free place name, multi-valued)
ATTRIBUTES: dict[str, tuple[str, Iterable[str] | None, bool]] = {
    "industry": ("industry", INDUSTRIES, False),
    "project_type": ("project type", PROJECT_TYPES, False),
    "origin": ("origin", ORIGINS, False),
    "city": ("city", CITIES, False),
    "county": ("county", None, False),
    "park": ("park", None, False),
    "designations": ("designation", DESIGNATIONS, True),
    "funds_sources": ("funds source", ORIGINS, True),
    "currencies": ("currency", CURRENCIES, True),
}


class Context:
    """What a condition sees: one project's facts in the year, and the year's counted base."""

    __slots__ = (
        "_arrivals",
        "_attributes",
        "base",
        "checked",
        "end",
        "facts",
        "funds",
        "items",
        "memo",
        "p",
        "shared",
        "window",
        "year",
    )

    def __init__(
        self,
        facts: ProjectFacts,
        year: int,
        end: date,
        window: tuple[date, date],
        base: Decimal,
        funds: Decimal,
        items: int,
        p: Callable[[Rule, str, Any], Parameter],
        shared: dict[Any, Step] | None = None,
        checked: dict[Any, tuple[bool, tuple[Step, ...]]] | None = None,
        memo: Callable[[Parameter], Parameter] | None = None,
    ) -> None:
        self.facts = facts
        self.year = year
        self.end = end
        self.window = window
        self.base = base
        self.funds = funds
        self.items = items
        self.p = p
        # A parameter made elsewhere (dated by a table entry), kept once per year's evaluation.
        self.memo: Callable[[Parameter], Parameter] = memo or (lambda parameter: parameter)
        self.shared: dict[Any, Step] = {} if shared is None else shared  # steps made once
        # Outcomes of conditions that depend on few distinct inputs, by condition and input.
        self.checked: dict[Any, tuple[bool, tuple[Step, ...]]] = {} if checked is None else checked
        self._arrivals: tuple[Any, ...] | None = None
        self._attributes: dict[str, tuple[str, ...]] = {}

    def arrivals(self) -> tuple[Any, ...]:
        """The year's arrivals inside the counting window (any source)."""
        if self._arrivals is None:
            start, end = self.window
            self._arrivals = tuple(a for a in self.facts.arrivals if start <= a.arrived_on <= end)
        return self._arrivals

    def figure(self, name: str) -> Decimal:
        facts = self.facts
        if name == "base":
            return self.base
        if name == "funds_in_year":
            return self.funds
        if name == "planned_investment":
            return facts.planned_investment_cny
        if name == "contract_amount":
            return facts.contract_amount_cny or ZERO
        if name == "fixed_asset_investment_in_year":
            return facts.fixed_asset_investment_cny.get(self.year, ZERO)
        if name == "tax_in_year":
            return facts.tax_reported_cny.get(self.year, ZERO)
        if name.startswith(SOURCE_FIGURE):
            source = name[len(SOURCE_FIGURE) :]
            return sum((a.amount_cny for a in self.arrivals() if a.source == source), ZERO)
        currency = name[len(CURRENCY_FIGURE) :]
        return sum(
            (
                a.amount if a.amount is not None else a.amount_cny
                for a in self.arrivals()
                if a.currency == currency
            ),
            ZERO,
        )

    def attribute(self, name: str) -> tuple[str, ...]:
        """The attribute's values (asked by memo keys, conditions and rate tables: made once)."""
        known = self._attributes.get(name)
        if known is None:
            known = self._attributes[name] = self._attribute(name)
        return known

    def _attribute(self, name: str) -> tuple[str, ...]:
        facts = self.facts
        if name == "designations":
            return tuple(facts.designations)
        if name == "funds_sources":
            return tuple(sorted({a.source for a in self.arrivals()}))
        if name == "currencies":
            return tuple(sorted({a.currency for a in self.arrivals()}))
        value = str(getattr(facts, name))
        return (normalise_place(value),) if name in ("county", "park") else (value,)


def compare_money(actual: Decimal, operator: str, amount: Money, unit: str) -> bool:
    """`actual` (in `unit`) against a stated amount: in the amount's own currency when that is
    the figure's, else at the file's fixed rate (the loader refuses any other pairing)."""
    limit = amount.amount if amount.currency == unit and unit != "CNY" else amount.cny
    return compare(actual, operator, limit)


def money_limit(amount: Money, unit: str) -> Decimal:
    return amount.amount if amount.currency == unit and unit != "CNY" else amount.cny


@dataclass(frozen=True, slots=True)
class Outcome:
    met: bool
    inputs: tuple[tuple[str, Any], ...]
    params: tuple[Parameter, ...]
    outcome: str = ""
    notes: tuple[tuple[str, Any], ...] = ()
    before: tuple[Step, ...] = ()  # the steps of nested conditions, shown before this one


# ---- the base class and the registry -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Condition(Rule):
    status: str  # the status a project gets when this condition is the first not met ("" nested)
    labels: tuple[str, str] | None  # (zh, en) for a status the engine does not know

    KIND: ClassVar[str] = ""
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    OPTIONAL: ClassVar[tuple[str, ...]] = ()
    # Few distinct inputs (an industry, a date): one shared step object per distinct input.
    SHARED: ClassVar[bool] = False
    TEMPLATES: ClassVar[dict[str, tuple[str, str]]] = {}

    @classmethod
    def parse(
        cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT, common: dict[str, Any]
    ) -> Condition:
        raise NotImplementedError

    def evaluate(self, ctx: Context) -> Outcome:
        raise NotImplementedError

    def memo_key(self, ctx: Context) -> Any:
        """What the outcome and steps depend on, when that is a few distinct values (an
        industry, the designations): `check` then evaluates the condition once per distinct
        value in a year's evaluation. None (the default): evaluated for every project."""
        return None

    @property
    def kind(self) -> str:
        return self.KIND

    def notes(self) -> tuple[tuple[str, Any], ...]:
        if not self.status:
            return ()
        if self.labels is None:
            return (("status", self.status),)
        return (("status", self.status), ("status_labels", self.labels))


CONDITION_KINDS: dict[str, type[Condition]] = {}


def register(cls: type[Condition]) -> type[Condition]:
    CONDITION_KINDS[cls.KIND] = cls
    add_templates(f"condition.{cls.KIND}", cls.TEMPLATES)
    return cls


def check(
    condition: Condition, ctx: Context, shared: dict[Any, Step]
) -> tuple[bool, tuple[Step, ...]]:
    """Evaluate `condition`: whether it is met, and its steps (nested ones first)."""
    memo = condition.memo_key(ctx)
    if memo is not None:
        key = (id(condition), memo)  # the condition object of one version, alive all year
        known = ctx.checked.get(key)
        if known is None:
            known = ctx.checked[key] = _check(condition, ctx, shared)
        return known
    return _check(condition, ctx, shared)


def _check(
    condition: Condition, ctx: Context, shared: dict[Any, Step]
) -> tuple[bool, tuple[Step, ...]]:
    result = condition.evaluate(ctx)
    outcome = result.outcome or ("met" if result.met else "not_met")
    notes = (*condition.notes(), *result.notes)
    kind = f"condition.{condition.KIND}"
    if condition.SHARED:
        key = (condition.id, result.inputs, result.met, outcome)
        step = shared.get(key)
        if step is None:
            step = shared[key] = Step(
                kind,
                condition.id,
                condition.clause,
                result.inputs,
                result.params,
                result.met,
                outcome,
                notes,
            ).shared()
    else:
        step = Step(
            kind,
            condition.id,
            condition.clause,
            result.inputs,
            result.params,
            result.met,
            outcome,
            notes,
        )
    return result.met, (*result.before, step)


# ---- the kinds ---------------------------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class ExclusionCondition(Condition):
    industries: frozenset[str]
    project_types: frozenset[str]
    origins: frozenset[str]

    KIND = "exclusion"
    OPTIONAL = ("industries", "project_types", "origins")
    SHARED = True
    TEMPLATES = {
        "met": (
            "行业{industry}、项目类型{project_type}不属于排除范围（排除行业：{industries}；"
            "排除类型：{project_types}）",
            "Industry {industry} and project type {project_type} are not excluded (excluded "
            "industries: {industries}; types: {project_types})",
        ),
        "not_met": (
            "行业{industry}、项目类型{project_type}属于排除范围（排除行业：{industries}；"
            "排除类型：{project_types}）→ {status_label}",
            "Industry {industry} / project type {project_type} is excluded (excluded "
            "industries: {industries}; types: {project_types}) → {status_label}",
        ),
    }

    @classmethod
    def parse(
        cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT, common: dict[str, Any]
    ) -> Condition:
        c = b.c
        industries = c.codes(m, "industries", path, INDUSTRIES, "industry") or frozenset()
        types = c.codes(m, "project_types", path, PROJECT_TYPES, "project type") or frozenset()
        origins = c.codes(m, "origins", path, ORIGINS, "origin") or frozenset()
        if not any(k in m for k in cls.OPTIONAL):
            c.fail(path, "an exclusion names industries, project_types or origins")
        return cls(**common, industries=industries, project_types=types, origins=origins)

    def memo_key(self, ctx: Context) -> Any:
        f = ctx.facts
        return (f.industry, f.project_type, f.origin)

    def evaluate(self, ctx: Context) -> Outcome:
        f = ctx.facts
        hit = (
            f.industry in self.industries
            or f.project_type in self.project_types
            or f.origin in self.origins
        )
        return Outcome(
            not hit,
            (("industry", f.industry), ("project_type", f.project_type)),
            (
                ctx.p(self, "industries", self.industries),
                ctx.p(self, "project_types", self.project_types),
                ctx.p(self, "origins", self.origins),
            ),
        )


@register
@dataclass(frozen=True, kw_only=True)
class ScopeCondition(Condition):
    industries: frozenset[str] | None
    project_types: frozenset[str] | None
    origins: frozenset[str] | None
    cities: frozenset[str] | None

    KIND = "scope"
    OPTIONAL = ("industries", "project_types", "origins", "cities")
    SHARED = True
    TEMPLATES = {
        "met": ("项目在适用范围内（{scope}）", "The project is within scope ({scope})"),
        "not_met": (
            "项目不在适用范围内（{scope}）→ {status_label}",
            "The project is outside the scope ({scope}) → {status_label}",
        ),
    }

    @classmethod
    def parse(
        cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT, common: dict[str, Any]
    ) -> Condition:
        c = b.c
        if not any(k in m for k in cls.OPTIONAL):
            c.fail(path, "a scope names industries, project_types, origins or cities")
        return cls(
            **common,
            industries=c.codes(m, "industries", path, INDUSTRIES, "industry"),
            project_types=c.codes(m, "project_types", path, PROJECT_TYPES, "project type"),
            origins=c.codes(m, "origins", path, ORIGINS, "origin"),
            cities=c.codes(m, "cities", path, CITIES, "city"),
        )

    def evaluate(self, ctx: Context) -> Outcome:
        f = ctx.facts
        lists = (
            ("industries", self.industries, f.industry),
            ("project_types", self.project_types, f.project_type),
            ("origins", self.origins, f.origin),
            ("cities", self.cities, f.city),
        )
        met = all(allowed is None or value in allowed for _, allowed, value in lists)
        scope = "; ".join(
            f"{name}: {', '.join(sorted(allowed))}" for name, allowed, _ in lists if allowed
        )
        return Outcome(
            met,
            (
                ("industry", f.industry),
                ("project_type", f.project_type),
                ("origin", f.origin),
                ("city", f.city),
            ),
            tuple(ctx.p(self, name, allowed) for name, allowed, _ in lists if allowed),
            notes=(("scope", scope),),
        )


@register
@dataclass(frozen=True, kw_only=True)
class BasePresentCondition(Condition):
    KIND = "base_present"
    SHARED = True
    TEMPLATES = {
        "met": (
            "有效期内当年有{counted}笔计入的数据",
            "{counted} counted item(s) in the window this year",
        ),
        "not_met": (
            "有效期内当年没有计入的数据 → {status_label}",
            "Nothing counted in the window this year → {status_label}",
        ),
    }

    @classmethod
    def parse(
        cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT, common: dict[str, Any]
    ) -> Condition:
        return cls(**common)

    def evaluate(self, ctx: Context) -> Outcome:
        return Outcome(ctx.items > 0, (("counted", ctx.items),), ())


@register
@dataclass(frozen=True, kw_only=True)
class ThresholdCondition(Condition):
    operator: str
    amount: Money
    applies_to: str  # project_total

    KIND = "threshold"
    REQUIRED = ("operator", "amount", "applies_to")
    TEMPLATES = {
        "met": (
            "项目合计{base}元 {op} 门槛{threshold}元，达到门槛",
            "Project total {base} yuan {op} threshold {threshold} yuan: threshold met",
        ),
        "not_met": (
            "项目合计{base}元未满足 {op} 门槛{threshold}元 → {status_label}",
            "Project total {base} yuan is not {op} threshold {threshold} yuan → {status_label}",
        ),
    }

    @classmethod
    def parse(
        cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT, common: dict[str, Any]
    ) -> Condition:
        c = b.c
        return cls(
            **common,
            operator=c.choice(m, "operator", path, (">=", ">")),
            amount=c.money(m, "amount", path),
            applies_to=c.choice(m, "applies_to", path, ("project_total",)),
        )

    def evaluate(self, ctx: Context) -> Outcome:
        return Outcome(
            compare(ctx.base, self.operator, self.amount.cny),
            (("base", ctx.base), ("threshold", self.amount.cny)),
            (
                ctx.p(self, "operator", self.operator),
                ctx.p(self, "amount", self.amount.describe()),
                ctx.p(self, "applies_to", self.applies_to),
            ),
        )


@register
@dataclass(frozen=True, kw_only=True)
class AttestationCondition(Condition):
    attestation: str
    in_force: str  # latest_recorded | latest_dated_by_year_end

    KIND = "attestation"
    REQUIRED = ("attestation", "in_force")
    SHARED = True
    TEMPLATES = {
        "met": (
            "认定（{attestation}）：在用的认定（{attested_on}）为予以认定",
            "Attestation ({attestation}): the one in force (dated {attested_on}) is granted",
        ),
        "not_met": (
            "认定（{attestation}）：在用的认定（{attested_on}）为不予认定或撤销 → {status_label}",
            "Attestation ({attestation}): the one in force (dated {attested_on}) is a refusal "
            "or withdrawal → {status_label}",
        ),
        "missing": (
            "认定（{attestation}）：尚无在用的认定记录 → {status_label}",
            "Attestation ({attestation}): none in force → {status_label}",
        ),
    }

    @classmethod
    def parse(
        cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT, common: dict[str, Any]
    ) -> Condition:
        c = b.c
        return cls(
            **common,
            attestation=c.choice(m, "attestation", path, tuple(ATTESTATION_KINDS)),
            in_force=c.choice(m, "in_force", path, ("latest_recorded", "latest_dated_by_year_end")),
        )

    def evaluate(self, ctx: Context) -> Outcome:
        facts = ctx.facts
        if self.in_force == "latest_recorded":
            attestation = facts.attestation_in_force(self.attestation)
        else:  # latest_dated_by_year_end
            attestation = None
            for candidate in facts.attestations:
                if candidate.kind == self.attestation and candidate.occurred_on <= ctx.end:
                    attestation = candidate
        met = attestation is not None and attestation.granted
        return Outcome(
            met,
            (
                ("attested_on", None if attestation is None else attestation.occurred_on),
                ("granted", None if attestation is None else attestation.granted),
            ),
            (ctx.p(self, "attestation", self.attestation), ctx.p(self, "in_force", self.in_force)),
            "met" if met else "missing" if attestation is None else "not_met",
        )


@register
@dataclass(frozen=True, kw_only=True)
class DesignationCondition(Condition):
    any_of: frozenset[str]
    all_of: frozenset[str]

    KIND = "designation"
    OPTIONAL = ("any_of", "all_of")
    SHARED = True
    TEMPLATES = {
        "met": (
            "投资方称号{designations}满足要求（任一：{any_of}；全部：{all_of}）",
            "Investor designations {designations} qualify (any of: {any_of}; all of: {all_of})",
        ),
        "not_met": (
            "投资方称号{designations}不满足要求（任一：{any_of}；全部：{all_of}）→ {status_label}",
            "Investor designations {designations} do not qualify (any of: {any_of}; all of: "
            "{all_of}) → {status_label}",
        ),
    }

    @classmethod
    def parse(
        cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT, common: dict[str, Any]
    ) -> Condition:
        c = b.c
        any_of = c.codes(m, "any_of", path, DESIGNATIONS, "designation") or frozenset()
        all_of = c.codes(m, "all_of", path, DESIGNATIONS, "designation") or frozenset()
        if "any_of" not in m and "all_of" not in m:
            c.fail(path, "a designation condition names any_of or all_of")
        return cls(**common, any_of=any_of, all_of=all_of)

    def evaluate(self, ctx: Context) -> Outcome:
        held = set(ctx.facts.designations)
        met = (not self.any_of or bool(held & self.any_of)) and self.all_of <= held
        return Outcome(
            met,
            (("designations", tuple(ctx.facts.designations)),),
            (ctx.p(self, "any_of", self.any_of), ctx.p(self, "all_of", self.all_of)),
        )


@register
@dataclass(frozen=True, kw_only=True)
class FigureCondition(Condition):
    """A figure against an amount. An amount in the figure's own foreign currency (a
    `funds_in_currency.USD` figure against USD) is compared in that currency; any other foreign
    amount is converted at the `rate_to_cny` the file states."""

    figure: str
    operator: str
    amount: Money

    KIND = "figure"
    REQUIRED = ("figure", "operator", "amount")
    TEMPLATES = {
        "met": (
            "{figure} = {actual}{unit} {op} {amount}{unit}，满足条件",
            "{figure} = {actual} {unit} {op} {amount} {unit}: condition met",
        ),
        "not_met": (
            "{figure} = {actual}{unit}，不满足 {op} {amount}{unit} → {status_label}",
            "{figure} = {actual} {unit} is not {op} {amount} {unit} → {status_label}",
        ),
    }

    @classmethod
    def parse(
        cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT, common: dict[str, Any]
    ) -> Condition:
        c = b.c
        figure = b.figure(m, "figure", path)
        return cls(
            **common,
            figure=figure,
            operator=c.choice(m, "operator", path, OPERATORS),
            amount=b.amount_in(m, "amount", path, figure_unit(figure)),
        )

    def evaluate(self, ctx: Context) -> Outcome:
        unit = figure_unit(self.figure)
        actual = ctx.figure(self.figure)
        limit = money_limit(self.amount, unit)
        label = figure_label(self.figure)
        return Outcome(
            compare(actual, self.operator, limit),
            (("figure", self.figure), ("actual", actual), ("amount", limit)),
            (
                ctx.p(self, "figure", self.figure),
                ctx.p(self, "operator", self.operator),
                ctx.p(self, "amount", self.amount.describe()),
            ),
            notes=(
                ("figure_zh", label[0]),
                ("figure_en", label[1]),
                ("unit_zh", "元" if unit == "CNY" else unit),
                ("unit_en", "yuan" if unit == "CNY" else unit),
            ),
        )


@register
@dataclass(frozen=True, kw_only=True)
class AttributeCondition(Condition):
    """A project attribute among listed values; a multi-valued attribute (designations, the
    sources or currencies of the year's funds) is met when any of its values is listed."""

    attribute: str
    values: frozenset[str]

    KIND = "attribute"
    REQUIRED = ("attribute", "in")
    SHARED = True
    TEMPLATES = {
        "met": (
            "{attribute}为{actual}，属于{in}",
            "{attribute} is {actual}, which is among {in}",
        ),
        "not_met": (
            "{attribute}为{actual}，不属于{in} → {status_label}",
            "{attribute} is {actual}, not among {in} → {status_label}",
        ),
    }

    @classmethod
    def parse(
        cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT, common: dict[str, Any]
    ) -> Condition:
        c = b.c
        attribute = c.choice(m, "attribute", path, tuple(ATTRIBUTES))
        what, allowed, _ = ATTRIBUTES.get(attribute, ATTRIBUTES["industry"])
        raw = m.get("in")
        if allowed is None:
            if (
                not isinstance(raw, list)
                or not raw
                or not all(isinstance(v, str) and v.strip() for v in raw)
            ):
                c.fail((*path, "in"), f"expected a non-empty list of {what} names")
                values: frozenset[str] = frozenset()
            else:
                values = frozenset(normalise_place(v) for v in raw)
        else:
            values = c.codes(m, "in", path, allowed, what) or frozenset()
            if raw == []:
                c.fail((*path, "in"), f"name at least one {what}")
        return cls(**common, attribute=attribute, values=values)

    def memo_key(self, ctx: Context) -> Any:
        return ctx.attribute(self.attribute)

    def evaluate(self, ctx: Context) -> Outcome:
        actual = ctx.attribute(self.attribute)
        return Outcome(
            any(v in self.values for v in actual),
            (("attribute", self.attribute), ("actual", actual)),
            (ctx.p(self, "in", self.values),),
        )


@dataclass(frozen=True, kw_only=True)
class LogicCondition(Condition):
    conditions: tuple[Condition, ...]

    REQUIRED = ("conditions",)
    SHARED = True  # its own step names only which branches fired

    @classmethod
    def parse(
        cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT, common: dict[str, Any]
    ) -> Condition:
        items = m.get("conditions")
        if not isinstance(items, list) or not items:
            b.c.fail((*path, "conditions"), "expected a non-empty list of conditions")
            items = []
        if cls.KIND == "not" and len(items) > 1:
            b.c.fail((*path, "conditions"), "`not` holds exactly one condition")
        built = b.nested_conditions(items, (*path, "conditions"), common["clause"])
        return cls(**common, conditions=built)

    def combine(self, results: list[bool]) -> bool:
        raise NotImplementedError

    def memo_key(self, ctx: Context) -> Any:
        keys = []
        for child in self.conditions:
            key = child.memo_key(ctx)
            if key is None:
                return None  # a branch depends on an amount: evaluated for every project
            keys.append(key)
        return tuple(keys)

    def evaluate(self, ctx: Context) -> Outcome:
        before: list[Step] = []
        results: list[bool] = []
        for child in self.conditions:
            met, steps = check(child, ctx, ctx.shared)
            results.append(met)
            before.extend(steps)
        fired = tuple(c.id for c, met in zip(self.conditions, results, strict=True) if met)
        failed = tuple(c.id for c, met in zip(self.conditions, results, strict=True) if not met)
        return Outcome(
            self.combine(results),
            (("fired", fired), ("failed", failed)),
            (ctx.p(self, "conditions", tuple(c.id for c in self.conditions)),),
            before=tuple(before),
        )


@register
@dataclass(frozen=True, kw_only=True)
class AnyOfCondition(LogicCondition):
    KIND = "any_of"
    TEMPLATES = {
        "met": (
            "任一条件满足即可（{conditions}）：满足的分支{fired}",
            "Any one of ({conditions}) suffices: branches met {fired}",
        ),
        "not_met": (
            "任一条件满足即可（{conditions}）：没有分支满足 → {status_label}",
            "Any one of ({conditions}) suffices: no branch is met → {status_label}",
        ),
    }

    def combine(self, results: list[bool]) -> bool:
        return any(results)


@register
@dataclass(frozen=True, kw_only=True)
class AllOfCondition(LogicCondition):
    KIND = "all_of"
    TEMPLATES = {
        "met": (
            "以下条件均须满足（{conditions}）：全部满足",
            "All of ({conditions}) must hold: all are met",
        ),
        "not_met": (
            "以下条件均须满足（{conditions}）：未满足的分支{failed} → {status_label}",
            "All of ({conditions}) must hold: not met {failed} → {status_label}",
        ),
    }

    def combine(self, results: list[bool]) -> bool:
        return all(results)


@register
@dataclass(frozen=True, kw_only=True)
class NotCondition(LogicCondition):
    KIND = "not"
    TEMPLATES = {
        "met": (
            "条件{conditions}不成立，故满足",
            "Condition {conditions} does not hold, so this is met",
        ),
        "not_met": (
            "条件{conditions}成立，故不满足 → {status_label}",
            "Condition {conditions} holds, so this is not met → {status_label}",
        ),
    }

    def combine(self, results: list[bool]) -> bool:
        return not results[0] if results else True
