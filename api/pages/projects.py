"""The follow-up officer's pages: a project's page and the forms for its events (DESIGN §17).

Each form posts the API's field names, is parsed by the API's request schema and runs the API's
command through the same `Writer` (envelope, role, write lock); a refusal re-renders the form
with the input kept and the message beside its field (`api.pages.forms`). A success redirects
to the project page (303), which is what a retried post with the same idempotency key replays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from adapters.files import FileTooLarge
from api.auth import Permission, Principal
from api.pages.forms import FormState, SubmittedForm, submit
from api.pages.render import label_in, page_language, render, words
from api.pages.session import PageUser, page_writer
from api.schemas import (
    FixedAssetInvestmentIn,
    FollowUpIn,
    FundsArrivalIn,
    FundsCorrectionIn,
    FundsVoidIn,
    IssueUpdateIn,
    MilestoneIn,
    NegotiationIn,
    ProductionIn,
    SigningIn,
    VisitIn,
    WriteIn,
)
from domain import errors
from domain.application import Ledger
from domain.project import STAGE_LABELS, STAGES, Project
from domain.values import (
    CITIES,
    INDUSTRIES,
    OPERATING_STATUSES,
    ORIGINS,
    PRODUCTION_MILESTONES,
    PROJECT_TYPES,
    business_date,
)
from i18n import N_, localise_error
from projections.history import CITIES_EN, INDUSTRIES_EN, STAGE_LABELS_EN

router = APIRouter(prefix="/app", include_in_schema=False)
P = Permission

# The currencies offered first on a form (any ISO 4217 code may be typed in the API).
CURRENCY_CHOICES = {
    "CNY": "人民币",
    "USD": "美元",
    "EUR": "欧元",
    "HKD": "港元",
    "JPY": "日元",
    "GBP": "英镑",
    "SGD": "新加坡元",
    "KRW": "韩元",
}
ISSUE_STATUSES = {"handling": "办理中", "closed": "已办结"}
FOLLOW_UP_ISSUE_ROWS = 3


@dataclass(frozen=True)
class Input:
    """One form field: the API's field name, its label (English, marked `N_` and shown in the
    page's language), and how it is entered."""

    name: str
    label: str
    kind: str = "text"  # text | textarea | date | money | rate | integer | select
    choices: dict[str, str] = field(default_factory=dict)
    required: bool = False
    hint: str = ""
    english: dict[str, str] = field(default_factory=dict)  # the choices' words in English
    # The choices are names people gave (associations, officers): shown as they are in every
    # language, where a code of ours without its English word would show as the code.
    names: bool = False


def _day(required: bool = True, label: str = N_("Date")) -> Input:
    return Input("occurred_on", label, "date", required=required)


MONEY_INPUTS = (
    Input("currency", N_("Currency"), "select", CURRENCY_CHOICES, required=True),
    Input(
        "rate_to_cny", N_("Rate to CNY"), "rate", hint=N_("Required when the currency is not CNY")
    ),
)


@dataclass(frozen=True)
class EventForm:
    """A form that records one kind of project event."""

    slug: str
    title: str
    schema: type[WriteIn]
    run: Callable[[Ledger], Callable[..., Any]]
    inputs: Sequence[Input]
    takes_file: bool = False  # a photo or scan as the write's evidence


