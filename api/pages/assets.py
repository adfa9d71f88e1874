"""The pages' static files (vendored htmx, Pico CSS, ECharts, and our own stylesheet and script),
served from `/static/<content hash>/<name>` with a year-long immutable cache: a changed file gets
a new URL, so no browser ever keeps a stale one."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from api.errors import ApiError

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Asset:
    name: str  # path below `api/static/`, e.g. `vendor/htmx-2.0.11.min.js`
    digest: str
    body: bytes
    media_type: str

    @property
    def url(self) -> str:
        return f"/static/{self.digest}/{self.name}"


@cache
def assets() -> dict[str, Asset]:
    """Every file below `api/static/` (read once; a deployment changes them, not a request)."""
    found = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if not path.is_file() or path.suffix not in (".js", ".css", ".svg", ".png", ".ico"):
            continue
        body = path.read_bytes()
        name = path.relative_to(STATIC_DIR).as_posix()
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type.endswith("javascript"):
            media_type += "; charset=utf-8"
        found[name] = Asset(name, hashlib.sha256(body).hexdigest()[:16], body, media_type)
    return found


def asset_url(name: str) -> str:
    """The URL of a static file, with its content hash (templates call this)."""
    return assets()[name].url


router = APIRouter(include_in_schema=False)


@router.get("/static/{digest}/{name:path}")
def static_file(digest: str, name: str) -> Response:
    asset = assets().get(name)
    if asset is None or asset.digest != digest:
        raise ApiError(404, "not_found", "no such static file")
    return Response(
        asset.body,
        media_type=asset.media_type,
        headers={
            "Cache-Control": f"public, max-age={YEAR}, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )
