"""THE one place where refusals become HTTP answers.

Every error leaves the API as `{"error": {"code", "message", "field"}}` (DESIGN §12):

- domain errors by family: `InvalidInput` → 422, `Conflict` → 409 (`StaleVersion` → 412
  `version_conflict`), `NotFound` → 404; code, message and field come from the domain;
- request validation (pydantic) → 422 `validation_error` with the field's path
  (`referrals[0].share`), or a more specific code where the schema knows one (`invalid_amount`
  for a JSON float given as money, `invalid_currency`);
- `ApiError` raised by the API itself (401 `unauthenticated`, 403 `forbidden`, 413
  `payload_too_large`, 412 for an unparseable If-Match…);
- Starlette's own HTTP errors (unknown route 404, 405) in the same shape, except FastAPI's 400
  for a body it cannot decode (not UTF-8), which is 422 `validation_error` like malformed JSON;
- the database being unreachable or locked → 503 `unavailable` (retry later);
- anything else is a bug: logged with its traceback and answered 500 `internal_error`.

Messages are in zh-CN unless `Accept-Language` prefers English (`i18n.language_from_request`):
the code writes them in English and `i18n.localise_error` translates them here, at the edge;
codes and fields never change with the language.

`document_errors` declares these refusals in OpenAPI, with `ErrorOut` as their body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import OperationalError as SQLOperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain import errors as domain_errors
from i18n import language_from_request, localise_error
from i18n.messages import localise_validation

log = logging.getLogger("zhaoshang.api")

# Error types our schema validators raise themselves (pydantic_core.PydanticCustomError).
SCHEMA_CODES = frozenset(
    {"invalid_amount", "invalid_currency", "invalid_text", "out_of_range", "validation_error"}
)
# Fields whose every schema error has a code of its own.
FIELD_CODES = {"currency": "invalid_currency"}
LOCATIONS = ("body", "query", "path", "header", "cookie")
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    412: "version_conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_attempts",
    503: "unavailable",
}


# ---- the error body, as documented in OpenAPI ------------------------------------------------


class ErrorDetail(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"code": "not_found", "message": "no project 5b0e…", "field": None}]
        }
    )

    code: str
    message: str
    field: str | None


class ErrorOut(BaseModel):
    """Every refusal: a stable code, a message for people, the field it concerns (or null)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "stage_order",
                        "message": "funds cannot arrive before the signing",
                        "field": "occurred_on",
                    }
                }
            ]
        }
    )

    error: ErrorDetail


