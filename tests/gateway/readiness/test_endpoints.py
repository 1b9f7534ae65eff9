"""/readyz: the platform is ready only when every service is."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import iter_route_contexts

from services.gateway.app import create_app
from tests.gateway.fakes import (
    SERVICES,
    echo_service,
    failing,
    gateway_settings,
    network,
    running_gateway,
)

READY_CHECKS = {"database": "ok", "broker": "ok"}


class TestReadiness:
    async def test_ready_when_every_service_is(self) -> None:
        async with running_gateway(network()) as client:
            response = await client.get("/readyz")

        assert response.status_code == 200
        assert response.json() == {
            "status": "ready",
            "services": {
                service: {"status": "ready", "checks": READY_CHECKS} for service in SERVICES
            },
        }

    async def test_a_service_that_says_it_is_not_ready_is_named_with_its_checks(self) -> None:
        geo = httpx.ASGITransport(app=echo_service("geo", ready=False))
        async with running_gateway(network(geo=geo)) as client:
            response = await client.get("/readyz")

        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not ready"
        assert body["services"]["geo"] == {
            "status": "not ready",
            "checks": {"database": "ok", "broker": "failing: KafkaConnectionError"},
        }
        assert body["services"]["alerts"] == {"status": "ready", "checks": READY_CHECKS}

    async def test_an_unreachable_service_is_named(self) -> None:
        async with running_gateway(network(dispatch=failing(httpx.ConnectError))) as client:
            response = await client.get("/readyz")

        assert response.status_code == 503
        assert response.json()["services"]["dispatch"] == {
            "status": "unreachable",
            "detail": "ConnectError",
        }

    async def test_a_service_too_slow_to_answer_is_a_timeout(self) -> None:
        slow = FastAPI()

        @slow.get("/readyz")
        async def readyz() -> JSONResponse:
            await asyncio.sleep(10)
            return JSONResponse({"status": "ready", "checks": {}})

        settings = gateway_settings(readiness_timeout_s=0.2)
        transport = network(alerts=httpx.ASGITransport(app=slow))
        async with running_gateway(transport, settings) as client:
            response = await client.get("/readyz")

        assert response.status_code == 503
        assert response.json()["services"]["alerts"] == {
            "status": "timeout",
            "detail": "no answer within 0.2 s",
        }

    async def test_an_answer_that_is_not_a_readiness_report_is_not_ready(self) -> None:
        broken = FastAPI()

        @broken.get("/readyz")
        async def readyz() -> PlainTextResponse:
            return PlainTextResponse("Internal Server Error", status_code=500)

        async with running_gateway(network(identity=httpx.ASGITransport(app=broken))) as client:
            response = await client.get("/readyz")

        assert response.status_code == 503
        assert response.json()["services"]["identity"] == {
            "status": "not ready",
            "detail": "unexpected answer: HTTP 500 Internal Server Error",
        }

    async def test_the_services_are_asked_at_the_same_time(self) -> None:
        # Each service answers only once all four have been asked: asked one after another,
        # the first would wait out its timeout.
        everyone_asked = asyncio.Barrier(len(SERVICES))

        def waiting_service() -> httpx.ASGITransport:
            app = FastAPI()

            @app.get("/readyz")
            async def readyz() -> JSONResponse:
                await everyone_asked.wait()
                return JSONResponse({"status": "ready", "checks": {}})

            return httpx.ASGITransport(app=app)

        transport = network(**{service: waiting_service() for service in SERVICES})
        settings = gateway_settings(readiness_timeout_s=5.0)
        async with running_gateway(transport, settings) as client:
            response = await client.get("/readyz")

        assert response.status_code == 200

    def test_there_is_exactly_one_readyz_route(self) -> None:
        app = create_app(gateway_settings())
        paths = [context.path for context in iter_route_contexts(app.routes)]
        assert paths.count("/readyz") == 1
        assert "/healthz" in paths
        assert "/metrics" in paths
