"""The evaluation rules (评价细则, 三(二)): their model and their validator, for the one rules loader.

The measures leave the scoring rules to be issued separately (评价细则另行制定), so the weights are
data: an evaluation-rules file (`kind: evaluation`, e.g. `policies/hunan-2022-evaluation.yaml`)
names the policy it belongs to, whether it is provisional, the evaluation year's boundaries, how
many ranks are published, the tie rule, and each indicator with its weight and scale. The file is
found, read and parsed by `projections.policy.files` with the reward policies, refused with the
same `PolicyError` (file, path, reason), and listed by `projections.policy.registry`; a file that
does not validate is never replaced by an older version. Scoring is `projections.evaluation`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from domain.service_contract import DEFAULT_ANNUAL_CAP
from domain.values import ASSOCIATION_DESIGNATIONS
from projections.policy.files import (
    BUILTIN_POLICY_DIR,
    EVALUATION_KIND,
    PolicyError,
    PolicyFileError,
    RulesFile,
    kind_of,
    read_rules_file,
    unknown_key,
)

DEFAULT_FOLLOW_UP_DAYS = 180  # 三(四): the default interval between follow-up visits (回访)
BUILTIN_RULES_DIR = BUILTIN_POLICY_DIR
DEFAULT_POLICY = "hunan-2022"

# Metrics an indicator may use: name → (figures metric, unit, English label, Chinese label).
METRICS: dict[str, tuple[str, str, str, str]] = {
    "promotion": ("promotion", "count", "promotion activities", "宣传活动"),
    "service": ("service", "count", "service activities", "服务活动"),
    "talent": ("talent", "count", "talent introductions", "引才"),
    "technology": ("technology", "count", "technology introductions", "引技"),
    "activities": ("activities", "count", "activities", "活动"),
    "activity_reach": ("activity_reach", "count", "activity reach", "活动覆盖人次"),
    "referrals": ("referrals", "count", "referrals", "引荐项目"),
    "visits": ("visits", "count", "inspection visits", "考察"),
    "negotiations": ("negotiations", "count", "negotiation rounds", "洽谈"),
    "signings": ("signings", "count", "signings", "签约项目"),
    "production_starts": ("production_starts", "count", "production starts", "投产项目"),
    "capacity_reached": ("capacity_reached", "count", "projects at capacity", "达产项目"),
    "follow_ups": ("follow_ups", "count", "follow-up visits", "回访"),
    "issues_raised": ("issues_raised", "count", "issues raised", "问题诉求"),
    "issues_closed": ("issues_closed", "count", "issues closed", "问题办结"),
    "funds": ("funds_fen", "yuan", "arrived funds (yuan)", "实际到位资金"),
    "signed_amount": ("signed_amount_fen", "yuan", "contract amount signed (yuan)", "签约金额"),
}
SCALES = ("per_unit", "share_of_best")
RULES_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
IDENT = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
MONTH_DAY = re.compile(r"^(\d\d)-(\d\d)$")

Number = int | Decimal


# ---- errors -------------------------------------------------------------------------------------


# The one error type of every rules file (`projections.policy.files`); the evaluation's names for
# it are kept for their callers.
RulesError = PolicyError
EvaluationRulesError = PolicyFileError


class EvaluationRulesNotFound(LookupError):
    pass


# ---- the rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    kind: str  # per_unit | share_of_best
    points: Decimal | None = None  # per_unit: points per `per` units
    per: Decimal = Decimal(1)

    def as_dict(self) -> dict[str, str]:
        if self.kind == "per_unit":
            return {"kind": self.kind, "points": str(self.points), "per": str(self.per)}
        return {"kind": self.kind}


@dataclass(frozen=True)
class Indicator:
    id: str
    clause: str
    label_zh: str
    label_en: str
    metrics: tuple[str, ...]
    weight: Decimal
    scale: Scale

    @property
    def unit(self) -> str:
        return METRICS[self.metrics[0]][1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "clause": self.clause,
            "label": {"zh": self.label_zh, "en": self.label_en},
            "metrics": list(self.metrics),
            "unit": self.unit,
            "weight": str(self.weight),
            "scale": self.scale.as_dict(),
        }


@dataclass(frozen=True)
class EvaluationRules:
    """A validated evaluation-rules file."""

    id: str
    version: int
    policy: str
    clause: str
    title_zh: str
    title_en: str
    provisional: bool
    note: str
    starts_month: int  # the evaluation year N starts on the 1st of this month (of N−1 unless 1)
    published_top_n: int
    tie_break: tuple[str, ...]
    exclude_deactivated: bool
    indicators: tuple[Indicator, ...]
    designations: dict[str, int] = field(default_factory=dict)  # designation → top K
    purchased_service_cap: Decimal = DEFAULT_ANNUAL_CAP
    purchased_service_clause: str = "三(三)"
    follow_up_interval_days: int = DEFAULT_FOLLOW_UP_DAYS  # 三(四): regular 回访 of landed projects
    follow_up_clause: str = "三(四)"
    file: str = "<rules>"
    sha256: str = ""

    @property
    def ends_month(self) -> int:
        return 12 if self.starts_month == 1 else self.starts_month - 1

    def period(self, year: int) -> tuple[date, date]:
        """The first and last day of evaluation year `year` (by default 1 Dec N−1 – 30 Nov N)."""
        end_month = self.ends_month
        first_year = year if self.starts_month == 1 else year - 1
        last_day = calendar.monthrange(year, end_month)[1]
        return date(first_year, self.starts_month, 1), date(year, end_month, last_day)

    def closed(self, year: int, today: date) -> bool:
        """Whether evaluation year `year` is over on `today` (the scheduler evaluates it then)."""
        return today > self.period(year)[1]

    def latest_closed_year(self, today: date) -> int:
        """The last evaluation year that is over on `today`."""
        year = today.year
        while not self.closed(year, today):
            year -= 1
        return year

    @property
    def max_score(self) -> Decimal:
        return sum((i.weight for i in self.indicators), Decimal(0))

    @property
    def tie_rule(self) -> str:
        steps = [
            f"{'higher' if METRICS[m][1] == 'yuan' else 'more'} {METRICS[m][2]}"
            for m in self.tie_break
        ]
        return "equal scores (to 0.01) are ordered by " + ", then ".join(
            [*steps, "association id ascending"]
        )

    @property
    def tie_rule_zh(self) -> str:
        steps = [f"{METRICS[m][3]}多者在前" for m in self.tie_break]
        return "得分相同（精确到0.01）时依次按" + "，".join([*steps, "商协会编号升序"]) + "排序"

    def summary(self) -> dict[str, Any]:
        """What an evaluation was computed with, for its output and for listings."""
        return {
            "id": self.id,
            "version": self.version,
            "policy": self.policy,
            "clause": self.clause,
            "title": {"zh": self.title_zh, "en": self.title_en},
            "provisional": self.provisional,
            "note": self.note,
            "file": self.file,
            "sha256": self.sha256,
            "max_score": str(self.max_score),
            "indicators": [i.as_dict() for i in self.indicators],
        }


# YAML is read as policy files are (`projections.policy.loader.parse_yaml`): plain data,
# decimals rather than floats, duplicate keys refused.


# ---- validation ---------------------------------------------------------------------------------


class _Checker:
    """Collects every error with its path; getters return a harmless default after an error."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[RulesError] = []

    def fail(self, path: str, reason: str) -> None:
        self.errors.append(RulesError(self.file, path or "(top)", reason))

    @staticmethod
    def at(path: str, key: str) -> str:
        return f"{path}.{key}" if path else key

    def mapping(
        self, value: Any, path: str, required: Sequence[str], optional: Sequence[str] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, found {_kind(value)}")
            return {}
        for key in required:
            if key not in value:
                self.fail(self.at(path, str(key)), "is required")
        known = set(required) | set(optional)
        for key in value:
            if key not in known:
                self.fail(self.at(path, str(key)), unknown_key(key, known))
        return value

    def text(self, m: Mapping[str, Any], key: str, path: str, default: str = "") -> str:
        if key not in m:
            return default
        value = m[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(self.at(path, key), f"expected a non-empty text, found {_kind(value)}")
            return default
        return value.strip()

    def ident(self, m: Mapping[str, Any], key: str, path: str, pattern: re.Pattern[str]) -> str:
        value = m.get(key)
        if key in m and (not isinstance(value, str) or not pattern.match(value)):
            self.fail(
                self.at(path, key), f"{value!r} is not a valid id (lower case, digits, . _ -)"
            )
            return ""
        return value if isinstance(value, str) else ""

    def whole(self, m: Mapping[str, Any], key: str, path: str, default: int = 0) -> int:
        if key not in m:
            return default
        value = m[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(self.at(path, key), f"expected a whole number ≥ 1, found {value!r}")
            return default
        return value

    def boolean(self, m: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        if key not in m:
            return default
        value = m[key]
        if not isinstance(value, bool):
            self.fail(self.at(path, key), f"expected true or false, found {value!r}")
            return default
        return value

    def positive(
        self, m: Mapping[str, Any], key: str, path: str, places: int | None = None
    ) -> Decimal:
        where = self.at(path, key)
        if key not in m:
            return Decimal(1)
        value = m[key]
        if isinstance(value, bool | float):
            self.fail(where, f"expected a decimal number, found {value!r}")
            return Decimal(1)
        try:
            number = Decimal(value) if isinstance(value, int | str) else value
        except InvalidOperation:
            number = None
        if not isinstance(number, Decimal) or not number.is_finite():
            self.fail(where, f"expected a decimal number, found {value!r}")
            return Decimal(1)
        if number <= 0:
            self.fail(where, f"must be positive, found {number}")
            return Decimal(1)
        exponent = number.as_tuple().exponent
        if places is not None and isinstance(exponent, int) and exponent < -places:
            self.fail(where, f"at most {places} decimal places, found {number}")
        return number


_kind = kind_of


TOP_KEYS = (
    "kind",
    "id",
    "version",
    "policy",
    "clause",
    "provisional",
    "evaluation_year",
    "ranking",
    "indicators",
)
OPTIONAL_TOP_KEYS = ("title", "note", "designations", "purchased_service", "follow_up")


def rules_from_data(data: Any, file: str = "<rules>", sha256: str = "") -> EvaluationRules:
    """Validate parsed YAML; raise `EvaluationRulesError` with every problem found."""
    c = _Checker(file)
    top = c.mapping(data, "", TOP_KEYS, OPTIONAL_TOP_KEYS)
    if top and top.get("kind") != EVALUATION_KIND:
        c.fail("kind", f"expected {EVALUATION_KIND!r}, found {top.get('kind')!r}")
    rules_id = c.ident(top, "id", "", RULES_ID)
    version = c.whole(top, "version", "", 1)
    policy = c.ident(top, "policy", "", RULES_ID)
    clause = c.text(top, "clause", "")
    provisional = c.boolean(top, "provisional", "", False)
    note = c.text(top, "note", "")
    if provisional and not note:
        c.fail("note", "provisional rules need a note saying what replaces them and how")
    title_zh, title_en = "", ""
    if "title" in top:
        title = c.mapping(top["title"], "title", ("zh",), ("en",))
        title_zh, title_en = c.text(title, "zh", "title"), c.text(title, "en", "title")

    starts_month = _evaluation_year(c, top.get("evaluation_year", {}))

    ranking = c.mapping(
        top.get("ranking", {}),
        "ranking",
        ("published_top_n",),
        ("tie_break", "exclude_deactivated"),
    )
    top_n = c.whole(ranking, "published_top_n", "ranking", 40)
    tie_break = _tie_break(c, ranking.get("tie_break", []))
    exclude_deactivated = c.boolean(ranking, "exclude_deactivated", "ranking", True)

    indicators = _indicators(c, top.get("indicators"))

    designations: dict[str, int] = {}
    if "designations" in top:
        raw = c.mapping(top["designations"], "designations", (), tuple(ASSOCIATION_DESIGNATIONS))
        for code, spec in raw.items():
            if code not in ASSOCIATION_DESIGNATIONS:
                continue
            path = f"designations.{code}"
            m = c.mapping(spec, path, ("top",))
            k = c.whole(m, "top", path, 0)
            if k > top_n:
                c.fail(f"{path}.top", f"{k} is more than the {top_n} ranks published")
            elif k:
                designations[code] = k

    cap, cap_clause = DEFAULT_ANNUAL_CAP, "三(三)"
    if "purchased_service" in top:
        service = c.mapping(
            top["purchased_service"], "purchased_service", (), ("clause", "annual_cap")
        )
        cap_clause = c.text(service, "clause", "purchased_service", cap_clause)
        if "annual_cap" in service:
            cap = c.positive(service, "annual_cap", "purchased_service", places=2)

    interval, interval_clause = DEFAULT_FOLLOW_UP_DAYS, "三(四)"
    if "follow_up" in top:
        follow = c.mapping(top["follow_up"], "follow_up", (), ("clause", "interval_days"))
        interval_clause = c.text(follow, "clause", "follow_up", interval_clause)
        interval = c.whole(follow, "interval_days", "follow_up", DEFAULT_FOLLOW_UP_DAYS)
        if not 1 <= interval <= 3660:
            c.fail("follow_up.interval_days", f"{interval} is not a number of days from 1 to 3660")

    if c.errors:
        raise EvaluationRulesError(c.errors)
    return EvaluationRules(
        id=rules_id,
        version=version,
        policy=policy,
        clause=clause,
        title_zh=title_zh,
        title_en=title_en,
        provisional=provisional,
        note=note,
        starts_month=starts_month,
        published_top_n=top_n,
        tie_break=tie_break,
        exclude_deactivated=exclude_deactivated,
        indicators=indicators,
        designations=designations,
        purchased_service_cap=cap,
        purchased_service_clause=cap_clause,
        follow_up_interval_days=interval,
        follow_up_clause=interval_clause,
        file=file,
        sha256=sha256,
    )


def _evaluation_year(c: _Checker, value: Any) -> int:
    """`starts`/`ends` as MM-DD; the figures are monthly, so the year is twelve whole months."""
    m = c.mapping(value, "evaluation_year", ("starts", "ends"))
    parsed: dict[str, tuple[int, int]] = {}
    for key in ("starts", "ends"):
        raw = m.get(key)
        if key not in m:
            continue
        match = MONTH_DAY.match(raw) if isinstance(raw, str) else None
        month, day = (int(match[1]), int(match[2])) if match else (0, 0)
        if not match or not 1 <= month <= 12 or not 1 <= day <= _days_in(month):
            c.fail(f"evaluation_year.{key}", f'expected a day as "MM-DD", found {raw!r}')
            continue
        parsed[key] = (month, day)
    if "starts" in parsed and parsed["starts"][1] != 1:
        c.fail(
            "evaluation_year.starts",
            "the figures are monthly, so the evaluation year starts on the 1st of a month",
        )
    if "starts" in parsed and "ends" in parsed:
        month = parsed["starts"][0]
        end_month = 12 if month == 1 else month - 1
        end = parsed["ends"]
        if end[0] != end_month or end[1] < _days_in(end_month) - (end_month == 2):
            c.fail(
                "evaluation_year.ends",
                f"a year starting on {month:02d}-01 ends on the last day of month {end_month:02d}"
                f" (found {end[0]:02d}-{end[1]:02d})",
            )
    return parsed.get("starts", (12, 1))[0]


def _days_in(month: int) -> int:
    return calendar.monthrange(2024, month)[1]  # a leap year: 02-29 is a valid day


def _tie_break(c: _Checker, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        c.fail("ranking.tie_break", f"expected a list of metrics, found {_kind(value)}")
        return ()
    seen: list[str] = []
    for index, metric in enumerate(value):
        path = f"ranking.tie_break[{index}]"
        if metric == "association_id":
            c.fail(path, "the association id always breaks the last tie; leave it out")
        elif metric not in METRICS:
            c.fail(path, f"{metric!r} is not a metric: {', '.join(METRICS)}")
        elif metric in seen:
            c.fail(path, f"{metric!r} is listed twice")
        else:
            seen.append(metric)
    return tuple(seen)


def _indicators(c: _Checker, value: Any) -> tuple[Indicator, ...]:
    if not isinstance(value, list) or not value:
        c.fail("indicators", f"expected a non-empty list of indicators, found {_kind(value)}")
        return ()
    result: list[Indicator] = []
    ids: list[str] = []
    for index, item in enumerate(value):
        item_id = item.get("id") if isinstance(item, dict) else None
        path = f"indicators[{item_id}]" if isinstance(item_id, str) else f"indicators[{index}]"
        m = c.mapping(item, path, ("id", "metrics", "weight", "scale"), ("clause", "label"))
        ident = c.ident(m, "id", path, IDENT)
        if ident in ids:
            c.fail(f"{path}.id", f"the id {ident!r} is used twice")
        ids.append(ident)
        clause = c.text(m, "clause", path)
        label_zh, label_en = ident, ident
        if "label" in m:
            label = c.mapping(m["label"], f"{path}.label", ("zh",), ("en",))
            label_zh = c.text(label, "zh", f"{path}.label", ident)
            label_en = c.text(label, "en", f"{path}.label", label_zh)
        metrics = _metrics(c, m.get("metrics"), f"{path}.metrics") if "metrics" in m else ()
        weight = c.positive(m, "weight", path)
        scale = _scale(c, m.get("scale"), f"{path}.scale") if "scale" in m else Scale("x")
        result.append(Indicator(ident, clause, label_zh, label_en, metrics, weight, scale))
    return tuple(result)


def _metrics(c: _Checker, value: Any, path: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        c.fail(path, f"expected a non-empty list of metrics, found {_kind(value)}")
        return ()
    metrics: list[str] = []
    for index, metric in enumerate(value):
        if metric not in METRICS:
            c.fail(f"{path}[{index}]", f"{metric!r} is not a metric: {', '.join(METRICS)}")
        elif metric in metrics:
            c.fail(f"{path}[{index}]", f"{metric!r} is listed twice")
        else:
            metrics.append(metric)
    units = {METRICS[m][1] for m in metrics}
    if len(units) > 1:
        c.fail(path, "an indicator cannot add counts and yuan together")
    return tuple(metrics)


def _scale(c: _Checker, value: Any, path: str) -> Scale:
    kind = value.get("kind") if isinstance(value, dict) else None
    if kind not in SCALES:
        if isinstance(value, dict):
            c.fail(f"{path}.kind", f"{kind!r} is not one of: {', '.join(SCALES)}")
        else:
            c.fail(path, f"expected a mapping, found {_kind(value)}")
        return Scale("x")
    if kind == "share_of_best":
        c.mapping(value, path, ("kind",))
        return Scale(kind)
    m = c.mapping(value, path, ("kind", "points"), ("per",))
    return Scale(kind, c.positive(m, "points", path), c.positive(m, "per", path))


# ---- loading (files are found, read and parsed by `projections.policy.files`) -----------------


def rules_from_file(file: RulesFile) -> EvaluationRules:
    """Validate one file as read by the one loader; raise `PolicyFileError` if it is bad."""
    return rules_from_data(file.parsed(), str(file.file), file.sha256)


def load_rules_file(path: str | Path) -> EvaluationRules:
    """Read and validate one file; raise `PolicyFileError` (file, path, reason) if bad."""
    return rules_from_file(read_rules_file(path))


@dataclass(frozen=True)
class LoadedRules:
    """One evaluation-rules file and what came of loading it."""

    file: Path
    rules: EvaluationRules | None
    errors: tuple[RulesError, ...]
    rules_id: str | None = None
    policy: str | None = None

    @property
    def valid(self) -> bool:
        return self.rules is not None and not self.errors

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": EVALUATION_KIND,
            "id": self.rules_id,
            "policy": self.policy,
            "file": str(self.file),
            "valid": self.valid,
            "errors": [{"path": e.path, "reason": e.reason} for e in self.errors],
        }
        if self.rules is not None:
            data.update(version=self.rules.version, provisional=self.rules.provisional)
        return data


class EvaluationRegistry:
    """Every evaluation-rules file seen, and the rules that apply to each policy."""

    def __init__(self, files: Iterable[LoadedRules]) -> None:
        self.files = tuple(files)

    def get(self, policy: str = DEFAULT_POLICY) -> EvaluationRules:
        """The highest version of the rules for `policy`. If any file for that policy failed
        to validate, refuse rather than silently fall back to an older version."""
        mine = [f for f in self.files if policy in (f.policy, f.rules_id)]
        bad = [f for f in mine if not f.valid]
        if bad:
            raise EvaluationRulesError([e for f in bad for e in f.errors])
        rules = [f.rules for f in mine if f.rules is not None]
        if not rules:
            raise EvaluationRulesNotFound(f"no evaluation rules for policy {policy!r}")
        return max(rules, key=lambda r: r.version)

    def errors(self) -> list[RulesError]:
        return [e for f in self.files for e in f.errors]

    def listing(self) -> list[dict[str, Any]]:
        return [f.as_dict() for f in self.files]
