"""Amount kinds and adjustments: one class each, registered by kind (like the conditions).

Each class owns its keys (`REQUIRED`, `OPTIONAL`), its parsing from the file (`parse`, for the
loader), its `evaluate` (for the engine) and its sentences (`TEMPLATES`, registered with the
explainer by step kind), so a new kind of amount or adjustment is one new class and its test.
The loader looks kinds up in `AMOUNT_KINDS` / `ADJUSTMENT_KINDS`; the engine only calls
`evaluate` on the rule the loader built; the explainer renders the sentences the class gave.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from domain.values import CURRENCIES, DESIGNATIONS, round_fen
from projections.policy.conditions import (
    ATTRIBUTES,
    Condition,
    Context,
    check,
    figure_label,
    figure_unit,
)
from projections.policy.explain import Parameter, Step, add_templates
from projections.policy.model import Band, Money, Rule, exact, normalise_place

if TYPE_CHECKING:
    from projections.policy.loader import PathT, _VersionBuilder

ZERO = Decimal("0.00")
MAX_FACTOR = Decimal(10)
SINGLE_ATTRIBUTES = tuple(name for name, (_, _, multi) in ATTRIBUTES.items() if not multi)


def _band_for(bands: tuple[Band, ...], x: Decimal) -> Band | None:
    for band in bands:
        if band.contains(x):
            return band
    return None


# ---- amount kinds ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AmountRule(Rule):
    """The reward amount of a project's counted portion. The top-level rule also says which
    portion (`whole` or `above_threshold`) and how the result is rounded; the rule of a
    decision-table row takes those from its table."""

    portion: str = "whole"  # whole | above_threshold
    rounding: str = "half_up"
    places: int = 2

    KIND: ClassVar[str] = ""
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    OPTIONAL: ClassVar[tuple[str, ...]] = ()
    IN_TABLE_ROW: ClassVar[bool] = True  # may be the rule of a decision-table row
    # Sentences by step kind (`amount.…`), then by outcome.
    TEMPLATES: ClassVar[dict[str, dict[str, tuple[str, str]]]] = {}

    @property
    def kind(self) -> str:
        return self.KIND

    @classmethod
    def parse(cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT) -> dict[str, Any]:
        """The kind's own fields from its mapping (errors recorded on `b.c`)."""
        raise NotImplementedError

    def evaluate(self, ctx: Context, portion: Decimal, steps: list[Step]) -> Decimal:
        """The unrounded amount on `portion`, its steps appended to `steps`."""
        raise NotImplementedError


AMOUNT_KINDS: dict[str, type[AmountRule]] = {}


def amount_kind(cls: type[AmountRule]) -> type[AmountRule]:
    AMOUNT_KINDS[cls.KIND] = cls
    for step_kind, templates in cls.TEMPLATES.items():
        add_templates(step_kind, templates)
    return cls


def _rate_parameter(ctx: Context, rule: Rule, name: str, value: Any, source: str) -> Parameter:
    """A parameter dated by the entry it came from (`rates.C`, `default_rate`, `bands`)."""
    return ctx.memo(Parameter(name, value, rule.since.get(source, rule.created)))


def _parse_rates(
    b: _VersionBuilder, m: Mapping[str, Any], path: PathT, key: str
) -> dict[str, Decimal]:
    what, allowed, _ = ATTRIBUTES[key]
    rates: dict[str, Decimal] = {}
    rm = m.get("rates", {})
    if not isinstance(rm, dict) or not rm:
        b.c.fail((*path, "rates"), f"expected a mapping of {what} codes to rates")
        return rates
    known = None if allowed is None else set(allowed)
    for code, rate in rm.items():
        if known is not None and code not in known:
            b.c.fail(
                (*path, "rates", str(code)),
                f"unknown {what} {code!r}; known: {', '.join(sorted(known))}",
            )
            continue
        name = normalise_place(str(code)) if known is None else str(code)
        rates[name] = b.c.rate({"r": rate}, "r", (*path, "rates", str(code)))
    return rates


