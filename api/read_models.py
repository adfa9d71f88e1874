"""Read-model access for routers: the composition root's read models, documents and settlements."""

from __future__ import annotations

from fastapi import Request

from adapters.documents import DocumentStore
from api.errors import ApiError
from projections.queries import ReadModels
from services.bootstrap import Services
from services.settlements import SettlementService


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_read_models(request: Request) -> ReadModels:
    return get_services(request).read_models


def get_documents(request: Request) -> DocumentStore:
    return get_services(request).documents


def get_settlements(request: Request) -> SettlementService:
    return get_services(request).settlements


def not_ready(error: LookupError) -> ApiError:
    return ApiError(503, "unavailable", f"the read models are being set up: {error}")
