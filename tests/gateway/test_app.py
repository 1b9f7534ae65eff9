"""The gateway app as a whole: operational endpoints, lifespan, and its OpenAPI document."""

from __future__ import annotations

import warnings

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from services.gateway.app import create_app
from services.gateway.upstreams import Upstreams
from shared.web import ForwardedPrefixMiddleware, install_common
from tests.gateway.fakes import gateway_settings, network, running_gateway


class TestOperationalEndpoints:
    async def test_healthz(self) -> None:
        async with running_gateway(network()) as client:
            response = await client.get("/healthz")

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_metrics_count_requests_and_upstream_latency(self) -> None:
        async with running_gateway(network()) as client:
            await client.get("/api/geo/wards")
            response = await client.get("/metrics")

        assert response.status_code == 200
        assert "tawny_http_requests_total" in response.text
        assert 'route="/api/{service}/{path:path}"' in response.text
        assert (
            'tawny_gateway_upstream_request_duration_seconds_count{outcome="2xx",service="geo"}'
            in response.text
        )

    async def test_an_unknown_page_is_a_problem(self) -> None:
        async with running_gateway(network()) as client:
            response = await client.get("/nothing-here")

        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


class TestApp:
    async def test_the_lifespan_opens_and_closes_one_client(self) -> None:
        app = create_app(gateway_settings(), network())
        async with app.router.lifespan_context(app):
            upstreams = app.state.upstreams
            assert isinstance(upstreams, Upstreams)
            assert not upstreams.client.is_closed
        assert upstreams.client.is_closed

    def test_has_what_install_common_gives_every_service(self) -> None:
        # The gateway answers /readyz its own way and is itself the origin of forwarded
        # prefixes; nothing else that install_common gives may go missing.
        def paths(app: FastAPI) -> set[str | None]:
            return {context.path for context in iter_route_contexts(app.routes)}

        reference = FastAPI()
        without_common = paths(reference)
        install_common(reference)
        app = create_app(gateway_settings())

        assert paths(reference) - without_common <= paths(app)
        gateway_middleware = [m.cls for m in app.user_middleware]
        for middleware in reference.user_middleware:
            if middleware.cls is not ForwardedPrefixMiddleware:  # type: ignore[comparison-overlap]
                assert middleware.cls in gateway_middleware
        assert set(reference.exception_handlers) <= set(app.exception_handlers)

    def test_openapi_document_is_clean(self) -> None:
        app = create_app(gateway_settings())
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. duplicate operation ids
            document = app.openapi()

        operations = document["paths"]["/api/{service}/{path}"]
        assert set(operations) == {"get", "head", "post", "put", "patch", "delete", "options"}
        assert {"404", "413", "502", "503", "504"} <= set(operations["get"]["responses"])
        assert "/readyz" in document["paths"]
