"""Every staff, officer, auditor and liaison page in both languages (issue 18's leftover): with
the switch on English a page holds no Chinese but the user data it shows (names, categories,
reasons, the rules' clauses: a demo province whose every Chinese value this test wrote), and on
Chinese it shows the same Chinese words as before the pages went through the catalogue."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import unescape
from typing import Any

import pytest

from i18n import LANGUAGE_COOKIE
from tests.e2e.conftest import Api, project_read_models
from tests.e2e.test_rewards_http import rewarded_year
from tests.imports_support import HEADERS, row, workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Han characters and the full-width punctuation that goes with them.
CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]+")
# Each language names itself in its own words (the switch, a notification language's choice).
OWN_NAMES = ("中文",)

CATEGORY = "用工"
ISSUE = "技术工人招聘困难"
ACTIVITY = "湘商回归推介会（北京）"
PROVIDER = "湖南省商会服务中心"
SUBSIDY_REASON = "年度考评优秀"
APPROVER = "省商务厅"
REFERENCE = "湘商发〔2024〕1号"
FILE_NAME = "台账.xlsx"


@dataclass
class Province:
    """The demo province: what each page group shows, and every Chinese value it was given."""

    pages: dict[str, list[tuple[str, str, dict[str, Any]]]] = field(default_factory=dict)
    data: set[str] = field(default_factory=set)


def _ok(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response


def _user_id(api: Api, role: str, association_id: str | None = None) -> str:
    me = api.get("/users/me", role=role, association_id=association_id)
    return str(_ok(me, 200).json()["id"])


def province(api: Api) -> Province:
    """Two associations, a rewarded year settled and approved, an officer's project in
    production with an open issue, a stalled signing, dispatches (one revised), an activity, a
    purchased-service contract with a subsidy, a notification and an import's preview."""
    ids = rewarded_year(api)  # the clock at 2024-01-20
    x, p = ids["X"], ids["P"]
    _ok(api.post("/settlements", {"policy": "hunan-2022", "year": 2023}, role="staff"))
    api.signed_project(x, signed_on="2023-06-01")  # no funds, no works: a stalled signing
    officer = _user_id(api, "officer")
    _ok(api.post(f"/projects/{p}/officers", {"officer_id": officer}, role="staff"))
    _ok(
        api.post(
            f"/projects/{p}/production",
            {"occurred_on": "2023-07-01", "milestone": "started"},
            role="officer",
        )
    )
    _ok(
        api.post(
            f"/projects/{p}/follow-ups",
            {
                "occurred_on": "2023-07-10",
                "operating_status": "normal",
                "issues": [{"category": CATEGORY, "description": ISSUE}],
            },
            role="officer",
        )
    )
    _ok(
        api.post(
            f"/associations/{x}/activities",
            {"kind": "promotion", "occurred_on": "2023-08-18", "description": ACTIVITY, "count": 9},
            role="staff",
        )
    )
    project_read_models(api)
    api.app.state.services.background().catch_up(api.clock[0])
    # A late visit in 2023Q3 revises that quarter's dispatch: the page lists what changed.
    _ok(api.post(f"/projects/{p}/visits", {"occurred_on": "2023-09-01"}, role="officer"))
    project_read_models(api)
    api.app.state.services.background().catch_up(api.clock[0])
    _ok(
        api.post(
            "/service-contracts",
            {
                "year": 2024,
                "provider": PROVIDER,
                "amount": "100000.00",
                "occurred_on": "2024-01-05",
            },
            role="staff",
        )
    )
    _ok(
        api.post(
            "/service-contracts/2024/subsidies",
            {
                "association_id": x,
                "amount": "40000.00",
                "occurred_on": "2024-01-10",
                "reason": SUBSIDY_REASON,
            },
            role="staff",
        )
    )
    staff = _user_id(api, "staff")
    api.app.state.services.notifications.notify(
        "import_finished",
        "b1",
        staff,
        "b1",
        {"file": FILE_NAME, "recorded": "3", "refused": "0"},
        "/app/imports",
    )
    liaison = _user_id(api, "liaison", x)
    ledger = workbook([row(1), row(2, **{"计划总投资": -5})])
    upload = {"file": (FILE_NAME, ledger, XLSX)}
    carried = {"file_data": base64.b64encode(ledger).decode(), "file_name": FILE_NAME}

    found = Province()
    found.pages = {
        "start": [
            ("/app/", "officer", {}),
            ("/app/", "staff", {}),
            ("/app/", "auditor", {}),
            ("/app/", "liaison", {"association_id": x}),
        ],
        "associations": [
            ("/app/associations", "staff", {}),
            (f"/app/associations/{x}", "staff", {}),
            ("/app/associations/new", "staff", {}),
            (f"/app/associations/{x}/activities/new", "staff", {}),
            ("/app/projects/new", "staff", {}),
            (f"/app/projects/{p}", "staff", {}),
        ],
        "dispatches": [
            ("/app/dispatches", "staff", {}),
            ("/app/dispatches/2023Q3", "staff", {}),
            ("/app/dispatches/2023Q3?revision=1", "staff", {}),
            ("/app/dispatches/2023Q3/charts.json", "staff", {}),
        ],
        "settlements": [
            ("/app/settlements", "staff", {}),
            ("/app/settlements/hunan-2022/2023", "staff", {}),
        ],
        "service contracts": [
            ("/app/service-contracts/2024", "staff", {}),
            ("/app/service-contracts/2025", "staff", {}),
        ],
        "accounts": [
            ("/app/accounts", "admin", {}),
            (f"/app/accounts/{liaison}", "admin", {}),
        ],
        "notifications": [
            ("/app/notifications", "staff", {}),
            ("/app/notifications?unread=true", "staff", {}),
            ("/app/channels", "staff", {}),
            ("/app/deliveries", "admin", {}),
        ],
        "rewards": [
            ("/app/rewards/2023", "staff", {}),
            ("/app/rewards/2023?q=zz&status=eligible", "staff", {}),
            (f"/app/rewards/2023/explanation?association_id={x}&project_id={p}", "staff", {}),
            ("/app/evaluations/2023", "staff", {}),
            ("/app/evaluations/2023?all=true", "staff", {}),
        ],
        "imports": [
            ("/app/imports", "staff", {}),
            ("POST /app/imports?idempotency_key=lang-{lang}", "staff", {"files": upload}),
            ("POST /app/imports/confirm?idempotency_key=c-{lang}", "staff", {"data": carried}),
        ],
    }
    found.data = {
        "北京湖南商会",
        "上海湖南商会",
        "北京",
        "新材料产业园",
        "华科实业有限公司",
        CATEGORY,
        ISSUE,
        ACTIVITY,
        PROVIDER,
        SUBSIDY_REASON,
        APPROVER,
        REFERENCE,
        FILE_NAME,
        *HEADERS,
        *(str(v) for v in row(1) + row(2) if isinstance(v, str)),
        api.app.state.services.evaluation_rules.purchased_service_clause,
    }
    return found


