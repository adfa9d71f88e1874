"""Loading policy files: YAML → merged dated versions → validated `Policy`, with precise errors.

A policy file states its first version in full; each later version lists only what changed and is
merged onto the one before it (mappings key by key, the lists of conditions, adjustments and caps
entry by entry through their `id`, `remove: true` dropping an entry). The date each value was set
is remembered, so explanations can give each parameter's effective date, and an error found in a
merged version is reported at the version that wrote the faulty value.

This module is the reward-policy validator of the one rules loader: finding, reading and parsing
files, and the error type, are `projections.policy.files`; the registry of every file seen (a bad
file never stops the others from loading) is `projections.policy.registry`.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from domain.values import (
    CITIES,
    CURRENCIES,
    ORIGINS,
    round_fen,
)
from projections.policy.amounts import (
    ADJUSTMENT_KINDS,
    AMOUNT_KINDS,
    Adjustment,
    AmountRule,
    parse_adjustment,
)
from projections.policy.conditions import (
    CONDITION_KINDS,
    FIGURE_HELP,
    Condition,
    ThresholdCondition,
    known_figure,
)
from projections.policy.files import (
    PolicyError,
    PolicyFileError,
    read_rules_file,
    unknown_key,
)
from projections.policy.files import parse_yaml as parse_yaml  # the loader's name for tests
from projections.policy.model import (
    ROUNDING_MODES,
    AssociationCap,
    Band,
    BaseRule,
    BudgetRule,
    CountingRule,
    Jurisdiction,
    ListingRule,
    Money,
    PeriodRule,
    Policy,
    PolicyVersion,
    ProjectCap,
    RowsRule,
    SplitRule,
)

PathT = tuple[str, ...]

ID_LISTS = ("conditions", "adjustments", "project_caps", "association_caps")
POLICY_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
IDENT = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")
MONTH_DAY = re.compile(r"^(\d\d)-(\d\d)$")
MAX_RATE = Decimal(1)
ZERO_FEN = Decimal("0.00")


class PolicyNotFound(LookupError):
    def __init__(self, policy_id: str, reason: str = "") -> None:
        self.policy_id = policy_id
        super().__init__(reason or f"no policy {policy_id!r} is loaded")


# ---- paths -------------------------------------------------------------------------------------


def show(path: PathT) -> str:
    out = ""
    for part in path:
        if part.startswith("["):
            out += part
        else:
            out += ("." if out else "") + part
    return out or "(top)"


# ---- merging dated versions --------------------------------------------------------------------


class _Merger:
    """Folds version parameter blocks one onto the other, remembering who set each value."""

    def __init__(self, file: str, errors: list[PolicyError]) -> None:
        self.file = file
        self.errors = errors
        self.merged: dict[str, Any] = {}
        self.since: dict[PathT, int] = {(): 0}

    def fail(self, version: int, path: PathT, reason: str) -> None:
        where = f"versions[{version}].parameters" + ("." + show(path) if path else "")
        self.errors.append(PolicyError(self.file, where.replace(".[", "["), reason))

    def apply(self, version: int, changes: dict[str, Any]) -> None:
        self._merge(self.merged, changes, (), version)

    def _mark(self, value: Any, path: PathT, version: int) -> None:
        self.since[path] = version
        if isinstance(value, dict):
            for key, item in value.items():
                self._mark(item, (*path, str(key)), version)

    def _forget(self, path: PathT) -> None:
        for key in [p for p in self.since if p[: len(path)] == path]:
            del self.since[key]

    def _merge(self, target: dict[str, Any], changes: dict[str, Any], path: PathT, v: int) -> None:
        for key, value in changes.items():
            sub = (*path, str(key))
            if path == () and key in ID_LISTS and isinstance(value, list):
                old = target.get(key)
                self.since.setdefault(sub, v)
                target[key] = self._merge_list(old if isinstance(old, list) else [], value, sub, v)
            elif isinstance(value, dict) and isinstance(target.get(key), dict):
                self._merge(target[key], value, sub, v)
            else:
                self._forget(sub)
                target[key] = copy.deepcopy(value)
                self._mark(target[key], sub, v)

    def _merge_list(
        self, old: list[Any], new: list[Any], path: PathT, v: int
    ) -> list[dict[str, Any]]:
        entries: dict[str, dict[str, Any]] = {}
        for item in old:
            entries[item["id"]] = item
        named: list[str] = []
        for index, item in enumerate(new):
            item_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(item_id, str) or not item_id:
                self.fail(v, (*path, f"[{index}]"), "each entry needs an `id` (a text)")
                continue
            if item_id in named:
                self.fail(v, (*path, f"[{index}]"), f"the id {item_id!r} is used twice")
                continue
            named.append(item_id)
            item_path = (*path, f"[{item_id}]")
            assert isinstance(item, dict)
            if item.get("remove") is True:
                if item_id not in entries:
                    self.fail(v, item_path, "`remove: true` names no earlier entry")
                else:
                    del entries[item_id]
                    self._forget(item_path)
                continue
            if item_id in entries:
                self._merge(
                    entries[item_id], {k: x for k, x in item.items() if k != "id"}, item_path, v
                )
            else:
                entries[item_id] = copy.deepcopy(item)
                self._mark(entries[item_id], item_path, v)
        # A version naming every remaining entry also sets their order (the precedence).
        kept = [i for i in named if i in entries]
        if set(kept) >= set(entries):
            order = kept
        else:
            earlier = [item["id"] for item in old if item["id"] in entries]
            order = earlier + [i for i in kept if i not in earlier]
        return [entries[i] for i in order]

    def snapshot(self) -> tuple[dict[str, Any], dict[PathT, int]]:
        return copy.deepcopy(self.merged), dict(self.since)


# ---- checking values ---------------------------------------------------------------------------


class _Checker:
    """Records errors with their display path; getters return a harmless default on error.

    Required keys are checked once, by `mapping`; getters only check values that are present.
    The caller throws the built objects away if any error was recorded.
    """

    def __init__(
        self,
        file: str,
        errors: list[PolicyError],
        since: dict[PathT, int] | None = None,
        dates: tuple[date, ...] = (),
    ) -> None:
        self.file = file
        self.errors = errors
        self.since = since
        self.dates = dates

    def display(self, path: PathT) -> str:
        if self.since is None:
            return show(path)
        origin = self.origin(path)
        return f"versions[{origin}].parameters" + ("." + show(path) if path else "").replace(
            ".[", "["
        )

    def origin(self, path: PathT) -> int:
        assert self.since is not None
        probe = path
        while probe not in self.since and probe:
            probe = probe[:-1]
        return self.since.get(probe, 0)

    def fail(self, path: PathT, reason: str) -> None:
        error = PolicyError(self.file, self.display(path), reason)
        if error not in self.errors:
            self.errors.append(error)

    def mapping(
        self,
        value: Any,
        path: PathT,
        required: Iterable[str] = (),
        optional: Iterable[str] = (),
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, found {_kind(value)}")
            return None
        required = tuple(required)
        allowed = set(required) | set(optional)
        for key in value:
            if key not in allowed:
                self.fail((*path, str(key)), unknown_key(key, allowed))
        for key in required:
            if key not in value:
                self.fail(path, f"missing {key!r}")
        return value

    def text(self, m: Mapping[str, Any], key: str, path: PathT, default: str = "") -> str:
        if key not in m:
            return default
        value = m[key]
        if not isinstance(value, str) or not value.strip():
            self.fail((*path, key), f"expected a non-empty text, found {_kind(value)}")
            return default
        return value.strip()

    def clause(self, m: Mapping[str, Any], path: PathT) -> str:
        value = self.text(m, "clause", path)
        if value and len(value) > 40:
            self.fail((*path, "clause"), "a clause reference is at most 40 characters")
        return value

    def rule_id(self, m: Mapping[str, Any], path: PathT, default: str) -> str:
        value = self.text(m, "id", path, default)
        if not RULE_ID.match(value):
            self.fail((*path, "id"), f"{value!r} is not a valid rule id (letters, digits, . _ -)")
        return value

    def ident(self, m: Mapping[str, Any], key: str, path: PathT) -> str:
        value = self.text(m, key, path)
        if value and not IDENT.match(value):
            self.fail((*path, key), f"{value!r} is not a snake_case code")
        return value

    def choice(
        self, m: Mapping[str, Any], key: str, path: PathT, allowed: Iterable[str], default: str = ""
    ) -> str:
        allowed = tuple(allowed)
        if key not in m:
            return default
        value = m[key]
        if not isinstance(value, str) or value not in allowed:
            self.fail((*path, key), f"{value!r} is not one of: {', '.join(allowed)}")
            return default or allowed[0]
        return value

    def boolean(self, m: Mapping[str, Any], key: str, path: PathT, default: bool) -> bool:
        if key not in m:
            return default
        value = m[key]
        if not isinstance(value, bool):
            self.fail((*path, key), f"expected true or false, found {_kind(value)}")
            return default
        return value

    def day(self, m: Mapping[str, Any], key: str, path: PathT) -> date:
        if key not in m:
            return date(1900, 1, 1)
        value = m[key]
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.fail((*path, key), f"expected a date YYYY-MM-DD, found {value!r}")
        return date(1900, 1, 1)

    def decimal(
        self,
        m: Mapping[str, Any],
        key: str,
        path: PathT,
        *,
        low: Decimal | None = None,
        high: Decimal | None = None,
        low_inclusive: bool = True,
        places: int = 2,
        what: str = "amount",
    ) -> Decimal:
        if key not in m:
            return Decimal(0)
        return self.decimal_value(
            m[key],
            (*path, key),
            low=low,
            high=high,
            low_inclusive=low_inclusive,
            places=places,
            what=what,
        )

    def decimal_value(
        self,
        value: Any,
        path: PathT,
        *,
        low: Decimal | None = None,
        high: Decimal | None = None,
        low_inclusive: bool = True,
        places: int = 2,
        what: str = "amount",
    ) -> Decimal:
        if isinstance(value, (bool, float)):
            self.fail(path, f'write the {what} as a decimal string, e.g. "0.001"')
            return Decimal(0)
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            self.fail(path, f"{value!r} is not a decimal number")
            return Decimal(0)
        if not number.is_finite():
            self.fail(path, f"the {what} must be a finite number")
            return Decimal(0)
        exponent = number.as_tuple().exponent
        assert isinstance(exponent, int)
        if exponent < -places:
            self.fail(path, f"the {what} {number} has more than {places} decimal places")
        too_low = low is not None and (number < low or (number == low and not low_inclusive))
        too_high = high is not None and number > high
        if too_low or too_high:
            bounds = f"{'[' if low_inclusive else '('}{low if low is not None else '-∞'}, "
            bounds += f"{high if high is not None else '∞'}]"
            self.fail(path, f"the {what} {number} is out of range {bounds}")
        return number

    def rate(self, m: Mapping[str, Any], key: str, path: PathT) -> Decimal:
        return self.decimal(m, key, path, low=Decimal(0), high=MAX_RATE, places=10, what="rate")

    def money(self, m: Mapping[str, Any], key: str, path: PathT) -> Money:
        if key not in m:
            return Money(Decimal(0))
        return self.money_value(m[key], (*path, key))

    def money_value(self, value: Any, path: PathT, original_unit: str = "CNY") -> Money:
        """An amount in yuan, or `{amount, currency, rate_to_cny}`. Compared with a figure
        in a foreign `original_unit`, the amount is in that currency and needs no rate."""
        if not isinstance(value, dict):
            amount = self.decimal_value(value, path, low=Decimal(0))
            if original_unit != "CNY":
                self.fail(
                    path,
                    f"the figure is in {original_unit}: state the amount as "
                    f"{{amount: ..., currency: {original_unit}}}",
                )
            return Money(amount, "CNY", Decimal(1), round_fen(amount))
        if original_unit != "CNY":
            m = self.mapping(value, path, ("amount", "currency"))
            if m is None:
                return Money(Decimal(0))
            amount = self.decimal(m, "amount", path, low=Decimal(0))
            currency = self.text(m, "currency", path, original_unit)
            if currency != original_unit:
                self.fail(
                    (*path, "currency"),
                    f"the figure is in {original_unit}; compare it with a {original_unit} "
                    f"amount, not {currency}",
                )
            return Money(amount, currency, Decimal(0), ZERO_FEN)
        m = self.mapping(value, path, ("amount", "currency"), ("rate_to_cny", "rate_rule"))
        if m is None:
            return Money(Decimal(0))
        amount = self.decimal(m, "amount", path, low=Decimal(0))
        currency = self.text(m, "currency", path, "CNY")
        if currency not in CURRENCIES:
            self.fail((*path, "currency"), f"{currency!r} is not an ISO 4217 currency code")
        self.choice(m, "rate_rule", path, ("fixed",), "fixed")
        if currency == "CNY":
            rate = Decimal(1)
            if "rate_to_cny" in m and self.decimal(m, "rate_to_cny", path, places=6) != 1:
                self.fail((*path, "rate_to_cny"), "a CNY amount has a rate of exactly 1")
        elif "rate_to_cny" not in m:
            self.fail(path, f"a {currency} amount needs the policy's fixed `rate_to_cny`")
            rate = Decimal(1)
        else:
            rate = self.decimal(
                m, "rate_to_cny", path, low=Decimal(0), low_inclusive=False, places=6, what="rate"
            )
        return Money(amount, currency, rate, round_fen(amount * rate))

    def codes(
        self,
        m: Mapping[str, Any],
        key: str,
        path: PathT,
        allowed: Mapping[str, str] | Iterable[str],
        what: str,
    ) -> frozenset[str] | None:
        if key not in m:
            return None
        value = m[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail((*path, key), f"expected a list of {what} codes, found {_kind(value)}")
            return frozenset()
        known = set(allowed)
        for index, code in enumerate(value):
            if code not in known:
                self.fail(
                    (*path, key, f"[{index}]"),
                    f"unknown {what} {code!r}; known: {', '.join(sorted(known))}",
                )
        if len(set(value)) != len(value):
            self.fail((*path, key), f"a {what} is listed twice")
        return frozenset(v for v in value if v in known)

    def labels(self, m: Mapping[str, Any], path: PathT) -> tuple[str, str] | None:
        if "label" not in m:
            return None
        lm = self.mapping(m["label"], (*path, "label"), ("zh", "en"))
        if lm is None:
            return None
        sub = (*path, "label")
        return self.text(lm, "zh", sub), self.text(lm, "en", sub)

    def rule_since(self, path: PathT) -> tuple[dict[str, date], date]:
        """For the rule at `path`: each key → the effective date of the version that set it."""
        if self.since is None:
            return {}, self.dates[0] if self.dates else date(1900, 1, 1)
        best: dict[str, int] = {}
        depth = len(path)
        for key_path, version in self.since.items():
            if len(key_path) > depth and key_path[:depth] == path:
                rest = key_path[depth:]
                for n in range(1, len(rest) + 1):  # "rates" and "rates.C" alike
                    key = ".".join(rest[:n])
                    best[key] = max(best.get(key, -1), version)
        created = self.dates[self.origin(path)]
        return {k: self.dates[v] for k, v in best.items()}, created


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a text", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


# ---- building one version's rules --------------------------------------------------------------

COMMON_CONDITION_KEYS = ("id", "clause", "kind", "status")
NESTED_CONDITION_KEYS = ("id", "kind")  # a nested condition's clause is its parent's by default


class _VersionBuilder:
    def __init__(self, check: _Checker, policy_currency: str) -> None:
        self.c = check
        self.ids: dict[str, PathT] = {}
        self.currency = policy_currency

    def _rule(self, m: Mapping[str, Any], path: PathT, default_id: str) -> dict[str, Any]:
        rule_id = self.c.rule_id(m, path, default_id)
        if rule_id in self.ids:
            self.c.fail(
                (*path, "id"), f"rule id {rule_id!r} is also used at {show(self.ids[rule_id])}"
            )
        self.ids[rule_id] = path
        since, created = self.c.rule_since(path)
        return {"id": rule_id, "clause": self.c.clause(m, path), "since": since, "created": created}

    def period(self, value: Any) -> PeriodRule | None:
        path: PathT = ("period",)
        m = self.c.mapping(value, path, ("clause", "starts", "timezone"), ("id", "label"))
        if m is None:
            return None
        month, day = 1, 1
        starts = self.c.text(m, "starts", path, "01-01")
        match = MONTH_DAY.match(starts)
        try:
            if match is None:
                raise ValueError
            month, day = int(match.group(1)), int(match.group(2))
            date(2023, month, day)
        except ValueError:
            self.c.fail((*path, "starts"), f'{starts!r} is not a month-day such as "01-01"')
            month, day = 1, 1
        if (month, day) == (2, 29):
            self.c.fail((*path, "starts"), "a year cannot start on 29 February")
        timezone = self.c.choice(m, "timezone", path, ("Asia/Shanghai",), "Asia/Shanghai")
        return PeriodRule(
            **self._rule(m, path, "period"),
            starts_month=month,
            starts_day=day,
            label=self.c.choice(m, "label", path, ("start", "end"), "start"),
            timezone=timezone,
        )

    def counting(self, value: Any) -> CountingRule | None:
        path: PathT = ("counting",)
        m = self.c.mapping(
            value, path, ("clause", "window", "conversion", "arrival_rounding"), ("id",)
        )
        if m is None:
            return None
        return CountingRule(
            **self._rule(m, path, "counting"),
            window=self.c.choice(m, "window", path, ("inside_validity", "whole_year")),
            conversion=self.c.choice(m, "conversion", path, ("recorded_rate",)),
            arrival_rounding=self.c.choice(m, "arrival_rounding", path, tuple(ROUNDING_MODES)),
        )

    def base(self, value: Any) -> BaseRule | None:
        path: PathT = ("base",)
        m = self.c.mapping(value, path, ("clause", "kind"), ("id", "sources"))
        if m is None:
            return None
        kind = self.c.choice(
            m, "kind", path, ("funds_arrived", "fixed_asset_investment", "follow_up_tax")
        )
        sources: frozenset[str] | None = None
        if "sources" in m:
            if kind != "funds_arrived":
                self.c.fail((*path, "sources"), "only a funds_arrived base has sources")
            if m["sources"] != "any":
                sources = self.c.codes(m, "sources", path, ORIGINS, "funds source")
                if m["sources"] == []:
                    self.c.fail((*path, "sources"), "name at least one source, or `any`")
        return BaseRule(**self._rule(m, path, "base"), kind=kind, sources=sources)

    def listing(self, value: Any) -> ListingRule | None:
        path: PathT = ("listing",)
        m = self.c.mapping(
            value,
            path,
            ("clause", "projects", "associations", "order"),
            ("id", "within_jurisdiction"),
        )
        if m is None:
            return None
        order = m.get("order")
        if "order" in m and order != ["association_id", "project_id"]:
            self.c.fail(
                (*path, "order"), "the only supported order is [association_id, project_id]"
            )
        return ListingRule(
            **self._rule(m, path, "listing"),
            projects=self.c.choice(
                m,
                "projects",
                path,
                ("any_arrival_in_year", "any_base_in_year", "counted_base_in_year"),
            ),
            associations=self.c.choice(m, "associations", path, ("referrers",)),
            order=("association_id", "project_id"),
            within_jurisdiction=self.c.boolean(m, "within_jurisdiction", path, True),
        )

    def conditions(self, value: Any) -> tuple[Condition, ...]:
        path: PathT = ("conditions",)
        if not isinstance(value, list):
            self.c.fail(path, f"expected a list of conditions, found {_kind(value)}")
            return ()
        built: list[Condition] = []
        for item in value:
            condition = self.condition(item, (*path, f"[{item.get('id')}]"))
            if condition is not None:
                built.append(condition)
        return tuple(built)

    def condition(
        self, item: Any, path: PathT, parent_clause: str | None = None
    ) -> Condition | None:
        """A condition of any registered kind; `parent_clause` is given for a nested one (in
        `any_of`/`all_of`/`not`, a decision-table row or an adjustment's `when`)."""
        kind = item.get("kind") if isinstance(item, dict) else None
        cls = CONDITION_KINDS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            self.c.fail(
                (*path, "kind"),
                f"{kind!r} is not a condition kind: {', '.join(CONDITION_KINDS)}",
            )
            return None
        nested = parent_clause is not None
        required = NESTED_CONDITION_KEYS if nested else COMMON_CONDITION_KEYS
        optional = ("clause",) if nested else ("label",)
        m = self.c.mapping(item, path, (*required, *cls.REQUIRED), (*cls.OPTIONAL, *optional))
        if m is None:
            return None
        common = self._rule(m, path, "")
        if nested:
            common["clause"] = common["clause"] or parent_clause
            common.update(status="", labels=None)
        else:
            common.update(status=self.c.ident(m, "status", path), labels=self.c.labels(m, path))
        return cls.parse(self, m, path, common)

    def nested_conditions(
        self, items: Any, path: PathT, parent_clause: str = ""
    ) -> tuple[Condition, ...]:
        if not isinstance(items, list):
            self.c.fail(path, f"expected a list of conditions, found {_kind(items)}")
            return ()
        built: list[Condition] = []
        for index, item in enumerate(items):
            label = item.get("id") if isinstance(item, dict) and item.get("id") else index
            condition = self.condition(item, (*path, f"[{label}]"), parent_clause)
            if condition is not None:
                built.append(condition)
        return tuple(built)

    def figure(self, m: Mapping[str, Any], key: str, path: PathT, default: str = "base") -> str:
        """A figure's name (see `projections.policy.conditions.FIGURE_LABELS`)."""
        if key not in m:
            return default
        value = m[key]
        if not known_figure(value):
            self.c.fail((*path, key), f"{value!r} is not a figure; known: {FIGURE_HELP}")
            return default
        return str(value)

    def amount_in(self, m: Mapping[str, Any], key: str, path: PathT, unit: str) -> Money:
        """An amount compared with a figure stated in `unit`: in that currency itself, or
        converted to yuan at the file's fixed rate (a CNY figure only)."""
        if key not in m:
            return Money(Decimal(0))
        return self.c.money_value(m[key], (*path, key), original_unit=unit)

    def bands(
        self, value: Any, path: PathT, *, value_key: str, contiguous: bool
    ) -> tuple[Band, ...]:
        """Bands with explicit bounds: `at_least` (以上, ≥) or `above` (超过, >) below,
        `below` (<) or `up_to` (≤) above; they may not overlap, and are listed low to high."""
        if not isinstance(value, list) or not value:
            self.c.fail(path, f"expected a non-empty list of bands, found {_kind(value)}")
            return ()
        result: list[Band] = []
        errors_before = len(self.c.errors)
        for index, item in enumerate(value):
            bpath = (*path, f"[{index}]")
            allowed_values = ("rate", "amount") if value_key == "rate_or_amount" else (value_key,)
            m = self.c.mapping(
                item, bpath, (), ("at_least", "above", "below", "up_to", *allowed_values)
            )
            if m is None:
                continue
            if "at_least" in m and "above" in m:
                self.c.fail(bpath, "give either `at_least` (≥) or `above` (>), not both")
            if "below" in m and "up_to" in m:
                self.c.fail(bpath, "give either `below` (<) or `up_to` (≤), not both")
            lower_key = "at_least" if "at_least" in m else "above" if "above" in m else None
            upper_key = "below" if "below" in m else "up_to" if "up_to" in m else None
            lower = (
                None if lower_key is None else self.c.decimal(m, lower_key, bpath, low=Decimal(0))
            )
            upper = (
                None if upper_key is None else self.c.decimal(m, upper_key, bpath, low=Decimal(0))
            )
            if (
                lower is not None
                and upper is not None
                and (
                    upper < lower
                    or (upper == lower and not (lower_key == "at_least" and upper_key == "up_to"))
                )
            ):
                self.c.fail(
                    bpath, f"the band is empty: its upper bound {upper} is not above {lower}"
                )
            given = [k for k in allowed_values if k in m]
            if len(given) != 1:
                self.c.fail(bpath, f"give exactly one of: {', '.join(allowed_values)}")
            rate = self.c.rate(m, "rate", bpath) if "rate" in m else None
            amount = self.c.money(m, "amount", bpath).cny if "amount" in m else None
            result.append(
                Band(
                    lower=lower,
                    lower_inclusive=lower_key != "above",
                    upper=upper,
                    upper_inclusive=upper_key == "up_to",
                    rate=rate,
                    amount=amount,
                )
            )
        if len(self.c.errors) != errors_before:
            return tuple(result)
        for index, (low, high) in enumerate(itertools.pairwise(result)):
            bpath = (*path, f"[{index + 1}]")
            if low.upper is None:
                self.c.fail(bpath, f"band {index} is open-ended, so this band overlaps it")
                continue
            start = high.lower or Decimal(0)
            if start < low.upper or (
                start == low.upper and low.upper_inclusive and high.lower_inclusive
            ):
                self.c.fail(
                    bpath, f"this band overlaps band {index} (bands are listed low to high)"
                )
            elif contiguous and (start != low.upper or low.upper_inclusive == high.lower_inclusive):
                self.c.fail(
                    bpath, f"progressive bands must follow on from band {index} with no gap"
                )
        if contiguous and result and result[0].lower not in (None, Decimal(0)):
            self.c.fail((*path, "[0]"), "progressive bands start at 0")
        return tuple(result)

    def rule_fields(self, m: Mapping[str, Any], path: PathT, default_id: str) -> dict[str, Any]:
        """A rule's id (unique in the version), clause and parameter dates, for kind classes."""
        return self._rule(m, path, default_id)

    def amount(
        self, value: Any, path: PathT = ("amount",), row: dict[str, Any] | None = None
    ) -> AmountRule | None:
        """The amount rule, of a kind registered in `amounts.AMOUNT_KINDS`; `row` (its rule
        fields) for the rule of a decision-table row, which takes portion, rounding and places
        from the table."""
        kind = value.get("kind") if isinstance(value, dict) else None
        kinds = {name: cls for name, cls in AMOUNT_KINDS.items() if row is None or cls.IN_TABLE_ROW}
        if kind not in kinds:
            self.c.fail((*path, "kind"), f"{kind!r} is not one of: {', '.join(kinds)}")
            return None
        cls = kinds[str(kind)]
        if row is None:
            m = self.c.mapping(
                value,
                path,
                ("clause", "kind", "portion", "rounding", "places", *cls.REQUIRED),
                ("id", *cls.OPTIONAL),
            )
        else:
            m = self.c.mapping(value, path, ("kind", *cls.REQUIRED), cls.OPTIONAL)
        if m is None:
            return None
        fields = cls.parse(self, m, path)
        if row is not None:
            return cls(**row, **fields)
        places = m.get("places", 2)
        if places not in (0, 1, 2) or isinstance(places, bool):
            self.c.fail((*path, "places"), "places is 2 (fen), 1 (jiao) or 0 (yuan)")
            places = 2
        return cls(
            **self._rule(m, path, "amount"),
            portion=self.c.choice(m, "portion", path, ("whole", "above_threshold"), "whole"),
            rounding=self.c.choice(m, "rounding", path, tuple(ROUNDING_MODES), "half_up"),
            places=int(places),
            **fields,
        )

    def adjustments(self, value: Any) -> tuple[Adjustment, ...]:
        """The adjustments, each of a kind registered in `amounts.ADJUSTMENT_KINDS`."""
        path: PathT = ("adjustments",)
        if not isinstance(value, list):
            self.c.fail(path, f"expected a list, found {_kind(value)}")
            return ()
        built: list[Adjustment] = []
        for item in value:
            ipath = (*path, f"[{item.get('id') if isinstance(item, dict) else '?'}]")
            kind = item.get("kind") if isinstance(item, dict) else None
            if kind not in ADJUSTMENT_KINDS:
                self.c.fail(
                    (*ipath, "kind"), f"{kind!r} is not one of: {', '.join(ADJUSTMENT_KINDS)}"
                )
                continue
            cls = ADJUSTMENT_KINDS[str(kind)]
            m = self.c.mapping(
                item, ipath, ("id", "clause", "kind", cls.VALUE_KEY), ("designations", "when")
            )
            if m is not None:
                built.append(parse_adjustment(self, m, ipath, str(kind)))
        return tuple(built)

    def project_caps(self, value: Any) -> tuple[ProjectCap, ...]:
        path: PathT = ("project_caps",)
        if not isinstance(value, list):
            self.c.fail(path, f"expected a list, found {_kind(value)}")
            return ()
        built: list[ProjectCap] = []
        for item in value:
            ipath = (*path, f"[{item.get('id') if isinstance(item, dict) else '?'}]")
            kind = item.get("kind") if isinstance(item, dict) else None
            if kind == "fixed":
                m = self.c.mapping(item, ipath, ("id", "clause", "kind", "amount"))
                if m is not None:
                    built.append(
                        ProjectCap(
                            **self._rule(m, ipath, ""),
                            kind="fixed",
                            amount=self.c.money(m, "amount", ipath),
                        )
                    )
            elif kind == "by_band":
                m = self.c.mapping(item, ipath, ("id", "clause", "kind", "figure", "bands"))
                if m is not None:
                    built.append(
                        ProjectCap(
                            **self._rule(m, ipath, ""),
                            kind="by_band",
                            figure=self.figure(m, "figure", ipath),
                            bands=self.bands(
                                m.get("bands"),
                                (*ipath, "bands"),
                                value_key="amount",
                                contiguous=False,
                            ),
                        )
                    )
            else:
                self.c.fail((*ipath, "kind"), f"{kind!r} is not one of: fixed, by_band")
        return tuple(built)

    def split(self, value: Any) -> SplitRule | None:
        path: PathT = ("split",)
        m = self.c.mapping(value, path, ("clause", "shares_at", "method", "ties"), ("id",))
        if m is None:
            return None
        ties = m.get("ties", ["association_id"])
        known_ties = ("larger_share", "association_id")
        if (
            not isinstance(ties, list)
            or not ties
            or any(t not in known_ties for t in ties)
            or len(set(ties)) != len(ties)
        ):
            self.c.fail((*path, "ties"), f"ties is a list drawn from: {', '.join(known_ties)}")
            ties = ["association_id"]
        elif ties[-1] != "association_id":
            self.c.fail((*path, "ties"), "ties must end with association_id, so no tie is left")
        return SplitRule(
            **self._rule(m, path, "split"),
            shares_at=self.c.choice(
                m, "shares_at", path, ("year_end_or_validity_end", "year_end", "year_start")
            ),
            method=self.c.choice(m, "method", path, ("down_largest_remainder", "half_up")),
            ties=tuple(str(t) for t in ties),
        )

    def association_caps(self, value: Any) -> tuple[AssociationCap, ...]:
        path: PathT = ("association_caps",)
        if not isinstance(value, list):
            self.c.fail(path, f"expected a list, found {_kind(value)}")
            return ()
        built: list[AssociationCap] = []
        for item in value:
            ipath = (*path, f"[{item.get('id') if isinstance(item, dict) else '?'}]")
            m = self.c.mapping(item, ipath, ("id", "clause", "amount", "capped_when"))
            if m is None:
                continue
            built.append(
                AssociationCap(
                    **self._rule(m, ipath, ""),
                    amount=self.c.money(m, "amount", ipath),
                    capped_when=self.c.choice(m, "capped_when", ipath, (">", ">=")),
                )
            )
        return tuple(built)

    def budget(self, value: Any) -> BudgetRule | None:
        path: PathT = ("budget",)
        if value is None:
            return None
        m = self.c.mapping(value, path, ("clause", "amount", "allocation"), ("id",))
        if m is None:
            return None
        return BudgetRule(
            **self._rule(m, path, "budget"),
            amount=self.c.money(m, "amount", path),
            allocation=self.c.choice(m, "allocation", path, ("pro_rata",)),
        )

    def rows(self, value: Any) -> RowsRule | None:
        path: PathT = ("rows",)
        m = self.c.mapping(value, path, ("clause", "after_caps"), ("id",))
        if m is None:
            return None
        return RowsRule(
            **self._rule(m, path, "rows"),
            after_caps=self.c.choice(m, "after_caps", path, ("keep_uncapped", "pro_rata")),
        )


PARAMETER_KEYS = (
    "period",
    "counting",
    "base",
    "listing",
    "conditions",
    "eligible_status",
    "amount",
    "split",
    "rows",
)
OPTIONAL_PARAMETER_KEYS = ("adjustments", "project_caps", "association_caps", "budget")


def _build_version(
    index: int,
    effective_from: date,
    note: str,
    params: dict[str, Any],
    check: _Checker,
    currency: str,
) -> PolicyVersion | None:
    before = len(check.errors)
    m = check.mapping(params, (), PARAMETER_KEYS, OPTIONAL_PARAMETER_KEYS)
    if m is None:
        return None
    b = _VersionBuilder(check, currency)
    period = b.period(m.get("period"))
    counting = b.counting(m.get("counting"))
    base = b.base(m.get("base"))
    listing = b.listing(m.get("listing"))
    conditions = b.conditions(m.get("conditions", []))
    eligible_status = check.ident(m, "eligible_status", ())
    amount = b.amount(m.get("amount"))
    adjustments = b.adjustments(m.get("adjustments", []))
    project_caps = b.project_caps(m.get("project_caps", []))
    split = b.split(m.get("split"))
    association_caps = b.association_caps(m.get("association_caps", []))
    budget = b.budget(m.get("budget"))
    rows = b.rows(m.get("rows"))
    statuses = {c.status for c in conditions}
    if eligible_status in statuses:
        check.fail(("eligible_status",), f"{eligible_status!r} is also a condition's status")
    if (
        amount is not None
        and amount.portion == "above_threshold"
        and not any(isinstance(c, ThresholdCondition) for c in conditions)
    ):
        check.fail(("amount", "portion"), "above_threshold needs a threshold condition")
    if (
        base is not None
        and period is not None
        and base.kind != "funds_arrived"
        and not period.calendar
    ):
        check.fail(("base", "kind"), f"{base.kind} is reported by calendar year; use starts 01-01")
    if len(check.errors) != before:
        return None
    assert period and counting and base and listing and amount and split and rows
    return PolicyVersion(
        index=index,
        effective_from=effective_from,
        note=note,
        period=period,
        counting=counting,
        base=base,
        listing=listing,
        conditions=conditions,
        eligible_status=eligible_status,
        amount=amount,
        adjustments=adjustments,
        project_caps=project_caps,
        split=split,
        association_caps=association_caps,
        budget=budget,
        rows=rows,
    )


TOP_KEYS = ("id", "title", "jurisdiction", "validity", "versions")
OPTIONAL_TOP_KEYS = ("currency", "version_selection", "document", "notes")


def policy_from_data(data: Any, file: str = "<policy>", path: Path | None = None) -> Policy:
    """Validate parsed YAML; raise `PolicyFileError` with every problem found."""
    errors: list[PolicyError] = []
    top = _Checker(file, errors)
    m = top.mapping(data, (), TOP_KEYS, OPTIONAL_TOP_KEYS)
    if m is None:
        raise PolicyFileError(errors)
    policy_id = top.text(m, "id", ())
    if policy_id and not POLICY_ID.match(policy_id):
        top.fail(("id",), f"{policy_id!r} is not a policy id (lower case, digits, - . _)")
    title = top.mapping(m.get("title", {}), ("title",), ("zh", "en")) or {}
    jurisdiction = _jurisdiction(top, m.get("jurisdiction", {}))
    validity = top.mapping(m.get("validity", {}), ("validity",), ("from", "to", "clause")) or {}
    valid_from = top.day(validity, "from", ("validity",))
    valid_to = top.day(validity, "to", ("validity",))
    if valid_to < valid_from:
        top.fail(("validity", "to"), f"the validity ends ({valid_to}) before it starts")
    currency = top.choice(m, "currency", (), ("CNY",), "CNY")
    selection = top.choice(
        m, "version_selection", (), ("year_end", "year_start", "by_event_date"), "year_end"
    )
    if "notes" in m:
        _notes(top, m["notes"])
    if "document" in m:
        top.mapping(
            m["document"], ("document",), (), ("issuer", "published_on", "reference", "url")
        )
    versions_raw = m.get("versions")
    if not isinstance(versions_raw, list) or not versions_raw:
        top.fail(("versions",), "expected a non-empty list of dated versions")
        raise PolicyFileError(errors)
    merger = _Merger(file, errors)
    dates: list[date] = []
    notes: list[str] = []
    blocks: list[dict[str, Any]] = []
    for index, raw in enumerate(versions_raw):
        vpath: PathT = ("versions", f"[{index}]")
        vm = top.mapping(raw, vpath, ("effective_from", "parameters"), ("note",))
        if vm is None:
            raise PolicyFileError(errors)
        day = top.day(vm, "effective_from", vpath)
        if dates and day <= dates[-1]:
            top.fail(
                (*vpath, "effective_from"), f"{day} is not after the previous version's {dates[-1]}"
            )
        if "effective_from" in vm and not valid_from <= day <= valid_to:
            top.fail(
                (*vpath, "effective_from"),
                f"{day} is outside the validity {valid_from}..{valid_to}",
            )
        if index == 0 and "effective_from" in vm and day != valid_from:
            top.fail((*vpath, "effective_from"), "the first version takes effect with the policy")
        dates.append(day)
        notes.append(top.text(vm, "note", vpath))
        params = vm.get("parameters")
        if not isinstance(params, dict):
            top.fail((*vpath, "parameters"), f"expected a mapping, found {_kind(params)}")
            raise PolicyFileError(errors)
        blocks.append(params)
    versions: list[PolicyVersion] = []
    for index, params in enumerate(blocks):
        merger.apply(index, params)
        merged, since = merger.snapshot()
        check = _Checker(file, errors, since, tuple(dates))
        version = _build_version(index, dates[index], notes[index], merged, check, currency)
        if version is not None:
            versions.append(version)
    if selection == "by_event_date":
        for version in versions:
            if version.amount.portion == "above_threshold":
                top.fail(
                    ("version_selection",),
                    "by_event_date splits the base by date; a portion above the threshold "
                    f"(versions[{version.index}] amount.portion) has no such reading",
                )
    if not errors:
        periods = {(v.period.starts_month, v.period.starts_day, v.period.label) for v in versions}
        if len(periods) > 1:
            top.fail(
                ("versions",), "the definition of the year (period) cannot change between versions"
            )
    if errors:
        raise PolicyFileError(errors)
    return Policy(
        id=policy_id,
        title_zh=str(title.get("zh", "")),
        title_en=str(title.get("en", "")),
        jurisdiction=jurisdiction,
        valid_from=valid_from,
        valid_to=valid_to,
        validity_clause=top.text(validity, "clause", ("validity",)),
        currency=currency,
        version_selection=selection,
        versions=tuple(versions),
        file=path,
    )


def _notes(check: _Checker, value: Any) -> None:
    """Free remarks for the reader: a text, or a list of texts (nothing the engine reads, so
    nothing else is taken — a misplaced rule must not hide there)."""
    if isinstance(value, str) and value.strip():
        return
    if isinstance(value, list) and value:
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                check.fail(("notes", f"[{index}]"), f"expected a text, found {_kind(item)}")
        return
    check.fail(("notes",), f"expected a text or a list of texts, found {_kind(value)}")


def _jurisdiction(check: _Checker, value: Any) -> Jurisdiction:
    path: PathT = ("jurisdiction",)
    m = check.mapping(value, path, ("level", "name"), ("name_en", "city", "county", "park"))
    if m is None:
        return Jurisdiction("province", "", "")
    level = check.choice(m, "level", path, ("province", "city", "county", "park"), "province")
    city = check.text(m, "city", path) or None
    county = check.text(m, "county", path) or None
    park = check.text(m, "park", path) or None
    if city is not None and city not in CITIES:
        check.fail((*path, "city"), f"unknown city {city!r}; known: {', '.join(CITIES)}")
    if level != "province" and city is None:
        check.fail(path, f"a {level} jurisdiction names its `city` (a code such as changsha)")
    if level == "county" and county is None:
        check.fail(path, "a county jurisdiction names its `county`")
    if level == "park" and park is None:
        check.fail(path, "a park jurisdiction names its `park`")
    if level == "province" and (city or county or park):
        check.fail(path, "a province-wide policy names no city, county or park")
    return Jurisdiction(
        level=level,
        name=check.text(m, "name", path),
        name_en=check.text(m, "name_en", path),
        city=city,
        county=county,
        park=park,
    )


def load_policy_file(path: str | Path) -> Policy:
    """Load and validate one file; raise `PolicyFileError` (file, path, reason) if it is bad."""
    file = read_rules_file(path)
    return policy_from_data(file.parsed(), str(file.file), file.file)


# ---- the registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedFile:
    """One policy file and what came of loading it."""

    file: Path
    policy: Policy | None
    errors: tuple[PolicyError, ...]
    policy_id: str | None = None

    @property
    def valid(self) -> bool:
        return self.policy is not None and not self.errors

    def as_dict(self) -> dict[str, Any]:
        """The `GET /policies` entry: id, versions, jurisdiction, validity, file, valid/errors."""
        data: dict[str, Any] = {
            "id": self.policy_id,
            "file": str(self.file),
            "valid": self.valid,
            "errors": [{"path": e.path, "reason": e.reason} for e in self.errors],
        }
        if self.policy is not None:
            data.update(self.policy.summary())
        else:
            data.update({"title": None, "jurisdiction": None, "validity": None, "versions": []})
        return data


class PolicyRegistry:
    """The policies loaded, by id, and every file seen with its validation result."""

    def __init__(self, files: Iterable[LoadedFile]) -> None:
        self.files: tuple[LoadedFile, ...] = tuple(files)
        self.policies: dict[str, Policy] = {
            f.policy.id: f.policy for f in self.files if f.valid and f.policy is not None
        }

    def get(self, policy_id: str) -> Policy:
        policy = self.policies.get(policy_id)
        if policy is not None:
            return policy
        bad = [f for f in self.files if f.policy_id == policy_id]
        if bad:
            raise PolicyNotFound(
                policy_id,
                f"policy {policy_id!r} did not load: "
                + "; ".join(str(e) for f in bad for e in f.errors),
            )
        raise PolicyNotFound(policy_id)

    def __contains__(self, policy_id: object) -> bool:
        return policy_id in self.policies

    def ids(self) -> list[str]:
        return sorted(self.policies)

    def errors(self) -> list[PolicyError]:
        return [e for f in self.files for e in f.errors]

    def listing(self) -> list[dict[str, Any]]:
        """Every file seen, valid or not, for `GET /policies`."""
        return [f.as_dict() for f in self.files]
