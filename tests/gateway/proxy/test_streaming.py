"""Bodies stream through the gateway, on the real network (aiohttp on both sides): a request body
reaches the service before the caller has finished sending it, an answer reaches the caller
before the service has finished writing it, and the body limit and public cache still hold.

The gateway is driven at the ASGI level, message by message, because an in-process HTTP client
would itself wait for whole bodies and hide the streaming under test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from fastapi import FastAPI
from starlette.types import Message

from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.gateway.proxy.service import BUFFERED_BODY_BYTES
from tests.gateway.fakes import gateway_settings

# A guard against a gateway that waits for whole bodies (it would deadlock), not a speed test.
DEADLOCK_GUARD_S = 10
CHUNK = b"x" * (BUFFERED_BODY_BYTES + 1)


class StreamingService:
    """A service that reports when the first bytes of an upload arrive, and writes a long answer
    in two parts, the second only once the test says the first has reached the caller."""

    def __init__(self) -> None:
        self.upload_began = asyncio.Event()
        self.received_bytes = 0
        self.first_part_delivered = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/upload", self.upload)
        self.app.router.add_get("/document", self.document)
        self.app.router.add_get("/wards", self.document)
        self.app.router.add_get("/broken", self.broken)

    async def upload(self, request: web.Request) -> web.Response:
        async for chunk in request.content.iter_any():
            self.received_bytes += len(chunk)
            self.upload_began.set()
        return web.json_response({"received": self.received_bytes}, status=201)

    async def document(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/plain"})
        await response.prepare(request)
        await response.write(b"first part;")
        await self.first_part_delivered.wait()
        await response.write(b"second part")
        await response.write_eof()
        return response

    async def broken(self, request: web.Request) -> web.StreamResponse:
        """Promises 100 bytes, writes 10, and drops the connection (a service that crashed)."""
        response = web.StreamResponse(headers={"content-length": "100"})
        await response.prepare(request)
        await response.write(b"0123456789")
        assert request.transport is not None
        request.transport.abort()
        return response


@contextlib.asynccontextmanager
async def serving(service: StreamingService) -> AsyncIterator[str]:
    runner = web.AppRunner(service.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def gateway(settings: GatewaySettings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)  # the real aiohttp client, not a test transport
    async with app.router.lifespan_context(app):
        yield app


@dataclass
class Exchange:
    """One request driven through the gateway's ASGI interface."""

    app: FastAPI
    method: str
    path: str
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    sent: list[Message] = field(default_factory=list)

    @property
    def status(self) -> int:
        status: int = self.sent[0]["status"]
        return status

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")

    def header(self, name: bytes) -> bytes | None:
        return dict(self.sent[0]["headers"]).get(name)

    async def run(self, receive: AsyncIterator[Message], on_send: object = None) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": self.method,
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"gateway.test"), *self.headers],
            "client": ("203.0.113.7", 50123),
            "server": ("gateway.test", 80),
            "app": self.app,
        }
        messages = aiter(receive)

        async def receive_next() -> Message:
            return await anext(messages)

        async def send(message: Message) -> None:
            self.sent.append(message)
            if callable(on_send):
                on_send(message)

        async with asyncio.timeout(DEADLOCK_GUARD_S):
            await self.app(scope, receive_next, send)


async def no_body() -> AsyncIterator[Message]:
    yield {"type": "http.request", "body": b"", "more_body": False}
    await asyncio.Event().wait()  # the caller stays connected: no disconnect until the end


