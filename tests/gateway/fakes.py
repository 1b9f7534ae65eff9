"""Test doubles for the services behind the gateway.

``HostRouter`` is the network: it hands each outgoing request to whatever answers for its host,
a small FastAPI app through ``httpx.ASGITransport`` or a ``httpx.MockTransport`` that fails the
way a real connection does. The gateway's own code runs unchanged on top.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Mapping

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.gateway.edge.ratelimit import TokenBucketLimiter
from tests.support import tokens

SERVICES = ("identity", "alerts", "geo", "dispatch")
GATEWAY_BASE_URL = "http://gateway.test"


def host_of(service: str) -> str:
    return f"{service}.internal"


def gateway_settings(**overrides: object) -> GatewaySettings:
    values: dict[str, object] = {
        f"{service}_url": f"http://{host_of(service)}:800{index}"
        for index, service in enumerate(SERVICES, start=1)
    }
    values.update(environment="test", log_json=False, readiness_timeout_s=0.5)
    values.update(overrides)
    return GatewaySettings.model_validate(values)


def echo_service(name: str, *, ready: bool = True) -> FastAPI:
    """A service that describes every request it gets, so tests can see what was forwarded."""
    app = FastAPI(title=f"fake {name}")

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = {"database": "ok", "broker": "ok" if ready else "failing: KafkaConnectionError"}
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, object]:
        # Identity's public keys: the test signing key, so tokens.make_token() verifies.
        return tokens.jwks()

    @app.get("/moved")
    async def moved(request: Request) -> Response:
        # As FastAPI's own redirects do: an absolute URL built from the Host it was called by.
        return Response(status_code=307, headers={"location": f"{request.base_url}new?x=1"})

    @app.api_route(
        "/{path:path}",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def echo(path: str, request: Request) -> Response:
        body = await request.body()
        seen = {
            "service": name,
            "method": request.method,
            "path": request.url.path,
            "raw_path": request.scope["raw_path"].decode("latin-1"),
            "query": request.scope["query_string"].decode("latin-1"),
            "body_b64": base64.b64encode(body).decode("ascii"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers.raw],
        }
        response = Response(
            json.dumps(seen),
            status_code=201 if request.method == "POST" else 200,
            media_type="application/json",
        )
        response.headers.append("x-upstream", name)
        response.headers.append("set-cookie", "a=1; Path=/; HttpOnly")
        response.headers.append("set-cookie", "b=2; Path=/; HttpOnly")
        # Hop-by-hop headers, one only named by Connection: none may reach the caller.
        response.headers.append("connection", "x-private-hop")
        response.headers.append("x-private-hop", "secret")
        response.headers.append("keep-alive", "timeout=5")
        return response

    return app


class HostRouter(httpx.AsyncBaseTransport):
    def __init__(self, routes: Mapping[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = dict(routes)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.routes[request.url.host].handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self.routes.values():
            await transport.aclose()


def network(**overrides: httpx.AsyncBaseTransport) -> HostRouter:
    """Every service as a healthy echo service, except those given (by service name)."""
    return HostRouter(
        {
            host_of(service): overrides.get(service)
            or httpx.ASGITransport(app=echo_service(service))
            for service in SERVICES
        }
    )


def failing(error: type[httpx.TransportError]) -> httpx.MockTransport:
    """A service whose connection fails with ``error``, as httpx raises it from the network."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise error("simulated by the test", request=request)

    return httpx.MockTransport(handler)


@contextlib.asynccontextmanager
async def running_gateway(
    transport: httpx.AsyncBaseTransport | None = None,
    settings: GatewaySettings | None = None,
    *,
    rate_limit_clock: Callable[[], float] | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app with its lifespan running, and a client talking to it in-process.

    ``rate_limit_clock`` replaces the rate limiters' clock, so a test decides when buckets
    refill instead of racing the machine's speed."""
    settings = settings or gateway_settings()
    app = create_app(settings, transport)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 50123)),
            base_url=GATEWAY_BASE_URL,
        ) as client,
    ):
        if rate_limit_clock is not None:
            app.state.edge_guards = dataclasses.replace(
                app.state.edge_guards,
                per_address=TokenBucketLimiter(
                    settings.rate_limit_per_ip_per_minute,
                    settings.rate_limit_ip_burst,
                    clock=rate_limit_clock,
                ),
                per_account=TokenBucketLimiter(
                    settings.rate_limit_per_account_per_minute,
                    settings.rate_limit_account_burst,
                    clock=rate_limit_clock,
                ),
            )
        yield client


def seen_by_upstream(response: httpx.Response) -> dict[str, object]:
    """What the echo service reported receiving."""
    seen: dict[str, object] = response.json()
    return seen


def header_values(seen: Mapping[str, object], name: str) -> list[str]:
    headers = seen["headers"]
    assert isinstance(headers, list)
    return [value for key, value in headers if key.lower() == name]


class RawService:
    """A service on a real port that speaks HTTP/1.1 by hand, so a test controls exactly what
    happens on each connection: it answers ``status`` with keep-alive, records each request's
    head, and, after answering 500 to a request whose path is ``close_after``, closes that
    connection when the next request arrives on it, without answering (what a service does
    when it drops a connection the gateway still holds in its pool)."""

    def __init__(self, *, status: int = 200, close_after: str | None = None) -> None:
        self.status = status
        self.close_after = close_after
        self.heads: list[list[bytes]] = []
        self.connections = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> RawService:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        doomed = False
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                if doomed:
                    return  # closed without an answer, in the finally below
                lines = head.split(b"\r\n")
                self.heads.append(lines)
                path = lines[0].split(b" ")[1].decode()
                body = b'{"path": "' + path.encode() + b'"}'
                status = 500 if path == self.close_after else self.status
                writer.write(
                    b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (status, len(body), body)
                )
                await writer.drain()
                doomed = path == self.close_after
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
