"""A deterministic (seeded) generator of a demo province, recorded through the application.

Each project's life is played through the domain's own command methods, so every invariant is
checked, and stored with the application's `save`, a batch of aggregates per transaction.
`small` gives a lively sample for the demo and tests; `province` gives the sizes of DESIGN §10.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from domain.application import Ledger
from domain.association import Association
from domain.events import Actor, Context
from domain.project import Project
from domain.values import CITIES, SHANGHAI

OFFICER = Actor("demo-officer", "officer")
STAFF = Actor("demo-staff", "staff")

CHAMBER_PLACES = [
    "北京",
    "上海",
    "广东",
    "深圳",
    "浙江",
    "江苏",
    "福建",
    "四川",
    "重庆",
    "湖北",
    "河南",
    "山东",
    "天津",
    "海南",
    "云南",
    "贵州",
    "广西",
    "陕西",
    "江西",
    "安徽",
    "新疆",
    "内蒙古",
    "辽宁",
    "吉林",
]
OVERSEAS_PLACES = [
    "香港",
    "澳门",
    "新加坡",
    "马来西亚",
    "泰国",
    "越南",
    "日本",
    "韩国",
    "美国",
    "加拿大",
    "德国",
    "法国",
    "英国",
    "澳大利亚",
    "阿联酋",
    "印度尼西亚",
    "柬埔寨",
    "老挝",
    "新西兰",
    "意大利",
]
UNIVERSITIES = [
    "湖南大学",
    "中南大学",
    "湖南师范大学",
    "湘潭大学",
    "长沙理工大学",
    "国防科技大学",
    "湖南农业大学",
    "中南林业科技大学",
    "南华大学",
    "吉首大学",
    "湖南科技大学",
    "湖南工商大学",
]
INVESTOR_WORDS = [
    "华",
    "鑫",
    "远",
    "达",
    "科",
    "新",
    "中",
    "湘",
    "盛",
    "联",
    "创",
    "智",
    "恒",
    "泰",
    "源",
]
INDUSTRY_WEIGHTS = {
    "C": 50,
    "I": 10,
    "F": 6,
    "G": 5,
    "M": 6,
    "D": 5,
    "A": 4,
    "K": 4,
    "J": 3,
    "H": 3,
    "R": 2,
    "E": 2,
}
FOREIGN = [
    ("USD", "7.1234"),
    ("EUR", "7.8000"),
    ("HKD", "0.9120"),
    ("JPY", "0.0489"),
    ("SGD", "5.3100"),
]
PROJECT_KINDS = ["产业园", "生产基地", "研发中心", "智造项目"]
ISSUE_CATEGORIES = ["用地", "融资", "用工", "审批", "水电气", "物流", "政策兑现"]


@dataclass(frozen=True)
class Scale:
    associations: int
    projects: int
    # How busy a project's life is: follow-up, visit and arrival cadence.
    follow_up_every_days: int
    max_visits: int
    max_arrivals: int


SCALES = {
    "tiny": Scale(
        associations=8, projects=40, follow_up_every_days=120, max_visits=3, max_arrivals=4
    ),
    "small": Scale(
        associations=60, projects=600, follow_up_every_days=120, max_visits=4, max_arrivals=6
    ),
    # About 100 events a project, 2,000,000 in all (DESIGN §10): busy lives, frequent 回访.
    "province": Scale(
        associations=2000, projects=20000, follow_up_every_days=3, max_visits=24, max_arrivals=48
    ),
}


@dataclass
class Summary:
    associations: int = 0
    projects: int = 0
    events: int = 0
    stages: dict[str, int] = field(default_factory=dict)
    cities: dict[str, int] = field(default_factory=dict)
    currencies: dict[str, int] = field(default_factory=dict)
    corrections: int = 0
    voids: int = 0
    joint_referrals: int = 0
    attribution_changes: int = 0
    follow_ups: int = 0
    issues: int = 0
    arrival_years: dict[int, int] = field(default_factory=dict)

    def count(self, bucket: dict[Any, int], key: Any) -> None:
        bucket[key] = bucket.get(key, 0) + 1

    def merge(self, other: Summary) -> None:
        """Add another worker's counts to these."""
        for name in (
            "events",
            "corrections",
            "voids",
            "joint_referrals",
            "attribution_changes",
            "follow_ups",
            "issues",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("stages", "cities", "currencies", "arrival_years"):
            mine = getattr(self, name)
            for key, value in getattr(other, name).items():
                mine[key] = mine.get(key, 0) + value


class _Clock:
    """Records each command as if entered the working day after it happened, never later than
    the real end date, so 'as known on' queries see a realistic record."""

    def __init__(self, end: date) -> None:
        self.end = end
        self._contexts: dict[tuple[Actor, date], Context] = {}

    def ctx(self, actor: Actor, day: date) -> Context:
        key = (actor, day)
        found = self._contexts.get(key)
        if found is None:
            entered = min(day + timedelta(days=1), self.end)
            at = datetime.combine(entered, time(10, 0), tzinfo=SHANGHAI).astimezone(UTC)
            found = self._contexts[key] = Context(actor=actor, source="demo", recorded_at=at)
        return found


def generate(
    app: Ledger,
    scale: str = "small",
    seed: int = 2022,
    end: date = date(2025, 12, 31),
    batch_size: int = 50,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    url: str | None = None,
) -> Summary:
    """Record a province of associations and projects; answer what was recorded.

    Each project's life draws from a random generator seeded by (seed, project index), so the
    province is the same however many worker processes record it (`workers` > 1 needs the
    database `url`; each worker runs its own application on it).
    """
    size = SCALES[scale]
    clock = _Clock(end)
    summary = Summary()
    rng = random.Random(seed)
    id_rng = random.Random(seed + 1)
    associations = _associations(rng, size, clock, lambda: _uuid(id_rng))
    for start in range(0, len(associations), batch_size):
        app.save_or_conflict(*associations[start : start + batch_size])
    summary.associations = len(associations)
    summary.events += sum(a.version for a in associations)
    ids = [str(a.id) for a in associations]
    if workers > 1:
        if url is None:
            raise ValueError("several workers need the database URL")
        parts = _in_processes(url, scale, seed, end, batch_size, ids, workers)
    else:
        parts = [_record_projects(app, scale, seed, end, batch_size, ids, 0, 1, progress)]
    for part in parts:
        summary.merge(part)
    summary.projects = size.projects
    return summary


def _uuid(rng: random.Random) -> Any:
    import uuid

    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _record_projects(
    app: Ledger,
    scale: str,
    seed: int,
    end: date,
    batch_size: int,
    association_ids: list[str],
    worker: int,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> Summary:
    """Record the projects whose index falls to this worker, a batch per transaction."""
    size = SCALES[scale]
    clock = _Clock(end)
    summary = Summary()
    batch: list[Project] = []
    for index in range(worker, size.projects, workers):
        rng = random.Random(f"{seed}/{index}")
        project = _project_life(
            rng, size, clock, functools.partial(_uuid, rng), association_ids, index, end, summary
        )
        batch.append(project)
        if len(batch) >= batch_size:
            summary.events += sum(len(p.pending_events) for p in batch)
            app.save_or_conflict(*batch)
            batch = []
            if progress:
                progress(index + 1, size.projects)
    if batch:
        summary.events += sum(len(p.pending_events) for p in batch)
        app.save_or_conflict(*batch)
    if progress:
        progress(size.projects, size.projects)
    return summary


def _worker(args: tuple[str, str, int, date, int, list[str], int, int]) -> Summary:
    from services.bootstrap import bootstrap
    from services.settings import Settings

    url, scale, seed, end, batch_size, ids, worker, workers = args
    services = bootstrap(Settings(database_url=url))
    try:
        return _record_projects(services.ledger, scale, seed, end, batch_size, ids, worker, workers)
    finally:
        services.close()


def _in_processes(
    url: str, scale: str, seed: int, end: date, batch_size: int, ids: list[str], workers: int
) -> list[Summary]:
    import multiprocessing

    jobs = [(url, scale, seed, end, batch_size, ids, w, workers) for w in range(workers)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return pool.map(_worker, jobs)


def _associations(
    rng: random.Random, size: Scale, clock: _Clock, new_id: Callable[[], Any]
) -> list[Association]:
    kinds = ["domestic_chamber", "overseas_chamber", "alumni"]
    result = []
    # Every name is distinct (DESIGN §16: a name alone says which association is meant): the
    # second association of a place is its 第2分会, and so on.
    seen: dict[str, int] = {}
    for i in range(size.associations):
        kind = kinds[i % 3]
        if kind == "domestic_chamber":
            place = CHAMBER_PLACES[i % len(CHAMBER_PLACES)]
            name, based_in = f"{place}湖南商会", place
        elif kind == "overseas_chamber":
            place = OVERSEAS_PLACES[i % len(OVERSEAS_PLACES)]
            name, based_in = f"{place}湖南商会", place
        else:
            place = UNIVERSITIES[i % len(UNIVERSITIES)]
            name, based_in = f"{place}校友会", "长沙"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}（第{seen[name]}分会）"
        registered = date(2022, 1, 1) + timedelta(days=rng.randrange(200))
        ctx = clock.ctx(STAFF, registered)
        association = Association.register(
            ctx,
            association_id=new_id(),
            name=name,
            kind=kind,
            based_in=based_in,
            contact=f"联络人{i:04d}",
            occurred_on=registered,
        )
        day = registered
        for _ in range(rng.randrange(1, 8)):
            day = day + timedelta(days=rng.randrange(20, 150))
            if day > clock.end:
                break
            association.record_activity(
                clock.ctx(OFFICER, day),
                str(new_id()),
                kind=rng.choice(
                    ["promotion", "promotion", "service", "service", "talent", "technology"]
                ),
                occurred_on=day,
                description="推介湖南营商环境与重点产业",
                count=rng.randrange(1, 300),
            )
        result.append(association)
    return result


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def _project_life(
    rng: random.Random,
    size: Scale,
    clock: _Clock,
    new_id: Callable[[], Any],
    association_ids: list[str],
    index: int,
    end: date,
    summary: Summary,
) -> Project:
    referred_on = date(2022, 1, 10) + timedelta(days=rng.randrange(0, 1100))
    city = list(CITIES)[index % len(CITIES)]
    industry = rng.choices(list(INDUSTRY_WEIGHTS), weights=list(INDUSTRY_WEIGHTS.values()))[0]
    joint = rng.random() < 0.2
    if joint:
        pair = rng.sample(association_ids, 2)
        first = Decimal(str(rng.choice([50, 60, 70, "33.34", 40])))
        referrals = [
            {"association_id": pair[0], "share": first},
            {"association_id": pair[1], "share": 100 - first},
        ]
        summary.joint_referrals += 1
    else:
        referrals = [{"association_id": rng.choice(association_ids), "share": 100}]
    designations = []
    if rng.random() < 0.1:
        designations.append({"kind": "fortune_global_500", "source": "《财富》2023"})
    if rng.random() < 0.1:
        designations.append({"kind": "little_giant", "source": "工信部第五批"})
    ctx = clock.ctx(STAFF, referred_on)
    investor = (
        "".join(rng.sample(INVESTOR_WORDS, 2))
        + rng.choice(["科技", "实业", "集团", "控股", "新材料"])
        + "有限公司"
    )
    project = Project.refer(
        ctx,
        project_id=new_id(),
        name=f"{investor[:4]}{CITIES[city][:2]}{rng.choice(PROJECT_KINDS)}#{index}",
        investor=investor,
        industry=industry,
        project_type="large_infrastructure" if rng.random() < 0.04 else "ordinary",
        origin=rng.choice(["overseas", "other_province", "other_province", "in_province"]),
        city=city,
        county=f"{CITIES[city][:2]}某县",
        park=rng.choice(["", "经开区", "高新区"]),
        planned_investment=_money(rng, 5_000_000, 3_000_000_000),
        referrals=referrals,
        occurred_on=referred_on,
        designations=designations,
    )
    day = referred_on
    target = rng.choices(range(8), weights=[6, 8, 10, 14, 8, 14, 25, 15])[0]

    def step(low: int, high: int) -> date | None:
        nonlocal day
        nxt = day + timedelta(days=rng.randrange(low, high))
        if nxt > end:
            return None
        day = nxt
        return day

    for _ in range(rng.randrange(0 if target == 0 else 1, size.max_visits + 1)):
        if step(5, 40) is None:
            break
        project.record_visit(
            clock.ctx(OFFICER, day), day, participants="投资方考察团", notes="实地考察园区"
        )
    if target >= 2:
        for _ in range(rng.randrange(1, 4)):
            if step(5, 40) is None:
                break
            project.record_negotiation(clock.ctx(OFFICER, day), day, notes="洽谈合作条件")
    if target >= 3 and step(10, 60) is not None:
        currency, rate = ("CNY", None) if rng.random() < 0.8 else rng.choice(FOREIGN)
        project.sign(
            clock.ctx(OFFICER, day),
            day,
            _money(rng, 10_000_000, 2_000_000_000),
            currency,
            rate,
            "长沙",
        )
        if rng.random() < 0.7:
            project.record_attestation(
                clock.ctx(STAFF, day), "positive_local_impact", day, True, "带动就业与产业链配套"
            )
        _arrivals(rng, size, clock, project, day, end, summary)
        if target >= 4 and step(10, 60) is not None:
            project.register_company(clock.ctx(OFFICER, day), day, "完成工商注册")
        if target >= 5 and step(10, 90) is not None:
            project.start_construction(clock.ctx(OFFICER, day), day, "开工建设")
            if day.year < end.year:
                project.report_fixed_asset_investment(
                    clock.ctx(OFFICER, day),
                    day.year,
                    _money(rng, 1_000_000, 500_000_000),
                    "CNY",
                    day,
                )
        if target >= 6 and step(60, 300) is not None:
            project.start_production(clock.ctx(OFFICER, day), day)
            if target >= 7 and step(30, 200) is not None:
                project.reach_capacity(clock.ctx(OFFICER, day), day)
            _follow_ups(rng, size, clock, project, day, end, summary, new_id)
    if rng.random() < 0.05:
        change_day = min(end, project.referred_on + timedelta(days=rng.randrange(30, 400)))
        others = rng.sample(association_ids, 2)
        project.change_attribution(
            clock.ctx(STAFF, change_day),
            change_day,
            [
                {"association_id": others[0], "share": 50},
                {"association_id": others[1], "share": 50},
            ],
            "经核实为两会共同引荐",
            "省商务厅投资促进处",
        )
        summary.attribution_changes += 1
    if rng.random() < 0.02:
        reclass_day = min(end, project.referred_on + timedelta(days=rng.randrange(30, 400)))
        project.reclassify(
            clock.ctx(STAFF, reclass_day), reclass_day, "行业分类复核", "统计处", industry="M"
        )
    last = max(day, project.referred_on)
    if rng.random() < 0.05 and last < end:
        stop_day = last + timedelta(days=1)
        status = "withdrawn" if rng.random() < 0.3 else "stalled"
        project.change_status(clock.ctx(STAFF, stop_day), stop_day, status, "投资方暂缓")
    summary.count(summary.stages, project.stage)
    summary.count(summary.cities, project.city)
    return project


def _arrivals(
    rng: random.Random,
    size: Scale,
    clock: _Clock,
    project: Project,
    signed: date,
    end: date,
    summary: Summary,
) -> None:
    day = signed
    for _ in range(rng.randrange(0, size.max_arrivals + 1)):
        day = day + timedelta(days=rng.randrange(5, 120))
        if day > end:
            return
        currency, rate = ("CNY", None) if rng.random() < 0.85 else rng.choice(FOREIGN)
        divisor = Decimal(rate) if rate else Decimal(1)
        amount = (_money(rng, 1_000_000, 60_000_000) / divisor).quantize(Decimal("0.01"))
        arrival_id = f"{project.id}-{len(project.arrivals) + 1}"
        ctx = clock.ctx(OFFICER, day)
        project.record_funds_arrival(ctx, arrival_id, day, amount, currency, rate)
        summary.count(summary.currencies, currency)
        summary.count(summary.arrival_years, day.year)
        roll = rng.random()
        if roll < 0.05:
            fix = min(end, day + timedelta(days=rng.randrange(1, 40)))
            project.correct_funds_arrival(
                clock.ctx(OFFICER, fix),
                arrival_id,
                fix,
                (amount * Decimal("0.9")).quantize(Decimal("0.01")),
                currency,
                "银行回单金额有误",
                rate,
            )
            summary.corrections += 1
        elif roll < 0.08:
            fix = min(end, day + timedelta(days=rng.randrange(1, 40)))
            project.void_funds_arrival(clock.ctx(OFFICER, fix), arrival_id, fix, "重复录入")
            summary.voids += 1


def _follow_ups(
    rng: random.Random,
    size: Scale,
    clock: _Clock,
    project: Project,
    start: date,
    end: date,
    summary: Summary,
    new_id: Callable[[], Any],
) -> None:
    day = start
    while True:
        day = day + timedelta(
            days=rng.randrange(size.follow_up_every_days // 2, size.follow_up_every_days * 2)
        )
        if day > end:
            return
        issues = []
        if rng.random() < 0.3:
            issues.append(
                {"category": rng.choice(ISSUE_CATEGORIES), "description": "企业反映的困难"}
            )
        issue_ids = [str(new_id()) for _ in issues]
        project.record_follow_up_visit(
            clock.ctx(OFFICER, day),
            day,
            rng.choice(["normal", "normal", "normal", "difficult"]),
            issue_ids,
            issues,
            output_value=_money(rng, 100_000, 90_000_000),
            tax=_money(rng, 10_000, 5_000_000),
            employees=rng.randrange(10, 2000),
        )
        summary.follow_ups += 1
        summary.issues += len(issues)
        for issue_id in issue_ids:
            handled = day + timedelta(days=rng.randrange(1, 30))
            if handled > end:
                continue
            project.update_issue(
                clock.ctx(OFFICER, handled), issue_id, "handling", handled, "已协调相关部门"
            )
            if rng.random() < 0.7:
                closed = handled + timedelta(days=rng.randrange(1, 60))
                if closed <= end:
                    project.update_issue(
                        clock.ctx(OFFICER, closed), issue_id, "closed", closed, "问题已办结"
                    )
