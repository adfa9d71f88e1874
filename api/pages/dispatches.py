"""Staff pages for the quarterly dispatch (季调度, DESIGN §17, issue 20): the frozen documents,
each quarter's figures for the province, every city and every association, year to date, the
progress list, stalled signings and overdue follow-ups; three charts (funds by city, funds and
signings by quarter, the quarter's funnel), each drawn by ECharts from a JSON endpoint and with
its table beside it; revisions and what they changed; downloads through the API.

The long tables (associations, the progress list, stalled signings, overdue follow-ups) are
shown 50 rows a page, each table paged by its own query parameter (`progress_page=` …) with
the total and previous/next links; the province, city and chart tables stay whole, and the
downloads keep every row.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from adapters.documents import Document, DocumentStore
from api.auth import Permission
from api.pages.paging import table_page
from api.pages.render import label_in, page_language, render, words
from api.pages.session import PageUser, need
from domain import errors
from domain.periods import parse_quarter
from domain.project import STAGE_LABELS
from domain.values import CITIES
from i18n import N_
from projections.dispatch import NEXT_STEPS
from projections.history import CITIES_EN, STAGE_LABELS_EN

router = APIRouter(prefix="/app", include_in_schema=False)
P = Permission

METRIC_LABELS = {
    "referrals": "引荐项目",
    "visits": "考察",
    "negotiations": "洽谈",
    "signings": "签约项目",
    "signed_amount_fen": "签约金额（万元）",
    "funds_fen": "到位资金（万元）",
    "production_starts": "投产",
    "capacity_reached": "达产",
    "follow_ups": "回访",
    "issues_raised": "问题提出",
    "issues_closed": "问题办结",
    "activities": "活动",
    "activity_reach": "活动覆盖人次",
    "promotion": "宣传推介",
    "service": "服务",
    "talent": "人才引进",
    "technology": "技术引进",
}
METRIC_LABELS_EN = {
    "referrals": "Referrals",
    "visits": "Visits",
    "negotiations": "Negotiations",
    "signings": "Signings",
    "signed_amount_fen": "Contract amount (ten thousand yuan)",
    "funds_fen": "Funds arrived (ten thousand yuan)",
    "production_starts": "Production starts",
    "capacity_reached": "Capacity reached",
    "follow_ups": "Follow-up visits",
    "issues_raised": "Issues raised",
    "issues_closed": "Issues closed",
    "activities": "Activities",
    "activity_reach": "People reached by activities",
    "promotion": "Promotion",
    "service": "Service",
    "talent": "Talent brought in",
    "technology": "Technology brought in",
}
# A dispatch keeps each stage's next step in Chinese (`projections.dispatch.NEXT_STEPS`, frozen
# with the document); an English page says it from the stage's code.
NEXT_STEPS_EN = {
    "referred": "Arrange the investor's visit",
    "visited": "Organise negotiations",
    "negotiating": "Push for the signing",
    "signed": "Push for registration and funds",
    "registered": "Push for construction to start",
    "under_construction": "Push for completion and production",
    "in_production": "Push to reach capacity; follow up regularly",
    "at_capacity": "Follow up regularly; serve the company",
}
# The frozen document's progress words (`projections.as_of.progress_in`, Chinese), each said
# again in English for an English page: (pattern, English with the pattern's groups).
PROGRESS_EN = (
    (re.compile(r"考察(\d+)次"), r"\1 visits"),
    (re.compile(r"洽谈(\d+)次"), r"\1 negotiations"),
    (re.compile(r"回访(\d+)次"), r"\1 follow-up visits"),
    (re.compile(r"签约（(.*)）"), r"signed (\1)"),
    (re.compile(r"注册（(.*)）"), r"registered (\1)"),
    (re.compile(r"开工（(.*)）"), r"construction started (\1)"),
    (re.compile(r"投产（(.*)）"), r"production started (\1)"),
    (re.compile(r"达产（(.*)）"), r"capacity reached (\1)"),
    (re.compile(r"资金到位(.*)元"), r"funds arrived: \1 yuan"),
    (re.compile(r"新提问题诉求(\d+)项"), r"\1 issues raised"),
    (re.compile(r"办结问题诉求(\d+)项"), r"\1 issues closed"),
)


def progress_en(items: Sequence[str]) -> list[str]:
    """A progress list of a frozen dispatch in English (an item of no known shape as it is)."""
    said = []
    for item in items:
        for pattern, english in PROGRESS_EN:
            found = pattern.fullmatch(item)
            if found is not None:
                said.append(found.expand(english))
                break
        else:
            said.append(item)
    return said


MONEY_METRICS = ("signed_amount_fen", "funds_fen")
TABLE_METRICS = (
    "referrals",
    "visits",
    "negotiations",
    "signings",
    "signed_amount_fen",
    "funds_fen",
)
FUNNEL = ("referrals", "visits", "negotiations", "signings", "production_starts")
TREND_QUARTERS = 8
# The long tables of a dispatch page: each one's anchor, paged by `{name}_page`.
LONG_TABLES = ("associations", "progress", "stalled", "overdue")


def figure(metric: str, value: Any) -> str:
    """A dispatch figure for people: money in 万元 (documents keep fen), counts as they are."""
    number = int(value or 0)
    if metric in MONEY_METRICS:
        return f"{Decimal(number) / 1_000_000:,.2f}"
    return f"{number:,}"


def wan_text(fen: Any) -> str:
    """Fen as 万元 in plain decimal text for a chart (ECharts reads numeric strings; no float)."""
    return f"{Decimal(int(fen or 0)) / 1_000_000:.2f}"


def _store(request: Request) -> DocumentStore:
    store: DocumentStore = request.app.state.services.documents
    return store


def _quarter(text: str) -> str:
    try:
        year, q = parse_quarter(text)
    except ValueError:
        raise errors.InvalidInput("write the quarter as 2023Q4", field="quarter") from None
    return f"{year}Q{q}"


def _document(request: Request, quarter: str, revision: int | None = None) -> Document:
    found = _store(request).get("dispatch", quarter, revision)
    if found is None:
        raise errors.NotFound(f"no dispatch for {quarter}", field="quarter")
    return found


@router.get("/dispatches")
def dispatches(request: Request, user: PageUser) -> Response:
    need(user, P.READ)
    items = _store(request).summaries("dispatch")
    items.sort(key=lambda d: (d["period"], d["revision"]), reverse=True)
    title = words(request)(N_("Quarterly dispatches"))
    return render(request, "app/dispatches.html", {"page_title": title, "items": items})


@router.get("/dispatches/{quarter}")
def dispatch(
    request: Request,
    quarter: str,
    user: PageUser,
    revision: int | None = None,
    associations_page: int = 1,
    progress_page: int = 1,
    stalled_page: int = 1,
    overdue_page: int = 1,
) -> Response:
    need(user, P.READ)
    document = _document(request, _quarter(quarter), revision)
    content = document.content
    names: dict[str, str] = content.get("association_names", {})
    quarter_figures = content["figures"]["quarter_figures"]
    ytd = content["figures"]["year_to_date"]
    revisions = _store(request).summaries("dispatch", document.period)
    asked = {
        "associations": associations_page,
        "progress": progress_page,
        "stalled": stalled_page,
        "overdue": overdue_page,
    }
    params = {f"{name}_page": page for name, page in asked.items()}
    if revision is not None:
        params["revision"] = revision
    associations = sorted(
        (
            (names.get(a, a), figures, ytd["by_association"].get(a, {}))
            for a, figures in quarter_figures["by_association"].items()
        ),
        key=lambda row: (-int(row[1].get("funds_fen", 0)), row[0]),
    )
    long_rows: dict[str, Sequence[Any]] = {
        "associations": associations,
        "progress": content["progress"],
        "stalled": content["stalled_signings"],
        "overdue": content["overdue_follow_ups"],
    }
    base = f"/app/dispatches/{document.period}"

    def link_to(name: str) -> Callable[[int], str]:
        """A page of table `name`, keeping the other tables' pages and the revision, landing
        on the table."""

        def link(to_page: int) -> str:
            wanted = {k: v for k, v in params.items() if k == "revision" or v > 1}
            wanted[f"{name}_page"] = to_page
            return f"{base}?{urlencode(wanted)}#{name}"

        return link

    tables = {name: table_page(long_rows[name], asked[name], link_to(name)) for name in LONG_TABLES}
    lang = page_language(request)
    return render(
        request,
        "app/dispatch.html",
        {
            "page_title": words(request)(N_("%(period)s dispatch")) % {"period": document.period},
            "doc": document,
            "content": content,
            "province": quarter_figures["province"],
            "ytd": ytd["province"],
            "cities": [
                (
                    label_in(lang, CITIES, code, CITIES_EN),
                    quarter_figures["by_city"].get(code, {}),
                    ytd["by_city"].get(code, {}),
                )
                for code in CITIES
            ],
            "tables": tables,
            "metrics": TABLE_METRICS,
            "labels": METRIC_LABELS,
            "labels_en": METRIC_LABELS_EN,
            "figure": figure,
            "city_labels": CITIES,
            "city_labels_en": CITIES_EN,
            "stage_labels": STAGE_LABELS,
            "stage_labels_en": STAGE_LABELS_EN,
            "next_steps": NEXT_STEPS,
            "next_steps_en": NEXT_STEPS_EN,
            "progress_en": progress_en,
            "revisions": revisions,
        },
    )


# The province's figures of each dispatch a trend has drawn, by document id (a stored document
# never changes): a trend of eight quarters would otherwise parse eight whole dispatches, about
# 9 MB of JSON each at province scale, on every chart request.
_PROVINCE_FIGURES: dict[int, dict[str, Any]] = {}
_PROVINCE_FIGURES_KEPT = 256
_province_lock = threading.Lock()


def _province_figures(store: DocumentStore, summary: dict[str, Any]) -> dict[str, Any]:
    with _province_lock:
        found = _PROVINCE_FIGURES.get(int(summary["id"]))
    if found is not None:
        return found
    document = store.get("dispatch", str(summary["period"]), int(summary["revision"]))
    if document is None:  # not possible for a listed document; nothing to draw then
        return {}
    province: dict[str, Any] = document.content["figures"]["quarter_figures"]["province"]
    with _province_lock:
        if len(_PROVINCE_FIGURES) >= _PROVINCE_FIGURES_KEPT:
            _PROVINCE_FIGURES.pop(next(iter(_PROVINCE_FIGURES)))
        _PROVINCE_FIGURES[document.id] = province
    return province


@router.get("/dispatches/{quarter}/charts.json")
def dispatch_charts(
    request: Request, quarter: str, user: PageUser, revision: int | None = None
) -> JSONResponse:
    """The data of the dispatch page's three charts (the page draws them with ECharts)."""
    need(user, P.READ)
    document = _document(request, _quarter(quarter), revision)
    figures = document.content["figures"]["quarter_figures"]
    by_city = figures["by_city"]
    cities = [code for code in CITIES if by_city.get(code, {}).get("funds_fen")]
    trend = []
    store = _store(request)
    latest = {s["period"]: s for s in store.summaries("dispatch")}  # the last revision wins
    year, q = parse_quarter(document.period)
    for _ in range(TREND_QUARTERS):
        earlier = latest.get(f"{year}Q{q}")
        if earlier is not None:
            province = _province_figures(store, earlier)
            trend.append(
                {
                    "quarter": earlier["period"],
                    "funds_wan": wan_text(province.get("funds_fen")),
                    "signings": int(province.get("signings", 0)),
                }
            )
        year, q = (year - 1, 4) if q == 1 else (year, q - 1)
    province = figures["province"]
    lang = page_language(request)
    say = words(request)
    return JSONResponse(
        {
            "funds_by_city": {
                "title": say(N_("Funds arrived by city (ten thousand yuan)")),
                "labels": [label_in(lang, CITIES, c, CITIES_EN) for c in cities],
                "values": [wan_text(by_city[c]["funds_fen"]) for c in cities],
            },
            "by_quarter": {
                "title": say(N_("Funds arrived and signed projects by quarter")),
                "labels": [t["quarter"] for t in reversed(trend)],
                "funds": [t["funds_wan"] for t in reversed(trend)],
                "signings": [t["signings"] for t in reversed(trend)],
                "series_names": [
                    say(N_("Funds arrived (ten thousand yuan)")),
                    say(N_("Signed projects")),
                ],
                "axis_names": [say(N_("ten thousand yuan")), say(N_("projects"))],
            },
            "funnel": {
                "title": say(N_("Project progress this quarter")),
                "labels": [label_in(lang, METRIC_LABELS, m, METRIC_LABELS_EN) for m in FUNNEL],
                "values": [int(province.get(m, 0)) for m in FUNNEL],
            },
        },
        headers={"Cache-Control": "no-store"},
    )
