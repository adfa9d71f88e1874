"""Small builders for test histories, so each test states only what it is about."""

from __future__ import annotations

import itertools
from typing import Any
from uuid import UUID

from domain.application import Ledger
from tests.conftest import OFFICER, STAFF

_numbers = itertools.count(2)


def association(
    app: Ledger,
    name: str | None = None,
    kind: str = "domestic_chamber",
    occurred_on: str = "2022-01-01",
) -> str:
    if name is None:
        # A name and city are registered once (`duplicate_name`) where the ledger looks for
        # duplicates: the default name is numbered after its first use.
        number = next(_numbers) if app.duplicates is not None else 1
        name = "北京湖南商会" if number == 1 else f"北京湖南商会{number}"
    association_id, _ = app.register_association(
        app.context(STAFF), name=name, kind=kind, based_in="北京", occurred_on=occurred_on
    )
    return str(association_id)


def project(app: Ledger, *association_ids: str, **overrides: Any) -> UUID:
    ids = association_ids or (association(app),)
    shares = overrides.pop("shares", None) or _even_shares(len(ids))
    fields: dict[str, Any] = {
        "name": "新材料产业园",
        "investor": "华科实业有限公司",
        "industry": "C",
        "project_type": "ordinary",
        "origin": "other_province",
        "city": "changsha",
        "planned_investment": "100000000.00",
        "referrals": [{"association_id": a, "share": s} for a, s in zip(ids, shares, strict=True)],
        "occurred_on": "2022-06-01",
        "confirm": True,  # the same project again is on purpose in these histories
    }
    fields.update(overrides)
    project_id, _ = app.refer_project(app.context(STAFF), **fields)
    return project_id


def _even_shares(n: int) -> list[str]:
    if n == 1:
        return ["100"]
    if n == 2:
        return ["60", "40"]
    return ["33.34"] + ["33.33"] * (n - 1)


def signed_project(
    app: Ledger, *association_ids: str, signed_on: str = "2023-01-10", **overrides: Any
) -> UUID:
    project_id = project(app, *association_ids, **overrides)
    app.sign(
        app.context(OFFICER),
        project_id,
        occurred_on=signed_on,
        contract_amount="50000000.00",
        currency="CNY",
    )
    return project_id


def producing_project(app: Ledger, started_on: str = "2023-06-01") -> UUID:
    project_id = signed_project(app)
    app.record_production(app.context(OFFICER), project_id, "started", started_on)
    return project_id