@amount_kind
@dataclass(frozen=True, kw_only=True)
class FlatRate(AmountRule):
    rate: Decimal

    KIND = "flat_rate"
    REQUIRED = ("rate",)
    TEMPLATES = {
        "amount.flat_rate": {
            "": (
                "奖励额 = {portion_amount}元 × {rate} = {result}元",
                "Reward = {portion_amount} yuan × {rate} = {result} yuan",
            )
        }
    }

    @classmethod
    def parse(cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT) -> dict[str, Any]:
        return {"rate": b.c.rate(m, "rate", path)}

    def evaluate(self, ctx: Context, portion: Decimal, steps: list[Step]) -> Decimal:
        raw = portion * self.rate
        steps.append(
            Step(
                "amount.flat_rate",
                self.id,
                self.clause,
                (("portion_amount", portion),),
                (ctx.p(self, "rate", self.rate), ctx.p(self, "portion", self.portion)),
                exact(raw),
            )
        )
        return raw


@amount_kind
@dataclass(frozen=True, kw_only=True)
class RateByIndustry(AmountRule):
    rates: Mapping[str, Decimal]
    default_rate: Decimal | None = None

    KIND = "rate_by_industry"
    REQUIRED = ("rates",)
    OPTIONAL = ("default_rate",)
    TEMPLATES = {
        "amount.rate_by_industry": {
            "": (
                "行业{industry}的比例为{rate}：{portion_amount}元 × {rate} = {result}元",
                "The rate for industry {industry} is {rate}: {portion_amount} yuan × {rate} = "
                "{result} yuan",
            )
        }
    }

    @classmethod
    def parse(cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT) -> dict[str, Any]:
        fields: dict[str, Any] = {"rates": _parse_rates(b, m, path, "industry")}
        if "default_rate" in m and m["default_rate"] is not None:
            fields["default_rate"] = b.c.rate(m, "default_rate", path)
        return fields

    def evaluate(self, ctx: Context, portion: Decimal, steps: list[Step]) -> Decimal:
        industry = ctx.facts.industry
        rate = self.rates.get(industry, self.default_rate)
        source = f"rates.{industry}" if industry in self.rates else "default_rate"
        raw = portion * (rate or ZERO)
        steps.append(
            Step(
                "amount.rate_by_industry",
                self.id,
                self.clause,
                (("portion_amount", portion), ("industry", industry)),
                (_rate_parameter(ctx, self, "rate", rate, source),),
                exact(raw),
            )
        )
        return raw


@amount_kind
@dataclass(frozen=True, kw_only=True)
class RateTable(AmountRule):
    key: str  # the single-valued attribute the rates are keyed by
    rates: Mapping[str, Decimal]
    default_rate: Decimal

    KIND = "rate_table"
    REQUIRED = ("key", "rates", "default_rate")
    TEMPLATES = {
        "amount.rate_table": {
            "": (
                "按{key}取比例：{value}适用{row}，比例{rate}：{portion_amount}元 × {rate} = "
                "{result}元",
                "Rate by {key}: {value} takes {row}, rate {rate}: {portion_amount} yuan × "
                "{rate} = {result} yuan",
            )
        }
    }

    @classmethod
    def parse(cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT) -> dict[str, Any]:
        key = b.c.choice(m, "key", path, SINGLE_ATTRIBUTES, "industry")
        return {
            "key": key,
            "rates": _parse_rates(b, m, path, key),
            "default_rate": b.c.rate(m, "default_rate", path),
        }

    def evaluate(self, ctx: Context, portion: Decimal, steps: list[Step]) -> Decimal:
        value = ctx.attribute(self.key)[0]
        hit = value in self.rates
        rate = self.rates[value] if hit else self.default_rate
        source = f"rates.{value}" if hit else "default_rate"
        raw = portion * rate
        steps.append(
            Step(
                "amount.rate_table",
                self.id,
                self.clause,
                (("portion_amount", portion), ("key", self.key), ("value", value)),
                (
                    _rate_parameter(ctx, self, "rate", rate, source),
                    _rate_parameter(ctx, self, "row", source, source),
                ),
                exact(raw),
            )
        )
        return raw


