"""The annual evaluation of the associations (评价, 三(二)) and the designations (四(二)2): scoring.

The rules (the weights are data: `kind: evaluation` files beside the reward policies) are modelled
and validated in `projections.policy.evaluation_rules` and loaded by the one rules loader
(`projections.policy.registry`, kept by the composition root and reloaded with the policies).

A score is computed from the read models' evaluation indicators (`ReadModels.
evaluation_indicators`), in `Decimal`, each indicator's points rounded half-up to 0.01 and the
score their sum. The ranking is total and deterministic: score, then the tie-break metrics (larger
first), then the association id; the same events and the same rules give the same ranking.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from domain.values import from_fen

# The rules' names, kept importable from here for the callers of the evaluation.
from projections.policy.evaluation_rules import BUILTIN_RULES_DIR as BUILTIN_RULES_DIR
from projections.policy.evaluation_rules import DEFAULT_FOLLOW_UP_DAYS as DEFAULT_FOLLOW_UP_DAYS
from projections.policy.evaluation_rules import DEFAULT_POLICY, METRICS, Indicator, Number
from projections.policy.evaluation_rules import EvaluationRegistry as EvaluationRegistry
from projections.policy.evaluation_rules import EvaluationRules as EvaluationRules
from projections.policy.evaluation_rules import EvaluationRulesError as EvaluationRulesError
from projections.policy.evaluation_rules import (
    EvaluationRulesNotFound as EvaluationRulesNotFound,
)
from projections.policy.evaluation_rules import load_rules_file as load_rules_file
from projections.policy.registry import load_evaluation_registry as load_evaluation_registry
from projections.queries import ReadModels

POINTS = Decimal("0.01")


def load_evaluation_rules(
    policy: str = DEFAULT_POLICY, paths: Iterable[str | Path] | None = None
) -> EvaluationRules:
    """The evaluation rules in force for `policy` (the highest valid version)."""
    return load_evaluation_registry(paths).get(policy)


# ---- scoring ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorResult:
    id: str
    value: Number  # a count, or yuan for money indicators
    points: Decimal


@dataclass(frozen=True)
class EvaluationItem:
    rank: int
    association_id: str
    name: str
    score: Decimal
    indicators: tuple[IndicatorResult, ...]
    tie_values: tuple[int, ...]  # the tie-break metrics' raw values (money in fen)
    published: bool
    tie_broken_by: str | None  # when the score equals the one ranked above: what decided

    def indicator(self, indicator_id: str) -> IndicatorResult:
        return next(i for i in self.indicators if i.id == indicator_id)


@dataclass(frozen=True)
class Evaluation:
    """One evaluation year's scores and ranking, with the rules and positions it came from."""

    year: int
    period: tuple[date, date]
    rules: EvaluationRules
    items: tuple[EvaluationItem, ...]
    excluded: tuple[tuple[str, str], ...]  # (association_id, reason)
    positions: dict[str, int] = field(default_factory=dict)

    @property
    def published_top_n(self) -> int:
        return self.rules.published_top_n

    def ranking(self) -> list[tuple[int, str, Decimal]]:
        return [(i.rank, i.association_id, i.score) for i in self.items]

    def as_dict(
        self, *, with_positions: bool = False, published_only: bool = False
    ) -> dict[str, Any]:
        """The `GET /evaluations/{year}` answer (DESIGN §12), JSON-ready: money and scores as
        decimal strings, counts as numbers; with `published_only`, the published places'
        items alone (a page's default view: tens of 2,000).

        The projection positions are left out unless asked for: a frozen document records its
        own position, and its content must not change when only unrelated events were added
        (a document store compares content hashes to decide on a revision)."""
        rules = self.rules
        units = {i.id: i.unit for i in rules.indicators}
        doc: dict[str, Any] = {
            "year": self.year,
            "period": {"from": self.period[0].isoformat(), "to": self.period[1].isoformat()},
            "published_top_n": rules.published_top_n,
            "tie_rule": rules.tie_rule,
            "tie_rule_zh": rules.tie_rule_zh,
            "provisional": rules.provisional,
            "rules": rules.summary(),
            "items": [
                {
                    "rank": item.rank,
                    "association_id": item.association_id,
                    "name": item.name,
                    "score": str(item.score),
                    "indicators": {
                        r.id: {"value": _json_value(r.value, units[r.id]), "points": str(r.points)}
                        for r in item.indicators
                    },
                    "tie_break": {
                        metric: _json_metric(metric, value)
                        for metric, value in zip(rules.tie_break, item.tie_values, strict=True)
                    },
                    "tie_broken_by": item.tie_broken_by,
                    "published": item.published,
                }
                for item in self.items
                if item.published or not published_only
            ],
            "excluded": [{"association_id": a, "reason": r} for a, r in self.excluded],
        }
        if with_positions:
            doc["positions"] = dict(self.positions)
        return doc


def _json_value(value: Number, unit: str) -> int | str:
    return str(value) if unit == "yuan" else int(value)


def _json_metric(metric: str, raw: int) -> int | str:
    return str(from_fen(raw)) if METRICS[metric][1] == "yuan" else raw


def _raw(figures: Mapping[str, int], metric: str) -> int:
    return int(figures.get(METRICS[metric][0], 0))


def _round(value: Decimal) -> Decimal:
    return value.quantize(POINTS, rounding=ROUND_HALF_UP)


def indicator_points(indicator: Indicator, raw: int, best: int) -> Decimal:
    """Points for a raw value (a count, or fen for money) given the best association's raw
    value: per unit up to the weight, or the weight times the share of the best."""
    if indicator.scale.kind == "share_of_best":
        if best <= 0 or raw <= 0:
            return Decimal("0.00")
        return _round(indicator.weight * Decimal(raw) / Decimal(best))
    assert indicator.scale.points is not None
    value = from_fen(raw) if indicator.unit == "yuan" else Decimal(raw)
    points = value / indicator.scale.per * indicator.scale.points
    return _round(max(min(points, indicator.weight), Decimal(0)))


