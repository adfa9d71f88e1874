"""Evaluating a policy for a year over the facts of many projects.

The pipeline is fixed; what each stage does is the policy's data:

1. listing — which projects (and, through their shares, which associations) appear for the year;
2. base — the figure the reward is computed on (counted arrivals, fixed-asset investment, tax);
3. conditions — in the file's order; the first not met gives the project its status;
4. amount — flat rate, rate by industry, whole-amount or progressive bands; then designation
   multipliers and bonuses; then rounding; then per-project caps;
5. split — the project reward divided by the shares in force on the policy's split date;
6. per-association caps, then the policy's yearly budget.

Every figure carries the steps that produced it (`projections.policy.explain.Step`).
The engine reads nothing but the facts it is handed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from domain.values import KEY_ONLY, LARGER_SHARE_THEN_KEY, largest_remainder
from projections.policy.conditions import (
    Condition,
    Context,
    check,
    figure_label,
)
from projections.policy.explain import LANGUAGES, Parameter, Step
from projections.policy.facts import ProjectFacts
from projections.policy.model import (
    PLACES_TEXT,
    ROUNDING_TEXT,
    Band,
    Policy,
    PolicyVersion,
    Rule,
    compare,
    exact,
    money,
    round_to,
)

ZERO = Decimal("0.00")
FEN = Decimal("0.01")
HUNDRED = Decimal(100)
EXACT = Decimal("0.000001")


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many acyclic objects.

    Evaluating a province allocates a few hundred thousand small objects (steps, tuples); each
    allocation burst would trigger collections that walk the whole heap (every project's facts),
    which took longer than the evaluation itself. Nothing built here forms a cycle, so reference
    counting frees it all; the collector is switched back on afterwards (if it was on).

    Everything allocated meanwhile sits in the youngest generation, which the first allocation
    after `gc.enable()` would then walk whole (a quarter of the evaluation's time at province
    scale); `freeze` + `unfreeze` first hand it all to the oldest generation in constant time,
    walked only by the collector's occasional full pass.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def fmt(amount: Decimal) -> str:
    """Money as a decimal string with two places."""
    return format(money(amount), "f")


# ---- results -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Part:
    """An association's part of one project's reward."""

    association_id: str
    share: Decimal
    reward: Decimal
    step: Step | None


@dataclass(slots=True)
class ProjectResult:
    """One project's figures for the year, before the per-association caps."""

    project_id: str
    status: str
    eligible: bool
    funds_in_year: Decimal
    base: Decimal
    project_reward: Decimal
    steps: tuple[Step, ...]
    parts: tuple[Part, ...]


@dataclass(slots=True)
class RewardRow:
    """A project row of an association (`reward` is this association's part)."""

    project_id: str
    share: Decimal
    funds_in_year: Decimal
    status: str
    project_reward: Decimal
    reward: Decimal
    explanation: tuple[Step, ...]

    def as_dict(self, langs: tuple[str, ...] = LANGUAGES) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "share": format(self.share.quantize(Decimal("0.01")), "f"),
            "funds_in_year": fmt(self.funds_in_year),
            "status": self.status,
            "project_reward": fmt(self.project_reward),
            "reward": fmt(self.reward),
            "explanation": [s.as_dict(langs) for s in self.explanation],
        }


@dataclass(slots=True)
class AssociationReward:
    association_id: str
    total: Decimal
    capped: bool
    uncapped_total: Decimal
    rows: list[RewardRow]
    explanation: tuple[Step, ...] = ()

    def as_dict(
        self, langs: tuple[str, ...] = LANGUAGES, with_explanation: bool = False
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "association_id": self.association_id,
            "total": fmt(self.total),
            "capped": self.capped,
            "uncapped_total": fmt(self.uncapped_total),
            "projects": [r.as_dict(langs) for r in self.rows],
        }
        if with_explanation:
            data["explanation"] = [s.as_dict(langs) for s in self.explanation]
        return data


