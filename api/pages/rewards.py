"""Staff pages for rewards and the annual evaluation (DESIGN §17, issue 20): a year's reward
figures per association, 50 associations a page and searchable by name, each project's figure
with its explanation (the ordered clause-cited steps, their parameters and the dates those took
effect) — the very page `GET /rewards/{year}?page=` answers, through the same service; the
evaluation ranking with the published top N, the tie rule and the designations held, and the form
that awards designations from the ranking (the command of `POST /evaluations/{year}/designations`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Permission, Principal
from api.pages.associations import ASSOCIATION_DESIGNATIONS_EN
from api.pages.forms import FormState, SubmittedForm, submit
from api.pages.projects import Input
from api.pages.render import page_language, render, words
from api.pages.session import PageUser, need, page_writer
from api.read_models import not_ready
from api.routers.evaluation import DesignationAwardIn
from domain import errors
from domain.values import ASSOCIATION_DESIGNATIONS, business_date
from i18n import N_
from projections.evaluation import Evaluation
from projections.policy.evaluation_rules import METRICS
from projections.policy.explain import STATUS_LABELS
from projections.rewards import RewardQuery
from services.bootstrap import Services
from services.designations import award_designations_from_ranking
from services.staff_views import associations_named, designations_held, policies_for_year

router = APIRouter(prefix="/app", include_in_schema=False)
P = Permission
PAGE_SIZE = 50
MAX_QUERY = 100

DESIGNATION_INPUTS = (
    Input(
        "designation",
        N_("Designation"),
        "select",
        ASSOCIATION_DESIGNATIONS,
        required=True,
        english=ASSOCIATION_DESIGNATIONS_EN,
    ),
    Input("top", N_("Top places to award"), "integer", hint=N_("Empty: the places the rules set")),
    Input("occurred_on", N_("Date awarded"), "date", hint=N_("Empty: today")),
)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _year(year: int) -> int:
    if not 2000 <= year <= 2100:
        raise errors.InvalidInput("year must be a whole year such as 2023", field="year")
    return year


# ---- rewards ---------------------------------------------------------------------------------


@router.get("/rewards")
def rewards_latest(request: Request, user: PageUser) -> Response:
    """Last year's figures: the year a settlement is made for."""
    need(user, P.READ)
    last_year = business_date(request.app.state.clock()).year - 1
    return RedirectResponse(f"/app/rewards/{last_year}", status_code=303)


