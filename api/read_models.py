"""Read-model access for routers: one `ReadModels` and `DocumentStore` per app."""

from __future__ import annotations

from fastapi import Request

from api.deps import get_engine
from api.errors import ApiError
from projections.documents import DocumentStore
from projections.queries import ReadModels


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