@amount_kind
@dataclass(frozen=True, kw_only=True)
class Bands(AmountRule):
    mode: str  # whole | progressive
    bands: tuple[Band, ...]
    selected_by: str | None = None  # the figure choosing the band (None: the portion)
    edges: str = ""  # how the band edges were stated (a foreign currency and its rate)

    KIND = "bands"
    REQUIRED = ("mode", "bands")
    OPTIONAL = ("selected_by", "edges_currency", "edges_rate_to_cny")
    TEMPLATES = {
        "amount.bands_whole": {
            "": (
                "{portion_amount}元落在档次{band}，按该档{band_value}计：{result}元",
                "{portion_amount} yuan falls in band {band}, which gives {band_value}: "
                "{result} yuan",
            )
        },
        "amount.bands_progressive": {
            "": (
                "{portion_amount}元按超额累进计算：{pieces}，合计{result}元",
                "{portion_amount} yuan by progressive bands: {pieces}; total {result} yuan",
            )
        },
        "amount.bands_selected": {
            "": (
                "按{selector_name}{selector}确定档次（档界：{edges}）：落在档次{band}，"
                "按该档{band_value}计{portion_amount}元：{result}元",
                "The band is chosen by {selector_name} {selector} (edges: {edges}): band "
                "{band}, which gives {band_value} on {portion_amount} yuan: {result} yuan",
            )
        },
    }

    @classmethod
    def parse(cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT) -> dict[str, Any]:
        mode = b.c.choice(m, "mode", path, ("whole", "progressive"), "whole")
        bands = b.bands(
            m.get("bands"),
            (*path, "bands"),
            value_key="rate_or_amount" if mode == "whole" else "rate",
            contiguous=mode == "progressive",
        )
        selected_by = None
        if "selected_by" in m:
            selected_by = b.figure(m, "selected_by", path)
            if mode != "whole":
                b.c.fail((*path, "selected_by"), "only whole-amount bands are selected by a figure")
        unit = figure_unit(selected_by or "base")
        edges_currency = b.c.text(m, "edges_currency", path, unit)
        edges = ""
        if edges_currency not in CURRENCIES:
            b.c.fail((*path, "edges_currency"), f"{edges_currency!r} is not an ISO 4217 code")
        elif edges_currency == unit:
            edges = "" if unit == "CNY" else f"{unit} (original currency)"
            if "edges_rate_to_cny" in m:
                b.c.fail(
                    (*path, "edges_rate_to_cny"),
                    f"the edges are compared in {unit} itself: no rate is used",
                )
        elif unit != "CNY":
            b.c.fail(
                (*path, "edges_currency"),
                f"bands chosen by a {unit} figure have {unit} edges, not {edges_currency}",
            )
        elif "edges_rate_to_cny" not in m:
            b.c.fail(path, f"{edges_currency} band edges need the file's `edges_rate_to_cny`")
        else:
            rate = b.c.decimal(
                m,
                "edges_rate_to_cny",
                path,
                low=Decimal(0),
                low_inclusive=False,
                places=6,
                what="rate",
            )
            edges = f"{edges_currency} × {rate}"
            bands = tuple(
                replace(
                    band,
                    lower=None if band.lower is None else round_fen(band.lower * rate),
                    upper=None if band.upper is None else round_fen(band.upper * rate),
                )
                for band in bands
            )
        return {"mode": mode, "bands": bands, "selected_by": selected_by, "edges": edges}

    def _whole(self, band: Band | None, portion: Decimal) -> tuple[Decimal, str]:
        if band is None:
            return ZERO, "none"
        if band.rate is not None:
            return portion * band.rate, f"× {band.rate}"
        assert band.amount is not None
        return band.amount, f"{band.amount}"

    def evaluate(self, ctx: Context, portion: Decimal, steps: list[Step]) -> Decimal:
        since = self.since.get("bands", self.created)
        if self.mode == "whole":
            selector = portion if self.selected_by is None else ctx.figure(self.selected_by)
            band = _band_for(self.bands, selector)
            raw, value = self._whole(band, portion)
            band_params = (
                ctx.memo(Parameter("band", "none" if band is None else band.label(), since)),
                ctx.memo(Parameter("band_value", value, since)),
            )
            if self.selected_by is None:
                steps.append(
                    Step(
                        "amount.bands_whole",
                        self.id,
                        self.clause,
                        (("portion_amount", portion),),
                        band_params,
                        exact(raw),
                    )
                )
                return raw
            names = figure_label(self.selected_by)
            steps.append(
                Step(
                    "amount.bands_selected",
                    self.id,
                    self.clause,
                    (("portion_amount", portion), ("selector", selector)),
                    (
                        ctx.p(self, "selected_by", self.selected_by),
                        ctx.p(self, "edges", self.edges or "CNY"),
                        *band_params,
                    ),
                    exact(raw),
                    notes=(("selector_name_zh", names[0]), ("selector_name_en", names[1])),
                )
            )
            return raw
        raw = ZERO
        pieces: list[str] = []
        for band in self.bands:
            part = band.portion(portion)
            if part <= 0:
                continue
            assert band.rate is not None
            raw += part * band.rate
            pieces.append(f"{band.label()}: {part} × {band.rate} = {exact(part * band.rate)}")
        steps.append(
            Step(
                "amount.bands_progressive",
                self.id,
                self.clause,
                (("portion_amount", portion), ("pieces", "; ".join(pieces) or "—")),
                (ctx.memo(Parameter("bands", tuple(b.label() for b in self.bands), since)),),
                exact(raw),
            )
        )
        return raw


