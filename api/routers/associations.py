"""Associations: registration, the list and one association, activities and designations."""

from __future__ import annotations

import threading
from typing import Annotated

from eventsourcing.utils import get_topic
from fastapi import APIRouter, Depends, Query, Request, Response

from api.auth import Permission, Principal
from api.deps import Writer, etag, get_ledger, require, writer
from api.schemas import (
    ActivityCreatedOut,
    ActivityIn,
    AssociationDesignationIn,
    AssociationIn,
    AssociationListOut,
    AssociationOut,
    CreatedOut,
    VersionOut,
)
from domain.application import Ledger
from domain.association import Association

router = APIRouter(prefix="/associations", tags=["associations"])

P = Permission
Reader = Annotated[Principal, Depends(require(P.READ, P.READ_OWN))]
Ledgers = Annotated[Ledger, Depends(get_ledger)]

REGISTERED_TOPIC = get_topic(Association.Registered)
SCAN_BATCH = 5_000


class AssociationIndex:
    """The ids of the registered associations in registration order, read from the
    notification log by topic and caught up incrementally on each use.

    A stop-gap until an association read model exists (then the list endpoint reads that).
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.ids: list[str] = []
        self.scanned_to = 0
        self.lock = threading.Lock()

    def catch_up(self) -> list[str]:
        with self.lock:
            recorder = self.ledger.recorder
            head = recorder.max_notification_id() or 0
            start = self.scanned_to + 1
            while start <= head:
                rows = recorder.select_notifications(
                    start, SCAN_BATCH, stop=head, topics=[REGISTERED_TOPIC]
                )
                self.ids.extend(str(r.originator_id) for r in rows)
                if len(rows) < SCAN_BATCH:
                    break
                start = rows[-1].id + 1
            self.scanned_to = max(self.scanned_to, head)
            return list(self.ids)


def association_index(request: Request, ledger: Ledgers) -> AssociationIndex:
    state = request.app.state
    index = getattr(state, "association_index", None)
    if index is None:
        with state.write_lock:
            index = getattr(state, "association_index", None)
            if index is None:
                index = state.association_index = AssociationIndex(ledger)
    assert isinstance(index, AssociationIndex)
    return index


@router.post("", status_code=201, response_model=CreatedOut, summary="Register an association")
def register_association(
    body: AssociationIn,
    response: Response,
    w: Annotated[Writer, Depends(writer(P.ASSOCIATIONS, conditional=False))],
) -> CreatedOut:
    association_id, version = w.create(w.ledger.register_association, body)
    response.headers["Location"] = f"/associations/{association_id}"
    response.headers["ETag"] = etag(version)
    return CreatedOut(id=association_id, version=version)


@router.get("", response_model=AssociationListOut, summary="The associations")
def list_associations(
    user: Reader,
    ledger: Ledgers,
    index: Annotated[AssociationIndex, Depends(association_index)],
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AssociationListOut:
    """In registration order; a liaison sees only its own association."""
    if user.can(P.READ):
        ids = index.catch_up()
    else:
        ids = [user.association_id] if user.association_id else []
    chosen = ids[(page - 1) * size : page * size]
    items = [AssociationOut.of(ledger.get_association(i)) for i in chosen]
    return AssociationListOut(items=items, total=len(ids), page=page, size=size)


@router.get("/{association_id}", response_model=AssociationOut, summary="One association")
def get_association(
    association_id: str, response: Response, user: Reader, ledger: Ledgers
) -> AssociationOut:
    user.check_reads_association(association_id)
    association = ledger.get_association(association_id)
    response.headers["ETag"] = etag(association.version)
    return AssociationOut.of(association)


@router.post(
    "/{association_id}/activities",
    status_code=201,
    response_model=ActivityCreatedOut,
    summary="Record an activity",
)
def record_activity(
    association_id: str,
    body: ActivityIn,
    response: Response,
    w: Annotated[Writer, Depends(writer(P.ACTIVITIES, P.OWN_ACTIVITIES))],
) -> ActivityCreatedOut:
    w.user.check_records_activity(association_id)
    activity_id, version = w.association(w.ledger.record_activity, association_id, body)
    response.headers["ETag"] = etag(version)
    return ActivityCreatedOut(activity_id=activity_id, version=version)


@router.post(
    "/{association_id}/designations",
    status_code=201,
    response_model=VersionOut,
    summary="Award a designation for a year",
)
def award_designation(
    association_id: str,
    body: AssociationDesignationIn,
    response: Response,
    w: Annotated[Writer, Depends(writer(P.DESIGNATIONS))],
) -> VersionOut:
    version = w.association(w.ledger.award_designation, association_id, body)
    response.headers["ETag"] = etag(version)
    return VersionOut(version=version)
