"""Evidence files (DESIGN §18): upload, download, a project's files.

`POST /files` parses its multipart body as it arrives (python-multipart's push parser, fed from
the request stream) and writes the `file` part to the store's incoming folder while hashing
it, so the body is never held whole and the first byte past `ZHAOSHANG_MAX_UPLOAD_BYTES` ends
the request with 413. The JSON body limit and the Idempotency-Key buffering do not apply to
this path (`api.errors.STREAMED_PATHS`); an upload is idempotent by nature, the same bytes
being the same file.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations at run time.
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from adapters.files import CHUNK, FileTooLarge, Incoming
from api.auth import Permission, Principal
from api.deps import get_ledger, project_scope, require
from api.errors import ApiError, error_responses, payload_too_large
from api.read_models import get_services
from api.schemas import FileOut, ProjectFileOut
from domain import errors
from domain.application import Ledger
from services.bootstrap import Services

router = APIRouter(tags=["files"])
P = Permission
# Whoever records events may attach evidence to them.
Uploader = Annotated[
    Principal,
    Depends(
        require(
            P.PROJECT_EVENTS,
            P.REFER_PROJECT,
            P.REFER_OWN_PROJECT,
            P.ACTIVITIES,
            P.OWN_ACTIVITIES,
            P.JUDGEMENTS,
            P.SETTLEMENTS,
        )
    ),
]
Reader = Annotated[Principal, Depends(require(P.READ, P.READ_OWN))]
# Multipart framing around the file (boundaries, part headers) may add this much to the body.
FRAMING_BYTES = 64 * 1024

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


class _FilePart:
    """Push-parser callbacks: the first part named `file` goes to the store, others are
    skipped."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.incoming: Incoming | None = None
        self.name = ""
        self.done = False
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._current = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: self._add("_header_field", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("_header_value", d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _add(self, attribute: str, data: bytes) -> None:
        setattr(self, attribute, getattr(self, attribute) + data)

    def _begin(self) -> None:
        self._headers = {}
        self._current = False

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") == b"file" and self.incoming is None and not self.done:
            self._current = True
            self.name = options.get(b"filename", b"").decode("utf-8", "replace")
            self.incoming = self.services.files.receive()

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._current and self.incoming is not None:
            self.incoming.write(data[start:end])

    def _end(self) -> None:
        if self._current:
            self._current = False
            self.done = True


@router.post(
    "/files",
    status_code=201,
    response_model=FileOut,
    responses=error_responses(413, 415),
    openapi_extra=UPLOAD_BODY,
    summary="Upload an evidence file (multipart field `file`)",
)
async def upload_file(request: Request, user: Uploader) -> JSONResponse:
    """Store a bank slip, contract, photo or e-invoice by content hash: 201 {sha256, size,
    media_type, name}. Typed by its bytes (PDF, JPEG, PNG, HEIC, WebP, OFD, XLSX, DOCX; else 415
    `unsupported_media_type`), at most `ZHAOSHANG_MAX_UPLOAD_BYTES` (20 MiB; else 413). The
    same bytes again answer the same file."""
    services = get_services(request)
    limit = services.settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FRAMING_BYTES:
        raise _too_large(limit)
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ApiError(
            422,
            "validation_error",
            "send the file as multipart/form-data in the field `file` (以表单字段 file 上传)",
            "file",
        )
    part = _FilePart(services)
    parser = MultipartParser(boundary, part.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            if chunk:
                await run_in_threadpool(parser.write, chunk)
        parser.finalize()
    except FileTooLarge:
        raise _too_large(limit) from None
    except ApiError:
        raise
    except Exception as e:  # the multipart framing itself is broken
        if part.incoming is not None:
            part.incoming.discard()
        if isinstance(e, errors.DomainError):
            raise
        raise ApiError(
            422, "validation_error", f"the multipart body is malformed ({e})", "file"
        ) from None
    if part.incoming is None or not part.done:
        if part.incoming is not None:
            part.incoming.discard()
        raise ApiError(422, "validation_error", "the field `file` is required (缺少文件)", "file")
    stored = await run_in_threadpool(services.files.keep, part.incoming, part.name, user.id)
    return JSONResponse(status_code=201, content=stored)


def _too_large(limit: int) -> ApiError:
    error = payload_too_large(limit)
    error.message = f"the file is larger than {limit} bytes (文件超过大小限制)"
    error.headers["Connection"] = "close"
    return error


@router.get(
    "/files/{sha256}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the bytes"}},
)
def download_file(
    sha256: str,
    user: Reader,
    request: Request,
    ledger: Annotated[Ledger, Depends(get_ledger)],
) -> StreamingResponse:
    """The stored bytes, as an attachment of the stored type (`nosniff`), for a user who
    uploaded the file or may read an event referencing it; anyone else is told 404."""
    files = get_services(request).files
    try:
        stored = files.readable(sha256, user.id, project_scope(user, ledger))
        handle = files.store.open(stored.sha256)
    except (errors.UnknownFile, FileNotFoundError):
        raise errors.NotFound(f"no file {sha256}", field="sha256") from None
    name = files.download_name(stored.sha256, user.id)

    def chunks() -> Any:
        with handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type=stored.media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
            "Content-Length": str(stored.size),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "ETag": f'"{stored.sha256}"',
            "Cache-Control": "private, max-age=31536000, immutable",
        },
    )


@router.get(
    "/projects/{project_id}/files",
    response_model=list[ProjectFileOut],
)
def project_files(
    project_id: str,
    user: Reader,
    request: Request,
    ledger: Annotated[Ledger, Depends(get_ledger)],
) -> list[dict[str, Any]]:
    """The files the project's events reference, each with those events ({version, type})."""
    user.check_reads_project(ledger.get_project(project_id).association_ids(), project_id)
    return get_services(request).files.project_files(project_id)
