"""What the HTTP provider sinks (FCM, Notify) share: faults, and running a FastAPI app under
uvicorn on the caller's event loop with a way to drop a connection mid-request.

A fault applies to one target (an FCM registration token, a phone number) or to every request,
forever or for the next ``times`` requests: answer ``status`` (with ``Retry-After`` when
``retry_after_s`` is set), wait ``delay_s`` first (a slow provider), or close the connection
without an answer (``drop_connection``).

The sinks speak HTTP/1.1 only: uvicorn has no HTTP/2. Clients configured for HTTP/2 (httpx
with ``http2=True``) use HTTP/1.1 with them, as HTTP/2 is negotiated by TLS ALPN and the sinks
serve plain HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, BaseModel, Field
from uvicorn.protocols.http.h11_impl import H11Protocol

from deploy.sinks.running import FaultBook

MAX_FAULT_DELAY_S = 120.0
TARGET_MAX_LENGTH = 4096
TRANSPORT_SCOPE_KEY = "tawny.transport"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class HttpFault(BaseModel):
    """Misbehave for one target (or every request), for the next ``times`` requests or until
    the faults are cleared."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"status": 429, "retry_after_s": 2, "times": 3},
                {"target": "+447700900123", "status": 500},
                {"delay_s": 0.5},
                {"drop_connection": True, "times": 1},
            ]
        }
    }

    target: str | None = Field(
        default=None,
        max_length=TARGET_MAX_LENGTH,
        # The web push sink's faults were written with subscription_id before they were these.
        validation_alias=AliasChoices("target", "subscription_id"),
        description="The registration token, phone number or web push subscription id "
        "(also accepted as subscription_id) it applies to; unset: every request",
    )
    status: int | None = Field(
        default=None, ge=400, le=599, description="Answer with this HTTP status"
    )
    retry_after_s: int | None = Field(
        default=None, ge=0, le=86400, description="Send Retry-After with the status"
    )
    delay_s: float = Field(
        default=0.0, ge=0, le=MAX_FAULT_DELAY_S, description="Wait this long before answering"
    )
    drop_connection: bool = Field(
        default=False, description="Close the connection without an answer"
    )
    times: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Apply to the next N requests only"
    )


class HttpFaultBook(FaultBook[HttpFault]):
    """The faults in force; a target's own come before those for every request."""

    def __init__(self) -> None:
        super().__init__(lambda fault: fault.target)


def add_control_routes(app: FastAPI, faults: HttpFaultBook, *, target: str) -> None:
    """The routes every provider sink has: its faults (``target`` names what a fault's target
    is, for the docs) and a liveness check."""

    @app.post("/faults", status_code=201, summary=f"Misbehave for one {target}, or all")
    async def add_fault(fault: HttpFault) -> HttpFault:
        faults.add(fault)
        return fault

    @app.get("/faults", summary="The faults in force")
    async def list_faults() -> list[HttpFault]:
        return faults.listed()

    @app.delete("/faults", status_code=204, summary="Clear every fault")
    async def clear_faults() -> Response:
        faults.clear()
        return Response(status_code=204)

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}


class ConnectionDroppedError(Exception):
    """The fault closed the connection: nothing is to be answered."""


async def apply_fault(
    fault: HttpFault | None, request: Request, error_body: Callable[[int], dict[str, Any]]
) -> JSONResponse | None:
    """Misbehave as ``fault`` says: the response to give instead of the real one, or None to
    go on (after any delay). A dropped connection raises :class:`ConnectionDroppedError`."""
    if fault is None:
        return None
    if fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    if fault.drop_connection:
        transport = request.scope.get(TRANSPORT_SCOPE_KEY)
        if transport is not None:
            transport.abort()
        raise ConnectionDroppedError
    if fault.status is not None:
        headers = {"Retry-After": str(fault.retry_after_s)} if fault.retry_after_s else None
        return JSONResponse(error_body(fault.status), status_code=fault.status, headers=headers)
    return None


def install_drop_handler(app: FastAPI) -> None:
    @app.exception_handler(ConnectionDroppedError)
    async def dropped(_request: Request, _error: ConnectionDroppedError) -> JSONResponse:
        # The transport is closed already; this response goes nowhere.
        return JSONResponse({}, status_code=499)


class _DroppableH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, lending each request its connection's transport so that a
    fault can close it mid-request."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        inner = self.app

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            scope[TRANSPORT_SCOPE_KEY] = transport
            await inner(scope, receive, send)

        self.app = app


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn without its own signal handlers: whoever runs the sink decides when it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class EmbeddedHttpServer:
    """``app`` served on ``host:port`` (0: a free port) on the running event loop."""

    def __init__(self, app: FastAPI, *, host: str, port: int, name: str) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._name = name
        self._server: _EmbeddedUvicorn | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        config = uvicorn.Config(
            self.app,
            http=_DroppableH11,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = _EmbeddedUvicorn(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name=self._name)
        while not server.started:
            if task.done():
                sock.close()
                task.result()
                raise RuntimeError(f"{self._name} stopped before it started")
            await asyncio.sleep(0.01)
        self.port = sock.getsockname()[1]
        self._server, self._task = server, task

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None