@dataclass(frozen=True, kw_only=True)
class TableRow:
    """A decision-table row: when every condition holds (and no earlier row did), `rule`."""

    id: str
    when: tuple[Condition, ...]
    rule: AmountRule


@amount_kind
@dataclass(frozen=True, kw_only=True)
class DecisionTable(AmountRule):
    table: tuple[TableRow, ...]  # rows in order, hit policy FIRST
    default: AmountRule | None  # the rule when no row matches (the loader requires one)

    KIND = "decision_table"
    REQUIRED = ("hit_policy", "rows", "default")
    IN_TABLE_ROW = False  # a row's rule is a flat rate, a rate table or bands
    TEMPLATES = {
        "amount.decision_table": {
            "row": (
                "决策表（首条命中）：命中行{row}（未命中的在先行：{skipped}）",
                "Decision table (first hit): row {row} fired (earlier rows not matched: {skipped})",
            ),
            "default": (
                "决策表（首条命中）：各行均未命中（{skipped}），采用默认行",
                "Decision table (first hit): no row matched ({skipped}); the default row applies",
            ),
        }
    }

    @classmethod
    def parse(cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT) -> dict[str, Any]:
        b.c.choice(m, "hit_policy", path, ("first",), "first")
        table_id = b.c.text(m, "id", path, "amount")
        clause = b.c.clause(m, path)
        rows_raw = m.get("rows")
        rows: list[TableRow] = []
        if not isinstance(rows_raw, list) or not rows_raw:
            b.c.fail((*path, "rows"), "expected a non-empty list of rows")
            rows_raw = []
        for index, item in enumerate(rows_raw):
            label = item.get("id") if isinstance(item, dict) and item.get("id") else index
            rpath = (*path, "rows", f"[{label}]")
            rm = b.c.mapping(item, rpath, ("id", "when", "rule"), ("clause",))
            if rm is None:
                continue
            row_rule = b.rule_fields(rm, rpath, "")
            row_rule["clause"] = row_rule["clause"] or clause
            when = b.nested_conditions(rm.get("when"), (*rpath, "when"), row_rule["clause"])
            if rm.get("when") == []:
                b.c.fail(
                    (*rpath, "when"), "a row names at least one condition (or use the default)"
                )
            rule = b.amount(rm.get("rule"), (*rpath, "rule"), row_rule)
            if rule is not None:
                rows.append(TableRow(id=row_rule["id"], when=when, rule=rule))
        default = None
        dpath = (*path, "default")
        dm = b.c.mapping(m.get("default"), dpath, ("rule",), ("clause",))
        if dm is not None:
            since, created = b.c.rule_since(dpath)
            fields = {
                "id": f"{table_id}.default",
                "clause": b.c.clause(dm, dpath) or clause,
                "since": since,
                "created": created,
            }
            default = b.amount(dm.get("rule"), (*dpath, "rule"), fields)
        return {"table": tuple(rows), "default": default}

    def evaluate(self, ctx: Context, portion: Decimal, steps: list[Step]) -> Decimal:
        skipped: list[str] = []
        assert self.default is not None  # the loader requires a default row
        chosen, row_id = self.default, "default"
        for row in self.table:
            row_steps: list[Step] = []
            fired = True
            for condition in row.when:
                met, condition_steps = check(condition, ctx, ctx.shared)
                row_steps.extend(condition_steps)
                if not met:
                    fired = False
                    break  # hit policy FIRST: a row fails at its first unmet condition
            if fired:
                steps.extend(row_steps)
                chosen, row_id = row.rule, row.id
                break
            skipped.append(row.id)
        key = ("decision_table", self.id, row_id, tuple(skipped))
        table_step = ctx.shared.get(key)
        if table_step is None:  # few distinct outcomes: one shared step each
            table_step = ctx.shared[key] = Step(
                "amount.decision_table",
                self.id,
                self.clause,
                (("row", row_id), ("skipped", tuple(skipped))),
                (ctx.p(self, "hit_policy", "first"),),
                row_id,
                "default" if row_id == "default" else "row",
            ).shared()
        steps.append(table_step)
        return chosen.evaluate(ctx, portion, steps)


