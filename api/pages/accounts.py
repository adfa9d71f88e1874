"""The accounts pages (admin; an auditor reads them) (DESIGN §16, §17, issue 20): every account
with its role, association and state; creating one (a liaison with its association); disabling
and enabling it, setting a password the user must change at first login, issuing a token (its
value shown once) and revoking one. Each form runs the `services.accounts` command that `POST
/users…` runs, with the same schemas and refusals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from api.account_schemas import AccountIn, PasswordIn, ReasonIn, TokenIn
from api.auth import ROLES, Permission, Principal
from api.pages.forms import FormState, SubmittedForm, place_refusals, submit
from api.pages.projects import Input
from api.pages.render import page_language, render, words
from api.pages.session import PageUser, need, page_writer
from i18n import N_
from services.accounts import AccountService
from services.bootstrap import Services

router = APIRouter(prefix="/app", include_in_schema=False)
P = Permission

ROLE_LABELS = {
    "admin": "系统管理员",
    "staff": "工作人员",
    "officer": "跟踪服务专员",
    "liaison": "商协会联络员",
    "auditor": "审计",
}
ROLE_LABELS_EN = {
    "admin": "Administrator",
    "staff": "Staff",
    "officer": "Follow-up officer",
    "liaison": "Association liaison",
    "auditor": "Auditor",
}
assert set(ROLE_LABELS) == set(ROLES) == set(ROLE_LABELS_EN)
PASSWORD_HINT = N_(
    "At least 10 characters, not a common password, not containing the user name; the user "
    "must change it at first sign-in"
)
REASON_INPUTS = (Input("reason", N_("Reason"), "textarea"),)
PASSWORD_INPUTS = (
    Input("password", N_("New password"), "password", required=True, hint=PASSWORD_HINT),
)
TOKEN_INPUTS = (
    Input("name", N_("Token name"), hint=N_("e.g. data reporting interface")),
    Input("expires_on", N_("Valid until"), "date", hint=N_("90 days if left empty")),
)
STEPS = ("disable", "enable", "password", "tokens")


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _accounts(request: Request) -> AccountService:
    return _services(request).accounts


def _association_choices(request: Request) -> dict[str, str]:
    try:
        names = _services(request).read_models.association_names()
    except LookupError:
        return {}
    return {str(a): str(name) for a, name in names.items()}


def _create_inputs(request: Request, choices: dict[str, str]) -> tuple[Input, ...]:
    return (
        Input("name", N_("User name"), required=True),
        Input("role", N_("Role"), "select", ROLE_LABELS, required=True, english=ROLE_LABELS_EN),
        Input(
            "association_id",
            N_("Association of the account"),
            "select",
            choices,
            hint=N_("Required for a liaison; none for the other roles"),
            names=True,
        ),
        Input("password", N_("Initial password"), "password", hint=PASSWORD_HINT),
    )


# ---- the list and creating an account --------------------------------------------------------


@router.get("/accounts")
def accounts(request: Request, user: PageUser) -> Response:
    need(user, P.USERS, P.READ_ACCOUNTS)
    return _list_page(request, user, FormState())


def _list_page(request: Request, user: Principal, state: FormState, status: int = 200) -> Response:
    service = _accounts(request)
    names = _association_choices(request)  # read once: the list's names and the form's choices
    rows = [
        {
            "account": a,
            "live_tokens": sum(1 for t in service.store.tokens(a.id) if not t.revoked_at),
        }
        for a in service.accounts()
    ]
    return render(
        request,
        "app/accounts.html",
        {
            "page_title": words(request)(N_("Account management")),
            "rows": rows,
            "role_labels": ROLE_LABELS,
            "role_labels_en": ROLE_LABELS_EN,
            "names": names,
            "may_write": user.can(P.USERS),
            "inputs": _create_inputs(request, names),
            "form": state,
        },
        status=status,
    )


@router.post("/accounts")
def create(request: Request, user: PageUser, form: SubmittedForm) -> Response:
    w = page_writer(request, user, P.USERS)
    service = _accounts(request)
    state = FormState()

    def run(body: AccountIn) -> tuple[str, int]:
        with w.lock:
            return service.create_account(
                w.context(body), body.name, body.role.value, body.association_id, body.password
            )

    created = submit(AccountIn, form, run, state, page_language(request))
    if created is not None:
        return RedirectResponse(f"/app/accounts/{created[0]}", status_code=303)
    place_refusals(state, (i.name for i in _create_inputs(request, {})))
    return _list_page(request, user, state, 422)


# ---- one account -----------------------------------------------------------------------------


@router.get("/accounts/{account_id}")
def account(request: Request, account_id: str, user: PageUser) -> Response:
    need(user, P.USERS, P.READ_ACCOUNTS)
    return _account_page(request, user, account_id, {})


def _account_page(
    request: Request,
    user: Principal,
    account_id: str,
    forms: dict[str, FormState],
    *,
    issued: Any = None,
    status: int = 200,
) -> Response:
    service = _accounts(request)
    row = service.account(account_id)  # 404 for an unknown id
    tokens = service.store.tokens(row.id)
    return render(
        request,
        "app/account.html",
        {
            "page_title": words(request)(N_("Account: %(name)s")) % {"name": row.name},
            "a": row,
            "tokens": sorted(tokens, key=lambda t: t.created_at, reverse=True),
            "role_labels": ROLE_LABELS,
            "role_labels_en": ROLE_LABELS_EN,
            "names": _association_choices(request),
            "may_write": user.can(P.USERS),
            "reason_inputs": REASON_INPUTS,
            "password_inputs": PASSWORD_INPUTS,
            "token_inputs": TOKEN_INPUTS,
            "forms": {step: forms.get(step, FormState()) for step in STEPS},
            "revoke_form": forms.get("revoke", FormState()),
            "issued": issued,
        },
        status=status,
    )


def _step(
    request: Request,
    user: Principal,
    account_id: str,
    step: str,
    schema: type[BaseModel],
    form: Any,
    command: Callable[[Any, Any], Any],
    inputs: Sequence[Input],
) -> tuple[Any, Response | None]:
    """Run one account command from its form: (its answer, None), or (None, the page again with
    the refusal beside its field)."""
    w = page_writer(request, user, P.USERS)
    state = FormState()

    def run(body: Any) -> Any:
        with w.lock:
            return command(w.context(body), body)

    done = submit(schema, form, run, state, page_language(request))
    if done is not None:
        return done, None
    place_refusals(state, (i.name for i in inputs))
    return None, _account_page(request, user, account_id, {step: state}, status=422)


def _back(account_id: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/app/accounts/{account_id}{anchor}", status_code=303)


@router.post("/accounts/{account_id}/disable")
def disable(request: Request, account_id: str, user: PageUser, form: SubmittedForm) -> Response:
    service = _accounts(request)
    _, refused = _step(
        request,
        user,
        account_id,
        "disable",
        ReasonIn,
        form,
        lambda ctx, body: service.disable(ctx, account_id, body.reason),
        REASON_INPUTS,
    )
    return refused or _back(account_id)


@router.post("/accounts/{account_id}/enable")
def enable(request: Request, account_id: str, user: PageUser, form: SubmittedForm) -> Response:
    service = _accounts(request)
    _, refused = _step(
        request,
        user,
        account_id,
        "enable",
        ReasonIn,
        form,
        lambda ctx, body: service.enable(ctx, account_id, body.reason),
        REASON_INPUTS,
    )
    return refused or _back(account_id)


@router.post("/accounts/{account_id}/password")
def set_password(
    request: Request, account_id: str, user: PageUser, form: SubmittedForm
) -> Response:
    service = _accounts(request)
    _, refused = _step(
        request,
        user,
        account_id,
        "password",
        PasswordIn,
        form,
        lambda ctx, body: service.set_password(ctx, account_id, body.password),
        PASSWORD_INPUTS,
    )
    return refused or _back(account_id)


@router.post("/accounts/{account_id}/tokens")
def issue_token(request: Request, account_id: str, user: PageUser, form: SubmittedForm) -> Response:
    """The new token's value is shown on this answer only (a retry of the same form replays
    it, as `POST /users/{id}/tokens` with the same Idempotency-Key does)."""
    service = _accounts(request)
    issued, refused = _step(
        request,
        user,
        account_id,
        "tokens",
        TokenIn,
        form,
        lambda ctx, body: service.issue_token(ctx, account_id, body.name, body.expires_on),
        TOKEN_INPUTS,
    )
    if refused is not None:
        return refused
    return _account_page(request, user, account_id, {}, issued=issued, status=201)


@router.post("/accounts/{account_id}/tokens/{token_id}/revoke")
def revoke_token(
    request: Request, account_id: str, token_id: str, user: PageUser, form: SubmittedForm
) -> Response:
    service = _accounts(request)
    _, refused = _step(
        request,
        user,
        account_id,
        "revoke",
        ReasonIn,
        form,
        lambda ctx, body: service.revoke_token(ctx, account_id, token_id, body.reason),
        (),
    )
    return refused or _back(account_id, "#tokens")
