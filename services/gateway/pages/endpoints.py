"""The gateway's own pages: a placeholder home page and the index of the services' API docs."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from services.gateway.config import UPSTREAM_SERVICES
from services.gateway.pages.templates import api_docs_page, home_page

router = APIRouter(tags=["pages"])

_HTML_RESPONSE: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {"text/html": {}}, "description": "An HTML page"}
}


def _page_response(html: str) -> HTMLResponse:
    # Security headers (a strict Content-Security-Policy among them) come from the gateway's
    # SecurityHeadersMiddleware, for these pages and forwarded answers alike.
    return HTMLResponse(html)


@router.get("/", summary="Home page", response_class=HTMLResponse, responses=_HTML_RESPONSE)
async def home() -> HTMLResponse:
    return _page_response(home_page())


@router.get(
    "/api-docs",
    summary="Links to each service's OpenAPI document and Swagger UI",
    response_class=HTMLResponse,
    responses=_HTML_RESPONSE,
)
async def api_docs() -> HTMLResponse:
    return _page_response(api_docs_page(UPSTREAM_SERVICES))