@dataclass(frozen=True)
class _Scored:
    """One association's part of an evaluation, from its figures and the best raw values."""

    figures: Mapping[str, int]
    raws: tuple[int, ...]
    best: tuple[int, ...] | None = None
    results: tuple[IndicatorResult, ...] = ()
    score: Decimal = Decimal("0.00")
    tie_values: tuple[int, ...] = ()


# What `compute_evaluation` computed per association last time, for the same rules and year:
# an association whose figures and the best values are unchanged scores as it did (issue 23:
# a view after one event moves a figure or two of one association, not the other 1,999).
ScoreMemo = dict[str, _Scored]


def compute_evaluation(
    rules: EvaluationRules,
    year: int,
    indicators: Mapping[str, Mapping[str, int]],
    associations: Sequence[Mapping[str, Any]],
    positions: Mapping[str, int] | None = None,
    memo: ScoreMemo | None = None,
) -> Evaluation:
    """Score and rank every association registered by the end of the evaluation year.

    `indicators` is `ReadModels.evaluation_indicators(year)` (metric → value, money in fen);
    `associations` is `ReadModels.associations()` (association_id, name, active,
    registered_on). Pure: no database, no clock. `memo`, kept by the caller between calls with
    the same rules and year only, saves recomputing what cannot have changed.
    """
    start, end = rules.period(year)
    excluded: list[tuple[str, str]] = []
    entrants: list[Mapping[str, Any]] = []
    for association in sorted(associations, key=lambda a: str(a["association_id"])):
        association_id = str(association["association_id"])
        registered_on = association.get("registered_on")
        if registered_on and str(registered_on) > end.isoformat():
            excluded.append((association_id, "registered_after_the_year"))
        elif rules.exclude_deactivated and not association.get("active", 1):
            excluded.append((association_id, "deactivated"))
        else:
            entrants.append(association)

    # Each entrant's raw indicator values, read once (the best of each, then the points).
    columns = [tuple(METRICS[m][0] for m in ind.metrics) for ind in rules.indicators]
    before: ScoreMemo = memo if memo is not None else {}
    parts: dict[str, _Scored] = {}
    for association in entrants:
        association_id = str(association["association_id"])
        figures = indicators.get(association_id, {})
        known = before.get(association_id)
        if known is not None and known.figures == figures:
            parts[association_id] = known
        else:
            raws = tuple(sum(int(figures.get(c, 0)) for c in keys) for keys in columns)
            parts[association_id] = _Scored(dict(figures), raws)  # a copy: it is kept
    best = tuple(max((p.raws[i] for p in parts.values()), default=0) for i in range(len(columns)))
    scored: list[tuple[tuple[Any, ...], str, str, Decimal, tuple[IndicatorResult, ...], Any]] = []
    # Points depend only on (indicator, raw value, best): many associations share a raw value
    # (none at all, most often), so each is computed once per indicator.
    in_yuan = [ind.unit == "yuan" for ind in rules.indicators]
    points_by_raw: list[dict[int, Decimal]] = [{} for _ in rules.indicators]
    for association in entrants:
        association_id = str(association["association_id"])
        part = parts[association_id]
        if part.best != best:
            results = []
            for i, ind in enumerate(rules.indicators):
                value = part.raws[i]
                shown: Number = from_fen(value) if in_yuan[i] else value
                earned = points_by_raw[i].get(value)
                if earned is None:
                    earned = points_by_raw[i][value] = indicator_points(ind, value, best[i])
                results.append(IndicatorResult(ind.id, shown, earned))
            part = parts[association_id] = _Scored(
                part.figures,
                part.raws,
                best,
                tuple(results),
                sum((r.points for r in results), Decimal("0.00")),
                tuple(_raw(part.figures, m) for m in rules.tie_break),
            )
        key = (-part.score, *(-v for v in part.tie_values), association_id)
        name = str(association.get("name") or "")
        scored.append((key, association_id, name, part.score, part.results, part.tie_values))
    scored.sort(key=lambda s: s[0])
    if memo is not None:
        memo.clear()
        memo.update(parts)

    items: list[EvaluationItem] = []
    for index, (_key, association_id, name, score, points, tie_values) in enumerate(scored):
        rank = index + 1
        broken_by = None
        if index and scored[index - 1][3] == score:
            above = scored[index - 1][5]
            broken_by = next(
                (m for m, a, b in zip(rules.tie_break, above, tie_values, strict=True) if a != b),
                "association_id",
            )
        items.append(
            EvaluationItem(
                rank=rank,
                association_id=association_id,
                name=name,
                score=score,
                indicators=points,
                tie_values=tie_values,
                published=rank <= rules.published_top_n,
                tie_broken_by=broken_by,
            )
        )
    return Evaluation(
        year=year,
        period=(start, end),
        rules=rules,
        items=tuple(items),
        excluded=tuple(excluded),
        positions=dict(positions or {}),
    )


def evaluate(read: ReadModels, year: int, rules: EvaluationRules | None = None) -> Evaluation:
    """The evaluation of `year` from the read models as they stand (bring the projections up to
    date first when the result is to be frozen). Without `rules`, the Hunan 2022 rules."""
    the_rules = load_evaluation_rules() if rules is None else rules
    positions = {name: read.position(name) for name in ("figures", "ledger")}
    associations = read.associations()
    ids = [str(a["association_id"]) for a in associations]
    return compute_evaluation(
        the_rules,
        year,
        read.evaluation_indicators(year, the_rules.ends_month, ids),
        associations,
        positions,
    )
