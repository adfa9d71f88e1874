"""Signed checkpoints: auditors read them, an admin makes one (the key never sits in the
database: it comes from the server's settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.auth import Permission, Principal
from api.deps import get_ledger, get_settings, require
from api.errors import error_responses
from api.report_schemas import CheckpointListOut, CheckpointMadeOut, documented
from domain import errors
from domain.application import Ledger
from projections.integrity import (
    list_checkpoints,
    load_private_key,
    load_public_key,
    make_checkpoint,
    record_checkpoint,
    verify_checkpoint,
)
from services.settings import Settings

router = APIRouter(tags=["integrity"])
P = Permission


def configured_key(file_setting: str, value_setting: str, what: str) -> str:
    if file_setting:
        return Path(file_setting).read_text(encoding="utf-8")
    if value_setting.strip():
        return value_setting
    raise errors.Conflict(f"the server has no {what} configured", code="no_checkpoint_key")


@router.get(
    "/checkpoints",
    response_model=None,
    responses={
        **documented(CheckpointListOut, "the checkpoints, newest first"),
        **error_responses(409),
    },
)
def checkpoints(
    user: Annotated[Principal, Depends(require(P.READ_AUDIT))],
    ledger: Annotated[Ledger, Depends(get_ledger)],
    settings: Annotated[Settings, Depends(get_settings)],
    verify: bool = False,
) -> dict[str, Any]:
    """Checkpoints made so far (newest first); `verify=true` checks each against today's chains
    with the configured public key."""
    items = list_checkpoints(ledger)
    if verify:
        public = load_public_key(
            configured_key(
                settings.checkpoint_public_key_file, settings.checkpoint_public_key, "public key"
            )
        )
        for item in items:
            item["verification"] = verify_checkpoint(ledger, item["document"], public).as_dict()
    return {"items": items, "total": len(items)}


@router.post(
    "/checkpoints",
    status_code=201,
    response_model=None,
    responses=documented(CheckpointMadeOut, "the signed checkpoint, kept", 201),
)
def make(
    user: Annotated[Principal, Depends(require(P.CHECKPOINTS))],
    ledger: Annotated[Ledger, Depends(get_ledger)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> dict[str, Any]:
    """Sign every stream's head with the server's Ed25519 key and keep the signed document."""
    private = load_private_key(
        configured_key(
            settings.checkpoint_private_key_file, settings.checkpoint_private_key, "private key"
        )
    )
    document = make_checkpoint(ledger, private)
    number = record_checkpoint(ledger, document)
    return {"id": number, "checkpoint": document}