# ---- adjustments -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Adjustment(Rule):
    """A change of the project's unrounded amount for investors with a designation and/or
    under further conditions (`when`, all of which must hold)."""

    designations: frozenset[str] | None  # None: no designation test (only `when`)
    when: tuple[Condition, ...] = ()

    KIND: ClassVar[str] = ""
    VALUE_KEY: ClassVar[str] = ""  # the key holding the kind's value (factor, amount)
    TEMPLATES: ClassVar[dict[str, tuple[str, str]]] = {}

    @property
    def kind(self) -> str:
        return self.KIND

    @classmethod
    def parse(cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT) -> dict[str, Any]:
        raise NotImplementedError

    def apply(self, raw: Decimal) -> Decimal:
        """The amount after this adjustment (when it applies)."""
        raise NotImplementedError

    def parameters(self, ctx: Context) -> tuple[Parameter, ...]:
        raise NotImplementedError

    def inputs(self) -> tuple[tuple[str, Any], ...]:
        return ()

    def evaluate(self, ctx: Context, raw: Decimal, steps: list[Step]) -> Decimal:
        held = set(ctx.facts.designations)
        designations = self.designations
        matched = () if designations is None else tuple(sorted(held & designations))
        designated = designations is None or bool(matched)
        when_met: list[str] = []
        when_failed: list[str] = []
        for condition in self.when:
            met, condition_steps = check(condition, ctx, ctx.shared)
            steps.extend(condition_steps)
            (when_met if met else when_failed).append(condition.id)
        applies = designated and not when_failed
        before = raw
        if applies:
            raw = self.apply(raw)
        params = (
            ctx.p(self, "designations", "—" if designations is None else designations),
            *self.parameters(ctx),
        )
        inputs: tuple[tuple[str, Any], ...] = (
            ("matched", matched),
            ("before", exact(before)),
            *self.inputs(),
        )
        outcome = "applied" if applies else "not_applied"
        if self.when:
            params += (ctx.p(self, "when", tuple(c.id for c in self.when)),)
            inputs += (("when_met", tuple(when_met)), ("when_failed", tuple(when_failed)))
            outcome += "_if"
        steps.append(
            Step(
                f"adjustment.{self.KIND}", self.id, self.clause, inputs, params, exact(raw), outcome
            )
        )
        return raw


ADJUSTMENT_KINDS: dict[str, type[Adjustment]] = {}


def adjustment_kind(cls: type[Adjustment]) -> type[Adjustment]:
    ADJUSTMENT_KINDS[cls.KIND] = cls
    add_templates(f"adjustment.{cls.KIND}", cls.TEMPLATES)
    return cls