@router.get("/rewards/{year}")
def rewards(
    request: Request,
    year: int,
    user: PageUser,
    policy: str = "",
    q: str = "",
    status: str = "",
    page: int = 1,
) -> Response:
    """A page of 50 associations with their project rows; each row's explanation is read when
    it is opened (`/app/rewards/{year}/explanation`), so a page stays small on a phone."""
    need(user, P.READ)
    services = _services(request)
    chosen = _policy(services, _year(year), policy)
    if status and status not in STATUS_LABELS:
        raise errors.InvalidInput(f"unknown status {status!r}", field="status")
    text = q.strip()[:MAX_QUERY]
    page = max(1, min(page, 100_000))
    try:
        found = associations_named(services.read_models, text) if text else None
    except LookupError as e:  # the read models are still being set up
        raise not_ready(e) from e
    query = RewardQuery(
        page=page, size=PAGE_SIZE, status=status or None, explain=False, association_ids=found
    )
    position, body = services.settlements.figures_at(chosen, year, query)
    association_ids = [a["association_id"] for a in body["associations"]]
    project_ids = {p["project_id"] for a in body["associations"] for p in a["projects"]}
    names = services.read_models.association_names(association_ids)
    project_names = services.read_models.project_names(project_ids)
    pages = max(1, -(-int(body["total"]) // PAGE_SIZE))

    def link(to_page: int) -> str:
        params = {"policy": chosen, "q": text, "status": status, "page": to_page}
        return f"/app/rewards/{year}?" + urlencode({k: v for k, v in params.items() if v})

    return render(
        request,
        "app/rewards.html",
        {
            "page_title": words(request)(N_("%(year)s reward figures")) % {"year": year},
            "year": year,
            "body": body,
            "position": position,
            "policy": chosen,
            "policy_choices": policies_for_year(services.policies, year),
            "search_text": text,
            "status": status,
            "status_labels": _status_labels(request),
            "names": names,
            "project_names": project_names,
            "page": page,
            "pages": pages,
            "previous_link": link(page - 1) if page > 1 else None,
            "next_link": link(page + 1) if page < pages else None,
            "download": f"/rewards/{year}?" + urlencode({"policy": chosen, "format": "xlsx"}),
        },
    )


@router.get("/rewards/{year}/explanation")
def explanation(
    request: Request,
    year: int,
    user: PageUser,
    association_id: str,
    project_id: str,
    policy: str = "",
) -> Response:
    """One project row's explanation, as `GET /rewards/{year}?association_id=` gives it: the
    ordered clause-cited steps with their parameters and the dates those took effect. Inside
    the rewards page (htmx) only the steps; opened by itself, a page."""
    need(user, P.READ)
    services = _services(request)
    chosen = _policy(services, _year(year), policy)
    lang = page_language(request)
    query = RewardQuery(association_id=association_id, lang=lang)
    body = services.settlements.figures(chosen, year, query)
    rows = [p for a in body["associations"] for p in a["projects"]]
    row = next((p for p in rows if p["project_id"] == project_id), None)
    if row is None:
        raise errors.NotFound(
            f"no figure of project {project_id} for association {association_id} in {year}",
            field="project_id",
        )
    names = services.read_models.association_names([association_id])
    project_names = services.read_models.project_names([project_id])
    return render(
        request,
        "app/reward_explanation.html",
        {
            "page_title": words(request)(N_("%(year)s reward, how it was computed"))
            % {"year": year},
            "fragment": request.headers.get("HX-Request") == "true",
            "year": year,
            "policy": chosen,
            "row": row,
            "lang": lang,
            "association_name": names.get(association_id, association_id),
            "association_id": association_id,
            "project_name": project_names.get(project_id, project_id),
            "status_labels": _status_labels(request),
        },
    )


def _status_labels(request: Request) -> dict[str, str]:
    """Each eligibility status's label in the page's language."""
    english = page_language(request) == "en"
    return {code: pair[1] if english else pair[0] for code, pair in STATUS_LABELS.items()}


def _policy(services: Services, year: int, asked: str) -> str:
    """The policy asked for, else Hunan 2022 when in force, else the first in force."""
    if asked:
        return asked
    choices = policies_for_year(services.policies, year)
    if "hunan-2022" in choices:
        return "hunan-2022"
    if not choices:
        raise errors.NotFound(f"no loaded policy is in force in {year}", field="year")
    return choices[0]


# ---- the evaluation --------------------------------------------------------------------------


def _evaluation(services: Services, year: int) -> Evaluation:
    try:
        return services.evaluations.evaluation(year)
    except LookupError as e:
        raise not_ready(e) from e


@router.get("/evaluations")
def evaluations_latest(request: Request, user: PageUser) -> Response:
    """The latest evaluation year that has ended (1 December – 30 November)."""
    need(user, P.READ)
    services = _services(request)
    today = business_date(request.app.state.clock())
    _, end = services.evaluation_rules.period(today.year)
    year = today.year if today > end else today.year - 1
    return RedirectResponse(f"/app/evaluations/{year}", status_code=303)


@router.get("/evaluations/{year}")
def evaluation(request: Request, year: int, user: PageUser, all: bool = False) -> Response:
    need(user, P.READ)
    return _evaluation_page(request, user, _year(year), FormState(), show_all=all)


def _evaluation_page(
    request: Request,
    user: Principal,
    year: int,
    state: FormState,
    *,
    show_all: bool = False,
    status: int = 200,
) -> Response:
    services = _services(request)
    frozen = services.documents.latest("evaluation", str(year))
    if frozen is not None:  # the scheduler froze the closed year: what was published
        body, tie_break = frozen.content, services.evaluation_rules.tie_break
        evaluated = len(body["items"])
        shown = body["items"] if show_all else [i for i in body["items"] if i["published"]]
    else:
        result = _evaluation(services, year)
        body, tie_break = result.as_dict(published_only=not show_all), result.rules.tie_break
        evaluated, shown = len(result.items), body["items"]
    held = designations_held(services.ledger, [i["association_id"] for i in shown], year)
    english = page_language(request) == "en"
    return render(
        request,
        "app/evaluation.html",
        {
            "page_title": words(request)(N_("%(year)s association evaluation")) % {"year": year},
            "year": year,
            "body": body,
            "items": shown,
            "evaluated": evaluated,
            "show_all": show_all,
            "indicators": body["rules"]["indicators"],
            "frozen": frozen.summary() if frozen is not None else None,
            "held": held,
            "designation_labels": ASSOCIATION_DESIGNATIONS_EN
            if english
            else ASSOCIATION_DESIGNATIONS,
            "designation_ranks": services.evaluation_rules.designations,
            "may_award": user.can(P.DESIGNATIONS),
            "inputs": DESIGNATION_INPUTS,
            "form": state,
            "tie_labels": {
                **{m: METRICS[m][2 if english else 3] for m in tie_break if m in METRICS},
                "association_id": "association id" if english else "商协会编号",
            },
        },
        status=status,
    )


@router.post("/evaluations/{year}/designations")
def award(request: Request, year: int, user: PageUser, form: SubmittedForm) -> Response:
    w = page_writer(request, user, P.DESIGNATIONS)
    services = _services(request)
    _year(year)
    state = FormState()

    def run(body: DesignationAwardIn) -> dict[str, Any]:
        ranking = _evaluation(services, year)
        with w.lock:
            return award_designations_from_ranking(
                w.ledger,
                w.context(body),
                ranking,
                body.designation,
                top=body.top,
                occurred_on=body.occurred_on,
            )

    if submit(DesignationAwardIn, form, run, state) is None:
        return _evaluation_page(request, user, year, state, status=422)
    return RedirectResponse(f"/app/evaluations/{year}#designations", status_code=303)
