"""Staff pages for the purchased service (政府购买服务, 三(三), 四(二)1; DESIGN §17, issue 20):
a year's contract with the annual cap, its subsidies to associations and what remains; forms to
record the contract and to pay a subsidy — the schemas and commands of `POST /service-contracts`
and `POST /service-contracts/{year}/subsidies`, refusals (`over_cap`, `service_contract_exists`,
`unknown_association`) beside their fields.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Permission, Principal
from api.pages.forms import FormState, SubmittedForm, place_refusals, submit
from api.pages.projects import Input
from api.pages.render import page_language, render, words
from api.pages.session import PageUser, need, page_writer
from api.routers.evaluation import ServiceContractIn, SubsidyIn
from domain import errors
from domain.values import business_date
from i18n import N_
from services.bootstrap import Services

router = APIRouter(prefix="/app", include_in_schema=False)
P = Permission

CONTRACT_INPUTS = (
    Input("provider", N_("Service provider"), required=True),
    Input("amount", N_("Contract amount (yuan)"), "money", required=True),
    Input("occurred_on", N_("Date signed"), "date", required=True),
)
SUBSIDY_AMOUNT_INPUTS = (
    Input("amount", N_("Subsidy amount (yuan)"), "money", required=True),
    Input("occurred_on", N_("Date paid"), "date", required=True),
    Input("reason", N_("Purpose"), "textarea", required=True),
)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@router.get("/service-contracts")
def this_year(request: Request, user: PageUser) -> Response:
    need(user, P.READ)
    year = business_date(request.app.state.clock()).year
    return RedirectResponse(f"/app/service-contracts/{year}", status_code=303)


@router.get("/service-contracts/{year}")
def contract_page(request: Request, year: int, user: PageUser) -> Response:
    need(user, P.READ)
    return _page(request, user, year, {})


def _page(
    request: Request,
    user: Principal,
    year: int,
    forms: dict[str, FormState],
    status: int = 200,
) -> Response:
    services = _services(request)
    if not 2000 <= year <= 2100:
        raise errors.InvalidInput("year must be a whole year such as 2023", field="year")
    try:
        contract: dict[str, Any] | None = services.ledger.service_contract(year)
    except errors.NotFound:
        contract = None
    try:
        rows = services.read_models.associations()
    except LookupError:
        rows = []
    choices = {str(r["association_id"]): str(r["name"]) for r in rows if r.get("active", 1)}
    names = {str(r["association_id"]): str(r["name"]) for r in rows}
    subsidy_inputs = (
        Input("association_id", N_("Association"), "select", choices, required=True, names=True),
        *SUBSIDY_AMOUNT_INPUTS,
    )
    return render(
        request,
        "app/service_contract.html",
        {
            "page_title": words(request)(N_("%(year)s purchased service")) % {"year": year},
            "year": year,
            "contract": contract,
            "cap": services.evaluation_rules.purchased_service_cap,
            "clause": services.evaluation_rules.purchased_service_clause,
            "names": names,
            "may_write": user.can(P.SERVICE_CONTRACTS),
            "contract_inputs": CONTRACT_INPUTS,
            "subsidy_inputs": subsidy_inputs,
            "contract_form": forms.get("contract", FormState()),
            "subsidy_form": forms.get("subsidy", FormState()),
        },
        status=status,
    )


@router.post("/service-contracts/{year}")
def create_contract(request: Request, year: int, user: PageUser, form: SubmittedForm) -> Response:
    w = page_writer(request, user, P.SERVICE_CONTRACTS)
    cap = _services(request).evaluation_rules.purchased_service_cap
    state = FormState()

    def run(body: ServiceContractIn) -> Any:
        with w.lock:
            return w.ledger.create_service_contract(w.context(body), cap=cap, **body.fields())

    values = {**dict(form), "year": str(year)}  # the page's year
    if submit(ServiceContractIn, values, run, state, page_language(request)) is not None:
        return RedirectResponse(f"/app/service-contracts/{year}", status_code=303)
    place_refusals(state, (i.name for i in CONTRACT_INPUTS))  # the year: a contract exists
    return _page(request, user, year, {"contract": state}, 422)


@router.post("/service-contracts/{year}/subsidies")
def pay_subsidy(request: Request, year: int, user: PageUser, form: SubmittedForm) -> Response:
    w = page_writer(request, user, P.SERVICE_CONTRACTS)
    state = FormState()

    def run(body: SubsidyIn) -> Any:
        with w.lock:
            return w.ledger.pay_subsidy(w.context(body), year, **body.fields())

    if submit(SubsidyIn, form, run, state, page_language(request)) is not None:
        return RedirectResponse(f"/app/service-contracts/{year}#subsidies", status_code=303)
    place_refusals(state, ("association_id", *(i.name for i in SUBSIDY_AMOUNT_INPUTS)))
    return _page(request, user, year, {"subsidy": state}, 422)
