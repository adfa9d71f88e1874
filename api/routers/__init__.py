"""One module per area of the HTTP API, each defining `router: fastapi.APIRouter`.

`routers()` lists them in the order `create_app` includes them: a new area is one module here and
one line below. Routers whose routes have path parameters under a shared prefix
(`/projects/{project_id}`, `/associations/{association_id}`) come last, so a static path another
router adds under the same prefix (`/projects/export`) is matched first.

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
        auth.router,
        checkpoints.router,
        documents.router,
        evaluation.router,
        files.router,
        imports.router,
        ledger.router,
        rewards.router,
        notifications.router,  # `/users/me/channels` before `/users/{user_id}`
        users.router,
        # Path parameters under shared prefixes: after the static paths above.
        associations.router,
        projects.router,
    ]