class TestRequestBodies:
    async def test_a_large_upload_reaches_the_service_before_the_caller_has_sent_it_all(
        self,
    ) -> None:
        service = StreamingService()

        async def upload() -> AsyncIterator[Message]:
            yield {"type": "http.request", "body": CHUNK, "more_body": True}
            # A gateway that read whole bodies first would never let the service see this one.
            await service.upload_began.wait()
            yield {"type": "http.request", "body": CHUNK, "more_body": False}

        async with serving(service) as url, gateway(gateway_settings(alerts_url=url)) as app:
            exchange = Exchange(
                app,
                "POST",
                "/api/alerts/upload",
                [(b"content-length", str(2 * len(CHUNK)).encode())],
            )
            await exchange.run(upload())

        assert exchange.status == 201, exchange.body
        assert exchange.body == b'{"received": %d}' % (2 * len(CHUNK))
        assert app.state.upstreams.limits.in_flight["alerts"] == 0

    async def test_a_chunked_upload_past_the_limit_is_413_and_stopped_there(self) -> None:
        service = StreamingService()
        limit = 3 * len(CHUNK)

        async def endless() -> AsyncIterator[Message]:
            while True:
                yield {"type": "http.request", "body": CHUNK, "more_body": True}

        async with serving(service) as url:
            settings = gateway_settings(alerts_url=url, max_body_bytes=limit)
            async with gateway(settings) as app:
                exchange = Exchange(
                    app, "POST", "/api/alerts/upload", [(b"transfer-encoding", b"chunked")]
                )
                await exchange.run(endless())

        assert exchange.status == 413
        assert b"request-too-large" in exchange.body
        assert service.received_bytes <= limit
        assert app.state.upstreams.limits.in_flight["alerts"] == 0


class TestAnswers:
    async def test_an_answer_reaches_the_caller_before_the_service_has_written_it_all(
        self,
    ) -> None:
        service = StreamingService()

        def delivered(message: Message) -> None:
            if message.get("body", b"").startswith(b"first part"):
                service.first_part_delivered.set()

        async with serving(service) as url, gateway(gateway_settings(alerts_url=url)) as app:
            exchange = Exchange(app, "GET", "/api/alerts/document")
            await exchange.run(no_body(), delivered)

        assert exchange.status == 200
        assert exchange.body == b"first part;second part"
        assert exchange.sent[-1]["more_body"] is False
        assert app.state.upstreams.limits.in_flight["alerts"] == 0

    async def test_a_public_read_too_large_to_keep_is_streamed_and_not_cached(self) -> None:
        service = StreamingService()

        def delivered(message: Message) -> None:
            if message.get("body", b"").startswith(b"first part"):
                service.first_part_delivered.set()

        async with serving(service) as url:
            settings = gateway_settings(geo_url=url, public_cache_max_body_bytes=4)
            async with gateway(settings) as app:
                exchange = Exchange(app, "GET", "/api/geo/wards")
                await exchange.run(no_body(), delivered)
                cached = len(app.state.upstreams.public_cache._entries)

        assert exchange.status == 200
        assert exchange.body == b"first part;second part"
        assert exchange.header(b"etag") is None
        assert cached == 0
        assert app.state.upstreams.limits.in_flight["geo"] == 0

    async def test_a_public_read_small_enough_is_kept_with_an_etag(self) -> None:
        service = StreamingService()
        service.first_part_delivered.set()
        async with serving(service) as url, gateway(gateway_settings(geo_url=url)) as app:
            first = Exchange(app, "GET", "/api/geo/wards")
            await first.run(no_body())
            etag = first.header(b"etag")
            assert etag is not None
            again = Exchange(app, "GET", "/api/geo/wards", [(b"if-none-match", etag)])
            await again.run(no_body())

        assert first.status == 200
        assert first.body == b"first part;second part"
        assert first.header(b"content-length") == b"22"
        assert again.status == 304
        assert app.state.upstreams.limits.in_flight["geo"] == 0

    async def test_a_service_failing_half_way_leaves_the_answer_unfinished(self) -> None:
        service = StreamingService()
        async with serving(service) as url, gateway(gateway_settings(alerts_url=url)) as app:
            exchange = Exchange(app, "GET", "/api/alerts/broken")
            await exchange.run(no_body())

        # Not a whole-looking 200: the last message never says the body is complete, so the
        # server closes the connection and the caller sees 10 of the 100 bytes promised.
        assert exchange.status == 200
        assert exchange.header(b"content-length") == b"100"
        assert exchange.body == b"0123456789"
        assert all(message.get("more_body") for message in exchange.sent[1:])
        assert app.state.upstreams.limits.in_flight["alerts"] == 0
