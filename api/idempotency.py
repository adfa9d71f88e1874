"""`Idempotency-Key` on every POST (DESIGN §21): a retried write records once.

A key is scoped to (user, method, path, key). The first request with it runs in ONE database
transaction holding its key row (the unique index on the scope decides between concurrent
duplicates), the command's events (the event store's transactions join the open one:
`eventsourcing_sqlalchemy` keeps it in a context variable, the way settlements already commit
their document with their event) and the answer: status, body, `ETag`/`Location`. A kill after
the commit leaves the answer stored with the events; a kill before it leaves neither. A repeat
with the same body gets the stored answer (header `Idempotent-Replayed: true`) and records
nothing; the same key with another body is 422 `idempotency_key_reused`. A refused request
(4xx) stores nothing, so its key stays free. Keys are never pruned (kept at least 24 h).

Order inside the transaction. PostgreSQL: the event table's lock and the key row first, so a
duplicate waits on the unique index and never runs its command, and nothing inside can lose a
race (a failed insert would abort the transaction). SQLite: the key row with the answer last —
SQLite has one writer, and taking its write lock before the endpoint would block an endpoint
that writes on another connection (projection catch-up before a settlement); a duplicate from
another process then fails on the unique index at the end and its events roll back with it.
The process's write lock (re-entrant) is held around the whole, the same order as every write.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import inspect as python_inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import sqlalchemy.exc
from fastapi import FastAPI, Response
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute, APIRouter
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
    update,
)

from api.errors import STREAMED_PATHS
from domain import errors

HEADER = "Idempotency-Key"
PAGES_PREFIX = "/app/"
PAGE_FIELD = "idempotency_key"
REPLAYED = "Idempotent-Replayed"
KEPT_HEADERS = ("content-type", "etag", "location")
_KEY = re.compile(r"[!-~]{1,200}")  # visible ASCII, as a header value can carry it
DESCRIPTION = (
    "any string of 1–200 visible ASCII characters (e.g. a UUID) naming this write; a retry "
    "with the same key and body answers the first answer and records nothing; the same key "
    "with another body → 422 `idempotency_key_reused`. Scoped to the user, method and path."
)

metadata = MetaData()
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(100), nullable=False),
    Column("method", String(10), nullable=False),
    Column("path", String(2000), nullable=False),
    Column("key", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", Integer, nullable=True),  # null while the first request runs
    Column("headers", Text, nullable=True),
    Column("body", LargeBinary, nullable=True),
    UniqueConstraint("user_id", "method", "path", "key", name="idempotency_keys_scope"),
)


@dataclass(frozen=True)
class KeyedRequest:
    """A POST carrying the header, as the middleware read it (the body is read once)."""

    scope: dict[str, Any]
    key: str
    path: str
    fingerprint: str


_current: contextvars.ContextVar[KeyedRequest | None] = contextvars.ContextVar(
    "idempotent_request", default=None
)


class _AnsweredAlready(Exception):
    """The unique scope refused our reservation: another request holds the key."""


_BOUNDARY = re.compile(r"boundary=\"?([^\";]+)\"?", re.IGNORECASE)


def fingerprint(body: bytes, if_match: str | None, content_type: str | None = None) -> str:
    """The same request: the same JSON (whatever its spacing and key order) and If-Match. A
    multipart body is the same whatever boundary the client drew: a browser draws a new one for
    each send, so a double tap on a form with a photo sends two bodies that differ only there."""
    boundary = _BOUNDARY.search(content_type or "")
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
        if boundary is not None and (content_type or "").lower().startswith("multipart/"):
            canonical = body.replace(boundary.group(1).encode("latin-1"), b"\0boundary\0")
    digest = hashlib.sha256(canonical)
    digest.update(b"\0" + (if_match or "").strip().encode("latin-1"))
    return digest.hexdigest()


class IdempotencyMiddleware:
    """Reads the body of a keyed POST and names it for the endpoint wrapper (ASGI)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope.get("path") in STREAMED_PATHS
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get(HEADER.lower()) or page_form_key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        messages: list[Any] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        keyed = KeyedRequest(
            scope=scope,
            key=key,
            path=scope.get("path", ""),
            fingerprint=fingerprint(body, headers.get("if-match"), headers.get("content-type")),
        )

        async def replay() -> Any:
            return messages.pop(0) if messages else await receive()

        token = _current.set(keyed)
        try:
            await self.app(scope, replay, send)
        finally:
            _current.reset(token)