def _approve(api: Api) -> None:
    _ok(
        api.post(
            "/settlements/hunan-2022/2023/approval",
            {"occurred_on": "2024-01-20", "by": APPROVER, "reference": REFERENCE},
            role="staff",
        )
    )


def fetch(api: Api, lang: str, path: str, role: str, options: dict[str, Any]) -> str:
    api.client.cookies.set(LANGUAGE_COOKIE, lang)
    extra = {k: v for k, v in options.items() if k == "association_id"}
    if path.startswith("POST "):
        sent = {k: v for k, v in options.items() if k in ("files", "data")}
        r = api.request("POST", path[5:].format(lang=lang), role, **extra, **sent)
    else:
        r = api.get(path, role=role, **extra)
    assert r.status_code in (200, 422), (path, r.status_code, r.text[:500])
    if r.headers["content-type"].startswith("application/json"):
        return str(r.json())
    return unescape(r.text)


def chinese_left(html: str, data: Iterable[str]) -> list[str]:
    """The Chinese of a page once its user data and the languages' own names are taken out."""
    for value in sorted((*data, *OWN_NAMES), key=len, reverse=True):
        if value:
            html = html.replace(value, "")
    return CHINESE.findall(html)


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], list[str]]:
    """Every page of every group in both languages (one province, made once)."""
    from datetime import datetime

    from tests.e2e.conftest import _client

    folder = tmp_path_factory.mktemp("languages")
    clock = [datetime(2024, 1, 20, 2)]
    made = _client(f"sqlite:///{folder / 'api.db'}", clock, files_dir=str(folder / "files"))
    api = next(made)
    try:
        demo = province(api)
        pages: dict[tuple[str, str], list[str]] = {}
        for lang in ("en", "zh"):
            for group, wanted in demo.pages.items():
                pages[(group, lang)] = [fetch(api, lang, *page) for page in wanted]
        _approve(api)
        for lang in ("en", "zh"):  # an approved settlement, listed and on its page
            for path in ("/app/settlements", "/app/settlements/hunan-2022/2023"):
                pages[("settlements", lang)].append(fetch(api, lang, path, "staff", {}))
        pages[("data", "")] = sorted(demo.data)
        yield pages
    finally:
        made.close()


GROUPS = (
    "start",
    "associations",
    "dispatches",
    "settlements",
    "service contracts",
    "accounts",
    "notifications",
    "imports",
    "rewards",
)


CLAUSE_CITATION = re.compile(r"\[[一二三四五六七八九十()\d]+\]")


@pytest.mark.parametrize("group", GROUPS)
def test_an_english_page_has_no_chinese_but_the_user_data(
    shown: dict[tuple[str, str], list[str]], group: str
) -> None:
    data = shown[("data", "")]
    for page in shown[(group, "en")]:
        # An explanation cites the clauses of the policy's Chinese original as numbered there.
        page = CLAUSE_CITATION.sub("", page)
        assert chinese_left(page, data) == [], page[page.find("<main") :][:3000]


# Chinese words of each group's pages as they were before the pages went through the catalogue.
CHINESE_WORDS = {
    "start": (
        "待办",
        "应于 2024-01-06 前回访，已逾期 14 天",
        "「用工」2023-07-10 提出，已 194 天未办结",
        "2023 年度奖励结算（hunan-2022）",
        "第 0 版，2024-01-20 冻结，合计 25000.00 元",
        "最近的季度调度",
        "2023Q4 季度工作调度</a>（第 1 次修订，",
        "最近的结算",
        "最近的检查点",
        "尚无检查点。",
        "本会引荐项目（",
        "本会主页",
    ),
    "rewards": (
        "2023 年度奖励测算",
        "政策 hunan-2022 · 共 ",
        '奖励合计 <strong class="num">',
        '<th class="num">引荐占比（%）</th>',
        "计算说明：",
        "条事件",
        "2023 年度奖励计算说明",
        "起施行）",
        "（名称含“zz”）",
        "2023 年度商协会考评",
        "<dt>同分规则</dt>",
        "<dt>参评商协会</dt>",
        "按排名授予称号",
        "授予前几名",
    ),
    "associations": (
        "商协会（2）",
        "登记商协会",
        "登记引荐项目",
        "省外湖南商会",
        "正常",
        "引荐项目（",
        "宣传 · 湘商回归推介会（北京）（9）",
        "活动（1）",
        "引荐商协会及占比（合计 100%）",
        "商协会 1",
        "占比（%）",
        "投资方称号",
        "世界500强",
        "跟踪服务专员（1）",
        "取消指派",
        "指派跟踪服务专员",
        "如：北京、新加坡",
        "人次 / 数量",
        "计划总投资（元）",
    ),
    "dispatches": (
        "每个已结束的季度由系统自动生成并冻结；后补的记录形成新的修订版，原版永不改写。",
        "2023Q3 季度工作调度",
        "2023-07-01 至 2023-09-30",
        "第 1 次修订",
        "修订 1",
        "（当前查看）",
        "本次修订的变化",
        "进展清单变化",
        "全省",
        "年初至今到位（万元）",
        "各商协会（",
        "项目进展（",
        "签约超过 3 个月未到位资金、未开工（",
        "回访逾期（",
        "长沙市",
        "已投产",
        "各市州到位资金（万元）",
        "到位资金（万元）",
    ),
    "settlements": (
        "奖励结算",
        "已审批",
        "待审批",
        "未支付",
        "冻结结算",
        "修订已冻结的结算",
        "2023 年度奖励结算",
        "起施行的版本）",
        "第 0 版",
        "一致",
        "审计：按事件日志重新计算",
        "记录审批",
        "各商协会",
        "封顶前（元）",
        "2024-01-20 省商务厅（湘商发〔2024〕1号）",
    ),
    "service contracts": (
        "2024 年度政府购买服务",
        "年度上限 3,000,000.00 元",
        "← 2023 年度",
        "2025 年度 →",
        "100,000.00 元",
        "合同余额",
        "补助发放（1）",
        "发放补助",
        "2025 年度尚无购买服务合同。",
        "登记合同",
        "服务机构",
    ),
    "accounts": (
        "账号管理（",
        "系统管理员",
        "商协会联络员",
        "仅令牌",
        "新建账号",
        "← 全部账号",
        "未设置",
        "令牌（1）",
        "停用账号",
        "停用后该账号的令牌和会话立即失效，无法登录。",
        "重设密码",
        "签发令牌",
        "不填为 90 天",
    ),
    "notifications": (
        "通知（5）",
        "只看未读",
        "全部通知",
        "通知方式",
        "标为已读",
        "台账.xlsx 导入完成",
        "站内通知总是开启（页头的铃铛）",
        "钉钉加签密钥",
        "通知投递（失败：0）",
        "待发送",
        "没有记录。",
    ),
    "imports": (
        "导入项目台账",
        "上传台账",
        "尚无导入记录。",
        "预览（尚未导入）",
        "可导入 <strong>1</strong> 行；有问题 <strong>1</strong> 行；已登记 0 行；合计行 0 行。",
        "只导入可导入的 1 行（有问题的行不导入）",
        "确认导入",
        "下载问题行（Excel）",
        "有问题行，未导入任何行",
    ),
}


