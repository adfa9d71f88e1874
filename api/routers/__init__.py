"""One module per area of the HTTP API, each defining `router: fastapi.APIRouter`.

`routers()` lists them in the order `create_app` includes them: a new area is one module here and
one line below. A router whose routes have path parameters under a shared prefix
(`/projects/{project_id}`, `/associations/{association_id}`) comes after every router adding a
static path under that prefix (`/projects/export`), so that the static path is matched first.
Within that rule the busiest come first: a request is matched against every route included
before its own (twice, in this FastAPI), which was a tenth of a project write's time when
projects came last.

Use the dependencies of `api.deps` (`require`, `writer`, `get_ledger`, `get_engine`), raise
domain errors or `api.errors.ApiError`, and the error shape is taken care of.
"""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from api.routers import (
        associations,
        auth,
        checkpoints,
        documents,
        evaluation,
        files,
        imports,
        ledger,
        notifications,
        projects,
        rewards,
        users,
    )

    return [
        # Static paths under `/projects`: `/projects/export`, `/projects/{project_id}/files`.
        ledger.router,
        files.router,
        projects.router,  # the busiest: a project's reads and writes
        auth.router,
        checkpoints.router,
        documents.router,
        evaluation.router,
        imports.router,
        rewards.router,
        notifications.router,  # `/users/me/channels` before `/users/{user_id}`
        users.router,
        associations.router,  # after every static path under `/associations`
    ]
