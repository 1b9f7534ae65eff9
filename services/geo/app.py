"""The geo service: boundaries, ward subscriptions, and alert audience resolution.

uvicorn services.geo.app:create_app --factory
"""

from __future__ import annotations

from fastapi import FastAPI

from services.geo.audience.consumers import audience_consumer
from services.geo.boundaries.endpoints import admin_router as boundaries_admin_router
from services.geo.boundaries.endpoints import router as boundaries_router
from services.geo.config import GeoSettings
from services.geo.models import OutboxMessage, ProcessedEvent
from services.geo.subscriptions.endpoints import router as subscriptions_router
from shared.app import create_service_app

DESCRIPTION = """\
London's boroughs and wards (versioned ONS boundary sets), members' ward subscriptions, and
the resolution of each published alert into batches of recipients for dispatch."""


def create_app(settings: GeoSettings | None = None) -> FastAPI:
    settings = settings or GeoSettings()
    return create_service_app(
        name="geo",
        title="Tawny geo",
        description=DESCRIPTION,
        settings=settings,
        routers=(boundaries_router, boundaries_admin_router, subscriptions_router),
        outbox_model=OutboxMessage,
        processed_model=ProcessedEvent,
        consumers=(audience_consumer(settings),),
    )
