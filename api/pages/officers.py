"""Officer assignment on the project page (DESIGN §17, issue 20): who follows the project, and
for staff a form to assign an officer and a button to unassign one — the schema and command of
`POST /projects/{id}/officers` (an `OfficerAssigned` / `OfficerUnassigned` event), refusals
(`unknown_officer`, already assigned) beside the field.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.account_schemas import OfficerIn
from api.auth import Permission, Principal
from api.pages.forms import FormState, SubmittedForm, place_refusals, submit
from api.pages.projects import Input, _readable_project, project_view
from api.pages.render import page_language, render
from api.pages.session import PageUser, page_writer
from domain.project import Project
from i18n import N_
from services.staff_views import officer_choices

router = APIRouter(prefix="/app", include_in_schema=False)
P = Permission


def officers_view(request: Request, user: Principal, project: Project) -> dict[str, Any]:
    """What the project page shows of its officers, and the assignment form for staff."""
    accounts = request.app.state.services.accounts.accounts()
    names = {a.id: a.name for a in accounts}
    assigned = [{"id": o, "name": names.get(o, o)} for o in project.assigned_officers]
    choices = {
        k: v
        for k, v in officer_choices(accounts, page_language(request)).items()
        if k not in project.assigned_officers
    }
    return {
        "officers": assigned,
        "may_assign": user.can(P.ASSIGN_OFFICERS),
        "officer_inputs": (
            Input(
                "officer_id",
                N_("Follow-up officer"),
                "select",
                choices,
                required=True,
                names=True,
            ),
            Input("occurred_on", N_("Date"), "date", hint=N_("Today if left empty")),
            Input("reason", N_("Remarks"), "textarea"),
        ),
        "officer_form": FormState(),
        "unassign_form": FormState(),
    }


@router.post("/projects/{project_id}/officers")
def assign(request: Request, project_id: str, user: PageUser, form: SubmittedForm) -> Response:
    project = _readable_project(request, user, project_id)
    w = page_writer(request, user, P.ASSIGN_OFFICERS)
    state = FormState()
    values = dict(form)
    values["remove"] = "true" if form.get("remove") else "false"
    done = submit(
        OfficerIn,
        values,
        lambda body: w.project(w.ledger.assign_officer, project_id, body),
        state,
        page_language(request),
    )
    if done is not None:
        return RedirectResponse(f"/app/projects/{project_id}#officers", status_code=303)
    view = officers_view(request, user, project)
    removing = values["remove"] == "true"
    if removing:
        view["unassign_form"] = place_refusals(state, ())
    else:
        view["officer_form"] = place_refusals(state, (i.name for i in view["officer_inputs"]))
    return render(
        request,
        "app/project.html",
        {
            **project_view(request, project),
            **view,
            "page_title": project.name,
            "may_record": user.can(P.PROJECT_EVENTS),
        },
        status=422,
    )
