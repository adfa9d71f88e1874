"""A project's history as an auditor reads it: every event with its envelope and chain link,
and the state the events add up to, at a version, as of a business date or as known on a day.

Chinese labels by default (reports are read in Chinese), English with `lang="en"`. The
event-type labels live here; code lists and stage labels come from the domain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.application import HistoryEntry, Ledger
from domain.output_safety import terminal_safe
from domain.project import STAGE_LABELS, Project
from domain.values import (
    ATTESTATION_KINDS,
    CITIES,
    DESIGNATIONS,
    INDUSTRIES,
    OPERATING_STATUSES,
    ORIGINS,
    PROJECT_STATUSES,
    PROJECT_TYPES,
    SHANGHAI,
    end_of_business_day,
    parse_date,
)
from i18n import localise_error
from projections.integrity import ProjectVerification, verify_project

LANGS = ("zh", "en")
HASH_PREFIX = 12

# Project event types (`domain.events.event_type_name` of each class).
EVENT_TYPE_LABELS: dict[str, str] = {
    "referred": "引荐",
    "visit_recorded": "考察",
    "negotiation_recorded": "洽谈",
    "signed": "签约",
    "registered": "注册",
    "construction_started": "开工建设",
    "funds_arrived": "资金到位",
    "funds_arrival_corrected": "资金到位更正",
    "funds_arrival_voided": "资金到位作废",
    "fixed_asset_investment_reported": "固定资产投资报告",
    "production_started": "投产",
    "capacity_reached": "达产",
    "follow_up_visit_recorded": "回访",
    "issue_raised": "问题诉求提出",
    "issue_handled": "问题诉求办理",
    "issue_closed": "问题诉求办结",
    "attestation_recorded": "认定",
    "attribution_changed": "引荐归属变更",
    "reclassified": "重新分类",
    "stalled": "停滞",
    "withdrawn": "撤销",
    "reactivated": "恢复",
    "officer_assigned": "指派跟踪人员",
    "officer_unassigned": "取消指派跟踪人员",
}
EVENT_TYPE_LABELS_EN: dict[str, str] = {
    "referred": "Referred",
    "visit_recorded": "Visit",
    "negotiation_recorded": "Negotiation",
    "signed": "Signed",
    "registered": "Company registered",
    "construction_started": "Construction started",
    "funds_arrived": "Funds arrived",
    "funds_arrival_corrected": "Funds arrival corrected",
    "funds_arrival_voided": "Funds arrival voided",
    "fixed_asset_investment_reported": "Fixed-asset investment reported",
    "production_started": "Production started",
    "capacity_reached": "Capacity reached",
    "follow_up_visit_recorded": "Follow-up visit",
    "issue_raised": "Issue raised",
    "issue_handled": "Issue handled",
    "issue_closed": "Issue closed",
    "attestation_recorded": "Attestation",
    "attribution_changed": "Attribution changed",
    "reclassified": "Reclassified",
    "stalled": "Stalled",
    "withdrawn": "Withdrawn",
    "reactivated": "Reactivated",
    "officer_assigned": "Officer assigned",
    "officer_unassigned": "Officer unassigned",
}
# Association event types (their `registered` is the association's own registration).
ASSOCIATION_EVENT_TYPE_LABELS: dict[str, str] = {
    "registered": "登记",
    "details_changed": "信息变更",
    "activity_recorded": "活动",
    "designation_awarded": "授予称号",
    "deactivated": "停用",
}
ASSOCIATION_EVENT_TYPE_LABELS_EN: dict[str, str] = {
    "registered": "Registered",
    "details_changed": "Details changed",
    "activity_recorded": "Activity",
    "designation_awarded": "Designation awarded",
    "deactivated": "Deactivated",
}

STAGE_LABELS_EN = {code: code.replace("_", " ") for code in STAGE_LABELS}
STATUS_LABELS = {"active": "正常推进", "stalled": "停滞", "withdrawn": "已撤销"}
STATUS_LABELS_EN = {"active": "active", "stalled": "stalled", "withdrawn": "withdrawn"}
ROLE_LABELS = {
    "admin": "管理员",
    "staff": "工作人员",
    "officer": "跟踪人员",
    "liaison": "联络员",
    "auditor": "审计",
}
INDUSTRIES_EN = {
    "A": "Agriculture, forestry, animal husbandry and fishery",
    "B": "Mining",
    "C": "Manufacturing",
    "D": "Electricity, heat, gas and water production and supply",
    "E": "Construction",
    "F": "Wholesale and retail trade",
    "G": "Transport, storage and postal services",
    "H": "Accommodation and catering",
    "I": "Information transmission, software and IT services",
    "J": "Finance",
    "K": "Real estate",
    "L": "Leasing and business services",
    "M": "Scientific research and technical services",
    "N": "Water conservancy, environment and public facilities management",
    "O": "Residential services, repair and other services",
    "P": "Education",
    "Q": "Health and social work",
    "R": "Culture, sports and entertainment",
    "S": "Public administration, social security and social organisations",
    "T": "International organisations",
}
CITIES_EN = {code: code.capitalize() for code in CITIES} | {
    "zhangjiajie": "Zhangjiajie",
    "xiangxi": "Xiangxi Tujia and Miao Autonomous Prefecture",
}

FIELD_LABELS: dict[str, str] = {
    "name": "名称",
    "investor": "投资方",
    "designations": "投资方称号",
    "industry": "行业",
    "project_type": "项目类型",
    "origin": "资金来源地",
    "city": "落地市州",
    "county": "县市区",
    "park": "园区",
    "planned_investment": "计划总投资",
    "referrals": "引荐商协会及份额",
    "participants": "参加人员",
    "notes": "备注",
    "contract_amount": "合同金额",
    "currency": "币种",
    "rate_to_cny": "兑人民币汇率",
    "place": "签约地点",
    "details": "详情",
    "arrival_id": "到位记录",
    "amount": "金额",
    "funds_source": "资金来源",
    "arrived_on": "到位日期",
    "reason": "理由",
    "year": "年度",
    "operating_status": "经营状况",
    "output_value": "产值",
    "tax": "税收",
    "employees": "用工人数",
    "issue_ids": "问题编号",
    "issue_id": "问题编号",
    "category": "类别",
    "description": "描述",
    "note": "说明",
    "kind": "类型",
    "granted": "认定结果",
    "approver": "批准人",
}
FIELD_LABELS_EN: dict[str, str] = {k: k.replace("_", " ") for k in FIELD_LABELS}

_CODE_FIELDS: dict[str, tuple[Mapping[str, str], Mapping[str, str] | None]] = {
    # field: (Chinese labels, English labels or None to show the code)
    "industry": (INDUSTRIES, INDUSTRIES_EN),
    "city": (CITIES, CITIES_EN),
    "project_type": (PROJECT_TYPES, None),
    "origin": (ORIGINS, None),
    "funds_source": (ORIGINS, None),
    "operating_status": (OPERATING_STATUSES, None),
    "kind": (ATTESTATION_KINDS, None),
    "status": (PROJECT_STATUSES, None),
}

_WORDS = {
    "zh": {
        "title": "项目历史",
        "view_all": "全部事件",
        "view_version": "截至第 {n} 版",
        "view_as_of": "截至 {d}（按发生日期）",
        "view_known_on": "{d} 当日所知（按记录时间，上海时间当日结束前）",
        "version": "第 {n} 版",
        "occurred_on": "发生日期",
        "recorded_at": "记录时间",
        "actor": "操作人",
        "source": "来源",
        "evidence": "凭证",
        "hash": "哈希",
        "link_ok": "链接正确",
        "link_bad": "链接不符",
        "events": "事件",
        "state": "此时状态",
        "chain": "哈希链",
        "chain_ok": "完整（共 {n} 个事件，头部第 {v} 版 {h}）",
        "chain_bad": "断裂：第 {v} 版 — {reason} [{code}]",
        "none": "—",
        "yes": "是",
        "no": "否",
        "no_events": "（无）",
        "s_version": "版本",
        "s_stage": "阶段",
        "s_status": "状态",
        "s_location": "落地地点",
        "s_referred_on": "引荐日期",
        "s_signed": "签约",
        "s_funds_total": "到位资金合计（折人民币）",
        "s_funds_by_year": "分年到位（折人民币）",
        "s_arrivals": "到位笔数（不含作废）",
        "s_fai": "固定资产投资（折人民币）",
        "s_production": "投产日期",
        "s_capacity": "达产日期",
        "s_follow_up": "最近回访",
        "s_follow_ups": "回访次数",
        "s_open_issues": "未办结问题",
        "s_attestation": "积极作用认定",
        "granted": "已认定",
        "withdrawn": "已撤回",
    },
    "en": {
        "title": "Project history",
        "view_all": "all events",
        "view_version": "up to version {n}",
        "view_as_of": "as of {d} (by occurred_on)",
        "view_known_on": "as known on {d} (recorded before that day ended in Shanghai)",
        "version": "v{n}",
        "occurred_on": "occurred",
        "recorded_at": "recorded",
        "actor": "actor",
        "source": "source",
        "evidence": "evidence",
        "hash": "hash",
        "link_ok": "link ok",
        "link_bad": "link broken",
        "events": "Events",
        "state": "State at that point",
        "chain": "Hash chain",
        "chain_ok": "intact ({n} events, head v{v} {h})",
        "chain_bad": "broken at version {v} — {reason} [{code}]",
        "none": "—",
        "yes": "yes",
        "no": "no",
        "no_events": "(none)",
        "s_version": "version",
        "s_stage": "stage",
        "s_status": "status",
        "s_location": "location",
        "s_referred_on": "referred on",
        "s_signed": "signed",
        "s_funds_total": "funds arrived (CNY)",
        "s_funds_by_year": "funds by year (CNY)",
        "s_arrivals": "arrivals (not voided)",
        "s_fai": "fixed-asset investment (CNY)",
        "s_production": "production started",
        "s_capacity": "capacity reached",
        "s_follow_up": "last follow-up",
        "s_follow_ups": "follow-up visits",
        "s_open_issues": "open issues",
        "s_attestation": "positive-impact attestation",
        "granted": "granted",
        "withdrawn": "withdrawn",
    },
}


@dataclass(frozen=True)
class HistoryView:
    """The events a view selects, in version order, and the project they add up to."""

    project_id: str
    mode: str  # "all" | "version" | "as_of" | "known_on"
    point: str | None  # the version or date the view stops at
    entries: list[HistoryEntry]
    links_ok: dict[int, bool]  # version → its prev_hash matches its predecessor's hash
    state: Project
    verification: ProjectVerification
    # association id → "name（city）", so the printout names them instead of showing ids
    association_names: dict[str, str] = dataclass_field(default_factory=dict)


def history_view(
    ledger: Ledger,
    project_id: UUID | str,
    *,
    as_of: Any = None,
    known_on: Any = None,
    version: int | None = None,
) -> HistoryView:
    """Select a project's events and fold its state: all of them, up to `version`, those that
    occurred on or before `as_of`, or those recorded before the end of `known_on` (Shanghai).
    At most one of the three may be given."""
    given = [x is not None for x in (as_of, known_on, version)]
    if sum(given) > 1:
        from domain.errors import InvalidInput

        raise InvalidInput("give at most one of as_of, known_on, version")
    entries = ledger.history(project_id)
    links: dict[int, bool] = {}
    previous = "0" * 64
    for entry in entries:
        links[entry.version] = entry.prev_hash == previous
        previous = entry.hash
    mode, point = "all", None
    if version is not None:
        state = ledger.project_as_of_version(project_id, version)
        entries = [e for e in entries if e.version <= version]
        mode, point = "version", str(version)
    elif as_of is not None:
        day = parse_date(as_of, "as_of")
        state = ledger.project_as_of(project_id, day)
        entries = [e for e in entries if e.occurred_on <= day]
        mode, point = "as_of", day.isoformat()
    elif known_on is not None:
        day = parse_date(known_on, "known_on")
        state = ledger.project_known_on(project_id, day)
        cutoff = end_of_business_day(day)
        entries = [e for e in entries if e.recorded_at < cutoff]
        mode, point = "known_on", day.isoformat()
    else:
        state = ledger.get_project(project_id)
    ids = {str(r.get("association_id")) for e in entries for r in e.data.get("referrals") or []}
    ids |= {str(a) for a in state.association_ids()}
    names = {}
    for association_id in sorted(ids):
        try:
            association = ledger.get_association(association_id)
        except Exception:  # an id that names no association is printed as it is
            continue
        names[association_id] = f"{association.name}（{association.based_in}）"
    return HistoryView(
        project_id=str(project_id),
        mode=mode,
        point=point,
        entries=entries,
        links_ok=links,
        state=state,
        verification=verify_project(ledger, project_id),
        association_names=names,
    )


def event_label(type_name: str, lang: str = "zh") -> str:
    labels = EVENT_TYPE_LABELS_EN if lang == "en" else EVENT_TYPE_LABELS
    return labels.get(type_name, type_name)


# The names of the printout being rendered (set by `render_history`).
_ASSOCIATION_NAMES: ContextVar[Mapping[str, str] | None] = ContextVar(
    "association_names", default=None
)


def _fmt(value: Any, lang: str, name: str = "") -> str:
    words = _WORDS[lang]
    if value is None or value == "":
        return words["none"]
    if isinstance(value, bool):
        return words["yes"] if value else words["no"]
    if isinstance(value, Decimal):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if name in _CODE_FIELDS and isinstance(value, str):
        zh, en = _CODE_FIELDS[name]
        label = zh.get(value) if lang == "zh" else (en or {}).get(value)
        if label is None:
            return value
        return f"{value} {label}" if name == "industry" else label
    if name in ("referrals",) and isinstance(value, list):
        return "; ".join(
            f"{(_ASSOCIATION_NAMES.get() or {}).get(str(r.get('association_id')), r.get('association_id'))}"
            f" {_fmt(r.get('share'), lang)}%"
            for r in value
            if isinstance(r, dict)
        )
    if name == "designations" and isinstance(value, list):
        parts = []
        for d in value:
            kind = d.get("kind") if isinstance(d, dict) else d
            label = DESIGNATIONS.get(str(kind), str(kind)) if lang == "zh" else str(kind)
            source = d.get("source") if isinstance(d, dict) else ""
            parts.append(f"{label} ({source})" if source else label)
        return ", ".join(parts) or words["none"]
    if isinstance(value, list):
        return ", ".join(_fmt(v, lang) for v in value) or words["none"]
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v, lang, str(k))}" for k, v in value.items())
    return str(value)


def _field(name: str, lang: str) -> str:
    labels = FIELD_LABELS_EN if lang == "en" else FIELD_LABELS
    return labels.get(name, name)


def render_entry(entry: HistoryEntry, lang: str = "zh", link_ok: bool | None = None) -> list[str]:
    """One event: its head line, its envelope, its data."""
    w = _WORDS[lang]
    head = (
        f"{w['version'].format(n=entry.version)} · {event_label(entry.type, lang)} ({entry.type})"
    )
    role = entry.actor.get("role", "")
    role_label = ROLE_LABELS.get(role, role) if lang == "zh" else role
    actor = f"{entry.actor.get('id', '')} ({role_label})" if role else entry.actor.get("id", "")
    link = ""
    if link_ok is not None:
        link = f" [{w['link_ok'] if link_ok else w['link_bad']}]"
    envelope = " · ".join(
        [
            f"{w['occurred_on']} {_fmt(entry.occurred_on, lang)}",
            f"{w['recorded_at']} {_fmt(entry.recorded_at, lang)}",
            f"{w['actor']} {actor}",
            f"{w['source']} {entry.source}",
            f"{w['evidence']} {_fmt(list(entry.evidence), lang)}",
            f"{w['hash']} {entry.hash[:HASH_PREFIX]}{link}",
        ]
    )
    lines = [head, f"    {envelope}"]
    for f in entry.files:  # evidence files: name, type, size and the full hash to check
        label = "文件" if lang == "zh" else "file"
        lines.append(
            f"    {label} {f['name']} ({f['media_type']}, {f['size']} B) sha256 {f['sha256']}"
        )
    data = [
        f"{_field(k, lang)}: {_fmt(v, lang, k)}"
        for k, v in entry.data.items()
        if v not in (None, "", [])
    ]
    if data:
        lines.append("    " + " · ".join(data))
    return lines


def render_state(project: Project, lang: str = "zh") -> list[str]:
    """The state the selected events add up to, one labelled line per figure."""
    return [f"  {label}: {value}" for label, value in state_rows(project, lang)]


def state_rows(project: Project, lang: str = "zh") -> list[tuple[str, str]]:
    """The state's figures as (label, value) in words (the CLI's lines, the history page)."""
    w = _WORDS[lang]
    stage_labels = STAGE_LABELS_EN if lang == "en" else STAGE_LABELS
    status_labels = STATUS_LABELS_EN if lang == "en" else STATUS_LABELS
    location = " ".join(
        x for x in (_fmt(project.city, lang, "city"), project.county, project.park) if x
    )
    signed = w["none"]
    if project.signed_on is not None:
        signed = (
            f"{project.signed_on.isoformat()} {_fmt(project.contract_amount, lang)} "
            f"{project.contract_currency} (≈ CNY {_fmt(project.contract_amount_cny, lang)})"
        )
    by_year = ", ".join(f"{y}: {_fmt(v, lang)}" for y, v in project.funds_by_year_cny().items())
    fai = ", ".join(
        f"{y}: {_fmt(v, lang)}" for y, v in sorted(project.fixed_asset_investment.items())
    )
    attestation = w["none"]
    if project.attestation is not None:
        a = project.attestation
        attestation = (
            f"{w['granted'] if a.granted else w['withdrawn']} "
            f"{a.occurred_on.isoformat()} ({a.reason})"
        )
    rows: list[tuple[str, str]] = [
        (w["s_version"], str(project.version)),
        (_field("name", lang), project.name),
        (_field("investor", lang), project.investor),
        (w["s_stage"], f"{stage_labels.get(project.stage, project.stage)} ({project.stage})"),
        (w["s_status"], f"{status_labels.get(project.status, project.status)}"),
        (_field("industry", lang), _fmt(project.industry, lang, "industry")),
        (_field("project_type", lang), _fmt(project.project_type, lang, "project_type")),
        (_field("origin", lang), _fmt(project.origin, lang, "origin")),
        (w["s_location"], location),
        (_field("planned_investment", lang), _fmt(project.planned_investment, lang)),
        (_field("designations", lang), _fmt(project.designations, lang, "designations")),
        (_field("referrals", lang), _fmt(project.referrals, lang, "referrals")),
        (w["s_referred_on"], _fmt(project.referred_on, lang)),
        (w["s_signed"], signed),
        (w["s_funds_total"], _fmt(project.funds_total_cny, lang)),
        (w["s_funds_by_year"], by_year or w["none"]),
        (w["s_arrivals"], str(len(project.counted_arrivals()))),
        (w["s_fai"], fai or w["none"]),
        (w["s_production"], _fmt(project.production_started_on, lang)),
        (w["s_capacity"], _fmt(project.capacity_reached_on, lang)),
        (w["s_follow_up"], _fmt(project.last_follow_up_on, lang)),
        (w["s_follow_ups"], str(len(project.follow_ups))),
        (w["s_open_issues"], str(len(project.open_issues()))),
        (w["s_attestation"], attestation),
    ]
    return rows


def data_rows(entry: HistoryEntry, lang: str = "zh") -> list[tuple[str, str]]:
    """An event's data as (label, value) in words, empty values left out."""
    return [
        (_field(k, lang), _fmt(v, lang, k))
        for k, v in entry.data.items()
        if v not in (None, "", [])
    ]


