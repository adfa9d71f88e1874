"""Read-model access for routers: one `ReadModels` and `DocumentStore` per app."""

from __future__ import annotations

from fastapi import Request

from adapters.documents import DocumentStore
from api.deps import get_engine
from api.errors import ApiError
from projections.policy import load_policies
from projections.queries import ReadModels
from services.settlements import SettlementService


def get_read_models(request: Request) -> ReadModels:
    read: ReadModels | None = getattr(request.app.state, "read_models", None)
    if read is None:
        read = ReadModels(get_engine(request))
        request.app.state.read_models = read
    return read


def get_documents(request: Request) -> DocumentStore:
    store: DocumentStore | None = getattr(request.app.state, "documents", None)
    if store is None:
        store = DocumentStore(get_engine(request))
        request.app.state.documents = store
    return store


def not_ready(error: LookupError) -> ApiError:
    return ApiError(503, "unavailable", f"the read models are being set up: {error}")


def get_settlements(request: Request) -> SettlementService:
    """One settlement service per app (its policy registry is loaded once)."""
    service: SettlementService | None = getattr(request.app.state, "settlements", None)
    if service is None:
        settings = request.app.state.settings
        paths = [p for p in settings.policy_path.split(":") if p] if settings.policy_path else None
        registry = load_policies(paths) if paths else load_policies()
        service = SettlementService.for_ledger(request.app.state.ledger, registry)
        request.app.state.settlements = service
    return service
