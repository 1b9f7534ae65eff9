"""/api/<service>/<path> served without FastAPI's router and dependency injection.

Every API request of the platform passes here, so the per-request work is kept to what a proxy
must do. Matching the request against each of the gateway's routes and solving the endpoint's
dependencies and path parameters cost about as much CPU as the forwarding itself; this ASGI
layer, just inside the gateway's middlewares, recognises the prefix and calls the same
``proxy_request`` the FastAPI route does. The routes stay declared, for the OpenAPI document
and for any path this layer leaves to them (``/api/<service>`` without a path, which they answer
404)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Final

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.edge.caller import edge_caller
from services.gateway.proxy.endpoints import PROXY_PATH, proxy_request
from services.gateway.upstreams import upstreams_of

PREFIX: Final = "/api/"
MAX_PATH_LENGTH: Final = 4096
# What the request metrics and logs name the route, as FastAPI's router would have set it.
_PROXY_ROUTE: Final = SimpleNamespace(path=PROXY_PATH)


class DirectProxyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"] if scope["type"] == "http" else ""
        service, slash, rest = path[len(PREFIX) :].partition("/")
        if not (path.startswith(PREFIX) and service and slash and len(rest) <= MAX_PATH_LENGTH):
            await self.app(scope, receive, send)
            return
        scope["route"] = _PROXY_ROUTE
        request = Request(scope, receive)
        try:
            caller = await edge_caller(request)
            response = await proxy_request(request, upstreams_of(request), caller, service, rest)
        except Exception as error:
            # The app's own handlers (problem+json for the gateway's errors, one line for a
            # client that left); anything else goes on to the server-error handler, as a
            # route's would.
            handler = _handler_for(request, error)
            if handler is None:
                raise
            response = await handler(request, error)
        await response(scope, receive, send)


def _handler_for(request: Request, error: Exception):  # type: ignore[no-untyped-def]
    handlers = request.app.exception_handlers
    for kind in type(error).__mro__:
        if kind is Exception:
            return None
        if kind in handlers:
            return handlers[kind]
    return None