@dataclass
class RewardReport:
    """A year's reward figures under one policy version (DESIGN §12 `GET /rewards/{year}`)."""

    year: int
    policy: str
    version_effective_from: date
    associations: list[AssociationReward]
    projects: dict[str, ProjectResult] = field(default_factory=dict)

    def association(self, association_id: str) -> AssociationReward | None:
        for association in self.associations:
            if association.association_id == association_id:
                return association
        return None

    def as_dict(
        self, langs: tuple[str, ...] = LANGUAGES, association_explanations: bool = False
    ) -> dict[str, Any]:
        """Exactly `{year, policy, associations: [...]}`; money as two-place decimal strings.

        Association-level steps (the sum, each cap, the budget) are also the last steps of the
        explanation of each eligible row; `association_explanations` adds them to the
        association entries as well.
        """
        with cyclic_gc_paused():
            return {
                "year": self.year,
                "policy": self.policy,
                "associations": [
                    a.as_dict(langs, association_explanations) for a in self.associations
                ],
            }


# ---- one year under one version ----------------------------------------------------------------


class _YearPlan:
    """The parameters of the version in force for a year, resolved once for every project."""

    def __init__(self, policy: Policy, year: int) -> None:
        self.policy = policy
        self.year = year
        self._parameters: dict[Any, Parameter] = {}
        self._steps: dict[Any, Step] = {}
        self._checked: dict[Any, tuple[bool, tuple[Step, ...]]] = {}
        v = self.version = policy.version_for(year)
        self.start, self.end = v.period.bounds(year)
        if v.counting.window == "inside_validity":
            self.window = (max(self.start, policy.valid_from), min(self.end, policy.valid_to))
        else:
            self.window = (self.start, self.end)
        self.window_open = self.window[0] <= self.window[1]
        shares_at = v.split.shares_at
        if shares_at == "year_start":
            self.shares_on = self.start
        elif shares_at == "year_end":
            self.shares_on = self.end
        else:  # year_end_or_validity_end: the end of the year or of the window, if earlier
            self.shares_on = min(self.end, policy.valid_to)
            if self.shares_on < self.start:
                self.shares_on = self.end  # a year wholly after the window: its own end
        self.sources = v.base.sources
        self.base_kind = v.base.kind
        self.rounding_mode = v.counting.arrival_rounding
        self.listing = v.listing.projects
        self.jurisdiction = policy.jurisdiction if v.listing.within_jurisdiction else None
        # Parameters reused by every project's steps (immutable, so shared).
        c, b = v.counting, v.base
        self.base_params = (
            self.p(
                v.period, "year_starts", f"{v.period.starts_month:02d}-{v.period.starts_day:02d}"
            ),
            self.p(v.period, "timezone", v.period.timezone),
            self.p(c, "window", c.window),
            self.p(c, "conversion", c.conversion),
            self.p(c, "arrival_rounding", c.arrival_rounding),
            self.p(b, "sources", "any" if b.sources is None else tuple(sorted(b.sources))),
        )
        self.window_inputs = (
            ("window_from", self.window[0] if self.window_open else None),
            ("window_to", self.window[1] if self.window_open else None),
        )
        a = v.amount
        self.rounding_params = (
            self.p(a, "rounding", a.rounding),
            self.p(a, "places", a.places),
        )
        self.rounding_notes = (
            ("mode_zh", ROUNDING_TEXT[a.rounding][0]),
            ("mode_en", ROUNDING_TEXT[a.rounding][1]),
            ("places_text_zh", PLACES_TEXT[a.places][0]),
            ("places_text_en", PLACES_TEXT[a.places][1]),
        )
        s = v.split
        self.split_params = (
            self.p(s, "shares_at", s.shares_at),
            self.p(s, "method", s.method),
            self.p(s, "ties", s.ties),
        )
        self.threshold = v.threshold()
        self.by_event_date = policy.version_selection == "by_event_date"

    def p(self, rule: Rule, name: str, value: Any) -> Parameter:
        """The rule's parameter, made once per year's evaluation and shared by every step."""
        key = (rule.id, name, value)
        parameter = self._parameters.get(key)
        if parameter is None:
            parameter = self._parameters[key] = rule.param(name, value)
        return parameter

    def _status_step(self, condition: Condition) -> Step:
        key = ("status", condition.id)
        step = self._steps.get(key)
        if step is None:
            step = self._steps[key] = Step(
                "status",
                condition.id,
                condition.clause,
                (("status", condition.status),),
                (),
                ZERO,
                notes=_status_notes(condition),
            ).shared()
        return step

    def memo(self, parameter: Parameter) -> Parameter:
        return self._parameters.setdefault(parameter, parameter)

    # ---- one project ------------------------------------------------------------------------

    def project(self, facts: ProjectFacts) -> ProjectResult | None:
        j = self.jurisdiction
        if (
            j is not None
            and j.level != "province"
            and not j.covers(facts.city, facts.county, facts.park)
        ):
            return None
        start, end = self.start, self.end
        w_start, w_end = self.window
        funds_kind = self.base_kind == "funds_arrived"
        sources = self.sources
        any_arrival = False
        funds = ZERO
        counted = 0
        not_counted: list[str] = []
        for arrival in facts.arrivals:
            day = arrival.arrived_on
            if day < start or day > end:
                continue
            any_arrival = True
            if w_start <= day <= w_end and (
                sources is None or not funds_kind or arrival.source in sources
            ):
                amount = arrival.amount_cny
                if self.rounding_mode != "half_up" and arrival.amount is not None:
                    amount = round_to(arrival.amount * arrival.rate_to_cny, self.rounding_mode)
                funds += amount
                counted += 1
            else:
                not_counted.append(arrival.arrival_id)
        steps: list[Step] = []
        v = self.version
        if funds_kind:
            base, items, reported = funds, counted, any_arrival
            steps.append(
                Step(
                    "base.funds_arrived",
                    v.base.id,
                    v.base.clause,
                    (
                        ("year", self.year),
                        *self.window_inputs,
                        ("counted", counted),
                        ("not_counted", len(not_counted)),
                        ("not_counted_ids", tuple(not_counted)),
                    ),
                    self.base_params,
                    money(funds),
                )
            )
        else:
            figures = (
                facts.fixed_asset_investment_cny
                if self.base_kind == "fixed_asset_investment"
                else facts.tax_reported_cny
            )
            figure = figures.get(self.year)
            reported = figure is not None
            in_window = reported and self.window_open
            base = money(figure) if in_window and figure is not None else ZERO
            items = 1 if in_window else 0
            outcome = "counted" if in_window else "not_counted" if reported else "not_reported"
            steps.append(
                Step(
                    f"base.{self.base_kind}",
                    v.base.id,
                    v.base.clause,
                    (("year", self.year), ("reported", figure), *self.window_inputs),
                    self.base_params,
                    base,
                    outcome,
                )
            )
        listing = self.listing
        if listing == "any_arrival_in_year":
            listed = any_arrival
        elif listing == "any_base_in_year":
            listed = reported
        else:
            listed = items > 0
        if not listed:
            return None
        status = v.eligible_status
        eligible = True
        ctx = Context(
            facts,
            self.year,
            self.end,
            self.window,
            base,
            funds,
            items,
            self.p,
            self._steps,
            self._checked,
            self.memo,
        )
        for condition in v.conditions:
            met, condition_steps = check(condition, ctx, self._steps)
            steps.extend(condition_steps)
            if not met:
                status = condition.status
                eligible = False
                steps.append(self._status_step(condition))
                break
        shares = facts.shares_on(self.shares_on)
        if not eligible:
            parts = tuple(Part(a, s, ZERO, None) for a, s in shares)
            return ProjectResult(
                facts.project_id, status, False, funds, base, ZERO, tuple(steps), parts
            )
        reward = self._amount(ctx, steps)
        parts = self._split(reward, shares)
        return ProjectResult(
            facts.project_id, status, True, funds, base, reward, tuple(steps), parts
        )

    # ---- the amount -------------------------------------------------------------------------

    def _amount(self, ctx: Context, steps: list[Step]) -> Decimal:
        v = self.version
        a = v.amount
        segments = self._segments(ctx.facts) if self.by_event_date else None
        if segments is None or [s[0] for s in segments] in ([], [v]):
            raw = self._version_amount(v, ctx, ctx.base, steps)
        else:
            # Each counted amount under the version in force on its own date (by_event_date).
            raw = ZERO
            for version, amount, count in segments:
                steps.append(
                    Step(
                        "amount.version_segment",
                        version.amount.id,
                        version.amount.clause,
                        (
                            ("effective_from", version.effective_from),
                            ("counted", count),
                            ("amount", amount),
                        ),
                        (self.p(version.amount, "version_selection", "by_event_date"),),
                        amount,
                    )
                )
                raw += self._version_amount(version, ctx, amount, steps)
            steps.append(
                Step(
                    "amount.segments_total",
                    a.id,
                    a.clause,
                    (("segments", len(segments)),),
                    (),
                    exact(raw),
                )
            )
        raw = self._adjust(v, ctx, raw, steps)
        reward = money(round_to(raw, a.rounding, a.places))
        steps.append(
            Step(
                "rounding",
                a.id,
                a.clause,
                (("before", exact(raw)),),
                self.rounding_params,
                reward,
                notes=self.rounding_notes,
            )
        )
        for cap in v.project_caps:
            before = reward
            if cap.kind == "fixed":
                assert cap.amount is not None
                limit: Decimal | None = cap.amount.cny
                band_text = ("", "")
                params: tuple[Parameter, ...] = (self.p(cap, "amount", cap.amount.describe()),)
            else:
                figure = ctx.figure(cap.figure)
                band = _band_for(cap.bands, figure)
                limit = None if band is None else band.amount
                label = "none" if band is None else band.label()
                names = figure_label(cap.figure)
                band_text = (
                    f"（{names[0]}{figure}元所在档次{label}）",
                    f" ({names[1]} {figure} in band {label})",
                )
                params = (self.p(cap, "figure", cap.figure), self.p(cap, "bands", label))
            if limit is not None and reward > limit:
                reward = limit
            steps.append(
                Step(
                    "cap.project",
                    cap.id,
                    cap.clause,
                    (("before", before), ("cap", limit)),
                    params,
                    reward,
                    "applied" if reward < before else "not_applied",
                    (("band_text_zh", band_text[0]), ("band_text_en", band_text[1])),
                )
            )
        return reward

    def _segments(self, facts: ProjectFacts) -> list[tuple[PolicyVersion, Decimal, int]] | None:
        """The counted arrivals grouped by the version in force on each one's date."""
        if self.base_kind != "funds_arrived":
            return None  # a yearly figure has no date within the year: the year's version
        w_start, w_end = self.window
        sources = self.sources
        groups: dict[int, list[Any]] = {}
        versions: dict[int, PolicyVersion] = {}
        for arrival in facts.arrivals:
            day = arrival.arrived_on
            if not (w_start <= day <= w_end) or (
                sources is not None and arrival.source not in sources
            ):
                continue
            version = self.policy.version_on(day)
            versions[version.index] = version
            amount = arrival.amount_cny
            if self.rounding_mode != "half_up" and arrival.amount is not None:
                amount = round_to(arrival.amount * arrival.rate_to_cny, self.rounding_mode)
            groups.setdefault(version.index, []).append(amount)
        return [(versions[i], sum(groups[i], ZERO), len(groups[i])) for i in sorted(groups)]

    def _version_amount(
        self, v: PolicyVersion, ctx: Context, base: Decimal, steps: list[Step]
    ) -> Decimal:
        """The amount rule of version `v` on `base`, unrounded."""
        a = v.amount
        portion = base
        threshold = v.threshold()
        if a.portion == "above_threshold" and threshold is not None:
            portion = max(base - threshold.amount.cny, ZERO)
            steps.append(
                Step(
                    "amount.portion",
                    a.id,
                    a.clause,
                    (("base", base), ("threshold", threshold.amount.cny)),
                    (self.p(a, "portion", a.portion),),
                    portion,
                )
            )
        return a.evaluate(ctx, portion, steps)

    def _adjust(self, v: PolicyVersion, ctx: Context, raw: Decimal, steps: list[Step]) -> Decimal:
        """The adjustments of version `v`, once on the project's unrounded amount."""
        for adjustment in v.adjustments:
            raw = adjustment.evaluate(ctx, raw, steps)
        return raw

    # ---- the split --------------------------------------------------------------------------

    def _split(self, reward: Decimal, shares: tuple[tuple[str, Decimal], ...]) -> tuple[Part, ...]:
        s = self.version.split
        fen = int(reward * 100)
        hundredths = [int(share * 100) for _, share in shares]
        whole = sum(hundredths)
        exact_fen = [Decimal(fen * h) / whole for h in hundredths]
        if s.method == "half_up":
            parts_fen = [int(round_to(e, "half_up", 0)) for e in exact_fen]
            extra = [0] * len(shares)
            floors = list(parts_fen)
        else:
            floors = [fen * h // whole for h in hundredths]
            parts_fen = largest_remainder(
                fen,
                hundredths,
                [association_id for association_id, _ in shares],
                tie_rule=(LARGER_SHARE_THEN_KEY if "larger_share" in s.ties else KEY_ONLY),
            )
            extra = [p - f for p, f in zip(parts_fen, floors, strict=True)]
        method_text = (
            ("四舍五入到分", "rounded half-up to the fen")
            if s.method == "half_up"
            else ("向下取整到分", "rounded down to the fen")
        )
        parts: list[Part] = []
        for i, (association_id, share) in enumerate(shares):
            part = Decimal(parts_fen[i]) / 100
            part = money(part)
            step = Step(
                "split",
                s.id,
                s.clause,
                (
                    ("shares_on", self.shares_on),
                    ("project_reward", reward),
                    ("share", share),
                    ("exact", (exact_fen[i] / 100).quantize(EXACT)),
                    ("floor", money(Decimal(floors[i]) / 100)),
                    ("extra_fen", extra[i]),
                ),
                self.split_params,
                part,
                notes=(
                    ("method_zh", method_text[0]),
                    ("method_en", method_text[1]),
                    ("extra_zh", "，尾差补1分" if extra[i] else ""),
                    ("extra_en", ", plus 1 left-over fen (largest remainder)" if extra[i] else ""),
                ),
            )
            parts.append(Part(association_id, share, part, step))
        return tuple(parts)

    # ---- associations -----------------------------------------------------------------------

    def associations(self, results: list[ProjectResult]) -> list[AssociationReward]:
        rows_by: dict[str, list[tuple[ProjectResult, Part]]] = {}
        for result in results:
            for part in result.parts:
                rows_by.setdefault(part.association_id, []).append((result, part))
        return self.association_rewards(rows_by)

    def association_rewards(
        self, rows_by: dict[str, list[tuple[ProjectResult, Part]]]
    ) -> list[AssociationReward]:
        """The associations of `rows_by` (each with its project rows and their parts), in id
        order: sums, caps, the budget over them all, then the rows after the caps."""
        v = self.version
        rewards: list[AssociationReward] = []
        pending: list[tuple[AssociationReward, list[Step], list[tuple[ProjectResult, Part]]]] = []
        for association_id in sorted(rows_by):
            entries = sorted(rows_by[association_id], key=lambda e: e[0].project_id)
            uncapped = sum((p.reward for _, p in entries), ZERO)
            steps = [
                Step(
                    "association.sum",
                    "association_total",
                    v.split.clause,
                    (("association_id", association_id), ("rows", len(entries))),
                    (),
                    uncapped,
                ).shared()
            ]
            total, capped = uncapped, False
            for cap in v.association_caps:
                before = total
                applies = compare(total, cap.capped_when, cap.amount.cny)
                if applies:
                    capped = True
                    total = min(total, cap.amount.cny)
                steps.append(
                    Step(
                        "cap.association",
                        cap.id,
                        cap.clause,
                        (("before", before), ("cap", cap.amount.cny)),
                        (
                            self.p(cap, "amount", cap.amount.describe()),
                            self.p(cap, "capped_when", cap.capped_when),
                        ),
                        total,
                        "applied" if applies else "not_applied",
                    ).shared()
                )
            reward = AssociationReward(association_id, total, capped, uncapped, [])
            rewards.append(reward)
            pending.append((reward, steps, entries))
        if v.budget is not None:
            self._budget(pending)
        for reward, steps, entries in pending:
            reward.explanation = tuple(steps)
            row_parts = [p.reward for _, p in entries]
            row_steps: list[tuple[Step, ...]] = [() for _ in entries]
            if v.rows.after_caps == "pro_rata" and reward.total < reward.uncapped_total:
                scaled = _pro_rata(
                    [int(x * 100) for x in row_parts],
                    int(reward.total * 100),
                    [e[0].project_id for e in entries],
                )
                for i, fen in enumerate(scaled):
                    new = money(Decimal(fen) / 100)
                    row_steps[i] = (
                        Step(
                            "rows.pro_rata",
                            v.rows.id,
                            v.rows.clause,
                            (("before", row_parts[i]),),
                            (self.p(v.rows, "after_caps", v.rows.after_caps),),
                            new,
                        ),
                    )
                    row_parts[i] = new
            association_steps = reward.explanation
            for i, (result, part) in enumerate(entries):
                explanation = result.steps
                if result.eligible:
                    assert part.step is not None
                    explanation = (*explanation, part.step, *association_steps, *row_steps[i])
                reward.rows.append(
                    RewardRow(
                        result.project_id,
                        part.share,
                        result.funds_in_year,
                        result.status,
                        result.project_reward,
                        row_parts[i],
                        explanation,
                    )
                )
        return rewards

    def _budget(
        self,
        pending: list[tuple[AssociationReward, list[Step], list[tuple[ProjectResult, Part]]]],
    ) -> None:
        budget = self.version.budget
        assert budget is not None
        requested = sum((r.total for r, _, _ in pending), ZERO)
        limit = budget.amount.cny
        applies = requested > limit
        if applies:
            scaled = _pro_rata(
                [int(r.total * 100) for r, _, _ in pending],
                int(limit * 100),
                [r.association_id for r, _, _ in pending],
            )
        for index, (reward, steps, _) in enumerate(pending):
            before = reward.total
            if applies:
                reward.total = money(Decimal(scaled[index]) / 100)
                if reward.total < before:
                    reward.capped = True
            steps.append(
                Step(
                    "budget",
                    budget.id,
                    budget.clause,
                    (("requested", requested), ("before", before), ("budget", limit)),
                    (
                        self.p(budget, "amount", budget.amount.describe()),
                        self.p(budget, "allocation", budget.allocation),
                    ),
                    reward.total,
                    "applied" if applies else "not_applied",
                ).shared()
            )


def _status_notes(c: Condition) -> tuple[tuple[str, Any], ...]:
    if c.labels is None:
        return (("status", c.status),)
    return (("status", c.status), ("status_labels", c.labels))


def _band_for(bands: tuple[Band, ...], x: Decimal) -> Band | None:
    for band in bands:
        if band.contains(x):
            return band
    return None


def _pro_rata(weights: list[int], total: int, keys: list[str]) -> list[int]:
    """`total` fen divided in proportion to `weights` (fen): each part rounded down, the fens
    left over one each to the largest remainders (ties: the larger weight, then the key)."""
    return largest_remainder(total, weights, keys)


# ---- the public entry points ---------------------------------------------------------------------


def evaluate(policy: Policy, year: int, facts: Iterable[ProjectFacts]) -> RewardReport:
    """The year's reward figures under `policy` for the projects whose facts are given."""
    plan = _YearPlan(policy, year)
    results: list[ProjectResult] = []
    with cyclic_gc_paused():
        for project in facts:
            result = plan.project(project)
            if result is not None:
                results.append(result)
        return RewardReport(
            year=year,
            policy=policy.id,
            version_effective_from=plan.version.effective_from,
            associations=plan.associations(results),
            projects={r.project_id: r for r in results},
        )


class YearFigures:
    """A year's figures under one policy, kept project by project so that new facts of a few
    projects cost their own evaluation and their associations', not the year's.

    `update` gives exactly what `evaluate` over the same facts gives: a project's result depends
    only on its facts and the year's plan (whose memos are caches of pure functions), and an
    association's entry only on its own rows — except under a yearly budget, shared by every
    association, when every association is drawn up again. Each `report` is a new object that
    is never changed afterwards, so a report handed out stays whole while the next is made.
    """

    def __init__(self, policy: Policy, year: int, facts: Iterable[ProjectFacts]) -> None:
        self.plan = _YearPlan(policy, year)
        self._results: dict[str, ProjectResult] = {}
        with cyclic_gc_paused():
            for project in facts:
                result = self.plan.project(project)
                if result is not None:
                    self._results[result.project_id] = result
            self._results = dict(sorted(self._results.items()))
            self._associations = {
                a.association_id: a for a in self.plan.associations(list(self._results.values()))
            }
        self._members: dict[str, set[str]] = {}
        for result in self._results.values():
            for part in result.parts:
                self._members.setdefault(part.association_id, set()).add(result.project_id)
        self.report = self._report()

    @property
    def policy(self) -> Policy:
        return self.plan.policy

    @property
    def year(self) -> int:
        return self.plan.year

    def update(self, facts: dict[str, ProjectFacts | None]) -> RewardReport:
        """The report once the projects named have these facts (None: not listed in the year
        any more, or not a project)."""
        touched: set[str] = set()
        changed = False
        with cyclic_gc_paused():
            for project_id, project in facts.items():
                old = self._results.pop(project_id, None)
                new = None if project is None else self.plan.project(project)
                if old is None and new is None:
                    continue
                changed = True
                for result in (old, new):
                    if result is None:
                        continue
                    for part in result.parts:
                        touched.add(part.association_id)
                        members = self._members.setdefault(part.association_id, set())
                        if result is old:
                            members.discard(project_id)
                        else:
                            members.add(project_id)
                if new is not None:
                    self._results[project_id] = new
            if not changed:
                return self.report
            self._results = dict(sorted(self._results.items()))
            if self.plan.version.budget is not None:
                # The budget is shared: every association's figure and steps may move.
                touched = set(self._members)
            rows_by: dict[str, list[tuple[ProjectResult, Part]]] = {}
            for association_id in touched:
                ids = self._members.get(association_id)
                if not ids:
                    self._members.pop(association_id, None)
                    self._associations.pop(association_id, None)
                    continue
                rows_by[association_id] = [
                    (result, part)
                    for result in (self._results[p] for p in sorted(ids))
                    for part in result.parts
                    if part.association_id == association_id
                ]
            for reward in self.plan.association_rewards(rows_by):
                self._associations[reward.association_id] = reward
            self.report = self._report()
        return self.report

    def _report(self) -> RewardReport:
        return RewardReport(
            year=self.plan.year,
            policy=self.plan.policy.id,
            version_effective_from=self.plan.version.effective_from,
            associations=[self._associations[a] for a in sorted(self._associations)],
            projects=dict(self._results),
        )


def evaluate_project(policy: Policy, year: int, facts: ProjectFacts) -> ProjectResult | None:
    """One project's figures for the year before any per-association cap (None: not listed)."""
    return _YearPlan(policy, year).project(facts)


def version_in_force(policy: Policy, year: int) -> PolicyVersion:
    return policy.version_for(year)
