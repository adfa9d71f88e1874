"""HTTP fixtures: the real app (`create_app`) on a fresh database, driven through TestClient.

`api` runs on an SQLite file and on PostgreSQL (the `database_url` fixture); `sqlite_api` only
on SQLite, for the wide tables of cases whose subject is the HTTP layer, not the store.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx2
    from fastapi.testclient import TestClient

from api.app import create_app
from domain.values import SHANGHAI
from services.settings import Settings

ROLES = ("admin", "staff", "officer", "liaison", "auditor")


def shanghai_morning(day: str) -> datetime:
    """10:00 in Shanghai on `day`, as UTC: a clock reading for a business day."""
    return datetime.combine(date.fromisoformat(day), time(10), tzinfo=SHANGHAI).astimezone(UTC)


class Api:
    """A TestClient on the app, with users of every role at hand."""

    def __init__(self, client: TestClient, clock: list[datetime], database_url: str) -> None:
        self.client = client
        self.app: Any = client.app
        self.clock = clock
        self.database_url = database_url
        self._tokens: dict[tuple[str, str | None], str] = {}
        self._names: dict[str, int] = {}

    def token(self, role: str, association_id: str | None = None) -> str:
        key = (role, association_id)
        if key not in self._tokens:
            name = f"{role}-{len(self._tokens) + 1}"
            # Tokens that never expire: tests move the clock by years (issue 15).
            _, self._tokens[key] = self.app.state.users.create(
                name, role, association_id, token_expires=False
            )
        return self._tokens[key]

    def auth(self, role: str, association_id: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, association_id)}", **extra}

    def at(self, day: str) -> None:
        """Move the application's clock to 10:00 Shanghai time on `day`."""
        self.clock[0] = shanghai_morning(day)

    def request(
        self,
        method: str,
        path: str,
        role: str | None = "admin",
        *,
        association_id: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        all_headers = dict(headers or {})
        if role is not None:
            all_headers.update(self.auth(role, association_id))
        return self.client.request(method, path, json=json, headers=all_headers, **kwargs)

    def post(self, path: str, json: Any = None, role: str | None = "admin", **kw: Any) -> Any:
        return self.request("POST", path, role, json=json, **kw)

    def get(self, path: str, role: str | None = "admin", **kw: Any) -> Any:
        return self.request("GET", path, role, **kw)

    # ---- builders -----------------------------------------------------------------------

    def association(self, name: str = "北京湖南商会", kind: str = "domestic_chamber") -> str:
        # A name and city are registered once (`duplicate_name`): the second of a name is "…2".
        self._names[name] = self._names.get(name, 0) + 1
        if self._names[name] > 1:
            name = f"{name}{self._names[name]}"
        r = self.post(
            "/associations",
            {"name": name, "kind": kind, "based_in": "北京", "occurred_on": "2022-01-01"},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def project(self, *association_ids: str, **overrides: Any) -> str:
        ids = association_ids or (self.association(),)
        shares = [100] if len(ids) == 1 else [60, 40]
        body: dict[str, Any] = {
            "name": "新材料产业园",
            "investor": "华科实业有限公司",
            "industry": "C",
            "project_type": "ordinary",
            "origin": "other_province",
            "city": "changsha",
            "planned_investment": "100000000.00",
            "referrals": [
                {"association_id": a, "share": s} for a, s in zip(ids, shares, strict=True)
            ],
            "occurred_on": "2022-06-01",
            "confirm": True,  # the same name and investor again is on purpose here
        }
        body.update(overrides)
        r = self.post("/projects", body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def signed_project(self, *association_ids: str, signed_on: str = "2023-01-10") -> str:
        project_id = self.project(*association_ids)
        r = self.post(
            f"/projects/{project_id}/signing",
            {"occurred_on": signed_on, "contract_amount": "50000000.00", "currency": "CNY"},
            role="officer",
        )
        assert r.status_code == 201, r.text
        return project_id


def _client(database_url: str, clock: list[datetime], **settings: Any) -> Iterator[Api]:
    # As the server runs: the one projection runner in the background (polling often, so reads
    # that wait for fresh figures wait little), no scheduled documents unless a test makes them.
    options: dict[str, Any] = {
        "background_services": True,
        "scheduler_enabled": False,
        "projection_poll_seconds": 0.02,
        **settings,
    }
    app = create_app(Settings(database_url=database_url, **options), clock=lambda: clock[0])
    with TestClient(app) as client:
        yield Api(client, clock, database_url)


@pytest.fixture
def api(database_url: str, clock: list[datetime], tmp_path: Path) -> Iterator[Api]:
    """The API on a fresh SQLite file, then on a fresh PostgreSQL database."""
    yield from _client(database_url, clock, files_dir=str(tmp_path / "files"))


@pytest.fixture
def sqlite_api(tmp_path: Path, clock: list[datetime]) -> Iterator[Api]:
    yield from _client(f"sqlite:///{tmp_path / 'api.db'}", clock)


def project_read_models(api: Api) -> None:
    """Bring the read models up to every event (the server does this in the background)."""
    from projections.catalogue import all_projections
    from projections.runtime import ProjectionRunner

    ProjectionRunner(api.app.state.ledger, all_projections()).run_once()
