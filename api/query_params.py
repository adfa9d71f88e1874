"""Unknown query parameters are refused (422 `unknown_parameter`), never ignored (DESIGN §16).

`?q=…` on an endpoint that has no search, or a misspelt filter (`?cty=长沙`), would otherwise
answer as if it had not been given: everything, silently. One app-wide dependency compares the
query's names with those the matched operation declares.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from api.errors import ApiError

_DECLARED: dict[int, frozenset[str]] = {}


def declared_query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters an operation takes, its dependencies' included."""
    names = _DECLARED.get(id(route))
    if names is None:
        names = frozenset(_query_names(route.dependant))
        _DECLARED[id(route)] = names
    return names


def _query_names(dependant: Any) -> set[str]:
    found = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        found |= _query_names(sub)
    return found


async def refuse_unknown_query_parameters(request: Request) -> None:
    # `async`: it never blocks, and a plain `def` would cost every request a thread hand-off.
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.include_in_schema:
        return  # the pages (and `/docs`) read their own queries, e.g. `?next=`, `?as_of=`
    allowed = declared_query_names(route)
    for name in request.query_params:
        if name in allowed:
            continue
        if allowed:
            message = (
                f"{name} is not a query parameter of this request; it takes: "
                f"{', '.join(sorted(allowed))}"
            )
        else:
            message = f"{name} is not a query parameter of this request, which takes none"
        raise ApiError(422, "unknown_parameter", message, field=name)
