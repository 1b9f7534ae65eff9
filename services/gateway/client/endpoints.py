"""The web client: one HTML page, its style sheet and ES modules (``services/gateway/web/``),
the few Leaflet files it imports (from ``node_modules/``, installed by ``npm ci``), and its
settings as JSON.

No build step: the browser loads the modules as they are. Every path is looked up inside its
own folder only, so ``..`` can never reach another file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from services.gateway.caching import etag_matches, strong_etag
from services.gateway.client.schemas import ClientSettings
from services.gateway.config import GatewaySettings
from services.gateway.errors import GatewayError
from shared.errors import problem_responses

WEB_ROOT: Final = Path(__file__).resolve().parent.parent / "web"
REPO_ROOT: Final = Path(__file__).resolve().parents[3]
LEAFLET_DIST: Final = REPO_ROOT / "node_modules" / "leaflet" / "dist"
# Only what the client uses of Leaflet is served, not the whole package.
LEAFLET_FILES: Final = frozenset({"leaflet-src.esm.js", "leaflet.css"})

MEDIA_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
SERVICE_WORKER_SCOPE: Final = "/app"
# The client changes with each deployment: browsers revalidate (ETag, answered 304 when it is
# unchanged) rather than guess.
NO_CACHE: Final = {"Cache-Control": "no-cache"}

router = APIRouter(tags=["web client"])

_FILE_RESPONSE: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {"text/html": {}}, "description": "The file"},
    **problem_responses(404),
}

ClientPath = Annotated[
    str,
    PathParam(max_length=200, description="A file of the web client", examples=["js/main.js"]),
]


class ClientFileNotFoundError(GatewayError):
    status_code = 404
    slug = "no-such-file"
    title = "No such file"


@dataclass(frozen=True)
class _LoadedFile:
    version: tuple[int, int]
    """Modification time and size when read: a changed file is read again."""
    body: bytes
    etag: bytes
    media_type: str


# Read once, kept in memory: a handful of small files, asked for by every visitor.
_loaded: dict[Path, _LoadedFile] = {}


def _load(candidate: Path, media_type: str) -> _LoadedFile:
    stat = candidate.stat()
    version = (stat.st_mtime_ns, stat.st_size)
    loaded = _loaded.get(candidate)
    if loaded is None or loaded.version != version:
        body = candidate.read_bytes()
        loaded = _LoadedFile(version, body, strong_etag(body), media_type)
        _loaded[candidate] = loaded
    return loaded


def _file_in(root: Path, relative: str, request: Request) -> Response:
    """The file, or 304 when the caller's If-None-Match names its current ETag."""
    if "\x00" in relative:
        # No file name holds a NUL, and the operating system refuses to look one up (ValueError).
        raise ClientFileNotFoundError(f"there is no file {relative!r} here")
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        raise ClientFileNotFoundError(f"there is no file {relative!r} here")
    media_type = MEDIA_TYPES.get(candidate.suffix)
    if media_type is None:
        raise ClientFileNotFoundError(f"there is no file {relative!r} here")
    loaded = _load(candidate, media_type)
    headers = {**NO_CACHE, "ETag": loaded.etag.decode()}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and etag_matches(if_none_match.encode("latin-1"), loaded.etag):
        return Response(status_code=304, headers=headers)
    return Response(loaded.body, media_type=loaded.media_type, headers=headers)


def _index(request: Request) -> Response:
    return _file_in(WEB_ROOT, "index.html", request)


@router.get(
    "/app",
    summary="The web client",
    description="Residents and police; its views are addressed after the # "
    "(for example /app#/inbox).",
    response_class=FileResponse,
    responses=_FILE_RESPONSE,
)
async def client_page(request: Request) -> Response:
    return _index(request)


@router.get(
    "/reset-password",
    summary="The web client's password reset page (the link in the reset email)",
    response_class=FileResponse,
    responses=_FILE_RESPONSE,
)
async def reset_password_page(request: Request) -> Response:
    return _index(request)


@router.get(
    "/app/settings.json",
    summary="What the web client needs to know of the gateway's settings",
    responses=problem_responses(429),
)
async def client_settings(request: Request) -> ClientSettings:
    settings: GatewaySettings = request.app.state.settings
    return ClientSettings(map_tile_url=settings.map_tile_url or None)


@router.get(
    "/app/sw.js",
    summary="The web client's service worker (browser notifications)",
    description="Its scope is the client's page, /app, which lies outside the folder it is "
    "served from (/app/): `Service-Worker-Allowed` lets it register there.",
    response_class=FileResponse,
    responses=_FILE_RESPONSE,
)
async def service_worker(request: Request) -> Response:
    response = _file_in(WEB_ROOT, "sw.js", request)
    response.headers["Service-Worker-Allowed"] = SERVICE_WORKER_SCOPE
    return response


@router.get(
    "/app/{path:path}",
    summary="A file of the web client (modules, style sheet, icons)",
    response_class=FileResponse,
    responses=_FILE_RESPONSE,
)
async def client_file(path: ClientPath, request: Request) -> Response:
    return _file_in(WEB_ROOT, path or "index.html", request)


@router.get(
    "/vendor/leaflet/{path:path}",
    summary="Leaflet, the map library, as installed from the npm registry",
    response_class=FileResponse,
    responses=_FILE_RESPONSE,
)
async def leaflet_file(path: ClientPath, request: Request) -> Response:
    if path not in LEAFLET_FILES:
        raise ClientFileNotFoundError(f"there is no file {path!r} here")
    return _file_in(LEAFLET_DIST, path, request)
