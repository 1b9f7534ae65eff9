"""What every service's FastAPI app has: request ids, request metrics, problem+json errors,
and the operational endpoints ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import install_problem_handlers
from shared.logs import get_logger, request_id_var
from shared.overload import ConcurrencyLimitMiddleware

log = get_logger(__name__)

REQUEST_ID_HEADER = "x-request-id"
# Free text bound for PostgreSQL, which cannot store a NUL character in text: a pattern for
# Query/Field so that such input is a 422 rather than a database error.
NO_NUL_PATTERN = r"^[^\x00]*$"

HTTP_REQUESTS = Counter(
    "tawny_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "tawny_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

ReadinessCheck = Callable[[], Awaitable[bool]]


class RequestContextMiddleware:
    """Gives each request an id (kept from ``X-Request-ID`` when a caller sent one), echoes it,
    and records the request's route, status and latency."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode())
        request_id = _safe_request_id(incoming)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            route_name = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(scope["method"], route_name, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route_name).observe(elapsed)
            if route_name not in ("/healthz", "/readyz", "/metrics"):
                log.info(
                    "http.request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            request_id_var.reset(token)


def _safe_request_id(incoming: bytes | None) -> str:
    if incoming:
        candidate = incoming.decode("latin-1")
        if 0 < len(candidate) <= 128 and all(c.isalnum() or c in "-_." for c in candidate):
            return candidate
    return uuid.uuid4().hex


def database_check(engine: AsyncEngine) -> ReadinessCheck:
    async def check() -> bool:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    return check


def operational_router(*, readiness_route: bool = True) -> APIRouter:
    """``/healthz``, ``/metrics`` and, unless the app answers readiness its own way, ``/readyz``."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def readyz(request: Request) -> JSONResponse:
        checks: dict[str, ReadinessCheck] = getattr(request.app.state, "readiness_checks", {})
        results = await asyncio.gather(*(_run_check(check) for check in checks.values()))
        states = dict(zip(checks, results, strict=True))
        ready = all(state == "ok" for state in states.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": states},
            status_code=200 if ready else 503,
        )

    if readiness_route:
        router.add_api_route(
            "/readyz",
            readyz,
            methods=["GET"],
            summary="Readiness: the database, broker and consumers are usable",
            responses={503: {"description": "Not ready; the body names the failing checks"}},
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _run_check(check: ReadinessCheck) -> str:
    try:
        ok = await asyncio.wait_for(check(), timeout=2.0)
    except Exception as error:
        return f"failing: {type(error).__name__}"
    return "ok" if ok else "failing"


class ForwardedPrefixMiddleware:
    """Behind the gateway a service lives under ``/api/<service>``; the gateway says so in
    ``X-Forwarded-Prefix``. Setting ASGI's ``root_path`` from it makes the service's own
    ``/docs`` load the right OpenAPI document whether it is reached directly or through the
    gateway. Only the gateway can set it: services are not exposed publicly, and the gateway
    always overwrites the header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            prefix = dict(scope["headers"]).get(b"x-forwarded-prefix")
            if prefix and prefix.startswith(b"/api/") and prefix.isascii():
                scope = {**scope, "root_path": prefix.decode().rstrip("/")}
        await self.app(scope, receive, send)


def install_common(
    app: FastAPI,
    readiness_checks: dict[str, ReadinessCheck] | None = None,
    *,
    readiness_route: bool = True,
    forwarded_prefix: bool = True,
    max_in_flight: int | None = None,
) -> None:
    if max_in_flight is not None:
        # Innermost of the three, so a refusal still gets a request id and a log line.
        app.add_middleware(ConcurrencyLimitMiddleware, max_in_flight=max_in_flight)
    app.add_middleware(RequestContextMiddleware)
    if forwarded_prefix:
        app.add_middleware(ForwardedPrefixMiddleware)
    install_problem_handlers(app)
    app.include_router(operational_router(readiness_route=readiness_route))
    app.state.readiness_checks = readiness_checks or {}


def set_readiness_checks(app: FastAPI, checks: dict[str, ReadinessCheck]) -> None:
    app.state.readiness_checks = checks


def openapi_examples(**examples: Any) -> dict[str, Any]:
    """Shorthand for ``Body(openapi_examples=...)`` entries with a summary each."""
    return {
        name: {"summary": name.replace("_", " "), "value": value}
        for name, value in examples.items()
    }