EVENT_FORMS = {
    form.slug: form
    for form in (
        EventForm(
            "visits",
            N_("Record a visit"),
            VisitIn,
            lambda ledger: ledger.record_visit,
            (
                _day(),
                Input("participants", N_("Participants"), "textarea"),
                Input("notes", N_("Notes"), "textarea"),
            ),
        ),
        EventForm(
            "negotiations",
            N_("Record a negotiation"),
            NegotiationIn,
            lambda ledger: ledger.record_negotiation,
            (_day(), Input("notes", N_("Notes"), "textarea")),
        ),
        EventForm(
            "signing",
            N_("Record the signing"),
            SigningIn,
            lambda ledger: ledger.sign,
            (
                _day(label=N_("Signing date")),
                Input("contract_amount", N_("Contract investment (yuan)"), "money", required=True),
                *MONEY_INPUTS,
                Input("place", N_("Place of signing")),
            ),
        ),
        EventForm(
            "registration",
            N_("Record company registration"),
            MilestoneIn,
            lambda ledger: ledger.register_company,
            (_day(label=N_("Registration date")), Input("details", N_("Details"), "textarea")),
        ),
        EventForm(
            "construction",
            N_("Record construction start"),
            MilestoneIn,
            lambda ledger: ledger.start_construction,
            (
                _day(label=N_("Construction start date")),
                Input("details", N_("Details"), "textarea"),
            ),
        ),
        EventForm(
            "production",
            N_("Record production start / capacity reached"),
            ProductionIn,
            lambda ledger: ledger.record_production,
            (
                Input("milestone", N_("Milestone"), "select", PRODUCTION_MILESTONES, required=True),
                _day(),
            ),
        ),
        EventForm(
            "fixed-asset-investment",
            N_("Report fixed-asset investment"),
            FixedAssetInvestmentIn,
            lambda ledger: ledger.report_fixed_asset_investment,
            (
                Input("year", N_("Year"), "integer", required=True),
                Input("amount", N_("Investment completed (yuan)"), "money", required=True),
                *MONEY_INPUTS,
                _day(label=N_("Date reported")),
            ),
        ),
        EventForm(
            "funds",
            N_("Record a funds arrival"),
            FundsArrivalIn,
            lambda ledger: ledger.record_funds_arrival,
            (
                _day(label=N_("Date of arrival")),
                Input("amount", N_("Amount arrived"), "money", required=True),
                *MONEY_INPUTS,
                Input(
                    "source",
                    N_("Source of funds"),
                    "select",
                    ORIGINS,
                    hint=N_("Defaults to the project's origin"),
                ),
            ),
            takes_file=True,
        ),
    )
}

FOLLOW_UP_INPUTS = (
    _day(label=N_("Date of the follow-up visit")),
    Input("operating_status", N_("Operating status"), "select", OPERATING_STATUSES, required=True),
    Input("output_value", N_("Output value (yuan)"), "money"),
    Input("tax", N_("Tax (yuan)"), "money"),
    Input("employees", N_("Employees"), "integer"),
    Input("notes", N_("Notes"), "textarea"),
)
CORRECTION_INPUTS = (
    _day(label=N_("Date corrected")),
    Input("amount", N_("Corrected amount"), "money", required=True),
    *MONEY_INPUTS,
    Input(
        "arrived_on",
        N_("Corrected date of arrival"),
        "date",
        hint=N_("Only if the arrival date was wrong"),
    ),
    Input("reason", N_("Reason for the correction"), "textarea", required=True),
)
VOID_INPUTS = (
    _day(label=N_("Date voided")),
    Input("reason", N_("Reason for voiding (e.g. entered twice)"), "textarea", required=True),
)
ISSUE_INPUTS = (
    Input("status", N_("Handling status"), "select", ISSUE_STATUSES, required=True),
    _day(),
    Input("note", N_("How it was handled"), "textarea", required=True),
)


# ---- the project page ------------------------------------------------------------------------


def _readable_project(request: Request, user: Principal, project_id: str) -> Project:
    ledger: Ledger = request.app.state.ledger
    project = ledger.get_project(project_id)  # 404 for an unknown id
    user.check_reads_project(project.association_ids(), project_id)  # the same 404 for others'
    return project