@adjustment_kind
@dataclass(frozen=True, kw_only=True)
class Multiplier(Adjustment):
    factor: Decimal

    KIND = "multiplier"
    VALUE_KEY = "factor"
    TEMPLATES = {
        "applied": (
            "投资方称号{matched}：奖励 × {factor}，{before}元 → {result}元",
            "Investor designation {matched}: reward × {factor}, {before} → {result} yuan",
        ),
        "not_applied": (
            "投资方无{designations}称号，不调整",
            "No {designations} designation: no multiplier",
        ),
        "applied_if": (
            "条件（{when}）均满足（称号要求：{designations}）：奖励 × {factor}，{before}元 → "
            "{result}元",
            "Conditions ({when}) all hold (designations required: {designations}): reward × "
            "{factor}, {before} → {result} yuan",
        ),
        "not_applied_if": (
            "条件（{when}）未全部满足（未满足：{when_failed}；称号要求：{designations}，具备："
            "{matched}），不调整",
            "Conditions ({when}) do not all hold (not met: {when_failed}; designations "
            "required: {designations}, held: {matched}): no multiplier",
        ),
    }

    @classmethod
    def parse(cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT) -> dict[str, Any]:
        factor = b.c.decimal(
            m,
            "factor",
            path,
            low=Decimal(0),
            low_inclusive=False,
            high=MAX_FACTOR,
            places=6,
            what="factor",
        )
        return {"factor": factor}

    def apply(self, raw: Decimal) -> Decimal:
        return raw * self.factor

    def parameters(self, ctx: Context) -> tuple[Parameter, ...]:
        return (ctx.p(self, "factor", self.factor),)


@adjustment_kind
@dataclass(frozen=True, kw_only=True)
class Bonus(Adjustment):
    bonus: Money

    KIND = "bonus"
    VALUE_KEY = "amount"
    TEMPLATES = {
        "applied": (
            "投资方称号{matched}：另加{bonus}元，{before}元 → {result}元",
            "Investor designation {matched}: bonus {bonus} yuan, {before} → {result} yuan",
        ),
        "not_applied": (
            "投资方无{designations}称号，不加奖",
            "No {designations} designation: no bonus",
        ),
        "applied_if": (
            "条件（{when}）均满足（称号要求：{designations}）：另加{bonus}元，{before}元 → "
            "{result}元",
            "Conditions ({when}) all hold (designations required: {designations}): bonus "
            "{bonus} yuan, {before} → {result} yuan",
        ),
        "not_applied_if": (
            "条件（{when}）未全部满足（未满足：{when_failed}；称号要求：{designations}，具备："
            "{matched}），不加奖",
            "Conditions ({when}) do not all hold (not met: {when_failed}; designations "
            "required: {designations}, held: {matched}): no bonus",
        ),
    }

    @classmethod
    def parse(cls, b: _VersionBuilder, m: Mapping[str, Any], path: PathT) -> dict[str, Any]:
        return {"bonus": b.c.money(m, "amount", path)}

    def apply(self, raw: Decimal) -> Decimal:
        return raw + self.bonus.cny

    def parameters(self, ctx: Context) -> tuple[Parameter, ...]:
        return (ctx.p(self, "amount", self.bonus.describe()),)

    def inputs(self) -> tuple[tuple[str, Any], ...]:
        return (("bonus", self.bonus.cny),)


def parse_adjustment(
    b: _VersionBuilder, m: Mapping[str, Any], path: PathT, kind: str
) -> Adjustment:
    """One adjustment of kind `kind` from its checked mapping `m`."""
    cls = ADJUSTMENT_KINDS[kind]
    if "designations" not in m and "when" not in m:
        b.c.fail(path, "an adjustment names its designations, its `when` conditions, or both")
    designations = b.c.codes(m, "designations", path, DESIGNATIONS, "designation")
    if m.get("designations") == []:
        b.c.fail((*path, "designations"), "name at least one designation")
    rule = b.rule_fields(m, path, "")
    when: tuple[Condition, ...] = ()
    if "when" in m:
        when = b.nested_conditions(m["when"], (*path, "when"), rule["clause"])
        if m["when"] == []:
            b.c.fail((*path, "when"), "name at least one condition")
    return cls(**rule, designations=designations, when=when, **cls.parse(b, m, path))
