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

from services.gateway.config import GatewaySettings
from services.gateway.pages.endpoints import router as pages_router
from services.gateway.proxy.endpoints import proxy_router
from services.gateway.readiness.endpoints import router as readiness_router
from services.gateway.upstreams import open_upstreams
from shared.logs import configure_logging, get_logger
from shared.web import install_common

SERVICE_NAME = "gateway"

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
        version="0.1.0",
        lifespan=lifespan,
        redoc_url=None,
    )
    # The gateway answers readiness for the whole platform, in its own shape.
    install_common(app, readiness_route=False, forwarded_prefix=False)
    app.include_router(readiness_router)
    app.include_router(pages_router)
    app.include_router(proxy_router())
    return app