def actor_text(entry: HistoryEntry, lang: str = "zh") -> str:
    """Who caused an event, with the role in words."""
    role = entry.actor.get("role", "")
    role_label = ROLE_LABELS.get(role, role) if lang == "zh" else role
    return f"{entry.actor.get('id', '')} ({role_label})" if role else entry.actor.get("id", "")


def name_associations(view: HistoryView) -> None:
    """Let the rows rendered next (`state_rows`, `data_rows`, `render_history`) name the view's
    associations instead of showing their ids."""
    _ASSOCIATION_NAMES.set(view.association_names)


def render_history(view: HistoryView, lang: str = "zh") -> list[str]:
    """The whole printout: title and view, the events, the state, the chain's verdict."""
    if lang not in LANGS:
        raise ValueError(f"lang is one of {LANGS}")
    name_associations(view)
    w = _WORDS[lang]
    what = {
        "all": w["view_all"],
        "version": w["view_version"].format(n=view.point),
        "as_of": w["view_as_of"].format(d=view.point),
        "known_on": w["view_known_on"].format(d=view.point),
    }[view.mode]
    lines = [f"{w['title']} {view.state.name} ({view.project_id}) — {what}", "", w["events"]]
    if not view.entries:
        lines.append(f"  {w['no_events']}")
    for entry in view.entries:
        lines.extend(
            "  " + line for line in render_entry(entry, lang, view.links_ok.get(entry.version))
        )
    lines += ["", w["state"], *render_state(view.state, lang), ""]
    v = view.verification
    if v["broken_at"] is None:
        verdict = w["chain_ok"].format(n=v["events"], v=v["version"], h=v["hash"][:HASH_PREFIX])
    else:
        b = v["broken_at"]
        reason = localise_error(b["code"], b["reason"], lang)  # no English in a Chinese printout
        verdict = w["chain_bad"].format(v=b["version"], reason=reason, code=b["code"])
    lines.append(f"{w['chain']}: {verdict}")
    return lines


def render_lines(lines: Sequence[str]) -> str:
    """The lines for a terminal: user text in them never carries control sequences."""
    return "\n".join(terminal_safe(line) for line in lines) + "\n"
