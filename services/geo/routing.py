"""A route class that caps the request body, for endpoints that take whole geographies."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message

from services.geo.config import GeoSettings
from services.geo.dependencies import geo_settings
from services.geo.errors import RequestBodyTooLargeError


class BodySizeCappedRoute(APIRoute):
    """Refuses a body over ``settings.max_import_body_bytes`` with a 413 problem before it is
    parsed: at once when Content-Length says so, otherwise as soon as the stream passes it.

    FastAPI's own ``max_body_size`` answers with text/plain when Content-Length is too large;
    this keeps every error problem+json and reads the limit from the settings at request time.
    """

    @staticmethod
    def body_limit(settings: GeoSettings) -> int:
        return settings.max_import_body_bytes

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def capped(request: Request) -> Response:
            limit = self.body_limit(geo_settings(request))
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise RequestBodyTooLargeError(limit)
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise RequestBodyTooLargeError(limit)
            return await handler(Request(request.scope, _replay(bytes(body), request)))

        return capped


class AreaBodyCappedRoute(BodySizeCappedRoute):
    """The same for endpoints that take one drawn area (``settings.max_area_body_bytes``):
    a polygon of the most vertices allowed is a few hundred kilobytes, so anything far
    larger is refused before it is parsed."""

    @staticmethod
    def body_limit(settings: GeoSettings) -> int:
        return settings.max_area_body_bytes


def _replay(body: bytes, request: Request) -> Callable[[], Coroutine[Any, Any, Message]]:
    """A receive channel that hands the already-read body over once, then defers to the
    original channel (which only has a disconnect left to say)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await request.receive()

    return receive
