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
from api.pages.render import page_language, render, words
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
from i18n import N_
from projections.history import CITIES_EN, INDUSTRIES_EN, STAGE_LABELS_EN
from projections.queries import ReadModels

router = APIRouter(prefix="/app", include_in_schema=False)
P = Permission
REFERRAL_ROWS = 3

# The domain's codes in English words, for an English page (the domain's lists hold Chinese).
ASSOCIATION_KINDS_EN = {
    "domestic_chamber": "Hunan chamber outside the province",
    "overseas_chamber": "Overseas association",
    "alumni": "Alumni association",
}
ACTIVITY_KINDS_EN = {
    "promotion": "Promotion",
    "service": "Service",
    "talent": "Talent",
    "technology": "Technology",
}
ASSOCIATION_DESIGNATIONS_EN = {
    "advanced_unit": "Advanced unit in serving Hunan's investment promotion",
    "liaison_station": "Hunan investment liaison station",
    "ambassador": "Hunan investment ambassador",
}
DESIGNATIONS_EN = {
    "fortune_global_500": "Fortune Global 500",
    "china_500": "China Top 500",
    "china_private_500": "China Top 500 Private Enterprises",
    "little_giant": "Specialised and innovative 'little giant'",
    "industry_top_100": "Top 100 of its industry",
    "chain_strengthening": "Strengthens, fills or extends an industrial chain",
}
PROJECT_TYPES_EN = {"ordinary": "Ordinary project", "large_infrastructure": "Large infrastructure"}
ORIGINS_EN = {
    "overseas": "Overseas",
    "other_province": "Other province",
    "in_province": "In province",
}

ASSOCIATION_INPUTS = (
    Input("name", N_("Name"), required=True),
    Input(
        "kind", N_("Kind"), "select", ASSOCIATION_KINDS, required=True, english=ASSOCIATION_KINDS_EN
    ),
    Input("based_in", N_("Based in"), required=True, hint=N_("e.g. Beijing, Singapore")),
    Input("contact", N_("Contact")),
)
ACTIVITY_INPUTS = (
    Input(
        "kind",
        N_("Kind of activity"),
        "select",
        ACTIVITY_KINDS,
        required=True,
        english=ACTIVITY_KINDS_EN,
    ),
    Input("occurred_on", N_("Date"), "date", required=True),
    Input("description", N_("What was done"), "textarea", required=True),
    Input("count", N_("People / number"), "integer"),
)
PROJECT_INPUTS = (
    Input("name", N_("Project name"), required=True),
    Input("investor", N_("Investor"), required=True),
    Input(
        "industry",
        N_("Industry category"),
        "select",
        {code: f"{code} {label}" for code, label in INDUSTRIES.items()},
        required=True,
        english={code: f"{code} {label}" for code, label in INDUSTRIES_EN.items()},
    ),
    Input(
        "project_type",
        N_("Project type"),
        "select",
        PROJECT_TYPES,
        required=True,
        english=PROJECT_TYPES_EN,
    ),
    Input(
        "origin", N_("Origin of the project"), "select", ORIGINS, required=True, english=ORIGINS_EN
    ),
    Input("city", N_("City of landing"), "select", CITIES, required=True, english=CITIES_EN),
    Input("county", N_("County / district")),
    Input("park", N_("Park")),
    Input("planned_investment", N_("Planned investment (yuan)"), "money", required=True),
    Input("occurred_on", N_("Referred on"), "date", required=True),
)
REGISTER_TITLE = N_("Register an association")
REFER_TITLE = N_("Refer a project")


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
            "page_title": words(request)(N_("Associations")),
            "table": table_page(rows, page, lambda to_page: f"/app/associations?page={to_page}"),
            "kinds": ASSOCIATION_KINDS,
            "kinds_en": ASSOCIATION_KINDS_EN,
            "may_register": user.can(P.ASSOCIATIONS),
        },
    )


@router.get("/associations/new")
def register_form(request: Request, user: PageUser) -> Response:
    need(user, P.ASSOCIATIONS)
    return _form(request, REGISTER_TITLE, "/app/associations/new", ASSOCIATION_INPUTS, FormState())


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
    return _form(request, REGISTER_TITLE, "/app/associations/new", ASSOCIATION_INPUTS, state, 422)


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
            "kinds_en": ASSOCIATION_KINDS_EN,
            "activity_kinds": ACTIVITY_KINDS,
            "activity_kinds_en": ACTIVITY_KINDS_EN,
            "designation_labels": ASSOCIATION_DESIGNATIONS,
            "designation_labels_en": ASSOCIATION_DESIGNATIONS_EN,
            "projects": projects.items,
            "total_projects": projects.total,
            "city_labels": CITIES,
            "city_labels_en": CITIES_EN,
            "stage_labels": STAGE_LABELS,
            "stage_labels_en": STAGE_LABELS_EN,
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
    return _form(
        request, _activity_title(request, found.name), action, ACTIVITY_INPUTS, FormState()
    )


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
    return _form(request, _activity_title(request, found.name), action, ACTIVITY_INPUTS, state, 422)


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
            "page_title": words(request)(REFER_TITLE),
            "title": words(request)(REFER_TITLE),
            "action": "/app/projects/new",
            "inputs": PROJECT_INPUTS,
            "form": state,
            "choices": _referral_choices(request, user),
            "referral_rows": range(REFERRAL_ROWS),
            "designations": DESIGNATIONS,
            "designations_en": DESIGNATIONS_EN,
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


def _activity_title(request: Request, name: str) -> str:
    return words(request)(N_("Record an activity: %(name)s")) % {"name": name}


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
        {
            "page_title": words(request)(title),
            "title": words(request)(title),
            "action": action,
            "inputs": inputs,
            "form": state,
        },
        status=status,
    )
