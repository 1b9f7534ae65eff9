"""Overload is refused, not queued: the gateway's bounds per service and per process, and what
a caller that gives up costs."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi import FastAPI

from services.gateway.app import create_app
from shared.errors import PROBLEM_JSON, PROBLEM_TYPE_BASE
from tests.gateway.fakes import gateway_settings, host_of, network, running_gateway


class Gate:
    """A service whose /slow answers only once the test opens the gate."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()
        self.app = FastAPI()

        @self.app.get("/slow")
        async def slow() -> dict[str, str]:
            self.entered.set()
            await self.opened.wait()
            return {"answer": "slow"}


def assert_overloaded(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["retry-after"] == "1"
    problem: dict[str, object] = response.json()
    assert problem["type"] == PROBLEM_TYPE_BASE + "overloaded"
    return problem


class TestPerServiceBound:
    async def test_a_service_at_its_bound_gets_no_more_and_the_caller_503_at_once(self) -> None:
        gate = Gate()
        transport = network(alerts=httpx.ASGITransport(app=gate.app))
        settings = gateway_settings(max_in_flight_per_service=1)
        async with running_gateway(transport, settings) as client:
            first = asyncio.create_task(client.get("/api/alerts/slow"))
            await gate.entered.wait()

            async with asyncio.timeout(10):  # a guard against queueing forever, not a speed test
                refused = await client.get("/api/alerts/slow")
                other_service = await client.get("/api/geo/wards")
            gate.opened.set()
            served = await first
            after = await client.get("/api/alerts/slow")

        problem = assert_overloaded(refused)
        assert problem["service"] == "alerts"
        assert other_service.status_code == 200
        assert served.status_code == 200
        assert after.status_code == 200
        # The refused request never reached the service.
        slow_calls = [r for r in transport.requests if r.url.host == host_of("alerts")]
        assert len(slow_calls) == 2


class TestPerProcessBound:
    async def test_beyond_the_bound_every_route_is_503_but_probes_still_answer(self) -> None:
        gate = Gate()
        transport = network(alerts=httpx.ASGITransport(app=gate.app))
        async with running_gateway(transport, gateway_settings(max_in_flight=1)) as client:
            first = asyncio.create_task(client.get("/api/alerts/slow"))
            await gate.entered.wait()

            async with asyncio.timeout(10):  # a guard against queueing forever, not a speed test
                page = await client.get("/app")
                api = await client.get("/api/geo/wards")
                liveness = await client.get("/healthz")
            gate.opened.set()
            served = await first

        assert_overloaded(page)
        assert_overloaded(api)
        assert liveness.status_code == 200
        assert served.status_code == 200


class TestCallerGivesUp:
    async def test_a_caller_gone_before_its_body_arrived_costs_one_log_line(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        app = create_app(gateway_settings(log_json=True), network())
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/alerts/alerts",
            "raw_path": b"/api/alerts/alerts",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"gateway.test"), (b"content-length", b"10")],
            "client": ("203.0.113.7", 50123),
            "server": ("gateway.test", 80),
        }
        async with app.router.lifespan_context(app):
            capsys.readouterr()
            await app(scope, receive, send)  # type: ignore[arg-type]

        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
        events = [line["event"] for line in lines]
        assert events.count("request.client_disconnected") == 1
        assert "request.unhandled_error" not in events
        assert not any("exception" in line for line in lines)
        assert sent[0]["status"] == 499
