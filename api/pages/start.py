"""The start page (待办) of each role, and `/` → `/app/` (DESIGN §17)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Permission, Principal
from api.pages.render import render, words
from api.pages.session import PageUser
from domain.project import STAGE_LABELS
from domain.values import CITIES, business_date
from projections.history import CITIES_EN, STAGE_LABELS_EN
from projections.integrity import list_checkpoints
from services.bootstrap import Services
from services.staff_views import (
    StartPanels,
    checkpoint_rows,
    frozen_settlements,
    last_dispatch,
)
from services.todo import RULE_LABELS, Todo, staff_todo

router = APIRouter(include_in_schema=False)
P = Permission

# The 待办 rules' names in English (`services.todo.RULE_LABELS` holds their Chinese).
RULE_LABELS_EN = {
    "follow_up_due": "Follow-up visits due",
    "stalled_signing": "Signings not yet under way",
    "issue_open": "Issues still open",
    "settlement_awaiting_approval": "Settlements awaiting approval",
}


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/app/", status_code=303)


@router.get("/app")
def app_root() -> RedirectResponse:
    return RedirectResponse("/app/", status_code=303)


def todo_for(services: Services, user: Principal) -> list[Todo]:
    """The user's own 待办 (the rules of `services.todo`, scoped to the user): an officer's
    projects; staff's settlements awaiting approval and the province's stalled signings; an
    auditor and a liaison have none (their start pages list what they read instead)."""
    today = business_date(services.clock())
    if user.role in ("liaison", "auditor"):
        return []
    if user.can(P.SETTLEMENTS):
        settlements = frozen_settlements(services.ledger, services.policies)
        return staff_todo(services.todo, today, settlements)
    projects = assigned_projects(services, user)
    return services.todo.for_projects(today, projects)


def panels_for(services: Services, user: Principal) -> StartPanels:
    """What a start page lists beside the 待办 (DESIGN §17): for staff the last dispatch, for
    an auditor the latest settlements and checkpoints, for a liaison its projects."""
    if user.role == "liaison":
        if not user.association_id:
            return StartPanels()
        page = services.read_models.ledger_page(association_id=user.association_id, size=200)
        return StartPanels(projects=tuple(page.items), projects_total=page.total)
    if user.role == "auditor":
        settlements = frozen_settlements(services.ledger, services.policies)
        checkpoints = checkpoint_rows(list_checkpoints(services.ledger, limit=5))
        return StartPanels(settlements=tuple(settlements[:5]), checkpoints=tuple(checkpoints))
    if user.can(P.SETTLEMENTS):
        return StartPanels(last_dispatch=last_dispatch(services.documents))
    return StartPanels()


def assigned_projects(services: Services, user: Principal) -> set[str] | None:
    """The projects an officer follows (None: every project, for the other roles)."""
    if user.role != "officer":
        return None
    page = services.read_models.ledger_page(officer_id=user.id, size=10_000)
    return {str(row["project_id"]) for row in page.items}


@router.get("/app/")
def start(request: Request, user: PageUser) -> Response:
    services: Services = request.app.state.services
    try:
        items = todo_for(services, user)
        panels = panels_for(services, user)
        ready = True
    except LookupError:  # the read models are still being set up
        items, panels, ready = [], StartPanels(), False
    groups: dict[str, list[Todo]] = {}
    for item in items:
        groups.setdefault(item.rule, []).append(item)
    return render(
        request,
        "app/start.html",
        {
            "page_title": words(request)("To do"),
            "groups": groups,
            "rule_labels": RULE_LABELS,
            "rule_labels_en": RULE_LABELS_EN,
            "ready": ready,
            "total": len(items),
            "panels": panels,
            "stage_labels": STAGE_LABELS,
            "stage_labels_en": STAGE_LABELS_EN,
        },
    )


@router.get("/app/search")
def search(request: Request, user: PageUser, q: str = "", page: int = 1) -> Response:
    """Projects by name, investor or association: Chinese substring, pinyin or initials (the
    `GET /projects?q=` search), a liaison's own projects only."""
    services: Services = request.app.state.services
    text = q.strip()[:100]
    rows: list[dict[str, object]] = []
    total = 0
    if text:
        scope = None if user.can(P.READ) else (user.association_id or "-")
        found = services.read_models.ledger_page(
            q=text, association_scope=scope, page=max(page, 1), size=50
        )
        rows, total = found.items, found.total
    return render(
        request,
        "app/search.html",
        {
            "page_title": words(request)("Search"),
            "search_q": text,
            "rows": rows,
            "total": total,
            "stage_labels": STAGE_LABELS,
            "city_labels": CITIES,
            "city_labels_en": CITIES_EN,
        },
    )
