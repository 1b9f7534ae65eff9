"""The gateway: the platform's one public origin.

It serves the home page and the API documentation index, and forwards /api/<service>/... to the
services. It has no database and no broker, so it is built from ``shared.web`` directly rather
than ``shared.app.create_service_app``; its lifespan owns one pooled HTTP client.

Run with ``uvicorn services.gateway.app:create_app --factory``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from services.gateway.client.endpoints import router as client_router
from services.gateway.config import GatewaySettings
from services.gateway.edge.caller import EdgeGuards
from services.gateway.edge.ratelimit import TokenBucketLimiter
from services.gateway.edge.security import SecurityHeadersMiddleware
from services.gateway.pages.endpoints import router as pages_router
from services.gateway.proxy.direct import DirectProxyMiddleware
from services.gateway.proxy.endpoints import proxy_router
from services.gateway.readiness.endpoints import router as readiness_router
from services.gateway.upstreams import open_upstreams
from shared.app import API_VERSION
from shared.auth import JWKSVerifier
from shared.logs import configure_logging, get_logger
from shared.tracing import instrument_app
from shared.web import install_common

SERVICE_NAME = "gateway"


def build_edge_guards(settings: GatewaySettings, client: httpx.AsyncClient) -> EdgeGuards:
    """Token checks against identity's JWKS (fetched through the gateway's own pooled client)
    and the per-address and per-account rate limits."""
    return EdgeGuards(
        verifier=JWKSVerifier(
            f"{settings.identity_url}/.well-known/jwks.json",
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            max_lifetime_s=settings.jwt_max_lifetime_s,
            http=client,
        ),
        per_address=TokenBucketLimiter(
            settings.rate_limit_per_ip_per_minute, settings.rate_limit_ip_burst
        ),
        per_account=TokenBucketLimiter(
            settings.rate_limit_per_account_per_minute, settings.rate_limit_account_burst
        ),
    )


log = get_logger(__name__)


def create_app(
    settings: GatewaySettings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``transport`` replaces the network for calls to the services (tests pass one)."""
    settings = settings or GatewaySettings()
    configure_logging(SERVICE_NAME, settings.log_level, settings.log_json)
    # httpx logs every request at INFO; here that is every forwarded request a second time.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_upstreams(settings, transport) as upstreams:
            app.state.settings = settings
            app.state.upstreams = upstreams
            app.state.edge_guards = build_edge_guards(settings, upstreams.client)
            log.info(
                "service.started",
                service=SERVICE_NAME,
                upstreams={name: str(url) for name, url in upstreams.base_urls.items()},
            )
            yield
        log.info("service.stopped", service=SERVICE_NAME)

    app = FastAPI(
        title="Tawny gateway",
        description="The public origin of Tawny: pages, API documentation, and /api/<service>/ "
        "forwarded to the identity, alerts, geo and dispatch services.",
        version=API_VERSION,
        lifespan=lifespan,
        redoc_url=None,
    )
    # Innermost: inside the concurrency bound, request logs and security headers.
    app.add_middleware(DirectProxyMiddleware)
    # The gateway answers readiness for the whole platform, in its own shape.
    install_common(
        app, readiness_route=False, forwarded_prefix=False, max_in_flight=settings.max_in_flight
    )
    # Added after install_common, so outermost: every answer, errors included, gets them.
    app.add_middleware(SecurityHeadersMiddleware, extra_img_src=settings.map_tile_url)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            # Partners' browser apps send Idempotency-Key and page by Link / Next-Cursor.
            allow_headers=["authorization", "content-type", "x-request-id", "idempotency-key"],
            expose_headers=["x-request-id", "retry-after", "link", "next-cursor"],
            max_age=600,
        )
    app.include_router(readiness_router)
    app.include_router(pages_router)
    app.include_router(client_router)
    app.include_router(proxy_router())
    instrument_app(app, SERVICE_NAME, settings, edge=True)
    return app