@pytest.mark.parametrize("group", GROUPS)
def test_a_chinese_page_keeps_its_chinese_words(
    shown: dict[tuple[str, str], list[str]], group: str
) -> None:
    together = "\n".join(shown[(group, "zh")])
    missing = [words for words in CHINESE_WORDS[group] if words not in together]
    assert missing == [], re.findall(r"[^<>]*[\u4e00-\u9fff][^<>]*", together)


def test_english_pages_say_the_codes_and_the_frozen_words_in_english(
    shown: dict[tuple[str, str], list[str]],
) -> None:
    start = "\n".join(shown[("start", "en")])
    assert "Follow-up visit due by 2024-01-06, overdue by 14 days" in start
    assert "“用工” raised on 2023-07-10, open for 194 days" in start
    assert "2023 reward settlement (hunan-2022)" in start
    dispatch = "\n".join(shown[("dispatches", "en")])
    assert "production started (2023-07-01)" in dispatch and "Changsha" in dispatch
    assert "in production" in dispatch and "Push to reach capacity" in dispatch
    assert "Funds arrived by city (ten thousand yuan)" in dispatch  # the charts' data
    associations = "\n".join(shown[("associations", "en")])
    assert "Hunan chamber outside the province" in associations
    assert "Fortune Global 500" in associations and "C Manufacturing" in associations
    accounts = "\n".join(shown[("accounts", "en")])
    assert "Association liaison" in accounts and "Administrator" in accounts
    contract = "\n".join(shown[("service contracts", "en")])
    assert ">北京湖南商会</option>" in contract  # a name people gave, as given
    assert ">Association 1 <span" in associations  # the referral form's rows
    imports = "\n".join(shown[("imports", "en")])
    assert "Preview (not imported yet)" in imports and "has problems" in imports