def project_view(request: Request, project: Project) -> dict[str, Any]:
    """What the project page shows, in words: the stage timeline, key figures, open issues."""
    services = request.app.state.services
    lang = page_language(request)
    interval = services.follow_up_interval_days
    names = services.read_models.association_names() if _has_read_models(services) else {}
    last_contact = project.last_follow_up_on or project.production_started_on
    next_due = last_contact + timedelta(days=interval) if last_contact else None
    reached = {
        "referred": project.referred_on,
        "visited": project.first_visit_on,
        "negotiating": None,  # counted, not dated, on the aggregate
        "signed": project.signed_on,
        "registered": project.registered_on,
        "under_construction": project.construction_started_on,
        "in_production": project.production_started_on,
        "at_capacity": project.capacity_reached_on,
    }
    return {
        "project": project,
        "timeline": [
            {
                "stage": s,
                "label": label_in(lang, STAGE_LABELS, s, STAGE_LABELS_EN),
                "on": reached.get(s),
                "done": i <= STAGES.index(project.stage),
                "current": s == project.stage,
            }
            for i, s in enumerate(STAGES)
        ],
        "city_label": label_in(lang, CITIES, project.city, CITIES_EN),
        "industry_label": label_in(lang, INDUSTRIES, project.industry, INDUSTRIES_EN),
        "type_label": label_in(lang, PROJECT_TYPES, project.project_type),
        "origin_label": label_in(lang, ORIGINS, project.origin),
        "referrers": [
            {
                "name": names.get(str(r["association_id"]), str(r["association_id"])),
                "share": r["share"],
            }
            for r in project.referrals
        ],
        "funds_by_year": sorted(project.funds_by_year_cny().items()),
        "arrivals": list(project.arrivals.values()),
        "open_issues": project.open_issues(),
        "last_contact": last_contact,
        "next_due": next_due,
        "overdue": next_due is not None and next_due < business_date(request.app.state.clock()),
        "operating_labels": OPERATING_STATUSES,
        "issue_labels": ISSUE_STATUSES,
        "event_forms": EVENT_FORMS,
    }


def _has_read_models(services: Any) -> bool:
    try:
        services.read_models.position("ledger")
    except LookupError:
        return False
    return True


@router.get("/projects/{project_id}")
def project_page(request: Request, project_id: str, user: PageUser) -> Response:
    project = _readable_project(request, user, project_id)
    return render(
        request,
        "app/project.html",
        {
            **project_view(request, project),
            **_officers_view(request, user, project),
            "page_title": project.name,
            "may_record": user.can(P.PROJECT_EVENTS),
        },
    )


def _officers_view(request: Request, user: Principal, project: Project) -> dict[str, Any]:
    """Who follows the project (readers of every project), with the assignment form for staff."""
    if not user.can(P.READ):
        return {}
    from api.pages.officers import officers_view  # that module builds on this one

    return officers_view(request, user, project)


# ---- forms ---------------------------------------------------------------------------------


