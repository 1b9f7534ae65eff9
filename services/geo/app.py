"""The geo service: boundaries, subscriptions (wards, neighbours, circles, drawn areas),
lookups, audience preview, and the resolution of each published alert into batches of
recipients for dispatch.

uvicorn services.geo.app:create_app --factory
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from services.geo.audience.consumers import audience_consumer
from services.geo.audience.endpoints import router as audience_router
from services.geo.boundaries.endpoints import admin_router as boundaries_admin_router
from services.geo.boundaries.endpoints import router as boundaries_router
from services.geo.config import GeoSettings
from services.geo.lookup.endpoints import router as lookup_router
from services.geo.members.endpoints import router as members_router
from services.geo.models import IdempotencyKey, OutboxMessage, ProcessedEvent
from services.geo.retention.service import purge_expired_recipient_sets
from services.geo.subscriptions.consumers import members_consumer
from services.geo.subscriptions.endpoints import router as subscriptions_router
from services.geo.watchers.endpoints import router as watchers_router
from services.geo.watchers.service import report_watchers
from shared.app import create_service_app
from shared.geocoding import build_geocoder
from shared.runtime import ServiceRuntime

DESCRIPTION = """\
London's boroughs and wards (versioned ONS boundary sets, neighbours, simplified map layers),
point and postcode lookup, members' subscriptions (wards, a ward and its neighbours, circles,
drawn areas; with crime-type and severity filters), the audience preview for officers, and the
resolution of each published alert into batches of recipients for dispatch."""


def create_app(settings: GeoSettings | None = None) -> FastAPI:
    settings = settings or GeoSettings()

    async def on_startup(app: FastAPI, runtime: ServiceRuntime) -> None:
        app.state.geocoder = build_geocoder(
            settings.geocoder,
            csv_path=settings.postcodes_csv_path,
            api_url=settings.postcodes_api_url,
            timeout_s=settings.geocoder_timeout_s,
        )
        retention = timedelta(days=settings.recipient_set_retention_days)

        async def purge() -> None:
            await purge_expired_recipient_sets(runtime.sessions, retention=retention)

        runtime.run_every(settings.retention_interval_s, purge, name="geo-retention")
        if settings.dashboard_watchers_interval_s > 0:

            async def report() -> None:
                await report_watchers(runtime.sessions, settings)

            runtime.run_every(
                settings.dashboard_watchers_interval_s, report, name="geo-watchers-report"
            )

    app = create_service_app(
        name="geo",
        title="Tawny geo",
        description=DESCRIPTION,
        settings=settings,
        routers=(
            boundaries_router,
            boundaries_admin_router,
            lookup_router,
            subscriptions_router,
            audience_router,
            members_router,
            watchers_router,
        ),
        outbox_model=OutboxMessage,
        processed_model=ProcessedEvent,
        consumers=(audience_consumer(settings), members_consumer()),
        on_startup=on_startup,
        idempotency_model=IdempotencyKey,
    )
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(app):
            try:
                yield
            finally:
                geocoder = getattr(app.state, "geocoder", None)
                if geocoder is not None:
                    await geocoder.aclose()

    app.router.lifespan_context = lifespan
    return app
