"""What every service's app gets from shared.web and shared.errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shared.errors import ConflictError
from shared.settings import Environment, ServiceSettings
from shared.web import install_common


class Thing(BaseModel):
    name: str = Field(min_length=1, max_length=10)


def build_app(ready: bool = True) -> FastAPI:
    app = FastAPI()

    async def database() -> bool:
        return ready

    install_common(app, {"database": database})

    @app.post("/things")
    async def create_thing(thing: Thing) -> Thing:
        if thing.name == "taken":
            raise ConflictError("That name is taken.", name=thing.name)
        return thing

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/busy")
    async def busy() -> None:
        # What SQLAlchemy's pool raises when no connection came free within its wait.
        raise PoolTimeout("QueuePool limit of size 10 overflow 10 reached, connection timed out")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


class TestProblemDetails:
    async def test_validation_errors_are_422_problem_json(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/things", json={"name": "far too long a name"})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["title"] == "The request is not valid"
        assert body["errors"][0]["loc"] == ["body", "name"]

    async def test_service_errors_carry_their_status_and_extensions(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/things", json={"name": "taken"})
        assert response.status_code == 409
        assert response.json()["type"].endswith("/conflict")
        assert response.json()["name"] == "taken"

    async def test_unknown_routes_and_bugs_are_problems_too(
        self, client: httpx.AsyncClient
    ) -> None:
        missing = await client.get("/nowhere")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        bug = await client.get("/boom")
        assert bug.status_code == 500
        assert "a bug" not in bug.text
        # uvicorn drops the connection after an unhandled error: a caller's pool must not
        # keep it for the next request.
        assert bug.headers["connection"] == "close"


class TestOverload:
    async def test_an_exhausted_database_pool_is_503_with_retry_after(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/busy")

        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert response.json()["type"].endswith("/overloaded")


class TestOperationalEndpoints:
    async def test_request_id_is_kept_or_made(self, client: httpx.AsyncClient) -> None:
        kept = await client.get("/healthz", headers={"x-request-id": "abc-123"})
        assert kept.headers["x-request-id"] == "abc-123"
        made = await client.get("/healthz", headers={"x-request-id": "bad id\n"})
        assert made.headers["x-request-id"] != "bad id\n"
        assert len(made.headers["x-request-id"]) == 32

    async def test_readyz_names_failing_checks(self) -> None:
        transport = httpx.ASGITransport(app=build_app(ready=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "not ready", "checks": {"database": "failing"}}

    async def test_metrics_count_requests_by_route(self, client: httpx.AsyncClient) -> None:
        await client.post("/things", json={"name": "ok"})
        metrics = (await client.get("/metrics")).text
        assert 'tawny_http_requests_total{method="POST",route="/things",status="200"}' in metrics


class TestSettings:
    def test_production_runs_the_services_own_checks(self) -> None:
        class StrictSettings(ServiceSettings):
            def check_production(self) -> None:
                raise ValueError("placeholder secret")

        assert StrictSettings(environment=Environment.DEVELOPMENT)
        with pytest.raises(ValueError, match="placeholder secret"):
            StrictSettings(environment=Environment.PRODUCTION)


class TestForwardedPrefix:
    async def test_docs_behind_the_gateway_load_the_services_own_openapi(
        self, client: httpx.AsyncClient
    ) -> None:
        behind_gateway = await client.get("/docs", headers={"x-forwarded-prefix": "/api/geo"})
        assert "/api/geo/openapi.json" in behind_gateway.text
        direct = await client.get("/docs")
        assert "'/openapi.json'" in direct.text

    async def test_only_api_prefixes_are_honoured(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/docs", headers={"x-forwarded-prefix": "//evil.example"})
        assert "evil.example" not in response.text