def page_form_key(scope: Any) -> str | None:
    """A page's form names its key in its action URL (`?idempotency_key=…`), so a plain form
    post — no script to set a header, perhaps a multipart one with a photo — records once too."""
    if not str(scope.get("path", "")).startswith(PAGES_PREFIX):
        return None
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(PAGE_FIELD)
    return values[0] if values else None


def _ensure_table(engine: Any) -> None:
    try:
        metadata.create_all(engine, checkfirst=True)
    except sqlalchemy.exc.SQLAlchemyError:
        if not inspect(engine).has_table(idempotency_keys.name):  # another process made it
            raise


def _replayed(row: Any, request: KeyedRequest) -> Response:
    if row.fingerprint != request.fingerprint:
        raise errors.InvalidInput(
            f"this {HEADER} was used for another request body; use a new key for a new write"
            "（幂等键已用于另一请求）",
            field=HEADER,
            code="idempotency_key_reused",
        )
    if row.status is None:  # only seen if the first request's transaction is still open
        raise errors.Conflict(
            f"a request with this {HEADER} is still running; retry shortly",
            field=HEADER,
            code="idempotency_key_in_use",
        )
    headers = dict(json.loads(row.headers or "{}"))
    headers[REPLAYED] = "true"
    return Response(content=bytes(row.body or b""), status_code=row.status, headers=headers)


def _find(datastore: Any, request: KeyedRequest, user_id: str) -> Any:
    table = idempotency_keys
    with datastore.transaction(commit=False) as session:
        return session.execute(
            select(table).where(
                table.c.user_id == user_id,
                table.c.method == "POST",
                table.c.path == request.path,
                table.c.key == request.key,
            )
        ).first()


