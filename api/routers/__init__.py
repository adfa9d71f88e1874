"""One module per area of the HTTP API, each defining `router: fastapi.APIRouter`.

`create_app` includes the router of every module in this package, so an area is added by
dropping a module here (e.g. `rewards.py`, `dispatches.py`, `project_list.py`); nothing else
needs to change. Use the dependencies of `api.deps` (`require`, `writer`, `get_ledger`,
`get_engine`), raise domain errors or `api.errors.ApiError`, and the error shape is taken care
of.

Routers are included by `PRIORITY` (module attribute, default 100), then by module name. The
routes with path parameters (`/projects/{project_id}`) use a later priority, so a static path
another module adds under the same prefix (`/projects/export`) is matched first.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter

DEFAULT_PRIORITY = 100


def routers() -> list[APIRouter]:
    found: list[tuple[int, str, APIRouter]] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            priority = int(getattr(module, "PRIORITY", DEFAULT_PRIORITY))
            found.append((priority, info.name, router))
    return [router for _, _, router in sorted(found, key=lambda item: item[:2])]