ERROR_DESCRIPTIONS = {
    401: "no valid bearer token (`unauthenticated`)",
    403: "the role may not do this (`forbidden`)",
    404: "no such resource (`not_found`)",
    409: "valid, but in conflict with the current state (`stage_order`, `settlement_exists`, "
    "`over_cap`, `date_before_arrival`, …)",
    412: "`If-Match` names a version that is not the current one (`version_conflict`)",
    413: "the request body is too large (`payload_too_large`)",
    415: "the file's content is none of the accepted types (`unsupported_media_type`)",
    422: "invalid whatever the state, with the field's path (`validation_error`, "
    "`invalid_amount`, `out_of_range`, `invalid_text`, `date_in_future`, …)",
    429: "10 failed logins or bad tokens from this address (or for this account from it) in "
    "10 minutes (`too_many_attempts`); `Retry-After` says when to try again",
    503: "the database is busy or unreachable, or the read models are being set up "
    "(`unavailable`); try again",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for refusals, all in the one error shape."""
    return {s: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[s]} for s in statuses}


def document_errors(router: APIRouter) -> None:
    """Declare in OpenAPI the refusals each of the router's operations can answer, in the one
    error shape (replacing FastAPI's own 422 body): 401, 403, 422 and 503 everywhere (a token
    is needed); 404 where the path names something; 409 and 413 for writes; 412 where
    `If-Match` is taken. A route declares others with `responses=error_responses(...)`.
    Call it before the router is included."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        statuses = {401, 403, 422, 429, 503}
        if route.dependant.path_params:
            statuses.add(404)
        if (route.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}:
            statuses |= {409, 413}
        if "if-match" in {p.alias.lower() for p in _all_headers(route.dependant)}:
            statuses.add(412)
        for status, response in error_responses(*sorted(statuses)).items():
            route.responses.setdefault(status, response)


def _all_headers(dependant: Any) -> list[Any]:
    found = list(dependant.header_params)
    for sub in dependant.dependencies:
        found.extend(_all_headers(sub))
    return found


class ApiError(Exception):
    """A refusal made by the API layer itself (authentication, roles, size, preconditions)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def unauthenticated(message: str = "a valid bearer token is required") -> ApiError:
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


def too_many_attempts(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "too_many_attempts",
        f"too many failed attempts from this address; try again in {retry_after} s "
        "(尝试次数过多，请稍后再试)",
        headers={"Retry-After": str(retry_after)},
    )


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def payload_too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"the request body is larger than {limit} bytes")


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content=error_body(code, message, field), headers=dict(headers or {})
    )


def status_for(error: domain_errors.DomainError) -> int:
    if isinstance(error, domain_errors.UnsupportedMediaType):
        return 415
    if isinstance(error, domain_errors.StaleVersion):
        return 412
    if isinstance(error, domain_errors.NotFound):
        return 404
    if isinstance(error, domain_errors.Conflict):
        return 409
    return 422  # InvalidInput, and any refusal of the domain not in a family


def field_path(loc: Sequence[int | str]) -> str | None:
    """A pydantic location as the path the domain uses: `referrals[0].share`, `If-Match`."""
    parts = list(loc)
    where = parts.pop(0) if parts and parts[0] in LOCATIONS else "body"
    if where == "header" and parts:
        return "-".join(word.capitalize() for word in str(parts[0]).replace("_", "-").split("-"))
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or None


def validation_error(exc: RequestValidationError, lang: str = "en") -> tuple[str, str, str | None]:
    """The (code, message, field) of the first problem pydantic found, the message in `lang`."""
    code, message, field = _validation_error(exc)
    problems = exc.errors()
    if problems and message == str(problems[0].get("msg", "")):
        first = problems[0]
        kind, context = str(first.get("type", "")), first.get("ctx") or {}
        return code, localise_validation(kind, code, message, context, lang), field
    return code, localise_error(code, message, lang), field


def _validation_error(exc: RequestValidationError) -> tuple[str, str, str | None]:
    problems = exc.errors()
    if not problems:
        return "validation_error", "the request is invalid", None
    first = problems[0]
    kind = str(first.get("type", ""))
    loc = tuple(first.get("loc", ()))
    field = field_path(loc)
    if kind == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "")
        return "validation_error", f"the body is not valid JSON ({detail})".strip(), None
    if kind == "missing" and field is None:
        return "validation_error", "a JSON object body is required", None
    if kind in SCHEMA_CODES:
        code = kind
    else:
        last = next((p for p in reversed(loc) if isinstance(p, str)), "")
        code = FIELD_CODES.get(last, "validation_error")
    message = str(first.get("msg", "invalid value"))
    if kind == "missing":
        message = "this field is required"
    elif kind == "extra_forbidden":
        message = "this field is not part of the request"
    return code, message, field


def install_error_handlers(app: FastAPI) -> None:
    """Map every error the API can meet to the one error shape."""

    def answer(
        request: Request,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> JSONResponse:
        lang = language_from_request(request)
        response = error_response(status, code, localise_error(code, message, lang), field, headers)
        response.headers["Content-Language"] = "zh-CN" if lang == "zh" else lang
        return response

    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, domain_errors.DomainError)
        return answer(request, status_for(exc), exc.code, exc.message, exc.field)

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return answer(request, exc.status, exc.code, exc.message, exc.field, exc.headers)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        lang = language_from_request(request)
        code, message, field = validation_error(exc, lang)
        response = error_response(422, code, message, field)
        response.headers["Content-Language"] = "zh-CN" if lang == "zh" else lang
        return response

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's answer to a body it cannot even decode (not UTF-8): as invalid as
            # malformed JSON, which is 422 (DESIGN §11).
            return answer(
                request, 422, "validation_error", "the body is not valid JSON (or not UTF-8)"
            )
        code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and message == "Not Found":
            method, path = request.method, request.url.path
            message = f"no such resource: {method} {path}"
        return answer(request, exc.status_code, code, message, None, exc.headers)

    async def on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return answer(
            request,
            503,
            "unavailable",
            "the database is busy or unreachable; try again",
            headers={"Retry-After": "1"},
        )

    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return answer(request, 500, "internal_error", "an internal error occurred; it was logged")

    app.add_exception_handler(domain_errors.DomainError, on_domain_error)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(SQLOperationalError, on_database_unavailable)
    app.add_exception_handler(StoreOperationalError, on_database_unavailable)
    app.add_exception_handler(Exception, on_bug)


# Paths whose endpoint streams its own (larger) body and enforces its own limit: evidence
# uploads. Neither the JSON body limit nor the Idempotency-Key buffering reads them.
STREAMED_PATHS = frozenset({"/files"})
# Paths whose body is an uploaded file read whole (a ledger to import): the pages' limit.
UPLOAD_PATHS = frozenset({"/imports"})


class BodyLimitMiddleware:
    """Refuse request bodies over `limit` bytes with 413 `payload_too_large` (except on
    `STREAMED_PATHS`).

    A declared Content-Length over the limit is refused before anything is read; a streamed
    (chunked) body is read up to the limit and refused as soon as it passes it. The body read
    is replayed to the application, so the endpoint sees it unchanged.
    """

    def __init__(self, app: Any, limit: int, page_limit: int | None = None) -> None:
        self.app = app
        self.limit = limit
        # A page's form may carry a photo or a scan (the funds form): files' own limit there.
        self.page_limit = limit if page_limit is None else page_limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in STREAMED_PATHS:
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self.page_limit if path.startswith("/app/") or path in UPLOAD_PATHS else self.limit
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse(self, scope: Any, receive: Any, send: Any) -> None:
        error = payload_too_large(self.limit)
        lang = language_from_request(Request(scope))
        response = error_response(
            error.status,
            error.code,
            localise_error(error.code, error.message, lang),
            None,
            {"Connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(scope: Any) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(messages: list[dict[str, Any]], receive: Any) -> Any:
    pending = list(messages)

    async def replayed() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
