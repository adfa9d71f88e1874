"""`GET /health`: liveness, and the projections that stopped on an event (DESIGN §21).

A stopped projection makes the service `degraded`, still HTTP 200: the process is alive and
serves writes and the other read models, so a load balancer must not take it out of service;
monitoring reads `status` and `stopped_projections`.
"""

from __future__ import annotations

import logging

import sqlalchemy.exc
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from projections.faults import stopped_projections

log = logging.getLogger("zhaoshang.api")


class StoppedProjectionOut(BaseModel):
    """Where a read model stopped: the event it cannot apply, and the error."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "ledger",
                    "stream_id": "5b0e6c1e-0d1f-4c2a-9a57-3f1e2d4c5b6a",
                    "version": 7,
                    "event_type": "Project.FundsArrived",
                    "notification_id": 8123,
                    "error": "KeyError: 'a1'",
                    "stopped_at": "2025-01-02T03:04:05+00:00",
                }
            ]
        }
    )

    name: str
    stream_id: str
    version: int
    event_type: str
    notification_id: int
    error: str
    stopped_at: str


class HealthOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str = Field(description="`ok`, or `degraded` when a read model stopped")
    stopped_projections: list[StoppedProjectionOut] | None = Field(
        default=None, description="present when degraded: each stopped read model"
    )


def health_report(engine: Engine) -> HealthOut:
    try:
        faults = stopped_projections(engine)
    except sqlalchemy.exc.SQLAlchemyError as error:
        log.warning("health: the projection registry cannot be read: %s", error)
        return HealthOut(status="degraded")
    if not faults:
        return HealthOut(status="ok")
    return HealthOut(
        status="degraded",
        stopped_projections=[
            StoppedProjectionOut(
                name=f.name,
                stream_id=f.stream_id,
                version=f.version,
                event_type=f.event_type,
                notification_id=f.notification_id,
                error=f.error,
                stopped_at=f.stopped_at,
            )
            for f in faults
        ],
    )
