"""The one SQLAlchemy URL: how the event store and the read models reach the same database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.application import Ledger, utc_now


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def ledger_env(url: str) -> dict[str, str]:
    """The eventsourcing environment for an application stored at `url`."""
    return {
        "PERSISTENCE_MODULE": "projections.persistence:Factory",
        "SQLALCHEMY_URL": normalise_url(url),
        # Recently used aggregates stay in memory and are fast-forwarded with one query on each
        # load, instead of replaying their whole history (DESIGN §10: project page reads).
        "AGGREGATE_CACHE_MAXSIZE": "2000",
    }


def open_ledger(url: str, clock: Callable[[], datetime] = utc_now) -> Ledger:
    return Ledger(ledger_env(url), clock=clock)
