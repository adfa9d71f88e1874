"""Associations and referrals (DESIGN §17, issue 20): the list and each association's page with
its activities, designations and projects; registering an association and recording an activity
(staff; a liaison its own association's); referring a project (staff, or a liaison with its own
association among the referrers). A liaison sees nothing of other associations.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Permission, Principal
from api.pages.forms import FormState, SubmittedForm, submit
from api.pages.paging import table_page
from api.pages.projects import Input
from api.pages.render import page_language, render
from api.pages.session import PageUser, need, page_writer
from api.schemas import ActivityIn, AssociationIn, ProjectIn
from domain.application import Ledger
from domain.project import STAGE_LABELS
from domain.values import (
    ACTIVITY_KINDS,
    ASSOCIATION_DESIGNATIONS,
    ASSOCIATION_KINDS,
    CITIES,
    DESIGNATIONS,
    INDUSTRIES,
    ORIGINS,
    PROJECT_TYPES,
)
from projections.queries import ReadModels

router = APIRouter(prefix="/app", include_in_schema=False)
P = Permission
REFERRAL_ROWS = 3

ASSOCIATION_INPUTS = (
    Input("name", "名称", required=True),
    Input("kind", "类别", "select", ASSOCIATION_KINDS, required=True),
    Input("based_in", "所在地", required=True, hint="如：北京、新加坡"),
    Input("contact", "联系方式"),
)
ACTIVITY_INPUTS = (
    Input("kind", "活动类别", "select", ACTIVITY_KINDS, required=True),
    Input("occurred_on", "日期", "date", required=True),
    Input("description", "活动内容", "textarea", required=True),
    Input("count", "人次 / 数量", "integer"),
)
PROJECT_INPUTS = (
    Input("name", "项目名称", required=True),
    Input("investor", "投资方", required=True),
    Input(
        "industry",
        "行业门类",
        "select",
        {code: f"{code} {label}" for code, label in INDUSTRIES.items()},
        required=True,
    ),
    Input("project_type", "项目类型", "select", PROJECT_TYPES, required=True),
    Input("origin", "项目来源", "select", ORIGINS, required=True),
    Input("city", "落地市州", "select", CITIES, required=True),
    Input("county", "县市区"),
    Input("park", "园区"),
    Input("planned_investment", "计划总投资（元）", "money", required=True),
    Input("occurred_on", "引荐日期", "date", required=True),
)


def _read(request: Request) -> ReadModels:
    read: ReadModels = request.app.state.services.read_models
    return read


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


@router.get("/associations")
def associations(request: Request, user: PageUser, page: int = 1) -> Response:
    """Every association, 50 a page (a province has 2,000), with the total."""
    if not user.can(P.READ):
        if user.association_id:
            return RedirectResponse(f"/app/associations/{user.association_id}", status_code=303)
        need(user, P.READ)
    rows = _read(request).associations()
    return render(
        request,
        "app/associations.html",
        {
            "page_title": "商协会",
            "table": table_page(rows, page, lambda to_page: f"/app/associations?page={to_page}"),
            "kinds": ASSOCIATION_KINDS,
            "may_register": user.can(P.ASSOCIATIONS),
        },
    )


@router.get("/associations/new")
def register_form(request: Request, user: PageUser) -> Response:
    need(user, P.ASSOCIATIONS)
    return _form(request, "登记商协会", "/app/associations/new", ASSOCIATION_INPUTS, FormState())


@router.post("/associations/new")
def register(request: Request, user: PageUser, form: SubmittedForm) -> Response:
    w = page_writer(request, user, P.ASSOCIATIONS)
    state = FormState()
    created = submit(
        AssociationIn,
        form,
        lambda body: w.create(w.ledger.register_association, body),
        state,
        page_language(request),
    )
    if created is not None:
        return RedirectResponse(f"/app/associations/{created[0]}", status_code=303)
    return _form(request, "登记商协会", "/app/associations/new", ASSOCIATION_INPUTS, state, 422)


@router.get("/associations/{association_id}")
def association(request: Request, association_id: str, user: PageUser) -> Response:
    user.check_reads_association(association_id)
    found = _ledger(request).get_association(association_id)
    projects = _read(request).ledger_page(association_id=str(found.id), size=200)
    return render(
        request,
        "app/association.html",
        {
            "page_title": found.name,
            "a": found,
            "kinds": ASSOCIATION_KINDS,
            "activity_kinds": ACTIVITY_KINDS,
            "designation_labels": ASSOCIATION_DESIGNATIONS,
            "projects": projects.items,
            "total_projects": projects.total,
            "city_labels": CITIES,
            "stage_labels": STAGE_LABELS,
            "may_record": _may_record_activity(user, str(found.id)),
            "may_refer": user.can(P.REFER_PROJECT, P.REFER_OWN_PROJECT),
        },
    )


def _may_record_activity(user: Principal, association_id: str) -> bool:
    return user.can(P.ACTIVITIES) or (
        user.can(P.OWN_ACTIVITIES) and user.association_id == association_id
    )


@router.get("/associations/{association_id}/activities/new")
def activity_form(request: Request, association_id: str, user: PageUser) -> Response:
    user.check_records_activity(association_id)
    found = _ledger(request).get_association(association_id)
    action = f"/app/associations/{association_id}/activities/new"
    return _form(request, f"记录活动：{found.name}", action, ACTIVITY_INPUTS, FormState())


@router.post("/associations/{association_id}/activities/new")
def record_activity(
    request: Request, association_id: str, user: PageUser, form: SubmittedForm
) -> Response:
    user.check_records_activity(association_id)
    found = _ledger(request).get_association(association_id)
    w = page_writer(request, user)
    state = FormState()
    done = submit(
        ActivityIn,
        form,
        lambda body: w.association(w.ledger.record_activity, association_id, body),
        state,
        page_language(request),
    )
    if done is not None:
        return RedirectResponse(f"/app/associations/{association_id}#activities", status_code=303)
    action = f"/app/associations/{association_id}/activities/new"
    return _form(request, f"记录活动：{found.name}", action, ACTIVITY_INPUTS, state, 422)


# ---- referring a project -------------------------------------------------------------------


def _referral_choices(request: Request, user: Principal) -> dict[str, str]:
    if user.can(P.READ):
        return {str(a): str(name) for a, name in _read(request).association_names().items()}
    if user.association_id:
        own = _ledger(request).get_association(user.association_id)
        return {str(own.id): own.name}
    return {}


def _project_form(
    request: Request, user: Principal, state: FormState, status: int = 200
) -> Response:
    if not state.values and user.association_id and not user.can(P.READ):
        state.values = {
            "referrals[0].association_id": user.association_id,
            "referrals[0].share": "100",
        }
    return render(
        request,
        "app/project_form.html",
        {
            "page_title": "登记引荐项目",
            "title": "登记引荐项目",
            "action": "/app/projects/new",
            "inputs": PROJECT_INPUTS,
            "form": state,
            "choices": _referral_choices(request, user),
            "referral_rows": range(REFERRAL_ROWS),
            "designations": DESIGNATIONS,
        },
        status=status,
    )


@router.get("/projects/new")
def refer_form(request: Request, user: PageUser) -> Response:
    need(user, P.REFER_PROJECT, P.REFER_OWN_PROJECT)
    return _project_form(request, user, FormState())


@router.post("/projects/new")
def refer(request: Request, user: PageUser, form: SubmittedForm) -> Response:
    w = page_writer(request, user, P.REFER_PROJECT, P.REFER_OWN_PROJECT)
    state = FormState()

    def run(body: ProjectIn) -> Any:
        w.user.check_refers(r.association_id for r in body.referrals)
        return w.create(w.ledger.refer_project, body)

    values = dict(form)
    picked = form.getlist("designations") if hasattr(form, "getlist") else []
    created = submit(
        ProjectIn, _with_designations(values, picked), run, state, page_language(request)
    )
    if created is not None:
        return RedirectResponse(f"/app/projects/{created[0]}", status_code=303)
    return _project_form(request, user, state, 422)


def _with_designations(values: dict[str, Any], picked: list[Any]) -> dict[str, Any]:
    """Checked designations as the API's list of objects (`designations[i].kind`)."""
    values.pop("designations", None)
    for index, kind in enumerate(p for p in picked if isinstance(p, str)):
        values[f"designations[{index}].kind"] = kind
    return values


def _form(
    request: Request,
    title: str,
    action: str,
    inputs: Any,
    state: FormState,
    status: int = 200,
) -> Response:
    return render(
        request,
        "app/simple_form.html",
        {"page_title": title, "title": title, "action": action, "inputs": inputs, "form": state},
        status=status,
    )
