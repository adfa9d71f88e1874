"""Explanations: the ordered steps behind every figure, each renderable in Chinese and English.

A `Step` records which rule fired (its id in the policy file and the clause it cites), the inputs
it saw, the parameter values it used with the date each took effect, and its result. Values are
kept as they are (Decimal, date, str) while the engine runs; they are turned into text or JSON
only when a step is rendered, so evaluating 20,000 projects does not format 150,000 sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from string import Formatter
from typing import Any

LANGUAGES = ("zh", "en")

# Labels of the statuses the engine itself knows; a policy file may add its own.
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "eligible": ("符合奖励条件", "eligible"),
    "excluded": ("不在奖励范围", "excluded"),
    "no_funds_in_window": ("有效期内当年无到位资金", "no funds in the window this year"),
    "below_threshold": ("未达到奖励门槛", "below the threshold"),
    "pending_attestation": ("待认定对地方经济社会发展的积极作用", "pending attestation"),
}

OPERATOR_TEXT: dict[str, tuple[str, str]] = {
    ">=": ("≥", "≥"),
    ">": (">", ">"),
    "<=": ("≤", "≤"),
    "<": ("<", "<"),
}


def json_value(value: Any) -> Any:
    """A JSON-able form: decimals as plain strings, dates ISO, tuples and sets as lists."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is Decimal:
        return format(value, "f")
    if kind is date:
        return value.isoformat()
    if kind is tuple or kind is list:
        return [json_value(v) for v in value]
    if kind is frozenset or kind is set:
        return sorted(json_value(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, date):
        return value.isoformat()
    return value


_YES_NO = {"zh": ("否", "是"), "en": ("no", "yes")}
_SEPARATOR = {"zh": "、", "en": ", "}


def text_value(value: Any, lang: str) -> str:
    """A readable form: money with thousands separators, lists joined, yes/no."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is Decimal:
        return f"{value:,}"
    if kind is int:
        return str(value)
    if kind is bool:
        return _YES_NO[lang][value]
    if value is None:
        return "—"
    if kind is date:
        return value.isoformat()  # type: ignore[no-any-return]
    if kind is tuple or kind is list or kind is frozenset or kind is set:
        items = sorted(value) if kind is frozenset or kind is set else value
        return _SEPARATOR[lang].join(text_value(v, lang) for v in items) or "—"
    return str(value)


@dataclass(frozen=True)
class Parameter:
    """A parameter value used by a step, and the date the policy version that set it took effect.

    The engine makes each once per year's evaluation and shares it between steps, so its JSON
    and text forms are computed once, on first use.
    """

    name: str
    value: Any
    since: date
    _forms: dict[str, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def as_dict(self) -> dict[str, Any]:
        form = self._forms.get("json")
        if form is None:
            form = self._forms["json"] = {
                "name": self.name,
                "value": json_value(self.value),
                "since": self.since.isoformat(),
            }
        return dict(form)

    def text(self, lang: str) -> str:
        form = self._forms.get(lang)
        if form is None:
            form = self._forms[lang] = text_value(self.value, lang)
        return str(form)


@dataclass(slots=True)
class Step:
    """One step of an explanation.

    `kind` selects the sentence it renders to; `outcome` distinguishes the branches of a step
    (a condition `met` or `not_met`, a cap `applied` or `not_applied`); `notes` hold what only
    the sentence needs (labels, wording) and are not part of the step's data. Treat a step as
    immutable: association-level steps are shared by the rows of that association.
    """

    kind: str
    rule: str
    clause: str
    inputs: tuple[tuple[str, Any], ...]
    parameters: tuple[Parameter, ...]
    result: Any
    outcome: str = ""
    notes: tuple[tuple[str, Any], ...] = ()
    # A step shared by many rows (see `shared`) keeps its rendered forms once made.
    _cache: dict[Any, Any] | None = field(default=None, repr=False, compare=False)

    def value(self, name: str) -> Any:
        for key, value in self.inputs:
            if key == name:
                return value
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter.value
        raise KeyError(name)

    def shared(self) -> Step:
        """Mark this step as one used by many rows: its text and JSON are then kept once made."""
        if self._cache is None:
            self._cache = {}
        return self

    def text(self, lang: str = "zh") -> str:
        cache = self._cache
        if cache is None:
            return render(self, lang)
        text = cache.get(lang)
        if text is None:
            text = cache[lang] = render(self, lang)
        return str(text)

    @property
    def text_zh(self) -> str:
        return self.text("zh")

    @property
    def text_en(self) -> str:
        return self.text("en")

    def as_dict(self, langs: tuple[str, ...] = LANGUAGES) -> dict[str, Any]:
        """The step's data and sentences. A shared step answers a copy of a dict made once,
        whose nested values are shared too: treat the result as read-only."""
        cache = self._cache
        if cache is None:
            return self._as_dict(langs)
        data = cache.get(langs)
        if data is None:
            data = cache[langs] = self._as_dict(langs)
        return dict(data)

    def _as_dict(self, langs: tuple[str, ...]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "rule": self.rule,
            "clause": self.clause,
            "inputs": {k: json_value(v) for k, v in self.inputs},
            "parameters": [p.as_dict() for p in self.parameters],
            "result": json_value(self.result),
            "outcome": self.outcome,
        }
        for lang in langs:
            data["text_" + lang] = self.text(lang)
        return data


# ---- sentences ---------------------------------------------------------------------------------
# (kind, outcome) → (zh, en). Each condition kind registers its own (`add_templates`, from
# `projections.policy.conditions`). Placeholders name inputs, parameters, `result`, `rule`, `clause`,
# and the derived `op` (the operator's sign) and `status_label`.

TEMPLATES: dict[tuple[str, str], tuple[str, str]] = {
    ("base.funds_arrived", ""): (
        "{year}年计入的到位资金：{window_from}至{window_to}期间到位的{counted}笔，合计{result}元"
        "（当年另有{not_counted}笔未计入：{not_counted_ids}）",
        "Funds counted for {year}: {counted} arrival(s) dated {window_from} to {window_to}, "
        "total {result} yuan ({not_counted} other arrival(s) of the year not counted: "
        "{not_counted_ids})",
    ),
    ("base.fixed_asset_investment", "counted"): (
        "{year}年完成固定资产投资{reported}元，在有效期内，计入{result}元",
        "Fixed-asset investment completed in {year}: {reported} yuan, inside the validity; "
        "counted {result} yuan",
    ),
    ("base.fixed_asset_investment", "not_counted"): (
        "{year}年完成固定资产投资{reported}元，但该年不在有效期内，计入{result}元",
        "Fixed-asset investment completed in {year}: {reported} yuan, but the year is outside "
        "the validity; counted {result} yuan",
    ),
    ("base.fixed_asset_investment", "not_reported"): (
        "{year}年未填报固定资产投资，计入{result}元",
        "No fixed-asset investment reported for {year}; counted {result} yuan",
    ),
    ("base.follow_up_tax", "counted"): (
        "{year}年回访填报税收合计{reported}元，在有效期内，计入{result}元",
        "Tax reported at follow-up visits in {year}: {reported} yuan, inside the validity; "
        "counted {result} yuan",
    ),
    ("base.follow_up_tax", "not_counted"): (
        "{year}年回访填报税收合计{reported}元，但该年不在有效期内，计入{result}元",
        "Tax reported at follow-up visits in {year}: {reported} yuan, but the year is outside "
        "the validity; counted {result} yuan",
    ),
    ("base.follow_up_tax", "not_reported"): (
        "{year}年回访未填报税收，计入{result}元",
        "No tax reported at follow-up visits in {year}; counted {result} yuan",
    ),
    ("status", ""): (
        "状态：{status_label}，奖励0.00元",
        "Status: {status_label}; reward 0.00 yuan",
    ),
    ("amount.portion", ""): (
        "计奖基数为超过门槛的部分：{base}元 − {threshold}元 = {result}元",
        "The rate applies to the part above the threshold: {base} − {threshold} = {result} yuan",
    ),
    ("amount.version_segment", ""): (
        "{effective_from}起施行的版本下计入的{counted}笔到位资金：{amount}元",
        "{counted} arrival(s) counted under the version in force from {effective_from}: "
        "{amount} yuan",
    ),
    ("amount.segments_total", ""): (
        "各版本分段计算的奖励合计（{segments}段）：{result}元",
        "The rewards of the {segments} version segment(s) add up to {result} yuan",
    ),
    ("rounding", ""): (
        "项目奖励 {before}元 按{mode}取到{places_text}：{result}元",
        "Project reward {before} yuan rounded {mode} to the {places_text}: {result} yuan",
    ),
    ("cap.project", "applied"): (
        "单个项目上限{cap}元{band_text}：{before}元 → {result}元",
        "Per-project cap {cap} yuan{band_text}: {before} → {result} yuan",
    ),
    ("cap.project", "not_applied"): (
        "单个项目上限{cap}元{band_text}：{before}元未超过上限，仍为{result}元",
        "Per-project cap {cap} yuan{band_text}: {before} yuan is within it; {result} yuan",
    ),
    ("split", ""): (
        "按{shares_on}在用的引荐份额分配：{project_reward}元 × {share}% = {exact}元，"
        "{method}{floor}元{extra}，本会分得{result}元",
        "Split by the shares in force on {shares_on}: {project_reward} × {share}% = {exact}; "
        "{method} {floor}{extra}; this association's part {result} yuan",
    ),
    ("association.sum", ""): (
        "{association_id}本年度{rows}个项目分得合计{result}元",
        "{association_id}'s parts of {rows} project(s) add up to {result} yuan",
    ),
    ("cap.association", "applied"): (
        "单个商协会年度最高{cap}元：合计{before}元超过上限，实得{result}元"
        "（各项目行保留未封顶的分配额）",
        "Per-association yearly cap {cap} yuan: the sum {before} exceeds it, the association "
        "receives {result} yuan (project rows keep their uncapped parts)",
    ),
    ("cap.association", "not_applied"): (
        "单个商协会年度最高{cap}元：合计{before}元未超过上限",
        "Per-association yearly cap {cap} yuan: the sum {before} yuan is not over it",
    ),
    ("budget", "applied"): (
        "年度预算{budget}元不足以支付全部{requested}元，按比例分配：本会{before}元 → {result}元",
        "The yearly budget {budget} yuan is short of the {requested} yuan asked: pro rata, "
        "{before} → {result} yuan",
    ),
    ("budget", "not_applied"): (
        "年度预算{budget}元足以支付全部{requested}元，不调整",
        "The yearly budget {budget} yuan covers the {requested} yuan asked: no reduction",
    ),
    ("rows.pro_rata", ""): (
        "封顶后按比例调整本行：{before}元 → {result}元",
        "After the caps this row is reduced pro rata: {before} → {result} yuan",
    ),
}


def _fields(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in Formatter().parse(template) if name)


# Each template with the placeholders it uses, so rendering converts only those values.
_COMPILED: dict[tuple[str, str], tuple[tuple[str, frozenset[str]], tuple[str, frozenset[str]]]] = {
    key: ((zh, _fields(zh)), (en, _fields(en))) for key, (zh, en) in TEMPLATES.items()
}


def add_templates(kind: str, templates: Mapping[str, tuple[str, str]]) -> None:
    """Register the sentences of a step kind, by outcome (a condition kind's class does)."""
    for outcome, (zh, en) in templates.items():
        TEMPLATES[(kind, outcome)] = (zh, en)
        _COMPILED[(kind, outcome)] = ((zh, _fields(zh)), (en, _fields(en)))


NESTED_NOT_MET = ("该分支不满足", "this branch is not met")


def render(step: Step, lang: str) -> str:
    """The step as one sentence in `lang` (`zh` or `en`), prefixed by the clause it cites."""
    if lang not in LANGUAGES:
        raise ValueError(f"no rendering for language {lang!r}; use one of {LANGUAGES}")
    index = 0 if lang == "zh" else 1
    compiled = _COMPILED.get((step.kind, step.outcome)) or _COMPILED.get((step.kind, ""))
    if compiled is None:
        body = f"{step.kind}: {text_value(step.result, lang)}"
        return f"[{step.clause}] {body}" if step.clause else body
    template, fields = compiled[index]
    values = _Missing()
    if "result" in fields:
        values["result"] = text_value(step.result, lang)
    if "rule" in fields:
        values["rule"] = step.rule
    for parameter in step.parameters:
        if parameter.name in fields:
            values[parameter.name] = parameter.text(lang)
    for key, value in step.inputs:
        if key in fields:
            values[key] = text_value(value, lang)
    status = None
    labels = None
    suffix = "_" + lang
    for key, value in step.notes:
        if key == "status":
            status = value
        elif key == "status_labels":
            labels = value
        elif key.endswith(suffix):
            name = key[: -len(suffix)]
            if name in fields:
                values[name] = text_value(value, lang)
        elif key in fields:
            values[key] = text_value(value, lang)
    if "op" in fields:
        operator = step.value("operator")
        values["op"] = OPERATOR_TEXT[operator][index] if operator in OPERATOR_TEXT else operator
    if "status_label" in fields and isinstance(status, str):
        pair = labels if isinstance(labels, tuple) else STATUS_LABELS.get(status)
        values["status_label"] = f"{pair[index]} ({status})" if pair else status
    elif "status_label" in fields:  # a nested condition: its parent decides the status
        values["status_label"] = NESTED_NOT_MET[index]
    body = template.format_map(values)
    return f"[{step.clause}] {body}" if step.clause else body


class _Missing(dict[str, str]):
    """A format map that leaves an unknown placeholder visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