def _answer(route: APIRoute, result: Any, kwargs: dict[str, Any]) -> Response:
    """The response FastAPI would send for `result`, built here so it can be stored."""
    if isinstance(result, Response):
        return result
    content = result
    if route.response_field is not None:
        value, problems = route.response_field.validate(result, {}, loc=("response",))
        if problems:
            raise ValueError(f"the answer does not match its schema: {problems}")
        content = route.response_field.serialize(value, mode="json", by_alias=True)
    body = json.dumps(
        jsonable_encoder(content), ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8")
    response = Response(
        content=body, status_code=route.status_code or 200, media_type="application/json"
    )
    for value in kwargs.values():
        if isinstance(value, Response):  # the endpoint's own status and headers (ETag, …)
            if value.status_code:
                response.status_code = value.status_code
            for name, header in value.headers.items():
                if name.lower() != "content-length":
                    response.headers[name] = header
    return response


def _insert(session: Any, row: dict[str, Any]) -> int:
    """Insert the key's row; the unique scope refusing it means another request holds it."""
    try:
        key = session.execute(idempotency_keys.insert().values(row)).inserted_primary_key
    except sqlalchemy.exc.IntegrityError as e:
        raise _AnsweredAlready from e
    assert key is not None
    return int(key[0])


def _forget(ledger: Any, streams: set[Any]) -> None:
    """A rolled-back transaction stored none of the events the ledger remembers saving."""
    if not streams:
        return
    ledger.mapper.forget(streams)
    cache = getattr(ledger.repository, "cache", None)
    for stream in streams:
        try:
            if cache is not None:
                cache.get(stream, evict=True)
        except KeyError:
            pass


def _run_once(
    request: KeyedRequest, route: APIRoute, endpoint: Callable[..., Any], kwargs: dict[str, Any]
) -> Any:
    state = request.scope.get("state") or {}
    principal = state.get("principal")
    if principal is None:  # not authenticated (the endpoint answers 401 as usual)
        return endpoint(**kwargs)
    if not _KEY.fullmatch(request.key):
        raise errors.InvalidInput(
            f"{HEADER} is 1–200 visible ASCII characters", field=HEADER, code="validation_error"
        )
    app = request.scope["app"]
    ledger = app.state.ledger
    recorder = ledger.recorder
    datastore = recorder.datastore
    _ensure_table(datastore.engine)
    stored = _find(datastore, request, principal.id)
    if stored is not None:
        return _replayed(stored, request)
    streams: set[Any] = set()
    reserve_first = datastore.engine.dialect.name != "sqlite"
    row = {
        "user_id": principal.id,
        "method": "POST",
        "path": request.path,
        "key": request.key,
        "fingerprint": request.fingerprint,
        "created_at": datetime.now(tz=UTC),
    }
    try:
        with app.state.write_lock, datastore.transaction(commit=True) as session:
            session.info["saved_streams"] = streams
            row_id = None
            if reserve_first:
                recorder._lock_table(session)  # PostgreSQL: no writer between read and write
                row_id = _insert(session, row)
            response = _answer(route, endpoint(**kwargs), kwargs)
            answer = {
                "status": response.status_code,
                "headers": json.dumps(
                    {k: v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS}
                ),
                "body": response.body,
            }
            if row_id is None:
                _insert(session, {**row, **answer})
            else:
                session.execute(
                    update(idempotency_keys).where(idempotency_keys.c.id == row_id).values(answer)
                )
    except _AnsweredAlready:
        _forget(ledger, streams)
        stored = _find(datastore, request, principal.id)
        if stored is None:  # the other request was refused and stored nothing: run again
            return _run_once(request, route, endpoint, kwargs)
        return _replayed(stored, request)
    except BaseException:
        _forget(ledger, streams)
        raise
    return response


def make_idempotent(router: APIRouter) -> None:
    """Wrap every POST endpoint of `router` (call before `include_router`)."""
    for route in router.routes:
        if not isinstance(route, APIRoute) or "POST" not in (route.methods or set()):
            continue
        if route.path in STREAMED_PATHS:  # streamed uploads: idempotent by content hash
            continue
        endpoint = route.endpoint
        if getattr(endpoint, "_idempotent", False):  # the routers are shared by every app
            continue
        if python_inspect.iscoroutinefunction(endpoint):
            # The key row, the events and the answer share one transaction held by this
            # thread: a keyed endpoint must be a plain function (its dependencies may await).
            raise TypeError(f"POST {route.path}: an idempotent endpoint must not be async")

        @functools.wraps(endpoint)
        def idempotent(
            *args: Any, __route: APIRoute = route, __endpoint: Any = endpoint, **kwargs: Any
        ) -> Any:
            request = _current.get()
            if request is None:
                return __endpoint(*args, **kwargs)
            return _run_once(request, __route, __endpoint, kwargs)

        idempotent._idempotent = True  # type: ignore[attr-defined]
        route.endpoint = idempotent


def document_header(app: FastAPI) -> None:
    """Name the header on every POST in the OpenAPI description."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for operations in schema.get("paths", {}).values():
            post = operations.get("post")
            if post is None:
                continue
            parameters = post.setdefault("parameters", [])
            if not any(p.get("name") == HEADER for p in parameters):
                parameters.append(
                    {
                        "name": HEADER,
                        "in": "header",
                        "required": False,
                        "description": DESCRIPTION,
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 200,
                            "pattern": "^[!-~]{1,200}$",
                        },
                    }
                )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