def _form_page(
    request: Request,
    project: Project,
    title: str,
    action: str,
    inputs: Sequence[Input],
    state: FormState,
    *,
    template: str = "app/event_form.html",
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    return render(
        request,
        template,
        {
            "project": project,
            "page_title": words(request)(title),
            "title": words(request)(title),
            "action": action,
            "inputs": inputs,
            "form": state,
            **(extra or {}),
        },
        status=status,
    )


def _submitted(
    schema: type[BaseModel], form: Any, command: Callable[[Any], Any], lang: str
) -> tuple[bool, FormState]:
    state = FormState()
    done = submit(schema, form, command, state, lang)
    return done is not None and not state.failed, state


def _back_to(project_id: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/app/projects/{project_id}{anchor}", status_code=303)


FOLLOW_UP_TITLE = N_("Record a follow-up visit")


@router.get("/projects/{project_id}/follow-ups/new")
def follow_up_form(request: Request, project_id: str, user: PageUser) -> Response:
    project = _readable_project(request, user, project_id)
    page_writer(request, user, P.PROJECT_EVENTS)
    return _form_page(
        request,
        project,
        FOLLOW_UP_TITLE,
        f"/app/projects/{project_id}/follow-ups/new",
        FOLLOW_UP_INPUTS,
        FormState(),
        template="app/follow_up_form.html",
        extra={"issue_rows": range(FOLLOW_UP_ISSUE_ROWS)},
    )


@router.post("/projects/{project_id}/follow-ups/new")
def record_follow_up(
    request: Request, project_id: str, user: PageUser, form: SubmittedForm
) -> Response:
    project = _readable_project(request, user, project_id)
    w = page_writer(request, user, P.PROJECT_EVENTS)
    ok, state = _submitted(
        FollowUpIn,
        form,
        lambda body: w.project(w.ledger.record_follow_up_visit, project_id, body),
        page_language(request),
    )
    if ok:
        return _back_to(project_id, "#issues")
    rows = max(FOLLOW_UP_ISSUE_ROWS, _issue_rows(form))
    return _form_page(
        request,
        project,
        FOLLOW_UP_TITLE,
        f"/app/projects/{project_id}/follow-ups/new",
        FOLLOW_UP_INPUTS,
        state,
        template="app/follow_up_form.html",
        status=422,
        extra={"issue_rows": range(rows)},
    )


@router.get("/projects/{project_id}/{slug}/new")
def event_form(request: Request, project_id: str, slug: str, user: PageUser) -> Response:
    spec = _event_form(slug)
    project = _readable_project(request, user, project_id)
    page_writer(request, user, P.PROJECT_EVENTS)
    action = f"/app/projects/{project_id}/{slug}/new"
    return _form_page(
        request,
        project,
        spec.title,
        action,
        spec.inputs,
        FormState(),
        extra={"takes_file": spec.takes_file},
    )


@router.post("/projects/{project_id}/{slug}/new")
def record_event(
    request: Request, project_id: str, slug: str, user: PageUser, form: SubmittedForm
) -> Response:
    spec = _event_form(slug)
    project = _readable_project(request, user, project_id)
    w = page_writer(request, user, P.PROJECT_EVENTS)
    values, refused = _with_evidence_file(request, user, form)
    if refused is not None:
        action = f"/app/projects/{project_id}/{slug}/new"
        return _form_page(
            request,
            project,
            spec.title,
            action,
            spec.inputs,
            refused,
            status=422,
            extra={"takes_file": spec.takes_file},
        )
    ok, state = _submitted(
        spec.schema,
        values,
        lambda body: w.project(spec.run(w.ledger), project_id, body),
        page_language(request),
    )
    if ok:
        return _back_to(project_id)
    action = f"/app/projects/{project_id}/{slug}/new"
    return _form_page(
        request,
        project,
        spec.title,
        action,
        spec.inputs,
        state,
        status=422,
        extra={"takes_file": spec.takes_file},
    )


EVIDENCE_FILE = "evidence_file"


def _with_evidence_file(
    request: Request, user: Principal, form: Any
) -> tuple[dict[str, Any], FormState | None]:
    """The form's values, with a photo or scan it carries kept in the file store and named as
    the write's evidence (`evidence[0]`, as the API takes it); or the refusal of that file."""
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    upload = form.get(EVIDENCE_FILE)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return values, None
    files = request.app.state.services.files
    incoming = files.receive()
    try:
        while chunk := upload.file.read(1 << 20):
            incoming.write(chunk)
        kept = files.keep(incoming, upload.filename, user.id)
    except FileTooLarge as e:
        incoming.discard()
        too_large = words(request)("The file is larger than %(limit)s MiB.")
        return values, _file_refused(values, too_large % {"limit": e.limit // (1 << 20)})
    except errors.DomainError as e:
        message = localise_error(e.code, e.message, page_language(request))
        return values, _file_refused(values, message)
    values["evidence[0].sha256"] = kept["sha256"]
    values["evidence[0].name"] = kept["name"]
    return values, None


def _file_refused(values: dict[str, Any], message: str) -> FormState:
    return FormState(values=values, errors={EVIDENCE_FILE: message})


def _event_form(slug: str) -> EventForm:
    spec = EVENT_FORMS.get(slug)
    if spec is None:
        raise errors.NotFound(f"no form {slug}", field="slug")
    return spec


def _issue_rows(form: Any) -> int:
    indexes = [int(k[7:].split("]")[0]) for k in form if k.startswith("issues[") and "]" in k]
    return max(indexes, default=-1) + 1


@dataclass(frozen=True)
class SubjectForm:
    """A form about one arrival or one issue of the project."""

    title: str
    schema: type[WriteIn]
    inputs: Sequence[Input]
    run: Callable[[Ledger], Callable[..., Any]]
    subject: str  # the command's keyword for the subject's id


SUBJECT_FORMS = {
    "corrections": SubjectForm(
        N_("Correct a funds arrival"),
        FundsCorrectionIn,
        CORRECTION_INPUTS,
        lambda ledger: ledger.correct_funds_arrival,
        "arrival_id",
    ),
    "void": SubjectForm(
        N_("Void a funds arrival"),
        FundsVoidIn,
        VOID_INPUTS,
        lambda ledger: ledger.void_funds_arrival,
        "arrival_id",
    ),
    "issue": SubjectForm(
        N_("Handle an issue"),
        IssueUpdateIn,
        ISSUE_INPUTS,
        lambda ledger: ledger.update_issue,
        "issue_id",
    ),
}


def _subject_action(project_id: str, kind: str, subject_id: str) -> str:
    if kind == "issue":
        return f"/app/projects/{project_id}/issues/{subject_id}/update"
    return f"/app/projects/{project_id}/funds/{subject_id}/{kind}"


@router.get("/projects/{project_id}/funds/{arrival_id}/{kind}")
def arrival_form(
    request: Request, project_id: str, arrival_id: str, kind: str, user: PageUser
) -> Response:
    return _subject_form(
        request, project_id, "void" if kind == "void" else "corrections", arrival_id, user
    )


@router.post("/projects/{project_id}/funds/{arrival_id}/{kind}")
def arrival_submit(
    request: Request,
    project_id: str,
    arrival_id: str,
    kind: str,
    user: PageUser,
    form: SubmittedForm,
) -> Response:
    return _subject_submit(
        request, project_id, "void" if kind == "void" else "corrections", arrival_id, user, form
    )


@router.get("/projects/{project_id}/issues/{issue_id}/update")
def issue_form(request: Request, project_id: str, issue_id: str, user: PageUser) -> Response:
    return _subject_form(request, project_id, "issue", issue_id, user)


@router.post("/projects/{project_id}/issues/{issue_id}/update")
def issue_submit(
    request: Request, project_id: str, issue_id: str, user: PageUser, form: SubmittedForm
) -> Response:
    return _subject_submit(request, project_id, "issue", issue_id, user, form)


def _subject_form(
    request: Request, project_id: str, kind: str, subject_id: str, user: Principal
) -> Response:
    spec = SUBJECT_FORMS[kind]
    project = _readable_project(request, user, project_id)
    page_writer(request, user, P.PROJECT_EVENTS)
    action = _subject_action(project_id, kind, subject_id)
    return _form_page(request, project, spec.title, action, spec.inputs, FormState())


def _subject_submit(
    request: Request, project_id: str, kind: str, subject_id: str, user: Principal, form: Any
) -> Response:
    spec = SUBJECT_FORMS[kind]
    project = _readable_project(request, user, project_id)
    w = page_writer(request, user, P.PROJECT_EVENTS)
    ok, state = _submitted(
        spec.schema,
        form,
        lambda body: w.project(spec.run(w.ledger), project_id, body, **{spec.subject: subject_id}),
        page_language(request),
    )
    if ok:
        return _back_to(project_id, "#issues" if kind == "issue" else "#funds")
    action = _subject_action(project_id, kind, subject_id)
    return _form_page(request, project, spec.title, action, spec.inputs, state, status=422)
