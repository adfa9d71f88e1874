"""The annual evaluation of the associations (评价, 三(二)) and the designations (四(二)2).

The measures leave the scoring rules to be issued separately (评价细则另行制定), so the weights are
data: an evaluation-rules file (`kind: evaluation`, e.g. `policies/hunan-2022-evaluation.yaml`)
names the policy it belongs to, whether it is provisional, the evaluation year's boundaries, how
many ranks are published, the tie rule, and each indicator with its weight and scale. Files are
read from the project's `policies/` folder and from every folder in `ZHAOSHANG_POLICY_PATH`
(`:`-separated); a file that does not validate is reported with its file, the path inside it and
the reason, and is never used in its place by an older version.

A score is computed from the read models' evaluation indicators (`ReadModels.
evaluation_indicators`), in `Decimal`, each indicator's points rounded half-up to 0.01 and the
score their sum. The ranking is total and deterministic: score, then the tie-break metrics (larger
first), then the association id; the same events and the same rules give the same ranking.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from domain.service_contract import DEFAULT_ANNUAL_CAP
from domain.values import ASSOCIATION_DESIGNATIONS, from_fen
from projections.policy.loader import PolicyError, PolicyFileError, parse_yaml
from projections.queries import ReadModels

DEFAULT_FOLLOW_UP_DAYS = 180  # 三(四): the default interval between follow-up visits (回访)
EVALUATION_KIND = "evaluation"
BUILTIN_RULES_DIR = Path(__file__).resolve().parent / "policies"
DEFAULT_POLICY = "hunan-2022"
POINTS = Decimal("0.01")

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


# The same shape of error as a policy file's: file, path inside it, reason.
RulesError = PolicyError


class EvaluationRulesError(PolicyFileError):
    """Evaluation rules that did not validate; `errors` holds every reason found."""


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
                self.fail(
                    self.at(path, str(key)),
                    f"unknown key; expected one of: {', '.join(sorted(known))}",
                )
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


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {value!r}"
    return f"{value!r}"


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


# ---- loading ------------------------------------------------------------------------------------


def load_rules_file(path: str | Path) -> EvaluationRules:
    """Load and validate one file; raise `EvaluationRulesError` (file, path, reason) if bad."""
    file = Path(path)
    try:
        raw = file.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise EvaluationRulesError([RulesError(str(file), "(file)", f"cannot read: {e}")]) from e
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(e, "problem", None) or str(e)
        raise EvaluationRulesError(
            [RulesError(str(file), where, f"not valid YAML: {problem}")]
        ) from e
    return rules_from_data(data, str(file), hashlib.sha256(raw).hexdigest())


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


def rules_paths(value: str = "") -> list[Path]:
    """The project's own folder, then each folder of `value` (the `ZHAOSHANG_POLICY_PATH`
    setting, `:`-separated)."""
    return [BUILTIN_RULES_DIR] + [Path(p) for p in value.split(":") if p.strip()]


_KIND_LINE = re.compile(r"""^kind:\s*["']?evaluation["']?\s*(#.*)?$""", re.MULTILINE)
_RAW_KEY = re.compile(r"""^(id|policy):\s*["']?([A-Za-z0-9._-]+)""", re.MULTILINE)


def _header(file: Path) -> tuple[bool, str | None, str | None]:
    """Whether a file declares itself evaluation rules (`kind: evaluation`), with its raw id and
    policy. A file that is not even valid YAML is still recognised by its `kind:` line, so a
    broken edit is reported instead of silently ignored."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False, None, None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError:
        if not _KIND_LINE.search(text):
            return False, None, None
        raw = {m[1]: m[2] for m in _RAW_KEY.finditer(text)}
        return True, raw.get("id"), raw.get("policy")
    if not isinstance(data, dict) or data.get("kind") != EVALUATION_KIND:
        return False, None, None
    rid, policy = data.get("id"), data.get("policy")
    return (
        True,
        rid if isinstance(rid, str) else None,
        policy if isinstance(policy, str) else None,
    )


def load_evaluation_registry(paths: Iterable[str | Path] | None = None) -> EvaluationRegistry:
    """Load every `kind: evaluation` YAML file from the project's folder and the folders given
    (without `paths`: the project's folder only). Other YAML files — reward policies —
    are left to the policy loader. A path may name a single file. The same id and version
    loaded twice is reported as a duplicate."""
    folders = rules_paths() if paths is None else [BUILTIN_RULES_DIR, *map(Path, paths)]
    seen: set[Path] = set()
    loaded: list[LoadedRules] = []
    by_key: dict[tuple[str, int], Path] = {}
    for folder in folders:
        if folder.resolve() in seen:
            continue
        seen.add(folder.resolve())
        if folder.is_file():
            files = [folder]
        elif folder.is_dir():
            files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
        else:
            error = RulesError(str(folder), "(folder)", "not found")
            loaded.append(LoadedRules(folder, None, (error,)))
            continue
        for file in files:
            is_rules, rid, policy = _header(file)
            if not is_rules:
                continue
            try:
                rules = load_rules_file(file)
            except EvaluationRulesError as e:
                loaded.append(LoadedRules(file, None, e.errors, rid, policy))
                continue
            key = (rules.id, rules.version)
            if key in by_key:
                error = RulesError(
                    str(file),
                    "version",
                    f"{rules.id} version {rules.version} is already loaded from {by_key[key]}",
                )
                loaded.append(LoadedRules(file, None, (error,), rid, policy))
                continue
            by_key[key] = file
            loaded.append(LoadedRules(file, rules, (), rules.id, rules.policy))
    return EvaluationRegistry(loaded)


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

    def as_dict(self, *, with_positions: bool = False) -> dict[str, Any]:
        """The `GET /evaluations/{year}` answer (DESIGN §12), JSON-ready: money and scores as
        decimal strings, counts as numbers.

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


def compute_evaluation(
    rules: EvaluationRules,
    year: int,
    indicators: Mapping[str, Mapping[str, int]],
    associations: Sequence[Mapping[str, Any]],
    positions: Mapping[str, int] | None = None,
) -> Evaluation:
    """Score and rank every association registered by the end of the evaluation year.

    `indicators` is `ReadModels.evaluation_indicators(year)` (metric → value, money in fen);
    `associations` is `ReadModels.associations()` (association_id, name, active,
    registered_on). Pure: no database, no clock.
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

    def raw(association_id: str, indicator: Indicator) -> int:
        figures = indicators.get(association_id, {})
        return sum(_raw(figures, m) for m in indicator.metrics)

    best = {
        ind.id: max((raw(str(a["association_id"]), ind) for a in entrants), default=0)
        for ind in rules.indicators
    }
    scored: list[tuple[tuple[Any, ...], str, str, Decimal, tuple[IndicatorResult, ...], Any]] = []
    for association in entrants:
        association_id = str(association["association_id"])
        results = []
        for ind in rules.indicators:
            value = raw(association_id, ind)
            shown: Number = from_fen(value) if ind.unit == "yuan" else value
            results.append(
                IndicatorResult(ind.id, shown, indicator_points(ind, value, best[ind.id]))
            )
        score = sum((r.points for r in results), Decimal("0.00"))
        figures = indicators.get(association_id, {})
        tie_values = tuple(_raw(figures, m) for m in rules.tie_break)
        key = (-score, *(-v for v in tie_values), association_id)
        name = str(association.get("name") or "")
        scored.append((key, association_id, name, score, tuple(results), tie_values))
    scored.sort(key=lambda s: s[0])

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
    return compute_evaluation(
        the_rules,
        year,
        read.evaluation_indicators(year, the_rules.ends_month),
        read.associations(),
        positions,
    )
